"""TensorFlow.ipynb's models and training pieces, and the data pipeline and helpers behind them.

The models are the notebook's own: tools/notebook_defs.py executes the functions and
classes the notebook defines. Every test here is skipped when TensorFlow is not installed
(it is an optional extra: pip install -e '.[tensorflow]').
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# cs231n.tf_utils before TensorFlow itself, as everywhere: it loads Triton first, which
# crashes the process when it loads after TensorFlow.
tf_utils = pytest.importorskip("cs231n.tf_utils", reason="TensorFlow is not installed")
tf = tf_utils.tf

from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from cs231n.tf_data import channel_stats, load_cifar10_arrays, make_dataset, random_crop_flip  # noqa: E402
from cs231n.tf_utils import (WarmupDecay, configure_tensorflow, evaluate, make_train_step,  # noqa: E402
                             train_one_epoch)
from tools.notebook_defs import load_definitions  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[3] / "TensorFlow.ipynb"


@pytest.fixture(scope="module")
def nb():
    if not NOTEBOOK.is_file():
        pytest.skip(f"{NOTEBOOK.name} is not in this bundle")
    tf.keras.utils.set_random_seed(0)
    return load_definitions(NOTEBOOK, {"device": "/CPU:0", "print_every": 100})


# ----------------------------------------------------------------------------- NumPy references

def relu(x):
    return np.maximum(x, 0.0)


def conv_same(x, w, b):
    """Stride-1 convolution of NHWC images with HWIO filters, zero-padded to keep H x W."""
    pad = w.shape[0] // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    windows = sliding_window_view(padded, w.shape[:2], axis=(1, 2))  # (N, H, W, C, KH, KW)
    return np.einsum("nhwcij,ijco->nhwo", windows, w) + b


def convnet_reference(x, conv_w1, conv_b1, conv_w2, conv_b2, fc_w, fc_b):
    features = relu(conv_same(relu(conv_same(x, conv_w1, conv_b1)), conv_w2, conv_b2))
    return features.reshape(len(x), -1) @ fc_w + fc_b


def two_layer_reference(x, w1, b1, w2, b2):
    return relu(x.reshape(len(x), -1) @ w1 + b1) @ w2 + b2


def assign_by_shape(model, arrays):
    """Give every variable of `model` the array of the same shape (all shapes must differ)."""
    by_shape = {a.shape: a for a in arrays}
    assert len(by_shape) == len(arrays), "the test needs weights of distinct shapes"
    assert sorted(tuple(v.shape) for v in model.trainable_variables) == sorted(by_shape), \
        "the model's weights do not have the expected shapes"
    for variable in model.trainable_variables:
        variable.assign(by_shape[tuple(variable.shape)])


def convnet_weights(rng, channels, channel_1, channel_2, height, width, num_classes):
    return [rng.normal(size=(5, 5, channels, channel_1)) * 0.2, rng.normal(size=channel_1),
            rng.normal(size=(3, 3, channel_1, channel_2)) * 0.2, rng.normal(size=channel_2),
            rng.normal(size=(height * width * channel_2, num_classes)) * 0.05,
            rng.normal(size=num_classes)]


def two_layer_weights(rng, input_size, hidden_size, num_classes):
    return [rng.normal(size=(input_size, hidden_size)) * 0.1, rng.normal(size=hidden_size),
            rng.normal(size=(hidden_size, num_classes)) * 0.1, rng.normal(size=num_classes)]


def as_float32(arrays):
    return [np.asarray(a, dtype=np.float32) for a in arrays]


# ----------------------------------------------------------------------------- Part II

def test_flatten_keeps_batch_dimension_in_row_major_order(nb):
    x = np.arange(24).reshape(2, 3, 2, 2)
    flat = nb["flatten"](x).numpy()
    assert flat.shape == (2, 12)
    np.testing.assert_array_equal(flat, x.reshape(2, -1))


def test_two_layer_fc_matches_numpy(nb):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 8, 8, 3)).astype(np.float32)
    w1, w2 = as_float32([rng.normal(size=(192, 20)), rng.normal(size=(20, 10))])
    scores = nb["two_layer_fc"](x, [tf.constant(w1), tf.constant(w2)]).numpy()
    assert scores.shape == (4, 10)
    np.testing.assert_allclose(scores, relu(x.reshape(4, -1) @ w1) @ w2, rtol=1e-4, atol=1e-4)


def test_three_layer_convnet_shape_on_zeros(nb):
    params = [tf.zeros(s) for s in [(5, 5, 3, 6), (6,), (3, 3, 6, 9), (9,), (32 * 32 * 9, 10), (10,)]]
    assert nb["three_layer_convnet"](tf.zeros((64, 32, 32, 3)), params).shape == (64, 10)


def test_three_layer_convnet_matches_numpy(nb):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    params = as_float32(convnet_weights(rng, 3, 4, 6, 8, 8, 7))
    scores = nb["three_layer_convnet"](x, [tf.constant(p) for p in params]).numpy()
    assert scores.shape == (3, 7)
    np.testing.assert_allclose(scores, convnet_reference(x, *params), rtol=1e-3, atol=1e-3)


def test_kaiming_normal_uses_the_fan_in(nb):
    tf.random.set_seed(2)
    fc = nb["kaiming_normal"]((2000, 300)).numpy()
    conv = nb["kaiming_normal"]((3, 3, 32, 64)).numpy()
    assert fc.shape == (2000, 300) and conv.shape == (3, 3, 32, 64)
    assert fc.std() == pytest.approx(np.sqrt(2 / 2000), rel=0.03)
    assert conv.std() == pytest.approx(np.sqrt(2 / (3 * 3 * 32)), rel=0.03)


def test_three_layer_convnet_init_shapes_and_variables(nb):
    params = nb["three_layer_convnet_init"]()
    assert [tuple(p.shape) for p in params] == [(5, 5, 3, 32), (32,), (3, 3, 32, 16), (16,),
                                                (32 * 32 * 16, 10), (10,)]
    assert all(isinstance(p, tf.Variable) for p in params)
    for bias in params[1::2]:
        np.testing.assert_array_equal(bias.numpy(), 0.0)
    # The first filters are Kaiming-normal: fan-in 5 * 5 * 3.
    assert params[0].numpy().std() == pytest.approx(np.sqrt(2 / 75), rel=0.15)


def test_two_layer_fc_init_shapes(nb):
    w1, w2 = nb["two_layer_fc_init"]()
    assert tuple(w1.shape) == (3072, 4000) and tuple(w2.shape) == (4000, 10)


def test_training_step_is_one_sgd_update(nb):
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(8, 2, 2, 3)), dtype=tf.float32)
    y = tf.constant(rng.integers(0, 10, size=8), dtype=tf.int32)
    start = as_float32([rng.normal(size=(12, 5)), rng.normal(size=(5, 10))])
    params = [tf.Variable(w) for w in start]
    with tf.GradientTape() as tape:
        expected_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=y, logits=nb["two_layer_fc"](x, params)))
    grads = tape.gradient(expected_loss, params)
    loss = nb["training_step"](nb["two_layer_fc"], x, y, params, 0.1)
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-5)
    for w, w0, g in zip(params, start, grads):
        np.testing.assert_allclose(w.numpy(), w0 - 0.1 * g.numpy(), rtol=1e-5, atol=1e-6)


def test_check_accuracy_counts_correct_predictions(nb, capsys):
    labels = np.array([0, 1, 2, 3, 4, 5], dtype=np.int32)
    predicted = np.array([0, 1, 2, 0, 0, 5])
    dset = [(tf.constant(np.eye(10, dtype=np.float32)[predicted[:4]]), labels[:4]),
            (tf.constant(np.eye(10, dtype=np.float32)[predicted[4:]]), labels[4:])]
    acc = nb["check_accuracy"](dset, lambda x, params: x, [])
    assert acc == pytest.approx(4 / 6)
    assert "Got 4 / 6 correct" in capsys.readouterr().out


# ----------------------------------------------------------------------------- Parts III and IV

def test_two_layer_models_match_numpy_and_count_parameters(nb):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 4, 4, 3)).astype(np.float32)
    weights = as_float32(two_layer_weights(rng, 48, 20, 7))
    builders = {
        "TwoLayerFC": lambda: nb["TwoLayerFC"](20, 7),
        "two_layer_fc_sequential": lambda: nb["two_layer_fc_sequential"]((4, 4, 3), 20, 7),
        "two_layer_fc_functional": lambda: nb["two_layer_fc_functional"]((4, 4, 3), 20, 7),
    }
    for name, build in builders.items():
        model = build()
        assert model(tf.zeros((64, 4, 4, 3))).shape == (64, 7), name
        assert model.count_params() == 48 * 20 + 20 + 20 * 7 + 7, name
        assign_by_shape(model, weights)
        np.testing.assert_allclose(model(x).numpy(), two_layer_reference(x, *weights),
                                   rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("name", ["ThreeLayerConvNet", "three_layer_convnet_sequential",
                                  "three_layer_convnet_functional"])
def test_three_layer_convnet_models_match_numpy_and_count_parameters(nb, name):
    if name == "ThreeLayerConvNet":
        model = nb[name](4, 6, 7)
        model(tf.zeros((1, 8, 8, 3)))  # a subclassed model creates its weights on the first call
    else:
        model = nb[name]((8, 8, 3), 4, 6, 7)
    assert model.count_params() == (5 * 5 * 3 * 4 + 4) + (3 * 3 * 4 * 6 + 6) + (8 * 8 * 6 * 7 + 7)
    rng = np.random.default_rng(5)
    weights = as_float32(convnet_weights(rng, 3, 4, 6, 8, 8, 7))
    assign_by_shape(model, weights)
    x = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x).numpy(), convnet_reference(x, *weights), rtol=1e-3, atol=1e-3)


def test_convnet_models_keep_cifar_resolution(nb):
    models = [nb["ThreeLayerConvNet"](12, 8, 10),
              nb["three_layer_convnet_sequential"]((32, 32, 3), 12, 8, 10),
              nb["three_layer_convnet_functional"]((32, 32, 3), 12, 8, 10)]
    for model in models:
        assert model(tf.zeros((64, 32, 32, 3))).shape == (64, 10)


def test_convnet_initialization_is_kaiming(nb):
    tf.keras.utils.set_random_seed(6)
    model = nb["three_layer_convnet_sequential"]((32, 32, 3), 32, 16, 10)
    kernels = [v.numpy() for v in model.trainable_variables if v.shape.rank == 4]
    first = next(k for k in kernels if k.shape == (5, 5, 3, 32))
    # VarianceScaling(2.0) widens its truncated normal so the spread is sqrt(2 / fan_in).
    assert first.std() == pytest.approx(np.sqrt(2 / 75), rel=0.15)


# ----------------------------------------------------------------------------- Part V

def test_challenge_model_shapes_and_width(nb):
    full = nb["make_challenge_model"](1.0)
    narrow = nb["make_challenge_model"](0.25)
    x = tf.zeros((2, 32, 32, 3))
    assert full(x, training=False).shape == (2, 10)
    assert narrow(x, training=False).shape == (2, 10)
    assert narrow.count_params() < full.count_params() / 4


@pytest.mark.slow
def test_challenge_recipe_trains_the_challenge_model(nb):
    settings = nb["challenge_settings"]()
    assert 1 <= settings["epochs"] <= 10
    assert settings["batch_size"] >= 1
    optimizer = nb["make_challenge_optimizer"](20, settings)
    assert isinstance(optimizer, tf.keras.optimizers.Optimizer)

    tf.keras.utils.set_random_seed(7)
    model = nb["make_challenge_model"](0.25)
    rng = np.random.default_rng(7)
    x = tf.constant(rng.normal(size=(32, 32, 32, 3)), dtype=tf.float32)
    y = tf.constant(rng.integers(0, 10, size=32), dtype=tf.int32)
    step = make_train_step(model, optimizer, settings.get("label_smoothing", 0.0))
    losses = [float(step(x, y)) for _ in range(20)]
    assert np.isfinite(losses).all()
    assert min(losses[-5:]) < losses[0]


# ----------------------------------------------------------------------------- cs231n.tf_data

def test_channel_stats_are_per_channel():
    images = np.stack([np.full((4, 4), v) for v in (10.0, 20.0, 30.0)], axis=-1)[None]
    mean, std = channel_stats(np.concatenate([images, images + 2]))
    np.testing.assert_allclose(mean, [11, 21, 31])
    np.testing.assert_allclose(std, [1, 1, 1])
    with pytest.raises(ValueError, match="N, H, W, C"):
        channel_stats(np.zeros((4, 4, 3)))


def test_load_cifar10_arrays_is_nhwc_and_normalized(synthetic_cifar):
    with pytest.warns(UserWarning, match="holds"):
        data = load_cifar10_arrays(synthetic_cifar, num_training=80, num_validation=20, num_test=100)
    assert data["X_train"].shape == (80, 32, 32, 3) and data["X_train"].dtype == np.float32
    assert data["X_val"].shape == (20, 32, 32, 3) and data["X_test"].shape == (15, 32, 32, 3)
    assert data["y_train"].dtype == np.int32 and data["y_val"].shape == (20,)
    np.testing.assert_allclose(data["X_train"].mean(axis=(0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(data["X_train"].std(axis=(0, 1, 2)), 1, atol=1e-4)
    # The mean and std are in pixel units and undo the normalization.
    assert 0 < data["mean"].min() and data["mean"].max() < 255


def test_random_crop_flip_cuts_windows_of_the_padded_image():
    tf.random.set_seed(8)
    rng = np.random.default_rng(8)
    images = rng.normal(size=(16, 6, 5, 2)).astype(np.float32)
    padding = 2
    out = random_crop_flip(images, padding=padding).numpy()
    assert out.shape == images.shape
    padded = np.pad(images, ((0, 0), (padding,) * 2, (padding,) * 2, (0, 0)), mode="reflect")
    offsets_seen = set()
    for i in range(len(images)):
        matches = [(dy, dx, flip) for dy in range(2 * padding + 1) for dx in range(2 * padding + 1)
                   for flip in (False, True)
                   if np.array_equal(out[i], (lambda w: w[:, ::-1] if flip else w)(
                       padded[i, dy:dy + 6, dx:dx + 5]))]
        assert matches, f"image {i} is not a (mirrored) window of its padded input"
        offsets_seen.add(matches[0][:2])
    assert len(offsets_seen) > 1  # every image gets its own offset


def test_random_crop_flip_without_padding_only_mirrors():
    tf.random.set_seed(9)
    images = np.random.default_rng(9).normal(size=(64, 4, 4, 3)).astype(np.float32)
    out = random_crop_flip(images, padding=0).numpy()
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)]
    kept = [np.array_equal(o, i) for o, i in zip(out, images)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert 10 < sum(mirrored) < 54


def test_make_dataset_covers_every_image_once_with_its_label():
    n = 50
    x = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None, None], (n, 2, 2, 1)).copy()
    y = np.arange(n) % 10
    batches = list(make_dataset(x, y, batch_size=8, shuffle=True, seed=0))
    assert [len(b[1]) for b in batches] == [8] * 6 + [2]
    ids = np.concatenate([b[0].numpy()[:, 0, 0, 0] for b in batches]).astype(int)
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(ids) == list(range(n)) and list(ids) != list(range(n))
    np.testing.assert_array_equal(labels, ids % 10)
    assert batches[0][1].dtype == tf.int32


def test_make_dataset_reshuffles_and_drops_the_last_batch():
    x = np.arange(20, dtype=np.float32).reshape(20, 1, 1, 1)
    dataset = make_dataset(x, np.zeros(20), batch_size=8, shuffle=True, drop_last=True, seed=1)
    assert len(dataset) == 2
    first, second = ([b[0].numpy().ravel() for b in dataset] for _ in range(2))
    assert all(len(b) == 8 for b in first)
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))


def test_make_dataset_checks_its_inputs():
    with pytest.raises(ValueError, match="labels"):
        make_dataset(np.zeros((3, 1, 1, 1)), np.zeros(2))
    with pytest.raises(ValueError, match="batch_size"):
        make_dataset(np.zeros((3, 1, 1, 1)), np.zeros(3), batch_size=0)


# ----------------------------------------------------------------------------- cs231n.tf_utils

def test_configure_tensorflow_reports_device_and_bounded_threads():
    setup = configure_tensorflow()
    assert setup["device"] in ("CPU", "GPU")
    # 0 means "TensorFlow's own choice", which only a runtime started earlier can leave.
    assert 0 <= setup["intra_op_threads"] <= tf_utils.available_cores()
    assert 0 <= setup["inter_op_threads"] <= 2


@pytest.mark.slow
def test_pytorch_loads_after_tensorflow_in_one_process():
    pytest.importorskip("torchvision")
    script = ("from cs231n import tf_utils, tf_data\n"
              "import torch, torchvision.transforms.v2\n"
              "from cs231n import torch_data\n"
              "print(float(tf_utils.tf.reduce_sum(tf_utils.tf.ones(3))), torch.ones(3).sum().item())\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[3],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["3.0", "3.0"]


def test_warmup_decay_is_linear_up_then_down():
    schedule = WarmupDecay(0.2, total_steps=100, warmup_fraction=0.2, start=0.1, end=0.0)
    for step in (0, 10, 20, 50, 100, 150):
        expected = 0.2 * np.interp(step, [0, 20, 100], [0.1, 1.0, 0.0])
        assert float(schedule(step)) == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError):
        WarmupDecay(0.1, total_steps=0)
    with pytest.raises(ValueError):
        WarmupDecay(0.1, total_steps=10, warmup_fraction=1.0)
    assert WarmupDecay(**schedule.get_config()).get_config() == schedule.get_config()


def test_evaluate_with_and_without_flip_averaging():
    # The model's scores are the image's left pixel; the mirror image's are its right pixel.
    x = np.zeros((4, 1, 2, 10), dtype=np.float32)
    y = np.array([1, 2, 3, 4], dtype=np.int32)
    x[np.arange(4), 0, 0, 0] = 1.0      # left pixel votes, weakly, for class 0
    x[np.arange(4), 0, 1, y] = 3.0      # right pixel votes strongly for the true class
    model = tf.keras.layers.Lambda(lambda images: images[:, 0, 0, :])
    dataset = [(tf.constant(x[:3]), y[:3]), (tf.constant(x[3:]), y[3:])]
    assert evaluate(model, dataset) == 0.0
    assert evaluate(model, dataset, flip_tta=True) == 1.0
    with pytest.raises(ValueError):
        evaluate(model, [])


def test_train_step_and_epoch_fit_a_small_problem():
    tf.keras.utils.set_random_seed(10)
    rng = np.random.default_rng(10)
    x = rng.normal(size=(64, 2, 2, 3)).astype(np.float32)
    y = (x[:, 0, 0, 0] > 0).astype(np.int32)
    model = tf.keras.Sequential([tf.keras.Input((2, 2, 3)), tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(2)])
    step = make_train_step(model, tf.keras.optimizers.SGD(learning_rate=0.5), label_smoothing=0.1)
    dataset = make_dataset(x, y, batch_size=16, shuffle=True, seed=0)
    first = train_one_epoch(step, dataset)
    for _ in range(10):
        last = train_one_epoch(step, dataset)
    assert last["loss"] < first["loss"] and first["images_per_sec"] > 0
    assert evaluate(model, make_dataset(x, y, batch_size=64)) > 0.9
    with pytest.raises(ValueError):
        train_one_epoch(step, [])
