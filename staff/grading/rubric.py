"""The autograder's rubric: every graded check, its points, and how it is judged.

A check names a probe (staff/grading/probes.py) with its arguments and a judge. The
submission's values come back from the sandbox as data; the judge compares them with
the reference solution's values on the same inputs (or, where randomness makes values
differ legitimately, tests the properties they must have) and returns None for a pass
or a message saying what differs. The rubric is fixed: every submission is graded on
all of its checks, and a check the submission did not answer fails.

Checks exercise student tasks only. Input validation and other scaffolding outside the
marker regions is not graded, so a starter release scores zero and the solution full marks.

The required total is the same for every submission: the core parts plus one framework
part (FRAMEWORK_POINTS, whichever framework the student chose). The extra tasks of this
bundle (``# not in the original assignment``) are extra credit, outside that total.
"""
import re
from dataclasses import dataclass

import numpy as np

from .sandbox import NOT_RUN
from .probes import CACHE_NOTE, parameter_name

# Graded parts, in report order.
PARTS = ("FC layers", "optimizers", "solver", "batch norm", "dropout", "convolution",
         "PyTorch models", "TensorFlow models")
# The framework part is done in PyTorch, TensorFlow or both: each of these parts is
# graded when the student chose its notebook (tools.cells.framework_chosen), and the
# better of the two counts, out of FRAMEWORK_POINTS either way.
FRAMEWORK_PARTS = {"PyTorch models": "PyTorch.ipynb", "TensorFlow models": "TensorFlow.ipynb"}
# The module each framework part needs on the grader (the solution's run imports it).
FRAMEWORK_MODULES = {"PyTorch models": "torch", "TensorFlow models": "tensorflow"}
FRAMEWORK_POINTS = 10
CORE_PARTS = tuple(part for part in PARTS if part not in FRAMEWORK_PARTS)


@dataclass(frozen=True)
class Check:
    name: str      # the situation tested, as a student reads it in the report
    part: str
    probe: str     # function of staff/grading/probes.py
    params: dict
    judge: object  # judge(submitted, reference) -> None or a failure message
    points: int = 1
    extra: bool = False  # an extra task of this bundle: extra credit, not in the required total
    # The student functions this check is the own check of, and the primitives (functions
    # with own checks) that it runs on its input besides: when a check fails, it points at
    # the failed own checks of what it runs (add_notes_and_pointers).
    own_check_of: tuple = ()
    runs: tuple = ()


# ----------------------------------------------------------------------------- judges

def _describe_index(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if index else "(scalar)"


def compare_arrays(key, submitted, expected, tolerance, scale=None):
    """None when ``submitted`` matches ``expected`` within ``tolerance``, else the first difference.

    The error of each entry is |a - b| / max(|a| + |b|, floor), the notebooks' relative
    error with a floor of 1e-6 times the magnitude of the quantity: ``scale`` when given
    (for a gradient, the largest gradient of the same call), else the largest expected
    magnitude. So rounding noise on entries that are mathematically zero (the gradient
    of a bias before batch norm) does not fail a correct answer.
    """
    if submitted is None:
        return f"{key} is missing (the function returned None for it?)"
    expected = np.asarray(expected, dtype=float)
    try:
        submitted = np.asarray(submitted, dtype=float)
    except (TypeError, ValueError):
        return f"{key} is not numeric"
    if submitted.shape != expected.shape:
        return f"{key} has shape {submitted.shape}, expected {expected.shape}"
    if submitted.size == 0:
        return None
    if not np.all(np.isfinite(submitted)):
        bad = np.argwhere(~np.isfinite(submitted))[0] if submitted.ndim else ()
        value = submitted[tuple(bad)] if submitted.ndim else submitted
        return f"{key} is {value} at {_describe_index(bad)} (expected {expected[tuple(bad)] if expected.ndim else expected:.6g})"
    scale = max(float(np.max(np.abs(expected))), scale or 0.0, 1e-300)
    errors = np.abs(submitted - expected) / np.maximum(np.abs(submitted) + np.abs(expected), 1e-6 * scale)
    worst = np.unravel_index(int(np.argmax(errors)), errors.shape) if errors.ndim else ()
    if errors[worst] <= tolerance:
        return None
    return (f"{key}: max relative error {float(errors[worst]):.3g} (allowed {tolerance:g}) at "
            f"{_describe_index(worst)}: got {float(submitted[worst]):.6g}, expected {float(expected[worst]):.6g}")


# The gradients a probe returns: grad_<parameter> of a model's loss, d<input> of a layer.
GRADIENT_KEY = re.compile(r"grad_\w+|d(x|w|b|gamma|beta)")


def gradient_scale(values):
    """The largest magnitude among the gradients of one probe result (0 when it holds none)."""
    magnitudes = [float(np.max(np.abs(np.asarray(value, dtype=float))))
                  for key, value in values.items() if GRADIENT_KEY.fullmatch(key) and np.size(value)]
    return max(magnitudes, default=0.0)


def same(*keys, tolerance=1e-6):
    """Judge: every key (all keys when none are given) matches the reference; the floor of
    a gradient's comparison is set by the largest gradient of the same call."""
    def judge(submitted, reference):
        gradients = gradient_scale(reference)
        for key in keys or sorted(reference):
            scale = gradients if GRADIENT_KEY.fullmatch(key) else None
            problem = compare_arrays(key, submitted.get(key), reference[key], tolerance, scale)
            if problem:
                return problem
        missing = sorted(set(reference) - set(submitted)) if not keys else []
        return f"missing values: {', '.join(missing)}" if missing else None
    return judge


def same_parameters_initialized(weight_keys_scale):
    """Judge an initialization: the reference's parameter names and shapes; biases and
    shifts zero, scales one; weights with mean near 0 and the requested spread."""
    def judge(submitted, reference):
        names, expected = sorted(submitted), sorted(reference)
        if names != expected:
            return (f"parameters {', '.join(map(parameter_name, names)) or 'none'}; expected "
                    f"{', '.join(map(parameter_name, expected))}")
        for name in expected:
            value, shape = np.asarray(submitted[name], dtype=float), np.shape(reference[name])
            short = parameter_name(name)
            if value.shape != shape:
                return f"{short} has shape {value.shape}, expected {shape}"
            # Exact constants, up to rounding noise far below the weights' scale.
            if short.startswith(("b", "beta")) and np.any(np.abs(value) > 1e-9 * weight_keys_scale):
                return f"{short} should start at zero"
            if short.startswith("gamma") and np.any(np.abs(value - 1) > 1e-9):
                return f"{short} should start at one"
            if short.startswith("W"):
                spread = float(value.std())
                if abs(float(value.mean())) > 0.2 * weight_keys_scale + 3 * weight_keys_scale / np.sqrt(value.size) \
                        or not 0.75 * weight_keys_scale < spread < 1.25 * weight_keys_scale:
                    return (f"{short} has mean {float(value.mean()):.3g} and standard deviation "
                            f"{spread:.3g}; expected a normal draw with mean 0 and standard "
                            f"deviation weight_scale = {weight_keys_scale:g}")
        return None
    return judge


def dropout_behaves(keep, seeded):
    """Judge inverted dropout by its properties (masks differ legitimately between
    implementations): kept units scaled by 1/p, the keep fraction near p, the mean kept,
    the gradient through the same mask, test mode the identity, seeded calls repeatable."""
    def judge(submitted, reference):
        x = reference["x"]
        for key in ("out", "dx", "out_test"):
            if np.shape(submitted.get(key)) != x.shape:
                return f"{key} has shape {np.shape(submitted.get(key))}, expected {x.shape}"
        out = np.asarray(submitted["out"], dtype=float)
        ratio = out / x
        kept = np.isclose(ratio, 1 / keep, rtol=1e-6)
        dropped = np.abs(out) <= 1e-9 * float(np.max(np.abs(x)))
        if not np.all(kept | dropped):
            return f"training output holds values other than 0 and x / p (p = {keep})"
        fraction = float(kept.mean())
        if abs(fraction - keep) > 0.02:
            return f"keeps {fraction:.3f} of the units; expected about p = {keep}"
        if abs(float(out.mean()) - float(x.mean())) > 0.03 * abs(float(x.mean())):
            return f"training output mean {out.mean():.4g} differs from the input mean {x.mean():.4g}"
        expected_dx = np.where(kept, reference["dout"] / keep, 0.0)
        problem = compare_arrays("dx", submitted["dx"], expected_dx, 1e-9)
        if problem:
            return "dropout_backward does not route the gradient through the forward mask: " + problem
        problem = compare_arrays("test-mode output", submitted["out_test"], x, 1e-12)
        if problem:
            return problem
        if seeded and compare_arrays("out_again", submitted["out_again"], out, 1e-9) is not None:
            return "two calls with the same seed in dropout_param give different masks"
        return None
    return judge


def gradient_matches_own_loss(tolerance=1e-5):
    """Judge: along random directions, the gradient agrees with the loss's own change."""
    def judge(submitted, reference):
        problem = compare_arrays("slopes", submitted.get("slopes"),
                                 np.asarray(submitted.get("differences"), dtype=float), tolerance)
        if problem:
            return "the gradient disagrees with numeric differences of the loss: " + problem
        # The reference loss uses other masks, so only its size is comparable.
        loss, expected = float(np.asarray(submitted["loss"])), float(reference["loss"])
        if not 0.2 * expected < loss < 5 * expected:
            return f"loss {loss:.6g} is far from what this network gives (about {expected:.6g})"
        return None
    return judge


def same_structure(*keys):
    """Judge: the listed shape or count values equal the reference's exactly."""
    def judge(submitted, reference):
        for key in keys:
            got, want = submitted.get(key), reference[key]
            got = got.tolist() if hasattr(got, "tolist") else got
            want = want.tolist() if hasattr(want, "tolist") else want
            if got != want:
                return f"{key} is {got}, expected {want}"
        return None
    return judge


# ----------------------------------------------------------------------------- the checks

# The primitives the scaffold's networks run (Check.runs): FullyConnectedNet's scores,
# and its loss and gradients. ThreeLayerConvNet runs the same (its convolution and
# pooling are the given fast layers); the Solver runs the network's loss.
_SCORES = ("affine_forward", "relu_forward")
_LOSS = _SCORES + ("softmax_loss", "affine_backward", "relu_backward")
# A backward check whose cache has a documented layout runs the student's forward pass
# but does not depend on it (probes.student_backward falls back to that layout), so it
# declares no runs; a normalization's backward check runs its forward pass for the cache.


def _checks():
    yield from [
        Check("affine_forward: (2, 4, 5, 6) input to 3 outputs", "FC layers", "affine_forward",
              {"input_shape": [2, 4, 5, 6], "output_dim": 3}, same("out"),
              own_check_of=("affine_forward",)),
        Check("affine_backward: dx, dw, db for a (10, 2, 3) input", "FC layers", "affine_backward",
              {"input_shape": [10, 2, 3], "output_dim": 5}, same("dx", "dw", "db"),
              own_check_of=("affine_backward",)),
        Check("relu_forward and relu_backward on a (10, 10) input", "FC layers", "relu",
              {"shape": [10, 10]}, same("out", "dx"), own_check_of=("relu_forward", "relu_backward")),
        Check("svm_loss (extra task): loss and gradient", "FC layers", "classification_loss",
              {"loss_name": "svm_loss", "num_examples": 50, "num_classes": 10, "scale": 0.5},
              same("loss", "dx"), extra=True, own_check_of=("svm_loss",)),
        Check("softmax_loss: loss and gradient", "FC layers", "classification_loss",
              {"loss_name": "softmax_loss", "num_examples": 50, "num_classes": 10, "scale": 0.5},
              same("loss", "dx"), own_check_of=("softmax_loss",)),
        Check("softmax_loss: scores of magnitude 1e4 (numerical stability)", "FC layers",
              "classification_loss",
              {"loss_name": "softmax_loss", "num_examples": 20, "num_classes": 10, "scale": 1e4},
              same("loss", "dx"), own_check_of=("softmax_loss",)),
        Check("FullyConnectedNet.__init__: parameter names, shapes and scale", "FC layers",
              "fc_net_initialization",
              {"hidden_dims": [20, 30], "input_dim": 15, "num_classes": 10, "weight_scale": 5e-2,
               "normalization": None}, same_parameters_initialized(5e-2)),
        Check("FullyConnectedNet.loss: test-time scores, fixed weights", "FC layers", "fc_net_loss",
              {"hidden_dims": [20, 30], "input_dim": 15, "num_classes": 10, "reg": 0.0,
               "normalization": None, "keep_ratio": 1, "with_labels": False}, same("scores"),
              runs=_SCORES),
        Check("FullyConnectedNet.loss: loss and gradients, no regularization", "FC layers",
              "fc_net_loss",
              {"hidden_dims": [20, 30], "input_dim": 15, "num_classes": 10, "reg": 0.0,
               "normalization": None, "keep_ratio": 1}, same(), points=2, runs=_LOSS),
        Check("FullyConnectedNet.loss: loss and gradients with reg = 3.14", "FC layers",
              "fc_net_loss",
              {"hidden_dims": [20, 30], "input_dim": 15, "num_classes": 10, "reg": 3.14,
               "normalization": None, "keep_ratio": 1}, same(), points=2, runs=_LOSS),
    ]
    momentum_config = {"learning_rate": 1e-3, "momentum": 0.9, "velocity": 0.1}
    rms_config = {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8, "cache": 0.5}
    adam_config = {"learning_rate": 1e-2, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                   "m": 0.3, "v": 0.5, "t": 5}
    for rule, config, extra in (("sgd_momentum", momentum_config, False),
                                ("rmsprop", rms_config, False),
                                ("adam", adam_config, False),
                                ("sgd_nesterov_momentum", momentum_config, True),
                                ("adagrad", {"learning_rate": 1e-2, "epsilon": 1e-8, "cache": 0.5},
                                 True)):
        given = {k: abs(v) for k, v in config.items() if k in ("velocity", "cache", "m", "v")}
        state = ", ".join(given) if given else "a fresh config"
        label = f"{rule} (extra task)" if extra else rule
        yield Check(f"{label}: one step from a config holding {state}", "optimizers",
                    "update_rule", {"rule": rule, "shape": [4, 5], "steps": 1, "config": config},
                    same("weights"), extra=extra, own_check_of=(rule,))
        yield Check(f"{label}: five steps from an empty config", "optimizers", "update_rule",
                    {"rule": rule, "shape": [4, 5], "steps": 5, "config": {}}, same("weights"),
                    extra=extra, own_check_of=(rule,))
    for rule, rate in (("sgd_momentum", 5e-2), ("adam", 1e-2)):
        yield Check(f"Solver: two epochs with {rule}, loss and accuracy histories", "solver",
                    "solver_history", {"update_rule": rule, "learning_rate": rate}, same(), points=2,
                    runs=_LOSS + (rule,))

    yield from [
        Check("batchnorm_forward: training mode on (200, 3) data", "batch norm", "batchnorm_train",
              {"num_examples": 200, "num_features": 3, "backward": None}, same("out"),
              own_check_of=("batchnorm_forward",)),
        Check("batchnorm_forward: running averages after 50 training batches, then test mode",
              "batch norm", "batchnorm_running_averages", {"num_features": 4, "train_steps": 50},
              same(), own_check_of=("batchnorm_forward",)),
        Check("batchnorm_backward: dx, dgamma, dbeta", "batch norm", "batchnorm_train",
              {"num_examples": 10, "num_features": 5, "backward": "batchnorm_backward"}, same(), points=2,
              own_check_of=("batchnorm_backward",), runs=("batchnorm_forward",)),
        Check("batchnorm_backward_alt: dx, dgamma, dbeta", "batch norm", "batchnorm_train",
              {"num_examples": 10, "num_features": 5, "backward": "batchnorm_backward_alt"}, same(), points=2,
              own_check_of=("batchnorm_backward_alt",), runs=("batchnorm_forward",)),
        Check("layernorm_forward on (4, 3) data", "batch norm", "layernorm",
              {"num_examples": 4, "num_features": 3, "backward": False}, same("out"),
              own_check_of=("layernorm_forward",)),
        Check("layernorm_backward: dx, dgamma, dbeta", "batch norm", "layernorm",
              {"num_examples": 4, "num_features": 5, "backward": True}, same(), points=2,
              own_check_of=("layernorm_backward",), runs=("layernorm_forward",)),
        Check("FullyConnectedNet with batchnorm: loss and gradients", "batch norm", "fc_net_loss",
              {"hidden_dims": [10, 8], "input_dim": 7, "num_classes": 4, "reg": 0.5,
               "normalization": "batchnorm", "keep_ratio": 1}, same(),
              runs=_LOSS + ("batchnorm_forward", "batchnorm_backward")),
        Check("FullyConnectedNet with layernorm: loss and gradients", "batch norm", "fc_net_loss",
              {"hidden_dims": [10, 8], "input_dim": 7, "num_classes": 4, "reg": 0.5,
               "normalization": "layernorm", "keep_ratio": 1}, same(),
              runs=_LOSS + ("layernorm_forward", "layernorm_backward")),
        Check("FullyConnectedNet.__init__ with batchnorm: gamma and beta per hidden layer",
              "batch norm", "fc_net_initialization",
              {"hidden_dims": [20, 30], "input_dim": 15, "num_classes": 10, "weight_scale": 5e-2,
               "normalization": "batchnorm"}, same_parameters_initialized(5e-2)),
        Check("spatial_batchnorm_forward: (2, 3, 4, 5) input, training and test mode",
              "batch norm", "spatial_batchnorm", {"shape": [2, 3, 4, 5], "backward": False}, same(),
              own_check_of=("spatial_batchnorm_forward",), runs=("batchnorm_forward",)),
        Check("spatial_batchnorm_backward: dx, dgamma, dbeta", "batch norm", "spatial_batchnorm",
              {"shape": [2, 3, 4, 5], "backward": True}, same(),
              own_check_of=("spatial_batchnorm_backward",),
              runs=("batchnorm_forward", "spatial_batchnorm_forward")),
        Check("spatial_groupnorm_forward: 6 channels in 2 groups", "batch norm", "spatial_groupnorm",
              {"shape": [2, 6, 4, 5], "groups": 2, "backward": False}, same(),
              own_check_of=("spatial_groupnorm_forward",)),
        Check("spatial_groupnorm_backward: dx, dgamma, dbeta", "batch norm", "spatial_groupnorm",
              {"shape": [2, 6, 4, 5], "groups": 2, "backward": True}, same(),
              own_check_of=("spatial_groupnorm_backward",), runs=("spatial_groupnorm_forward",)),
    ]
    for keep in (0.25, 0.6):
        yield Check(f"dropout_forward/backward with keep probability p = {keep}", "dropout",
                    "dropout", {"shape": [400, 300], "keep": keep}, dropout_behaves(keep, False), points=2,
                    own_check_of=("dropout_forward", "dropout_backward"))
    yield Check("dropout_forward: the same seed gives the same mask", "dropout", "dropout",
                {"shape": [50, 40], "keep": 0.5, "seed": 123}, dropout_behaves(0.5, True),
                own_check_of=("dropout_forward",))
    for keep in (0.75, 0.5):
        yield Check(f"FullyConnectedNet with dropout (keep {keep}): gradient agrees with the loss",
                    "dropout", "fc_net_directional_derivatives",
                    {"hidden_dims": [20, 30], "input_dim": 15, "num_classes": 10, "keep_ratio": keep,
                     "directions": 3}, gradient_matches_own_loss(),
                    runs=_LOSS + ("dropout_forward", "dropout_backward"))
    yield Check("FullyConnectedNet with dropout: test-time scores use no dropout", "dropout",
                "fc_net_loss", {"hidden_dims": [20, 30], "input_dim": 15, "num_classes": 10,
                                "reg": 0.0, "normalization": None, "keep_ratio": 0.5,
                                "with_labels": False}, same("scores"),
                runs=_SCORES + ("dropout_forward",))

    yield from [
        Check("conv_forward_naive: (2, 3, 4, 4) input, 3 filters 4x4, stride 2, pad 1",
              "convolution", "conv",
              {"x_shape": [2, 3, 4, 4], "w_shape": [3, 3, 4, 4], "stride": 2, "pad": 1, "backward": False},
              same("out"), points=2, own_check_of=("conv_forward_naive",)),
        Check("conv_forward_naive: non-square 5x7 input, 3x3 filters, stride 1, pad 1",
              "convolution", "conv",
              {"x_shape": [2, 3, 5, 7], "w_shape": [4, 3, 3, 3], "stride": 1, "pad": 1, "backward": False},
              same("out"), own_check_of=("conv_forward_naive",)),
        Check("conv_forward_naive: 1x5 filters, stride 2, no padding", "convolution", "conv",
              {"x_shape": [1, 2, 5, 9], "w_shape": [2, 2, 1, 5], "stride": 2, "pad": 0, "backward": False},
              same("out"), own_check_of=("conv_forward_naive",)),
        Check("conv_backward_naive: (4, 3, 5, 5) input, 3x3 filters, stride 1, pad 1",
              "convolution", "conv",
              {"x_shape": [4, 3, 5, 5], "w_shape": [2, 3, 3, 3], "stride": 1, "pad": 1, "backward": True},
              same("dx", "dw", "db"), points=2, own_check_of=("conv_backward_naive",)),
        Check("conv_backward_naive: stride 2 on a non-square 7x5 input", "convolution", "conv",
              {"x_shape": [2, 2, 7, 5], "w_shape": [3, 2, 3, 3], "stride": 2, "pad": 1, "backward": True},
              same("dx", "dw", "db"), own_check_of=("conv_backward_naive",)),
        Check("max_pool_forward_naive: 2x2 windows, stride 2", "convolution", "max_pool",
              {"x_shape": [2, 3, 4, 4], "pool": [2, 2], "stride": 2, "backward": False}, same("out"),
              own_check_of=("max_pool_forward_naive",)),
        Check("max_pool_forward_naive: 3x2 windows, stride 1 (overlapping)", "convolution", "max_pool",
              {"x_shape": [2, 2, 5, 6], "pool": [3, 2], "stride": 1, "backward": False}, same("out"),
              own_check_of=("max_pool_forward_naive",)),
        Check("max_pool_backward_naive: 2x2 windows, stride 2", "convolution", "max_pool",
              {"x_shape": [3, 2, 8, 8], "pool": [2, 2], "stride": 2, "backward": True}, same("dx"), points=2,
              own_check_of=("max_pool_backward_naive",)),
        Check("max_pool_backward_naive: overlapping 3x3 windows, stride 1", "convolution", "max_pool",
              {"x_shape": [2, 2, 6, 6], "pool": [3, 3], "stride": 1, "backward": True}, same("dx"),
              own_check_of=("max_pool_backward_naive",)),
        Check("ThreeLayerConvNet.__init__: parameter names, shapes and scale", "convolution",
              "convnet_initialization",
              {"input_dim": [3, 16, 16], "num_filters": 8, "filter_size": 5, "hidden_dim": 20,
               "weight_scale": 1e-2}, same_parameters_initialized(1e-2)),
        Check("ThreeLayerConvNet.loss: test-time scores, fixed weights", "convolution", "convnet_loss",
              {"input_dim": [3, 8, 8], "num_filters": 4, "filter_size": 3, "hidden_dim": 7,
               "reg": 0.0, "with_labels": False}, same("scores"), runs=_SCORES),
        Check("ThreeLayerConvNet.loss: loss and gradients with reg = 0.5", "convolution",
              "convnet_loss",
              {"input_dim": [3, 8, 8], "num_filters": 4, "filter_size": 3, "hidden_dim": 7,
               "reg": 0.5, "with_labels": True}, same(), points=2, runs=_LOSS),
    ]
    yield from [
        Check("PyTorch three_layer_convnet: scores on fixed weights", "PyTorch models",
              "torch_three_layer_function", {"batch": 4, "channels": [6, 8]},
              same("scores", tolerance=1e-4), points=3),
        Check("PyTorch ThreeLayerConvNet module: parameter shapes and scores on fixed weights",
              "PyTorch models", "torch_three_layer_module", {"batch": 4, "channels": [6, 8]},
              _shapes_then_scores, points=3),
        Check("PyTorch Sequential ConvNet: output shape and parameter counts", "PyTorch models",
              "torch_sequential_model", {"batch": 4}, same_structure("output_shape", "parameter_counts"),
              points=2),
        Check("PyTorch challenge model: 10 scores per image", "PyTorch models",
              "torch_challenge_model", {"batch": 4}, same_structure("output_shape"), points=2),
    ]
    keras_models = (("ThreeLayerConvNet", "Keras subclassed ThreeLayerConvNet"),
                    ("three_layer_convnet_sequential", "Keras Sequential ConvNet"),
                    ("three_layer_convnet_functional", "Keras Functional ConvNet"))
    yield Check("TensorFlow three_layer_convnet: scores on fixed weights", "TensorFlow models",
                "tf_three_layer_function", {"batch": 4, "channels": [6, 8]},
                same("scores", tolerance=1e-4), points=2)
    yield Check("TensorFlow three_layer_convnet_init: parameter shapes", "TensorFlow models",
                "tf_three_layer_init", {}, same_structure("parameter_shapes"))
    for builder, title in keras_models:
        yield Check(f"{title}: parameter shapes and scores on fixed weights", "TensorFlow models",
                    "tf_keras_model", {"builder": builder, "batch": 4, "channels": [6, 8]},
                    _shapes_then_scores, points=2)
    yield Check("TensorFlow challenge model: 10 scores per image", "TensorFlow models",
                "tf_challenge_model", {"batch": 4}, same_structure("output_shape"))


def _shapes_then_scores(submitted, reference):
    return (same_structure("parameter_shapes")(submitted, reference)
            or same("scores", tolerance=1e-4)(submitted, reference))


CHECKS = tuple(_checks())


def required_points(part):
    """The points of ``part`` in the required total (a framework part: FRAMEWORK_POINTS)."""
    return sum(check.points for check in CHECKS if check.part == part and not check.extra)


def extra_points(part):
    """The extra credit ``part`` offers."""
    return sum(check.points for check in CHECKS if check.part == part and check.extra)


# The same for every submission: the core parts and one framework part.
REQUIRED_TOTAL = sum(required_points(part) for part in CORE_PARTS) + FRAMEWORK_POINTS


# ----------------------------------------------------------------------------- causes

# Each check's index in CHECKS by its part and name, as a report lists it.
_INDEX = {(check.part, check.name): index for index, check in enumerate(CHECKS)}
# What the own checks of each student function run: a failed function whose own checks
# run another failed one is a consequence, not a cause.
_RUNS_OF = {function: {ran for check in CHECKS if function in check.own_check_of for ran in check.runs}
            for function in {name for check in CHECKS for name in check.own_check_of}}


def _pointer(causes, failed_own):
    """The pointer of a failed check to the failed own checks of ``causes``."""
    groups = {}
    for function in causes:
        groups.setdefault(tuple(failed_own[function]), []).append(function)
    clauses = []
    for numbers, functions in groups.items():
        whose = "its" if len(functions) == 1 else "their"
        which = "check" if len(numbers) == 1 else "checks"
        clauses.append(f"{' and '.join(f'`{name}`' for name in functions)} failed {whose} own "
                       f"{which} {', '.join(numbers)}")
    return f"({'; '.join(clauses)}; fix {'it' if len(causes) == 1 else 'them'} first)"


def add_notes_and_pointers(parts, answers):
    """Add to the messages of the judged checks in ``parts`` (a report's PartResults, each
    with its CheckResults in rubric order) what leads a student to the cause, changing no point.

    A probe's note (probes.CACHE_NOTE: the backward pass was run on a cache in the
    documented layout, not on its own forward's) goes on its check, passed or failed.
    Every failed check that runs a primitive whose own check failed says so, as in
    "(`affine_forward` failed its own check 1.1; fix it first)", naming only the root
    causes. Checks are numbered "part.check" as the report lists them: parts in rubric
    order from 1, checks from 1 within their part. ``answers`` holds the submission's
    (values, error) by index in CHECKS.
    """
    judged = []
    for part in parts:
        for position, entry in enumerate(part.checks, 1):
            index = _INDEX[(part.name, entry.name)]
            judged.append((index, entry, f"{PARTS.index(part.name) + 1}.{position}"))
    failed_own = {}
    for index, entry, number in judged:
        if not entry.passed:
            for function in CHECKS[index].own_check_of:
                failed_own.setdefault(function, []).append(number)
    for index, entry, _ in judged:
        values = answers.get(index, (None, None))[0]
        note = values.get(CACHE_NOTE) if isinstance(values, dict) else None
        if isinstance(note, str):
            entry.message += f"; cache fallback: {note[:600]}"
        failed = [function for function in CHECKS[index].runs if function in failed_own]
        causes = [function for function in failed
                  if not any(other in _RUNS_OF[function] for other in failed)]
        # A check that never ran ran no primitive either.
        if causes and not entry.passed and not entry.message.startswith(NOT_RUN):
            entry.message += " " + _pointer(causes, failed_own)
