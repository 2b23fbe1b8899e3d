"""Shape checks and output-size arithmetic shared by the layers, the fast layers and the models.

This is scaffolding, not assignment work: the student files (``layers.py`` and the
classifiers) call these checks before the student's code runs, so that a task can assume
valid input, and the fast layers use them without depending on a file students edit.
Every check raises ``ValueError`` with a message that names the shapes involved.
"""
import warnings

import numpy as np


def sliding_output_shape(input_shape, field_shape, stride, pad=0):
    """Output (height, width) of a window of ``field_shape`` sliding over ``input_shape``.

    Raises ValueError when the stride, padding or window is invalid, or when the windows
    do not tile the padded input exactly.
    """
    height, width = input_shape
    field_height, field_width = field_shape
    if stride < 1 or pad < 0:
        raise ValueError(f"stride must be >= 1 and pad >= 0, got stride={stride}, pad={pad}")
    if field_height < 1 or field_width < 1:
        raise ValueError(f"window must be at least 1x1, got {field_height}x{field_width}")
    padded_height, padded_width = height + 2 * pad, width + 2 * pad
    if field_height > padded_height or field_width > padded_width:
        raise ValueError(
            f"window {field_height}x{field_width} does not fit the input "
            f"{height}x{width} padded by {pad}")
    if (padded_height - field_height) % stride or (padded_width - field_width) % stride:
        raise ValueError(
            f"window {field_height}x{field_width} with stride {stride} does not tile the "
            f"input {height}x{width} padded by {pad} (padded size {padded_height}x{padded_width})")
    return ((padded_height - field_height) // stride + 1,
            (padded_width - field_width) // stride + 1)


def check_affine_shapes(x, w, b):
    """Raise ValueError when x, w and b cannot form an affine layer."""
    if x.ndim < 2:
        raise ValueError(f"affine input x must have shape (N, d_1, ...), got {x.shape}")
    flat_dim = int(np.prod(x.shape[1:]))
    if w.ndim != 2 or w.shape[0] != flat_dim:
        raise ValueError(
            f"affine weights w must have shape ({flat_dim}, M) for input x of shape "
            f"{x.shape}, got {w.shape}"
        )
    if b.shape != (w.shape[1],):
        raise ValueError(f"affine bias b must have shape ({w.shape[1]},), got {b.shape}")


def check_scores_and_labels(x, y):
    """Raise ValueError unless x is (N, C) scores and y holds N labels in [0, C); warn when
    a score is not finite."""
    if x.ndim != 2:
        raise ValueError(f"scores x must have shape (N, C), got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"labels y must have shape ({x.shape[0]},) for scores {x.shape}, got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= x.shape[1]):
        raise ValueError(f"labels y must lie in [0, {x.shape[1]}), got range [{y.min()}, {y.max()}]")
    if not np.all(np.isfinite(x)):
        # A diverged network produces such scores; its loss comes out non-finite, which
        # the Solver reports, so this warns rather than stopping the run.
        warnings.warn("scores x contain inf or NaN, so the loss is not finite "
                      "(has the network diverged?)", RuntimeWarning, stacklevel=3)


def check_features(x, gamma, beta, layer):
    """Raise ValueError unless x is a non-empty (N, D) float batch and gamma, beta are (D,)."""
    if x.ndim != 2:
        raise ValueError(f"{layer} expects x of shape (N, D), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{layer} needs at least one example, got x of shape {x.shape}")
    expected = (x.shape[1],)
    if np.shape(gamma) != expected or np.shape(beta) != expected:
        raise ValueError(
            f"{layer}: gamma {np.shape(gamma)} and beta {np.shape(beta)} must both be "
            f"{expected} for x of shape {x.shape}"
        )


def check_feature_maps(x, gamma, beta, layer, param_shape=None):
    """Raise ValueError unless x is a non-empty (N, C, H, W) batch and gamma, beta have
    ``param_shape`` (default (C,), one value per channel)."""
    if x.ndim != 4:
        raise ValueError(f"{layer} expects x of shape (N, C, H, W), got {x.shape}")
    if x.shape[0] * x.shape[2] * x.shape[3] == 0:
        raise ValueError(f"{layer} needs at least one value per channel, got x of shape {x.shape}")
    expected = (x.shape[1],) if param_shape is None else tuple(param_shape)
    if np.shape(gamma) != expected or np.shape(beta) != expected:
        raise ValueError(
            f"{layer}: gamma {np.shape(gamma)} and beta {np.shape(beta)} must both be "
            f"{expected} for x of shape {x.shape}")


def check_group_count(x, num_groups, layer):
    """Raise ValueError unless the channels of x split into num_groups equal groups."""
    channels = x.shape[1]
    if not isinstance(num_groups, (int, np.integer)) or num_groups < 1 or channels % num_groups:
        raise ValueError(f"{layer}: {channels} channels do not split into G={num_groups} equal groups")


def check_float_input(x, layer):
    """Raise ValueError unless x is a real floating-point array (integers would be truncated)."""
    if not np.issubdtype(np.asarray(x).dtype, np.floating):
        raise ValueError(f"{layer} expects a floating-point array, got dtype {np.asarray(x).dtype}")


def check_conv_shapes(x, w, b):
    """Raise ValueError unless x (N, C, H, W), w (F, C, HH, WW) and b (F,) agree."""
    if x.ndim != 4 or w.ndim != 4 or b.ndim != 1:
        raise ValueError(
            f"expected x (N, C, H, W), w (F, C, HH, WW), b (F,); got x {x.shape}, "
            f"w {w.shape}, b {b.shape}")
    if x.shape[1] != w.shape[1] or w.shape[0] != b.shape[0]:
        raise ValueError(
            f"channel or filter counts disagree: x {x.shape}, w {w.shape}, b {b.shape}")


def conv_output_shape(x, w, b, conv_param):
    """Check a convolution's inputs and geometry; return its output shape (N, F, H', W')."""
    check_conv_shapes(x, w, b)
    out_height, out_width = sliding_output_shape(
        x.shape[2:], w.shape[2:], conv_param["stride"], conv_param["pad"])
    return x.shape[0], w.shape[0], out_height, out_width


def check_conv_geometry(x, w, b, conv_param):
    """Raise ValueError unless the convolution's inputs agree and its windows tile the
    padded input (so the output-size formulas divide exactly)."""
    conv_output_shape(x, w, b, conv_param)


def check_pool_geometry(x, pool_param):
    """Raise ValueError unless x is (N, C, H, W) and the pooling windows tile it."""
    pool_output_shape(x, pool_param)


def pool_output_shape(x, pool_param):
    """Check a max pool's input and geometry; return its output shape (N, C, H', W')."""
    if x.ndim != 4:
        raise ValueError(f"max pooling expects x of shape (N, C, H, W), got {x.shape}")
    out_height, out_width = sliding_output_shape(
        x.shape[2:], (pool_param["pool_height"], pool_param["pool_width"]), pool_param["stride"])
    return x.shape[0], x.shape[1], out_height, out_width


def check_upstream_gradient(dout, expected_shape, layer):
    """Raise ValueError unless the upstream gradient has the shape the forward pass produced."""
    if np.shape(dout) != tuple(expected_shape):
        raise ValueError(
            f"{layer}: dout has shape {np.shape(dout)} but the forward pass produced "
            f"{tuple(expected_shape)}")
