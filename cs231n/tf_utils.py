"""TensorFlow helpers for the TensorFlow notebook: set-up, training and evaluation loops, plots.

The models live in the notebook; these pieces are the plumbing every model shares, so
that the notebook, its tests and the benchmark train in exactly the same way.
"""
import importlib.util
import os
import time

# TensorFlow's C++ start-up notices (CPU features, missing CUDA drivers) would fill the
# notebook's first output; errors still show. Must be set before TensorFlow loads.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Triton, PyTorch's kernel compiler (torchvision loads it), crashes the process with a
# segmentation fault when it loads after TensorFlow; loaded before, the two coexist.
if importlib.util.find_spec("triton") is not None:
    import triton  # noqa: F401

try:
    import tensorflow as tf
except ModuleNotFoundError as error:  # TensorFlow is an optional extra of the package
    raise ModuleNotFoundError("the TensorFlow notebook and cs231n's tf_* modules need TensorFlow: "
                              "pip install -e '.[tensorflow]' (see README.md)", name=error.name) from error


def available_cores():
    """CPU cores this process may run on (fewer than the machine's under a CPU affinity mask)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def configure_tensorflow(num_threads=None):
    """Make TensorFlow share the machine with other frameworks and processes.

    GPU memory is taken as needed instead of all at once (TensorFlow's default, which
    would leave nothing to PyTorch in the same process), and the CPU thread pools are
    bounded by `num_threads` (default: the cores this process may use) instead of
    TensorFlow's default of one intra-op and one inter-op thread per core of the machine.
    Call it before the first TensorFlow operation; once the runtime has started the
    settings are fixed, and a second call changes nothing.

    Returns a dict with the device ("GPU" or "CPU"), its description and the thread counts.
    """
    gpus = tf.config.list_physical_devices("GPU")
    threads = num_threads or available_cores()
    try:
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        # Two concurrent ops at most: more would oversubscribe the intra-op pool.
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:
        pass  # the runtime already started, e.g. when a notebook cell runs a second time
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        description = f"GPU ({details.get('device_name', gpus[0].name)})"
    else:
        description = f"CPU ({available_cores()} cores available)"
    return {
        "device": "GPU" if gpus else "CPU",
        "description": description,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


class WarmupDecay(tf.keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate per step: linear warmup from start * peak to peak, then linear decay to end * peak.

    The one-cycle shape of the PyTorch notebook's schedule, for Keras optimizers, which
    call the schedule with the optimizer's step count before every update.
    """

    def __init__(self, peak, total_steps, warmup_fraction=0.2, start=0.1, end=0.0):
        super().__init__()
        if total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps}")
        if not 0.0 < warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must lie in (0, 1), got {warmup_fraction}")
        self.peak = peak
        self.total_steps = total_steps
        self.warmup_fraction = warmup_fraction
        self.start = start
        self.end = end

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup_steps = self.warmup_fraction * self.total_steps
        rising = self.start + (1.0 - self.start) * step / warmup_steps
        falling = 1.0 + (self.end - 1.0) * (step - warmup_steps) / (self.total_steps - warmup_steps)
        factor = tf.where(step < warmup_steps, rising, tf.maximum(falling, self.end))
        return self.peak * factor

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_fraction": self.warmup_fraction, "start": self.start, "end": self.end}


def make_train_step(model, optimizer, label_smoothing=0.0, jit_compile=None):
    """A compiled training step: forward, cross-entropy on the logits, backward, update.

    Returns step(x, y) -> mean loss of the batch. XLA compilation (jit_compile) defaults
    to on with a GPU, where fusing the small ops pays off, and off on a CPU.
    """
    if jit_compile is None:
        jit_compile = bool(tf.config.list_physical_devices("GPU"))
    loss_fn = tf.keras.losses.CategoricalCrossentropy(from_logits=True,
                                                      label_smoothing=label_smoothing)

    @tf.function(jit_compile=jit_compile)
    def step(x, y):
        with tf.GradientTape() as tape:
            scores = model(x, training=True)
            loss = loss_fn(tf.one_hot(y, tf.shape(scores)[-1]), scores)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return step


def train_one_epoch(step, dataset):
    """One pass of a training step (see make_train_step) over a dataset of (x, y) batches.

    Returns a dict with the mean training loss and the throughput in images/s (wall
    clock, including the input pipeline and its augmentation).
    """
    losses, num_images = [], 0
    start = time.perf_counter()
    for x, y in dataset:
        losses.append(step(x, y))
        num_images += int(y.shape[0])
    if not losses:
        raise ValueError("train_one_epoch got an empty dataset")
    # Reading the losses only now lets the steps run without waiting on each other.
    mean_loss = float(tf.reduce_mean(tf.stack(losses)))
    seconds = time.perf_counter() - start
    return {"loss": mean_loss, "images_per_sec": num_images / seconds}


def evaluate(model, dataset, flip_tta=False):
    """Fraction of the dataset's images that `model` classifies correctly (inference mode).

    With flip_tta the scores of each image are averaged with those of its mirror image.
    """
    num_correct, num_samples = 0, 0
    for x, y in dataset:
        scores = model(x, training=False)
        if flip_tta:
            scores = 0.5 * (scores + model(tf.reverse(x, axis=[2]), training=False))
        predictions = tf.argmax(scores, axis=1, output_type=tf.int32)
        num_correct += int(tf.reduce_sum(tf.cast(predictions == tf.cast(y, tf.int32), tf.int32)))
        num_samples += int(y.shape[0])
    if num_samples == 0:
        raise ValueError("evaluate got an empty dataset")
    return num_correct / num_samples


def plot_training_histories(histories, title):
    """Training loss per iteration and validation accuracy at each check, one line per run.

    `histories` maps a run's label to a dict with "loss" (one value per iteration) and
    "val_iterations" / "val_acc" (the iterations at which the validation accuracy was
    measured, and the accuracies, as fractions).
    """
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(13, 4.2))
    for label, history in histories.items():
        loss_ax.plot(history["loss"], label=label, alpha=0.8)
        acc_ax.plot(history["val_iterations"], 100 * np.asarray(history["val_acc"]), "-o", label=label)
    loss_ax.set(title="Training loss", xlabel="Iteration", ylabel="Cross-entropy (batch)")
    acc_ax.set(title="Validation accuracy", xlabel="Iteration", ylabel="Accuracy (%)")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    plt.show()
