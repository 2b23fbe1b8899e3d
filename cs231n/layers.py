"""Forward/backward pairs for the layers of the assignment.

Every forward function returns ``(out, cache)``; the matching backward function takes
the upstream gradient and that cache and returns the gradients of the inputs.
"""
import numpy as np


# ----------------------------------------------------------------------------------
# Affine, ReLU and classification losses
# ----------------------------------------------------------------------------------


def affine_forward(x, w, b):
    """Fully connected (affine) layer: out = x_flat @ w + b.

    Inputs:
    - x: input of shape (N, d_1, ..., d_k); each example is flattened to D = d_1 * ... * d_k
    - w: weights of shape (D, M)
    - b: biases of shape (M,)

    Returns a tuple of:
    - out: output of shape (N, M)
    - cache: (x, w, b)
    """
    _check_affine_shapes(x, w, b)
    out = None
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    out = x.reshape(x.shape[0], -1) @ w + b
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Inputs:
    - dout: upstream gradient of shape (N, M)
    - cache: (x, w, b) from affine_forward

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: gradient with respect to w, of shape (D, M)
    - db: gradient with respect to b, of shape (M,)
    """
    x, w, b = cache
    dx, dw, db = None, None, None
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db


def relu_forward(x):
    """Rectified linear unit: out = max(0, x), elementwise.

    Input:
    - x: array of any shape

    Returns a tuple of:
    - out: array shaped like x
    - cache: x
    """
    out = None
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    out = np.maximum(x, 0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of the ReLU: the gradient flows only where the input was positive.

    Inputs:
    - dout: upstream gradient, shaped like the input x
    - cache: the input x

    Returns:
    - dx: gradient with respect to x
    """
    x = cache
    dx = None
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dx = dout * (x > 0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1, averaged over the batch.

    Inputs:
    - x: class scores of shape (N, C); x[i, j] is the score of class j for example i
    - y: labels of shape (N,) with 0 <= y[i] < C

    Returns a tuple of:
    - loss: scalar loss
    - dx: gradient of the loss with respect to x, of shape (N, C)
    """
    _check_scores_and_labels(x, y)
    loss, dx = None, None
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    num_examples = x.shape[0]
    rows = np.arange(num_examples)
    correct_scores = x[rows, y][:, np.newaxis]
    margins = np.maximum(0, x - correct_scores + 1)
    margins[rows, y] = 0
    loss = margins.sum() / num_examples

    # Every violating class pushes its own score up and the correct score down.
    violations = (margins > 0).astype(x.dtype)
    violations[rows, y] = -violations.sum(axis=1)
    dx = violations / num_examples
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return loss, dx


def softmax_loss(x, y):
    """Softmax cross-entropy loss, averaged over the batch.

    Stable for very large or very small scores: the row maximum is subtracted before
    exponentiating and the log-probabilities are computed with log-sum-exp.

    Inputs:
    - x: class scores of shape (N, C)
    - y: labels of shape (N,) with 0 <= y[i] < C

    Returns a tuple of:
    - loss: scalar loss
    - dx: gradient of the loss with respect to x, of shape (N, C)
    """
    _check_scores_and_labels(x, y)
    loss, dx = None, None
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    num_examples = x.shape[0]
    rows = np.arange(num_examples)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / num_examples

    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= num_examples
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return loss, dx


def _check_affine_shapes(x, w, b):
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


def _check_scores_and_labels(x, y):
    """Raise ValueError unless x is (N, C) scores and y holds N labels in [0, C)."""
    if x.ndim != 2:
        raise ValueError(f"scores x must have shape (N, C), got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"labels y must have shape ({x.shape[0]},) for scores {x.shape}, got {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= x.shape[1]):
        raise ValueError(f"labels y must lie in [0, {x.shape[1]}), got range [{y.min()}, {y.max()}]")


# ----------------------------------------------------------------------------------
# Normalization and dropout
# ----------------------------------------------------------------------------------
# Batch, layer, spatial batch and group normalization share one core: standardize an
# array along some axes (_standardize) and its closed-form backward
# (_standardize_backward). Each layer only decides which axes hold the statistics and
# how gamma and beta broadcast.


def _standardize(x, axis, eps):
    """Shift and scale x to zero mean and unit variance along ``axis``.

    Returns (x_hat, mean, var, inv_std); the statistics keep the reduced axes (size 1)
    so that they broadcast against x.
    """
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    mean = x.mean(axis=axis, keepdims=True)
    centered = x - mean
    var = np.mean(centered**2, axis=axis, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    return centered * inv_std, mean, var, inv_std
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****


def _standardize_backward(dx_hat, x_hat, inv_std, axis):
    """Gradient through x_hat = (x - mean) * inv_std, with the statistics taken along axis.

    Worked out on paper, the mean and variance branches collapse into
    dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)).
    """
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    mean_dx_hat = dx_hat.mean(axis=axis, keepdims=True)
    mean_projection = np.mean(dx_hat * x_hat, axis=axis, keepdims=True)
    return inv_std * (dx_hat - mean_dx_hat - x_hat * mean_projection)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****


def _check_features(x, gamma, beta, layer):
    """Raise ValueError unless x is (N, D) and gamma, beta are (D,)."""
    if x.ndim != 2:
        raise ValueError(f"{layer} expects x of shape (N, D), got {x.shape}")
    expected = (x.shape[1],)
    if np.shape(gamma) != expected or np.shape(beta) != expected:
        raise ValueError(
            f"{layer}: gamma {np.shape(gamma)} and beta {np.shape(beta)} must both be "
            f"{expected} for x of shape {x.shape}"
        )


def _scaled_normalization_backward(dout, cache):
    """Backward of out = gamma * x_hat + beta for the (N, D) layers (gamma of shape (D,))."""
    x_hat, inv_std, gamma, axis = cache["x_hat"], cache["inv_std"], cache["gamma"], cache["axis"]
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx = _standardize_backward(dout * gamma, x_hat, inv_std, axis)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of x of shape (N, D): each feature is standardized over the batch.

    In 'train' mode the batch statistics are used and the running averages in bn_param
    are updated as running = momentum * running + (1 - momentum) * batch_statistic.
    In 'test' mode the running averages are used instead.

    Inputs:
    - x: data of shape (N, D)
    - gamma, beta: scale and shift of shape (D,)
    - bn_param: dict with 'mode' ('train' or 'test') and optionally 'eps' (default 1e-5),
      'momentum' (default 0.9), 'running_mean' and 'running_var' of shape (D,)
      (zeros when missing; updated in place in the dict)

    Returns (out, cache): out has shape (N, D); cache is for batchnorm_backward.
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    _check_features(x, gamma, beta, "batchnorm_forward")
    num_features = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(num_features, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(num_features, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        x_hat, mean, var, inv_std = _standardize(x, 0, eps)
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * mean[0]
        running_var = momentum * running_var + (1 - momentum) * var[0]
        cache = {
            "x": x, "x_hat": x_hat, "mean": mean, "var": var, "inv_std": inv_std,
            "gamma": gamma, "eps": eps, "axis": 0,
        }
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    elif mode == "test":
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    else:
        raise ValueError(f"Invalid batchnorm mode {mode!r}; expected 'train' or 'test'")

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of training-mode batch normalization, step by step.

    This version walks the computation graph of the forward pass node by node
    (mean, centering, variance, standard deviation, division), summing gradients where a
    node feeds several others. batchnorm_backward_alt gives the same result in closed form.

    Inputs:
    - dout: upstream gradient of shape (N, D)
    - cache: from batchnorm_forward in 'train' mode

    Returns (dx, dgamma, dbeta) with shapes (N, D), (D,), (D,).
    """
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x, mean, var, eps, gamma = cache["x"], cache["mean"], cache["var"], cache["eps"], cache["gamma"]
    num_samples = x.shape[0]
    # Rebuild the forward graph's nodes: centered -> std -> inv_std -> x_hat.
    centered = x - mean
    std = np.sqrt(var + eps)
    inv_std = 1.0 / std
    x_hat = centered * inv_std

    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    # centered feeds x_hat directly and also, through var, the inv_std branch.
    dcentered = dx_hat * inv_std
    dinv_std = np.sum(dx_hat * centered, axis=0, keepdims=True)
    dstd = -dinv_std / std**2
    dvar = dstd / (2 * std)
    dcentered += 2 * centered * dvar / num_samples
    # centered = x - mean: x feeds centered directly and through the mean.
    dmean = -np.sum(dcentered, axis=0, keepdims=True)
    dx = dcentered + dmean / num_samples
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Backward pass of training-mode batch normalization in simplified closed form.

    Same inputs and outputs as batchnorm_backward, with fewer intermediate arrays:
    dx = gamma * inv_std * (dout - mean(dout) - x_hat * mean(dout * x_hat)), means over N.
    """
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dx, dgamma, dbeta = _scaled_normalization_backward(dout, cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalization of x of shape (N, D): each sample is standardized over its features.

    Training and test behave the same and no running statistics are kept.

    Inputs:
    - x: data of shape (N, D)
    - gamma, beta: scale and shift of shape (D,)
    - ln_param: dict, optionally with 'eps' (default 1e-5); other keys are ignored

    Returns (out, cache): out has shape (N, D); cache is for layernorm_backward.
    """
    eps = ln_param.get("eps", 1e-5)
    _check_features(x, gamma, beta, "layernorm_forward")
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x_hat, _, _, inv_std = _standardize(x, 1, eps)
    out = gamma * x_hat + beta
    cache = {"x_hat": x_hat, "inv_std": inv_std, "gamma": gamma, "axis": 1}
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, cache


def layernorm_backward(dout, cache):
    """Backward pass of layer normalization.

    Inputs: dout of shape (N, D) and the cache from layernorm_forward.
    Returns (dx, dgamma, dbeta) with shapes (N, D), (D,), (D,).
    """
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dx, dgamma, dbeta = _scaled_normalization_backward(dout, cache)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def _check_feature_maps(x, layer):
    """Raise ValueError unless x is a batch of feature maps (N, C, H, W)."""
    if x.ndim != 4:
        raise ValueError(f"{layer} expects x of shape (N, C, H, W), got {x.shape}")


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of feature maps: one mean and variance per channel over N, H, W.

    Inputs:
    - x: data of shape (N, C, H, W)
    - gamma, beta: scale and shift of shape (C,)
    - bn_param: as for batchnorm_forward (running statistics have shape (C,))

    Returns (out, cache): out has shape (N, C, H, W); cache is for spatial_batchnorm_backward.
    """
    _check_feature_maps(x, "spatial_batchnorm_forward")
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    # Every (n, h, w) position becomes a row, so channels are the features of batchnorm.
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalization.

    Inputs: dout of shape (N, C, H, W) and the cache from spatial_batchnorm_forward.
    Returns (dx, dgamma, dbeta) with shapes (N, C, H, W), (C,), (C,).
    """
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N, C, H, W = dout.shape
    drows = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(drows, cache)
    dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Group normalization: per sample, the C channels are split into G groups of C // G
    consecutive channels, and each group is standardized over its channels and positions.

    Inputs:
    - x: data of shape (N, C, H, W)
    - gamma, beta: scale and shift of shape (1, C, 1, 1)
    - G: number of groups, a positive divisor of C
    - gn_param: dict, optionally with 'eps' (default 1e-5)

    Returns (out, cache): out has shape (N, C, H, W); cache is for spatial_groupnorm_backward.
    """
    eps = gn_param.get("eps", 1e-5)
    _check_feature_maps(x, "spatial_groupnorm_forward")
    N, C, H, W = x.shape
    if not (isinstance(G, (int, np.integer)) and G > 0 and C % G == 0):
        raise ValueError(f"G={G!r} must be a positive integer dividing the {C} channels")
    if np.shape(gamma) != (1, C, 1, 1) or np.shape(beta) != (1, C, 1, 1):
        raise ValueError(
            f"spatial_groupnorm_forward: gamma {np.shape(gamma)} and beta {np.shape(beta)} "
            f"must both be (1, {C}, 1, 1)"
        )
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    grouped = x.reshape(N, G, C // G, H, W)
    group_axes = (2, 3, 4)
    x_hat_grouped, _, _, inv_std = _standardize(grouped, group_axes, eps)
    x_hat = x_hat_grouped.reshape(N, C, H, W)
    out = gamma * x_hat + beta
    cache = {"x_hat": x_hat, "inv_std": inv_std, "gamma": gamma, "G": G, "axis": group_axes}
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """Backward pass of group normalization.

    Inputs: dout of shape (N, C, H, W) and the cache from spatial_groupnorm_forward.
    Returns (dx, dgamma, dbeta) with shapes (N, C, H, W), (1, C, 1, 1), (1, C, 1, 1).
    """
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x_hat, inv_std, gamma, G, group_axes = (
        cache["x_hat"], cache["inv_std"], cache["gamma"], cache["G"], cache["axis"]
    )
    N, C, H, W = dout.shape
    dgamma = np.sum(dout * x_hat, axis=(0, 2, 3), keepdims=True)
    dbeta = np.sum(dout, axis=(0, 2, 3), keepdims=True)
    grouped_shape = (N, G, C // G, H, W)
    dx_grouped = _standardize_backward(
        (dout * gamma).reshape(grouped_shape), x_hat.reshape(grouped_shape), inv_std, group_axes
    )
    dx = dx_grouped.reshape(N, C, H, W)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout: in training, keep each unit with probability p and scale it by 1 / p.

    Scaling at training time keeps the expected activation unchanged, so the test-time
    pass is the identity.

    Inputs:
    - x: data of any shape
    - dropout_param: dict with
      - 'p': probability of KEEPING each unit, in (0, 1]
      - 'mode': 'train' or 'test'
      - 'seed' (optional): makes the mask reproducible; without it the mask comes from
        NumPy's global random state

    Returns (out, cache): out has x's shape; cache = (dropout_param, mask), mask being
    None in test mode.
    """
    p, mode = dropout_param["p"], dropout_param["mode"]
    if not 0 < p <= 1:
        raise ValueError(f"dropout keep probability p must be in (0, 1], got {p}")

    mask = None
    if mode == "train":
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        seed = dropout_param.get("seed")
        # A private legacy generator: the same masks as seeding NumPy's global one (the
        # seeds' expected values rely on them) without disturbing the caller's state.
        rng = np.random if seed is None else np.random.RandomState(seed)
        mask = ((rng.random(x.shape) < p) / p).astype(x.dtype, copy=False)
        out = x * mask
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    elif mode == "test":
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        out = x
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    else:
        raise ValueError(f"Invalid dropout mode {mode!r}; expected 'train' or 'test'")

    cache = (dropout_param, mask)
    return out, cache


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout.

    Inputs: dout of any shape and the cache from dropout_forward.
    Returns dx, shaped like dout.
    """
    dropout_param, mask = cache
    mode = dropout_param["mode"]
    if mode == "train":
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        dx = dout * mask
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    elif mode == "test":
        dx = dout
    else:
        raise ValueError(f"Invalid dropout mode {mode!r}; expected 'train' or 'test'")
    return dx


# ----------------------------------------------------------------------------------
# Convolution and pooling (naive, loop-based teaching versions)
# ----------------------------------------------------------------------------------


def sliding_output_shape(input_shape, field_shape, stride, pad=0):
    """Output (height, width) of a window of field_shape sliding over input_shape.

    Shared by the naive and fast convolution and pooling layers. Raises ValueError
    when the stride, padding or field size is invalid or the windows do not tile the
    padded input exactly.
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


def _check_conv_shapes(x, w, b):
    """Raise ValueError unless x (N, C, H, W), w (F, C, HH, WW) and b (F,) agree."""
    if x.ndim != 4 or w.ndim != 4 or b.ndim != 1:
        raise ValueError(
            f"expected x (N, C, H, W), w (F, C, HH, WW), b (F,); got x {x.shape}, "
            f"w {w.shape}, b {b.shape}")
    if x.shape[1] != w.shape[1] or w.shape[0] != b.shape[0]:
        raise ValueError(
            f"channel or filter counts disagree: x {x.shape}, w {w.shape}, b {b.shape}")


def conv_forward_naive(x, w, b, conv_param):
    """Convolution (cross-correlation) of N inputs with F filters, zero padded.

    Inputs:
    - x: input of shape (N, C, H, W)
    - w: filters of shape (F, C, HH, WW)
    - b: biases of shape (F,)
    - conv_param: dict with 'stride' and 'pad' (zeros added on every side)

    Returns (out, cache): out has shape (N, F, H', W') with
    H' = 1 + (H + 2 * pad - HH) / stride and W' = 1 + (W + 2 * pad - WW) / stride;
    cache is (x, w, b, conv_param).
    """
    out = None
    _check_conv_shapes(x, w, b)
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    stride, pad = conv_param["stride"], conv_param["pad"]
    num_samples = x.shape[0]
    num_filters, _, field_height, field_width = w.shape
    out_height, out_width = sliding_output_shape(x.shape[2:], w.shape[2:], stride, pad)
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((num_samples, num_filters, out_height, out_width),
                   dtype=np.result_type(x, w, b))
    # The definition, one output value at a time: the filter times the window under it.
    for n in range(num_samples):
        for f in range(num_filters):
            for row in range(out_height):
                top = row * stride
                for col in range(out_width):
                    left = col * stride
                    window = x_padded[n, :, top:top + field_height, left:left + field_width]
                    out[n, f, row, col] = np.sum(window * w[f]) + b[f]
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """Backward pass of conv_forward_naive.

    Inputs:
    - dout: upstream gradient of shape (N, F, H', W')
    - cache: (x, w, b, conv_param) from conv_forward_naive

    Returns (dx, dw, db), shaped like x, w and b.
    """
    dx, dw, db = None, None, None
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, field_height, field_width = w.shape
    num_samples, num_filters, out_height, out_width = dout.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_padded = np.zeros(x_padded.shape, dtype=np.result_type(x, dout))
    dw = np.zeros(w.shape, dtype=np.result_type(w, dout))
    db = dout.sum(axis=(0, 2, 3))
    # Each output value came from one window and one filter, so its gradient flows back
    # to exactly those; overlapping windows add up in dx.
    for n in range(num_samples):
        for f in range(num_filters):
            for row in range(out_height):
                top = row * stride
                for col in range(out_width):
                    left = col * stride
                    rows = slice(top, top + field_height)
                    cols = slice(left, left + field_width)
                    grad = dout[n, f, row, col]
                    dw[f] += grad * x_padded[n, :, rows, cols]
                    dx_padded[n, :, rows, cols] += grad * w[f]
    dx = dx_padded[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """Max pooling over windows of every channel.

    Inputs:
    - x: input of shape (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride'; windows may
      overlap (stride smaller than the window) but must tile the input exactly

    Returns (out, cache): out has shape (N, C, H', W') with
    H' = 1 + (H - pool_height) / stride and W' = 1 + (W - pool_width) / stride;
    cache is (x, pool_param).
    """
    out = None
    if x.ndim != 4:
        raise ValueError(f"expected x shaped (N, C, H, W), got {x.shape}")
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    out_height, out_width = sliding_output_shape(x.shape[2:], (pool_height, pool_width), stride)
    out = np.empty(x.shape[:2] + (out_height, out_width), dtype=x.dtype)
    for row in range(out_height):
        top = row * stride
        for col in range(out_width):
            left = col * stride
            window = x[:, :, top:top + pool_height, left:left + pool_width]
            out[:, :, row, col] = window.max(axis=(2, 3))
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """Backward pass of max_pool_forward_naive.

    Each window's gradient goes to its (first) largest input; overlapping windows
    accumulate. Returns dx shaped like x.
    """
    dx = None
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x, pool_param = cache
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    num_samples, num_channels, out_height, out_width = dout.shape
    dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
    samples, channels = np.indices((num_samples, num_channels))
    for row in range(out_height):
        top = row * stride
        for col in range(out_width):
            left = col * stride
            window = x[:, :, top:top + pool_height, left:left + pool_width]
            winner = window.reshape(num_samples, num_channels, -1).argmax(axis=2)
            winner_row, winner_col = np.unravel_index(winner, (pool_height, pool_width))
            # Within one window every (sample, channel) pair hits a distinct pixel, so
            # fancy-indexed += is safe; overlap across windows is summed by the loop.
            dx[samples, channels, top + winner_row, left + winner_col] += dout[:, :, row, col]
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx
