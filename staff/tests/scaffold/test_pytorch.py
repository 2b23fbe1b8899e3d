"""PyTorch.ipynb's models and training loops, and the data pipeline and helpers behind them.

The models are the notebook's own: tools/notebook_defs.py executes the functions and
classes the notebook defines (and, for Part IV, the cells' model-building assignments).
"""
import math
from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cs231n import torch_utils
from cs231n.torch_data import TensorLoader, channel_stats, load_cifar10_tensors, random_crop_flip
from cs231n.torch_utils import (evaluate, pick_device, predict_scores, train_one_epoch,
                                warmup_decay_factor, warmup_decay_schedule)
from tools.notebook_defs import load_definitions, models_built_in_cells

NOTEBOOK = Path(__file__).resolve().parents[3] / "PyTorch.ipynb"
CPU = torch.device("cpu")


def notebook_globals():
    return {"device": CPU, "dtype": torch.float32, "print_every": 100}


@pytest.fixture(scope="module")
def nb():
    torch.manual_seed(0)
    return load_definitions(NOTEBOOK, notebook_globals())


@pytest.fixture(scope="module")
def partial_subset(partial_cifar):
    with pytest.warns(UserWarning, match="holds"):
        return load_cifar10_tensors(partial_cifar, num_training=2000, num_validation=500,
                                    num_test=100000)


# ----------------------------------------------------------------------------- models

def test_flatten_keeps_batch_dimension(nb):
    x = torch.arange(12).view(2, 1, 3, 2)
    flat = nb["flatten"](x)
    assert flat.shape == (2, 6)
    assert torch.equal(flat[1], torch.arange(6, 12))


def test_two_layer_fc_shape_and_values(nb):
    x = torch.randn(64, 50)
    w1, w2 = torch.randn(50, 42), torch.randn(42, 10)
    scores = nb["two_layer_fc"](x, [w1, w2])
    assert scores.shape == (64, 10)
    torch.testing.assert_close(scores, F.relu(x @ w1) @ w2)


def test_three_layer_convnet_shape_and_values(nb):
    torch.manual_seed(1)
    x = torch.randn(4, 3, 32, 32)
    params = [torch.randn(6, 3, 5, 5), torch.randn(6), torch.randn(9, 6, 3, 3), torch.randn(9),
              torch.randn(9 * 32 * 32, 10), torch.randn(10)]
    scores = nb["three_layer_convnet"](x, params)
    assert scores.shape == (4, 10)
    conv_w1, conv_b1, conv_w2, conv_b2, fc_w, fc_b = params
    hidden = F.relu(F.conv2d(F.relu(F.conv2d(x, conv_w1, conv_b1, padding=2)), conv_w2, conv_b2, padding=1))
    torch.testing.assert_close(scores, hidden.flatten(1) @ fc_w + fc_b, rtol=1e-4, atol=1e-3)


def test_random_weight_is_kaiming_and_zero_weight_is_zero(nb):
    torch.manual_seed(2)
    conv = nb["random_weight"]((64, 32, 3, 3))
    fc = nb["random_weight"]((2000, 300))
    assert conv.requires_grad and conv.dtype == torch.float32 and conv.shape == (64, 32, 3, 3)
    assert conv.std().item() == pytest.approx(math.sqrt(2 / (32 * 9)), rel=0.05)
    assert fc.std().item() == pytest.approx(math.sqrt(2 / 2000), rel=0.05)
    bias = nb["zero_weight"]((7,))
    assert bias.requires_grad and bias.shape == (7,) and not bias.any()


def test_module_models_shapes(nb):
    x_flat = torch.zeros(64, 50)
    assert nb["TwoLayerFC"](50, 42, 10)(x_flat).shape == (64, 10)
    convnet = nb["ThreeLayerConvNet"](in_channel=3, channel_1=12, channel_2=8, num_classes=10)
    assert convnet(torch.zeros(64, 3, 32, 32)).shape == (64, 10)
    kernel_sizes = sorted(m.kernel_size for m in convnet.modules() if isinstance(m, torch.nn.Conv2d))
    assert kernel_sizes == [(3, 3), (5, 5)]


def test_sequential_models_shapes(nb):
    models = models_built_in_cells(NOTEBOOK, nb)
    assert len(models) == 2, "Part IV builds a two-layer net and a ConvNet with nn.Sequential"
    x = torch.randn(5, 3, 32, 32)
    for model in models:
        assert model(x).shape == (5, 10)
    assert any(isinstance(m, torch.nn.Conv2d) for m in models[1].modules())


@pytest.mark.parametrize("width", [1.0, 0.25])
def test_challenge_model_shape(nb, width):
    model = nb["make_challenge_model"](width)
    model.eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_challenge_recipe_builds_optimizer_and_schedule(nb):
    # The contract of the training cell, not one recipe: any schedule (or none) will do.
    settings = nb["challenge_settings"]()
    assert 1 <= settings["epochs"] <= 10
    model = nb["make_challenge_model"](0.25)
    optimizer, scheduler = nb["make_challenge_optimizer"](model, 100, settings)
    assert isinstance(optimizer, torch.optim.Optimizer)
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert all(id(p) in optimized for p in model.parameters())
    assert scheduler is None or callable(getattr(scheduler, "step", None))
    learning_rates = []
    for _ in range(100):
        learning_rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    assert all(math.isfinite(rate) and rate >= 0 for rate in learning_rates)
    assert max(learning_rates) > 0


# ----------------------------------------------------------------------------- training

def test_training_beats_chance_on_partial_cifar(nb, partial_subset):
    torch.manual_seed(3)
    data = partial_subset
    # The training loops read the loaders as globals, as in the notebook.
    namespace = load_definitions(NOTEBOOK, {
        **notebook_globals(),
        "loader_train": TensorLoader(data["X_train"], data["y_train"], batch_size=64,
                                     shuffle=True, name="train"),
        "loader_val": TensorLoader(data["X_val"], data["y_val"], batch_size=500, name="val"),
    })
    train_part34 = namespace["train_part34"]
    model = namespace["TwoLayerFC"](3 * 32 * 32, 1000, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, nesterov=True)
    val_acc = train_part34(model, optimizer, epochs=2)
    assert val_acc > 0.22, f"{val_acc:.1%} validation accuracy is too close to chance (10%)"


def test_barebones_training_lowers_the_loss(nb, partial_subset):
    torch.manual_seed(4)
    data = partial_subset
    namespace = load_definitions(NOTEBOOK, {
        **notebook_globals(),
        "loader_train": TensorLoader(data["X_train"][:640], data["y_train"][:640],
                                     batch_size=64, shuffle=True),
        "loader_val": TensorLoader(data["X_val"], data["y_val"], batch_size=500, name="val"),
    })
    w1 = namespace["random_weight"]((3 * 32 * 32, 200))
    w2 = namespace["random_weight"]((200, 10))
    before = w1.detach().clone()
    val_acc = namespace["train_part2"](namespace["two_layer_fc"], [w1, w2], 1e-2)
    assert not torch.equal(before, w1.detach()), "train_part2 must update the weights in place"
    assert val_acc > 0.15


def test_challenge_recipe_runs_one_epoch(nb, partial_subset):
    torch.manual_seed(5)
    data = partial_subset
    settings = nb["challenge_settings"]()
    model = nb["make_challenge_model"](0.25)
    loader = TensorLoader(data["X_train"][:512], data["y_train"][:512], batch_size=128, shuffle=True,
                          augment=partial(random_crop_flip, padding=settings["crop_padding"]),
                          drop_last=True)
    optimizer, scheduler = nb["make_challenge_optimizer"](model, len(loader), settings)
    stats = train_one_epoch(model, optimizer, loader, scheduler, settings["label_smoothing"])
    assert math.isfinite(stats["loss"]) and stats["images_per_sec"] > 0
    val_loader = TensorLoader(data["X_val"][:100], data["y_val"][:100], batch_size=50, name="val")
    assert 0.0 <= evaluate(model, val_loader, flip_tta=True) <= 1.0


# ----------------------------------------------------------------------------- data pipeline

def test_load_cifar10_tensors_normalizes_with_training_stats(synthetic_cifar):
    with pytest.warns(UserWarning, match="using 80 / 20 / 15 train / validation / test images"):
        data = load_cifar10_tensors(synthetic_cifar, num_training=49000, num_validation=1000,
                                    num_test=10000)
    assert data["X_train"].shape == (80, 3, 32, 32) and data["X_train"].dtype == torch.float32
    assert data["X_val"].shape == (20, 3, 32, 32) and data["X_test"].shape == (15, 3, 32, 32)
    assert data["y_train"].dtype == torch.int64 and data["y_train"].shape == (80,)
    assert int(data["y_train"].min()) >= 0 and int(data["y_train"].max()) <= 9
    means = data["X_train"].mean(dim=(0, 2, 3))
    stds = data["X_train"].std(dim=(0, 2, 3))
    torch.testing.assert_close(means, torch.zeros(3), atol=1e-4, rtol=0)
    torch.testing.assert_close(stds, torch.ones(3), atol=1e-3, rtol=0)
    # Val and test use the training statistics, so their means are near but not exactly 0.
    assert not torch.allclose(data["X_val"].mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-6)


def test_partial_cifar_splits(partial_subset):
    data = partial_subset
    assert data["X_train"].shape == (2000, 3, 32, 32)
    assert data["X_val"].shape == (500, 3, 32, 32)
    assert data["X_test"].shape == (1017, 3, 32, 32)
    assert all(0.2 < s < 0.3 for s in data["std"]) and all(0.4 < m < 0.55 for m in data["mean"])


def test_channel_stats_rejects_wrong_rank():
    with pytest.raises(ValueError, match="N, C, H, W"):
        channel_stats(torch.zeros(3, 32, 32, dtype=torch.uint8))


def test_loader_covers_every_image_once_per_pass():
    x = torch.arange(10, dtype=torch.float32).view(10, 1, 1, 1).expand(10, 1, 2, 2)
    y = torch.arange(10)
    loader = TensorLoader(x, y, batch_size=4, shuffle=True)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    for xb, yb in batches:
        assert torch.equal(xb[:, 0, 0, 0].long(), yb)
    assert len(TensorLoader(x, y, batch_size=4, drop_last=True)) == 2


def test_loader_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="10 images but y holds 9 labels"):
        TensorLoader(torch.zeros(10, 3, 4, 4), torch.zeros(9))


def test_augmentation_keeps_labels():
    # Each image is filled with its label, a pattern that survives any crop or flip.
    labels = torch.arange(10).repeat(6)
    images = labels.float().view(-1, 1, 1, 1).expand(-1, 3, 32, 32).contiguous()
    loader = TensorLoader(images, labels, batch_size=16, shuffle=True, augment=random_crop_flip)
    for x, y in loader:
        assert x.shape[1:] == (3, 32, 32)
        assert torch.equal(x.amin(dim=(1, 2, 3)), y.float())
        assert torch.equal(x.amax(dim=(1, 2, 3)), y.float())


def test_random_crop_flip_takes_windows_of_the_padded_image():
    torch.manual_seed(6)
    padding = 2
    images = torch.randn(12, 3, 8, 8)
    out = random_crop_flip(images, padding=padding)
    padded = F.pad(images, (padding,) * 4, mode="reflect")
    shifted_or_flipped = 0
    for original, padded_image, result in zip(images, padded, out):
        candidates = [padded_image[:, dy:dy + 8, dx:dx + 8]
                      for dy in range(2 * padding + 1) for dx in range(2 * padding + 1)]
        candidates += [c.flip(-1) for c in candidates]
        assert any(torch.equal(result, c) for c in candidates)
        shifted_or_flipped += not torch.equal(result, original)
    assert shifted_or_flipped > 6, "most images should move or flip"


# ----------------------------------------------------------------------------- helpers

def test_pick_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device(verbose=False) == torch.device("cpu")


def test_pick_device_prefers_cuda_then_mps(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device() == torch.device("mps")
    assert "using device: mps" in capsys.readouterr().out
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device(verbose=False) == torch.device("cuda")


def test_fast_path_only_on_cuda():
    assert torch_utils.uses_fast_path("cuda") and torch_utils.uses_fast_path(torch.device("cuda:0"))
    assert not torch_utils.uses_fast_path("cpu") and not torch_utils.uses_fast_path("mps")


def test_warmup_decay_factor():
    assert warmup_decay_factor(0, 100, warmup_fraction=0.2, start=0.1) == pytest.approx(0.1)
    assert warmup_decay_factor(20, 100, warmup_fraction=0.2) == pytest.approx(1.0)
    assert warmup_decay_factor(60, 100, warmup_fraction=0.2) == pytest.approx(0.5)
    assert warmup_decay_factor(100, 100, warmup_fraction=0.2, end=0.0) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="total_steps"):
        warmup_decay_factor(0, 0)
    with pytest.raises(ValueError, match="warmup_fraction"):
        warmup_decay_factor(0, 10, warmup_fraction=1.5)


def test_warmup_decay_schedule_scales_the_base_rate():
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([weight], lr=0.5)
    scheduler = warmup_decay_schedule(optimizer, total_steps=10, warmup_fraction=0.5, start=0.0)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.0) and rates[5] == pytest.approx(0.5)
    assert rates[9] == pytest.approx(0.1)  # one step before the end of the decay


def test_flip_tta_averages_mirrored_scores():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 5))
    x = torch.randn(2, 3, 4, 4)
    expected = 0.5 * (model(x) + model(x.flip(-1)))
    torch.testing.assert_close(predict_scores(model, x, flip_tta=True), expected)
    torch.testing.assert_close(predict_scores(model, x), model(x))


def test_evaluate_counts_correct_predictions():
    x = torch.eye(4).view(4, 4, 1, 1)
    y = torch.tensor([0, 1, 2, 0])  # the identity "model" gets the first three right
    model = torch.nn.Flatten()
    assert evaluate(model, TensorLoader(x, y, batch_size=3)) == pytest.approx(0.75)
