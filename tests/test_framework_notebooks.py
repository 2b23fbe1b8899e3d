"""What the framework notebooks' task functions must return, checked on the notebooks' own code.

The tests load the functions and classes the notebook defines (without running its
training cells) and check the contract the rest of the notebook relies on: shapes, types,
the keys the challenge's training cell reads, and that one training step runs. They hold
no reference answers: any correct implementation, and any challenge recipe, passes.

A task you have not written yet raises NotImplementedError, naming the notebook cell and
the function; the test that calls it fails with that error. The TensorFlow.ipynb tests at
the end are skipped where TensorFlow is not installed.
"""
import math
from functools import partial
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from cs231n.torch_data import TensorLoader, random_crop_flip  # noqa: E402
from cs231n.torch_utils import train_one_epoch  # noqa: E402
from tools.notebook_defs import load_definitions, models_built_in_cells  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "PyTorch.ipynb"
TF_NOTEBOOK = NOTEBOOK.with_name("TensorFlow.ipynb")
CPU = torch.device("cpu")
# The keys of challenge_settings() that the challenge's training cell reads.
SETTINGS_KEYS = ("epochs", "batch_size", "crop_padding", "label_smoothing")


@pytest.fixture(scope="module")
def nb():
    """The notebook's definitions, with the globals its functions read at call time."""
    torch.manual_seed(0)
    return load_definitions(NOTEBOOK, {"device": CPU, "dtype": torch.float32, "print_every": 100})


def images(n=4, size=32):
    return torch.randn(n, 3, size, size)


def call(function, *args, **kwargs):
    """function(*args, **kwargs); a task not written yet fails the test with its own message.

    The notebook's code is compiled from the .ipynb file, whose lines are JSON, so a plain
    traceback would show the wrong lines; the NotImplementedError's message names the cell.
    """
    try:
        return function(*args, **kwargs)
    except NotImplementedError as error:
        message = f"NotImplementedError: {error}"
    pytest.fail(message, pytrace=False)


def check_challenge_settings(settings):
    """What both notebooks' challenge training cell reads from challenge_settings()."""
    assert isinstance(settings, dict), f"challenge_settings returned {type(settings).__name__}"
    missing = [key for key in SETTINGS_KEYS if key not in settings]
    assert missing == [], f"challenge_settings() lacks {missing}"
    assert isinstance(settings["epochs"], int) and 1 <= settings["epochs"] <= 10
    assert isinstance(settings["batch_size"], int) and settings["batch_size"] >= 1
    assert isinstance(settings["crop_padding"], int) and 0 <= settings["crop_padding"] <= 8
    assert isinstance(settings["label_smoothing"], (int, float)) and 0 <= settings["label_smoothing"] < 1


# ----------------------------------------------------------------------------- Part II

@pytest.mark.task("PyTorch.ipynb § A three-layer ConvNet")
def test_three_layer_convnet_returns_one_row_of_scores_per_image(nb):
    torch.manual_seed(1)
    params = [torch.randn(6, 3, 5, 5), torch.randn(6), torch.randn(9, 6, 3, 3), torch.randn(9),
              torch.randn(9 * 32 * 32, 10), torch.randn(10)]
    scores = call(nb["three_layer_convnet"], images(), params)
    assert isinstance(scores, torch.Tensor), f"three_layer_convnet returned {type(scores).__name__}"
    assert scores.shape == (4, 10) and scores.dtype == torch.float32
    assert torch.isfinite(scores).all()


@pytest.mark.task("PyTorch.ipynb § A three-layer ConvNet")
def test_three_layer_convnet_keeps_the_gradient_path(nb):
    params = [torch.randn(6, 3, 5, 5), torch.zeros(6), torch.randn(9, 6, 3, 3), torch.zeros(9),
              torch.randn(9 * 32 * 32, 10), torch.zeros(10)]
    for p in params:
        p.requires_grad_(True)
    call(nb["three_layer_convnet"], images(2), params).sum().backward()
    missing = [i for i, p in enumerate(params) if p.grad is None]
    assert missing == [], f"params {missing} get no gradient: the scores do not depend on them"


@pytest.mark.task("PyTorch.ipynb")
def test_random_weight_and_zero_weight_shapes(nb):
    for shape in [(3, 5), (32, 3, 5, 5), (16 * 32 * 32, 10)]:
        w = call(nb["random_weight"], shape)
        assert tuple(w.shape) == shape and w.dtype == torch.float32 and w.requires_grad
    bias = call(nb["zero_weight"], (7,))
    assert tuple(bias.shape) == (7,) and bias.requires_grad and not bias.detach().any()


# ----------------------------------------------------------------------------- Parts III and IV

@pytest.mark.task("PyTorch.ipynb § Module API: three-layer ConvNet")
def test_three_layer_convnet_module_maps_images_to_scores(nb):
    model = call(nb["ThreeLayerConvNet"], in_channel=3, channel_1=12, channel_2=8, num_classes=10)
    assert isinstance(model, nn.Module)
    assert sum(p.numel() for p in model.parameters()) > 0, "ThreeLayerConvNet has no parameters"
    assert call(model, images()).shape == (4, 10)


@pytest.mark.task("PyTorch.ipynb § Sequential API: three-layer ConvNet")
def test_sequential_cells_build_models_that_map_images_to_scores(nb):
    models = models_built_in_cells(NOTEBOOK, nb)
    if len(models) != 2:
        pytest.fail("Part IV builds `model` with nn.Sequential in two cells, the two-layer net and the "
                    f"ConvNet, but {len(models)} of them did: is the cell of section \"Sequential API: "
                    "three-layer ConvNet\" written?", pytrace=False)
    for model in models:
        assert isinstance(model, nn.Module) and model(images()).shape == (4, 10)


# ----------------------------------------------------------------------------- Part V

@pytest.mark.parametrize("width", [1.0, 0.25])
@pytest.mark.task("PyTorch.ipynb § Your model")
def test_challenge_model_maps_images_to_scores(nb, width):
    model = call(nb["make_challenge_model"], width)
    assert isinstance(model, nn.Module), f"make_challenge_model returned {type(model).__name__}"
    model.eval()
    with torch.no_grad():
        scores = call(model, images(2))
    assert scores.shape == (2, 10)


@pytest.mark.task("PyTorch.ipynb § Your training recipe")
def test_challenge_settings_hold_the_keys_the_training_cell_reads(nb):
    settings = call(nb["challenge_settings"])
    check_challenge_settings(settings)


@pytest.mark.task("PyTorch.ipynb § Your training recipe")
def test_challenge_optimizer_covers_the_model_and_its_scheduler_steps(nb):
    settings = call(nb["challenge_settings"])
    model = call(nb["make_challenge_model"], 0.25)
    result = call(nb["make_challenge_optimizer"], model, 20, settings)
    assert isinstance(result, tuple) and len(result) == 2, "make_challenge_optimizer returns (optimizer, scheduler)"
    optimizer, scheduler = result
    assert isinstance(optimizer, torch.optim.Optimizer)
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    left_out = [name for name, p in model.named_parameters() if id(p) not in optimized]
    assert left_out == [], f"the optimizer leaves out {left_out[:3]}"
    assert scheduler is None or callable(getattr(scheduler, "step", None)), \
        "the scheduler is None or has a step() method"
    for _ in range(20):  # the whole run: one scheduler step after every optimizer step
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    for group in optimizer.param_groups:
        assert math.isfinite(group["lr"]) and group["lr"] >= 0


@pytest.mark.task("PyTorch.ipynb § Your training recipe")
def test_one_challenge_training_step_runs_and_changes_the_weights(nb):
    torch.manual_seed(5)
    settings = call(nb["challenge_settings"])
    model = call(nb["make_challenge_model"], 0.25)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    loader = TensorLoader(x, y, batch_size=8, shuffle=True, drop_last=True,
                          augment=partial(random_crop_flip, padding=settings["crop_padding"]))
    optimizer, scheduler = call(nb["make_challenge_optimizer"], model, len(loader), settings)
    before = [p.detach().clone() for p in model.parameters()]
    stats = call(train_one_epoch, model, optimizer, loader, scheduler, settings["label_smoothing"])
    assert math.isfinite(stats["loss"])
    assert any(not torch.equal(old, new.detach()) for old, new in zip(before, model.parameters())), \
        "two training steps left every weight unchanged"


# ----------------------------------------------------------------------------- TensorFlow.ipynb, Part V

@pytest.fixture(scope="module")
def tf_nb():
    # cs231n.tf_utils imports TensorFlow itself, in the order the package needs.
    tf_utils = pytest.importorskip("cs231n.tf_utils", reason="TensorFlow is not installed")
    if not TF_NOTEBOOK.is_file():
        pytest.skip(f"{TF_NOTEBOOK.name} is not in this bundle")
    tf_utils.tf.keras.utils.set_random_seed(0)
    return tf_utils, load_definitions(TF_NOTEBOOK, {"device": "/CPU:0", "print_every": 100})


@pytest.mark.task("TensorFlow.ipynb § Your model")
def test_tf_challenge_model_maps_images_to_logits(tf_nb):
    tf_utils, nb = tf_nb
    tf = tf_utils.tf
    for width in (1.0, 0.25):
        model = call(nb["make_challenge_model"], width)
        assert isinstance(model, tf.keras.Model), f"make_challenge_model returned {type(model).__name__}"
        assert tuple(call(model, tf.zeros((2, 32, 32, 3)), training=False).shape) == (2, 10)


@pytest.mark.task("TensorFlow.ipynb § Your training recipe")
def test_tf_challenge_recipe_holds_the_keys_and_runs_a_training_step(tf_nb):
    tf_utils, nb = tf_nb
    tf = tf_utils.tf
    settings = call(nb["challenge_settings"])
    check_challenge_settings(settings)
    optimizer = call(nb["make_challenge_optimizer"], 2, settings)
    assert isinstance(optimizer, tf.keras.optimizers.Optimizer)
    model = call(nb["make_challenge_model"], 0.25)
    step = tf_utils.make_train_step(model, optimizer, settings["label_smoothing"], jit_compile=False)
    x = tf.random.normal((8, 32, 32, 3))
    y = tf.constant([0, 1, 2, 3, 4, 5, 6, 7], dtype=tf.int32)
    before = [w.numpy().copy() for w in model.trainable_weights]
    losses = [float(call(step, x, y)) for _ in range(2)]
    assert all(math.isfinite(loss) for loss in losses)
    assert any((old != new.numpy()).any() for old, new in zip(before, model.trainable_weights)), \
        "two training steps left every weight unchanged"
