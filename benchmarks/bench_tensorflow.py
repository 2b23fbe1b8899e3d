"""Train TensorFlow.ipynb's challenge model and PyTorch.ipynb's side by side; compare images/s.

Usage:
    python benchmarks/bench_tensorflow.py [--data-dir DIR] [--epochs N] [--width W] [--threads T]

Both models, recipes and training steps are the notebooks' own (loaded with
tools/notebook_defs.py), each fed by its own notebook's in-memory pipeline with the same
augmentation. Both train for the same fixed number of steps, N epochs of the training
split in batches of the recipes' size, on the same data and the same kind of device (a
GPU when both frameworks see one, else the CPU, with the same number of threads). The
first epoch traces, compiles and warms caches, so the throughput is measured over the
other epochs; the validation accuracy (with flip test-time augmentation) after the last
epoch is printed too, as a check that both really trained.

The data comes from --data-dir, else $CIFAR10_DIR, else the bundle's default folder; a
partial copy shrinks the splits. --width defaults to the notebooks' choice: 1.0 on a GPU,
0.25 on a CPU.
"""
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# cs231n.tf_utils before TensorFlow and torchvision: it loads Triton ahead of TensorFlow,
# without which torchvision's import would crash this process.
from cs231n import tf_utils  # noqa: E402
from benchmarks._challenge_args import challenge_parser  # noqa: E402
from cs231n.data_utils import cifar10_dir  # noqa: E402
from cs231n.tf_data import load_cifar10_arrays, make_dataset  # noqa: E402
from cs231n.tf_data import random_crop_flip as tf_random_crop_flip  # noqa: E402
from tools.notebook_defs import load_definitions  # noqa: E402

import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

from cs231n import torch_utils  # noqa: E402
from cs231n.torch_data import TensorLoader, load_cifar10_tensors  # noqa: E402
from cs231n.torch_data import random_crop_flip as torch_random_crop_flip  # noqa: E402


def parse_args(argv=None):
    parser = challenge_parser(__doc__.splitlines()[0], epochs_default=3,
                              epochs_help="epochs to train each model; the first one is not timed (default: 3)",
                              threads_help="CPU threads for both frameworks (default: the cores this process may use)")
    return parser.parse_args(argv)


def run_tensorflow(data, width, epochs, seed):
    """Per-epoch stats and the final validation accuracy of TensorFlow.ipynb's challenge run."""
    notebook = load_definitions(ROOT / "TensorFlow.ipynb", {"device": None, "print_every": 100})
    settings = notebook["challenge_settings"]()
    tf.keras.utils.set_random_seed(seed)
    model = notebook["make_challenge_model"](width)
    train = make_dataset(data["X_train"], data["y_train"], batch_size=settings["batch_size"],
                         shuffle=True, drop_last=True, seed=seed,
                         augment=partial(tf_random_crop_flip, padding=settings["crop_padding"]))
    val = make_dataset(data["X_val"], data["y_val"], batch_size=1000)
    optimizer = notebook["make_challenge_optimizer"](epochs * len(train), settings)
    step = tf_utils.make_train_step(model, optimizer, settings["label_smoothing"])
    stats = [tf_utils.train_one_epoch(step, train) for _ in range(epochs)]
    return {"stats": stats, "val_acc": tf_utils.evaluate(model, val, flip_tta=True),
            # Trainable only, as PyTorch counts: Keras also counts batch norm's running averages.
            "params": sum(int(tf.size(v)) for v in model.trainable_variables),
            "steps_per_epoch": len(train),
            "batch_size": settings["batch_size"]}


def run_pytorch(data, width, epochs, seed, device):
    """Per-epoch stats and the final validation accuracy of PyTorch.ipynb's challenge run."""
    notebook = load_definitions(ROOT / "PyTorch.ipynb",
                                {"device": device, "dtype": torch.float32, "print_every": 100})
    settings = notebook["challenge_settings"]()
    torch.manual_seed(seed)
    model = torch_utils.prepare_model(notebook["make_challenge_model"](width), device)
    train = TensorLoader(data["X_train"], data["y_train"], batch_size=settings["batch_size"],
                         shuffle=True, device=device, drop_last=True, name="train",
                         augment=partial(torch_random_crop_flip, padding=settings["crop_padding"]))
    val = TensorLoader(data["X_val"], data["y_val"], batch_size=1000, device=device, name="val")
    optimizer, scheduler = notebook["make_challenge_optimizer"](model, epochs * len(train), settings)
    stats = [torch_utils.train_one_epoch(model, optimizer, train, scheduler, settings["label_smoothing"])
             for _ in range(epochs)]
    return {"stats": stats, "val_acc": torch_utils.evaluate(model, val, flip_tta=True),
            "params": sum(p.numel() for p in model.parameters()), "steps_per_epoch": len(train),
            "batch_size": settings["batch_size"]}


def timed_throughput(stats):
    """Images/s over the epochs after the first: total images over total time."""
    timed = stats[1:]
    seconds = sum(1.0 / s["images_per_sec"] for s in timed)  # each epoch trains the same images
    return len(timed) / seconds


def main(argv=None):
    args = parse_args(argv)
    if args.epochs < 2:
        raise ValueError(f"--epochs must be at least 2 (the first one is not timed), got {args.epochs}")
    threads = args.threads or tf_utils.available_cores()
    # Both frameworks live in this process: the same bounded thread count for each, and
    # TensorFlow takes GPU memory as needed so that PyTorch still finds some.
    setup = tf_utils.configure_tensorflow(threads)
    torch.set_num_threads(threads)
    torch_device = torch_utils.pick_device(verbose=False)
    on_gpu = setup["device"] == "GPU" and torch_device.type == "cuda"
    if not on_gpu:
        torch_device = torch.device("cpu")
    tf_device = "/GPU:0" if on_gpu else "/CPU:0"
    width = args.width if args.width is not None else (1.0 if on_gpu else 0.25)
    if width <= 0:
        raise ValueError(f"--width must be positive, got {width}")

    data_dir = args.data_dir if args.data_dir is not None else cifar10_dir()
    tf_data = load_cifar10_arrays(data_dir)
    torch_data = load_cifar10_tensors(data_dir)
    print(f"data: {len(tf_data['y_train'])} train / {len(tf_data['y_val'])} val images from {data_dir}")
    print(f"device: {setup['description'] if on_gpu else 'CPU'}, {threads} threads for each "
          f"framework; TensorFlow {tf.__version__}, PyTorch {torch.__version__}; width x{width}, "
          f"{args.epochs} epochs, the first not timed")

    results = {}
    with tf.device(tf_device):
        start = time.perf_counter()
        results["TensorFlow"] = run_tensorflow(tf_data, width, args.epochs, args.seed)
        results["TensorFlow"]["seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    results["PyTorch"] = run_pytorch(torch_data, width, args.epochs, args.seed, torch_device)
    results["PyTorch"]["seconds"] = time.perf_counter() - start

    print(f"\n{'framework':<11}{'parameters':>11}{'steps':>7}{'batch':>6}  "
          f"{'images/s per epoch':<28}{'timed images/s':>15}{'val acc':>9}{'wall':>8}")
    for name, result in results.items():
        per_epoch = " ".join(f"{s['images_per_sec']:,.0f}" for s in result["stats"])
        print(f"{name:<11}{result['params']:>11,}{result['steps_per_epoch'] * args.epochs:>7}"
              f"{result['batch_size']:>6}  {per_epoch:<28}{timed_throughput(result['stats']):>15,.0f}"
              f"{100 * result['val_acc']:>8.2f}%{result['seconds']:>7.0f}s")
    ratio = timed_throughput(results["TensorFlow"]["stats"]) / timed_throughput(results["PyTorch"]["stats"])
    print(f"\nTensorFlow trains at {ratio:.2f}x PyTorch's images/s on this device.")


if __name__ == "__main__":
    main()
