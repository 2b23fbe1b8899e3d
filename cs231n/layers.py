"""Forward/backward pairs for the layers of the assignment.

Every forward function returns ``(out, cache)``; the matching backward function takes
the upstream gradient and that cache and returns the gradients of the inputs. Input
checks (cs231n/shapes.py) run before your code, so each task may assume valid shapes.
"""
import numpy as np

from .shapes import (check_affine_shapes, check_conv_geometry, check_feature_maps, check_features,
                     check_float_input, check_group_count, check_pool_geometry,
                     check_scores_and_labels)


# ----------------------------------------------------------------------------------
# Affine, ReLU and classification losses
# ----------------------------------------------------------------------------------


def affine_forward(x, w, b):
    """Fully connected (affine) layer.

    Inputs:
    - x: input of shape (N, d_1, ..., d_k); each example has D = d_1 * ... * d_k values
    - w: weights of shape (D, M)
    - b: biases of shape (M,)

    Returns a tuple of:
    - out: output of shape (N, M)
    - cache: (x, w, b)
    """
    check_affine_shapes(x, w, b)
    out = None
    # ---- Task: affine forward -----------------------------------------------------
    # Turn each of the N examples into one row of D numbers (reshape, don't loop),
    # multiply the (N, D) matrix by w and add the bias b to every row. Keep x itself
    # unchanged: the backward pass needs it in its original shape (cached below).
    # Checked in FullyConnectedNets.ipynb under the heading: Affine layer
    # -------------------------------------------------------------------------------
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
    # ---- Task: affine backward ----------------------------------------------------
    # Compute dx, dw and db from dout and the cached x and w. Each gradient has the
    # shape of the array it belongs to: dx must come back in x's original shape
    # (N, d_1, ..., d_k), not flattened; the bias was added to every row, so its
    # gradient sums over the batch. Check your shapes before your values.
    # Checked in FullyConnectedNets.ipynb under the heading: Affine layer
    # -------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dw, db


def relu_forward(x):
    """Rectified linear unit, elementwise.

    Input:
    - x: array of any shape

    Returns a tuple of:
    - out: array shaped like x
    - cache: x
    """
    out = None
    # ---- Task: ReLU forward -------------------------------------------------------
    # Keep the positive entries of x and replace the others by zero, elementwise,
    # without modifying x in place (it is cached for the backward pass).
    # Checked in FullyConnectedNets.ipynb under the heading: ReLU and the affine-ReLU "sandwich"
    # -------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    out = np.maximum(x, 0)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of the ReLU.

    Inputs:
    - dout: upstream gradient, shaped like the input x
    - cache: the input x

    Returns:
    - dx: gradient with respect to x
    """
    dx, x = None, cache
    # ---- Task: ReLU backward ------------------------------------------------------
    # Pass dout through where the forward input was positive and block it (zero)
    # everywhere else. Decide which side of the kink x == 0 falls on and be
    # consistent; the gradient check never lands exactly on it.
    # Checked in FullyConnectedNets.ipynb under the heading: ReLU and the affine-ReLU "sandwich"
    # -------------------------------------------------------------------------------
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
    check_scores_and_labels(x, y)
    loss, dx = None, None
    # ---- Extra task (not in the original assignment): SVM loss --------------------
    # For every example, each wrong class whose score comes within a margin of 1 of
    # the correct class's score adds (score - correct score + 1) to the loss; the
    # correct class itself adds nothing. Average over the N examples. Then the
    # gradient: a violating class pushes its own score's gradient up by one and the
    # correct class's down by one, before the same averaging. Vectorize: no loop
    # over examples.
    # Checked in FullyConnectedNets.ipynb under the heading: Loss layers: softmax and SVM
    # -------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    num_examples = x.shape[0]
    rows = np.arange(num_examples)
    correct_scores = x[rows, y][:, np.newaxis]
    margins = np.maximum(0, x - correct_scores + 1)
    margins[rows, y] = 0
    loss = margins.sum() / num_examples

    violations = (margins > 0).astype(x.dtype)
    violations[rows, y] = -violations.sum(axis=1)
    dx = violations / num_examples
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return loss, dx


def softmax_loss(x, y):
    """Softmax cross-entropy loss, averaged over the batch.

    Inputs:
    - x: class scores of shape (N, C); x[i, j] is the score of class j for example i
    - y: labels of shape (N,) with 0 <= y[i] < C

    Returns a tuple of:
    - loss: scalar loss
    - dx: gradient of the loss with respect to x, of shape (N, C)
    """
    check_scores_and_labels(x, y)
    loss, dx = None, None
    # ---- Task: softmax loss -------------------------------------------------------
    # Turn each row of scores into class probabilities with the softmax, take minus
    # the log-probability of the correct class, and average over the N examples.
    # The gradient with respect to the scores is the probabilities minus one at the
    # correct class, divided by N. Pitfall: exp overflows for scores in the hundreds
    # (inf / inf = nan). Subtracting each row's maximum first changes no probability
    # and keeps every exponent <= 0; compute log-probabilities from the shifted
    # scores rather than taking the log of a probability that underflowed to 0.
    # Checked in FullyConnectedNets.ipynb under the heading: Loss layers: softmax and SVM
    # -------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------
# Normalization and dropout
# ----------------------------------------------------------------------------------


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization of x of shape (N, D), one mean and variance per feature.

    Training uses the statistics of the current minibatch and keeps exponentially
    decaying running averages of them; testing normalizes with those running averages:
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var

    Inputs:
    - x: data of shape (N, D)
    - gamma: scale parameter of shape (D,)
    - beta: shift parameter of shape (D,)
    - bn_param: dict with the keys
      - mode: 'train' or 'test'; required
      - eps: constant for numeric stability (default 1e-5)
      - momentum: decay of the running averages (default 0.9)
      - running_mean: array of shape (D,), the running mean of the features
      - running_var: array of shape (D,), the running variance of the features

    Returns a tuple of:
    - out: output of shape (N, D)
    - cache: whatever batchnorm_backward needs
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)

    check_features(x, gamma, beta, "batchnorm_forward")
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        # ---- Task: batch normalization, training mode --------------------------------
        # Compute the mean and the (biased, divide-by-N) variance of each feature over
        # the minibatch, normalize x with them (add eps to the variance before the
        # square root), then scale by gamma and shift by beta; store the result in
        # `out`. Update running_mean and running_var with the momentum formula of the
        # docstring (the lines after this block store them back into bn_param). Put
        # into `cache` every intermediate value your backward pass will need: breaking
        # the computation into small steps now makes batchnorm_backward easier.
        # Checked in BatchNormalization.ipynb under the heading: Batch normalization: forward pass
        # -------------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        sample_mean = x.mean(axis=0)
        centered = x - sample_mean
        sample_var = np.mean(centered**2, axis=0)
        std = np.sqrt(sample_var + eps)
        x_hat = centered / std
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
        cache = (x_hat, centered, std, gamma)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    elif mode == "test":
        # ---- Task: batch normalization, test mode ------------------------------------
        # Normalize x with running_mean and running_var (not with statistics of this
        # batch: at test time an example's output must not depend on the others in its
        # batch), then scale by gamma and shift by beta; store the result in `out`.
        # Checked in BatchNormalization.ipynb under the heading: Batch normalization: forward pass
        # -------------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    else:
        raise ValueError(f"Invalid batchnorm mode {mode!r}; expected 'train' or 'test'")

    # Store the updated running averages back into bn_param.
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var

    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalization (training mode).

    Inputs:
    - dout: upstream gradient of shape (N, D)
    - cache: the intermediates batchnorm_forward stored

    Returns a tuple of:
    - dx: gradient with respect to the inputs x, of shape (N, D)
    - dgamma: gradient with respect to the scale gamma, of shape (D,)
    - dbeta: gradient with respect to the shift beta, of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None
    # ---- Task: batch normalization backward, step by step ---------------------------
    # Draw the forward pass as a computation graph of small steps (mean, centering,
    # variance, standard deviation, division, scale, shift) and backpropagate through
    # it one node at a time, from the output back to x. Where one value feeds several
    # nodes (x feeds the centering and the mean; the centered values feed the output
    # and the variance), add up the gradients arriving from each of them. The
    # gradient of a mean over N spreads back as 1 / N to each of its inputs.
    # Checked in BatchNormalization.ipynb under the heading: Batch normalization: backward pass
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x_hat, centered, std, gamma = cache
    num_samples = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    # x_hat = centered * (1 / std): the centered values reach x_hat directly and also
    # through the variance that std is made of.
    dcentered = dx_hat / std
    dinv_std = np.sum(dx_hat * centered, axis=0)
    dstd = -dinv_std / std**2
    dvar = dstd / (2 * std)
    dcentered += 2 * centered * dvar / num_samples
    # centered = x - mean: x reaches it directly and through the mean.
    dmean = -dcentered.sum(axis=0)
    dx = dcentered + dmean / num_samples
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalization, from a simplified expression.

    Same inputs and outputs as batchnorm_backward.
    """
    dx, dgamma, dbeta = None, None, None
    # ---- Task: batch normalization backward, simplified ------------------------------
    # Work out on paper the gradient of the loss with respect to x in one expression
    # (the question in BatchNormalization.ipynb guides the derivation), then compute
    # it here in a few vectorized lines, with dgamma and dbeta as before. Your result
    # must match batchnorm_backward; the notebook compares the two and their speed.
    # Checked in BatchNormalization.ipynb under the heading: Batch normalization: a simpler backward pass
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x_hat, _, std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * np.mean(dx_hat * x_hat, axis=0)) / std
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalization of x of shape (N, D), one mean and variance per example.

    Training and testing behave alike, so no running averages are kept.

    Inputs:
    - x: data of shape (N, D)
    - gamma: scale parameter of shape (D,)
    - beta: shift parameter of shape (D,)
    - ln_param: dict with the key
      - eps: constant for numeric stability (default 1e-5)

    Returns a tuple of:
    - out: output of shape (N, D)
    - cache: whatever layernorm_backward needs
    """
    out, cache = None, None
    eps = ln_param.get("eps", 1e-5)
    check_features(x, gamma, beta, "layernorm_forward")
    # ---- Task: layer normalization forward -------------------------------------------
    # Like the training branch of batchnorm_forward, but each example (row) is
    # normalized with the mean and variance of its own D features; gamma and beta
    # still act per feature. Store the result in `out` and what the backward pass
    # needs in `cache`. Small change from batch normalization: which axis do the
    # statistics reduce over, and does the result still broadcast against x?
    # Checked in BatchNormalization.ipynb under the heading: Layer normalization: implementation
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    mean = x.mean(axis=1, keepdims=True)
    centered = x - mean
    std = np.sqrt(np.mean(centered**2, axis=1, keepdims=True) + eps)
    x_hat = centered / std
    out = gamma * x_hat + beta
    cache = (x_hat, std, gamma)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, cache


def layernorm_backward(dout, cache):
    """Backward pass of layer normalization.

    Inputs:
    - dout: upstream gradient of shape (N, D)
    - cache: the intermediates layernorm_forward stored

    Returns a tuple of:
    - dx: gradient with respect to the inputs x, of shape (N, D)
    - dgamma: gradient with respect to the scale gamma, of shape (D,)
    - dbeta: gradient with respect to the shift beta, of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None
    # ---- Task: layer normalization backward ------------------------------------------
    # The same derivation as batch normalization with the roles of the axes swapped:
    # the statistics now run over each row's features, while dgamma and dbeta still
    # sum over the examples. Reusing your batch normalization work (or transposing)
    # takes only a few lines.
    # Checked in BatchNormalization.ipynb under the heading: Layer normalization: implementation
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x_hat, std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=1, keepdims=True)
          - x_hat * np.mean(dx_hat * x_hat, axis=1, keepdims=True)) / std
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout.

    Inputs:
    - x: input data, of any shape
    - dropout_param: dict with the keys
      - p: probability of KEEPING each unit, in (0, 1]
      - mode: 'train' (apply dropout) or 'test' (pass the input through)
      - seed: optional; when given, the mask is drawn from NumPy's global generator
        seeded with it, which makes the layer deterministic for gradient checks (the
        generator's previous state is restored when the function returns)

    Returns a tuple of:
    - out: array of the same shape and dtype as x
    - cache: (dropout_param, mask); in training mode mask is the array x was
      multiplied by, in test mode it is None
    """
    p, mode = dropout_param["p"], dropout_param["mode"]
    if not 0 < p <= 1:
        raise ValueError(f"dropout keep probability p must be in (0, 1], got {p}")
    check_float_input(x, "dropout_forward")
    seeded = "seed" in dropout_param
    if seeded:
        caller_random_state = np.random.get_state()
        np.random.seed(dropout_param["seed"])

    mask = None
    out = None

    if mode == "train":
        # ---- Task: dropout forward, training mode ------------------------------------
        # Draw a random mask that keeps each unit with probability p (draw from
        # np.random so that a seed in dropout_param makes it reproducible), and divide
        # the kept units by p ("inverted" dropout: the expected value of every unit
        # stays what it was, so the test-time pass needs no rescaling). Store the
        # result in `out` and the mask you multiplied by in `mask`.
        # Checked in Dropout.ipynb under the heading: Dropout: forward pass
        # -------------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        mask = ((np.random.rand(*x.shape) < p) / p).astype(x.dtype)
        out = x * mask
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    elif mode == "test":
        # ---- Task: dropout forward, test mode ----------------------------------------
        # With inverted dropout, what does the layer do at test time? Store it in `out`.
        # -------------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        out = x
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    else:
        raise ValueError(f"Invalid dropout mode {mode!r}; expected 'train' or 'test'")

    if seeded:
        np.random.set_state(caller_random_state)
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)

    return out, cache


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout.

    Inputs:
    - dout: upstream gradient, of any shape
    - cache: (dropout_param, mask) from dropout_forward

    Returns:
    - dx: gradient with respect to x, shaped like dout
    """
    dropout_param, mask = cache
    mode = dropout_param["mode"]

    dx = None
    if mode == "train":
        # ---- Task: dropout backward --------------------------------------------------
        # The forward pass multiplied x by the mask, so the gradient flows back through
        # the same mask: dropped units get no gradient, kept ones are scaled alike.
        # Checked in Dropout.ipynb under the heading: Dropout: backward pass
        # -------------------------------------------------------------------------------
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


def conv_forward_naive(x, w, b, conv_param):
    """A naive implementation of the forward pass of a convolutional layer.

    The input consists of N data points, each with C channels, height H and width W.
    Each is convolved (cross-correlated) with F different filters, each spanning all C
    channels with height HH and width WW.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - w: filter weights of shape (F, C, HH, WW)
    - b: biases of shape (F,)
    - conv_param: dict with the keys
      - 'stride': the number of pixels between adjacent receptive fields, in both the
        horizontal and the vertical direction
      - 'pad': the number of zeros added on every side of the input (top, bottom,
        left and right alike)

    Returns a tuple of:
    - out: output data of shape (N, F, H', W') where
        H' = 1 + (H + 2 * pad - HH) / stride
        W' = 1 + (W + 2 * pad - WW) / stride
    - cache: (x, w, b, conv_param)
    """
    out = None
    check_conv_geometry(x, w, b, conv_param)
    # ---- Task: convolution forward, naive --------------------------------------------
    # Compute the output size from the formulas of the docstring (the check above
    # guarantees the divisions are exact), zero-pad a copy of x (np.pad; leave x
    # itself untouched, it is cached), then fill every output value: the sum of the
    # elementwise product of one filter with the window of the padded input under it,
    # plus that filter's bias. Plain loops over examples, filters and output positions
    # are fine here; the fast version comes later.
    # Checked in ConvolutionalNetworks.ipynb under the heading: Convolution: naive forward pass
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    stride, pad = conv_param["stride"], conv_param["pad"]
    num_samples, _, height, width = x.shape
    num_filters, _, field_height, field_width = w.shape
    out_height = 1 + (height + 2 * pad - field_height) // stride
    out_width = 1 + (width + 2 * pad - field_width) // stride
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
    """A naive implementation of the backward pass of a convolutional layer.

    Inputs:
    - dout: upstream derivatives, of shape (N, F, H', W')
    - cache: (x, w, b, conv_param) as in conv_forward_naive

    Returns a tuple of:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    - dw: gradient with respect to w, of shape (F, C, HH, WW)
    - db: gradient with respect to b, of shape (F,)
    """
    dx, dw, db = None, None, None
    # ---- Task: convolution backward, naive -------------------------------------------
    # Walk the same loops as the forward pass. Each output value was one filter times
    # one window of the padded input, plus a bias, so its upstream gradient flows to
    # exactly that filter (times the window), that window (times the filter) and that
    # bias. Windows overlap when the stride is smaller than the filter: accumulate
    # with +=. Work in a padded dx and cut the padding off at the end.
    # Checked in ConvolutionalNetworks.ipynb under the heading: Convolution: naive backward pass
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, field_height, field_width = w.shape
    num_samples, num_filters, out_height, out_width = dout.shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_padded = np.zeros(x_padded.shape, dtype=np.result_type(x, dout))
    dw = np.zeros(w.shape, dtype=np.result_type(w, dout))
    db = dout.sum(axis=(0, 2, 3))
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
    """A naive implementation of the forward pass of a max-pooling layer.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - pool_param: dict with the keys
      - 'pool_height': the height of each pooling region
      - 'pool_width': the width of each pooling region
      - 'stride': the distance between adjacent pooling regions

    No padding is needed: the windows tile the input exactly, that is
    (H - pool_height) % stride == 0 and (W - pool_width) % stride == 0.

    Returns a tuple of:
    - out: output data of shape (N, C, H', W') where
        H' = 1 + (H - pool_height) / stride
        W' = 1 + (W - pool_width) / stride
    - cache: (x, pool_param)
    """
    out = None
    check_pool_geometry(x, pool_param)
    # ---- Task: max pooling forward, naive --------------------------------------------
    # Compute the output size from the docstring, then, for every window position,
    # take the largest value of the window in each example and channel. Looping over
    # the output positions and reducing over the window with max(axis=...) handles
    # all examples and channels at once.
    # Checked in ConvolutionalNetworks.ipynb under the heading: Max pooling: naive forward pass
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    out_height = 1 + (x.shape[2] - pool_height) // stride
    out_width = 1 + (x.shape[3] - pool_width) // stride
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
    """A naive implementation of the backward pass of a max-pooling layer.

    Inputs:
    - dout: upstream derivatives, of shape (N, C, H', W')
    - cache: (x, pool_param) as in the forward pass

    Returns:
    - dx: gradient with respect to x, of shape (N, C, H, W)
    """
    dx = None
    # ---- Task: max pooling backward, naive -------------------------------------------
    # Only the largest input of each window influenced the output, so each upstream
    # gradient value goes to that one position (on a tie, to one of the largest) and
    # every other input gets zero. When windows overlap (stride smaller than the
    # window), one input can win several windows: accumulate.
    # Checked in ConvolutionalNetworks.ipynb under the heading: Max pooling: naive backward pass
    # -----------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------
# Normalization of feature maps
# ----------------------------------------------------------------------------------


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalization: one mean and variance per channel.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - gamma: scale parameter of shape (C,)
    - beta: shift parameter of shape (C,)
    - bn_param: dict as for batchnorm_forward (running averages of shape (C,))

    Returns a tuple of:
    - out: output data of shape (N, C, H, W)
    - cache: whatever spatial_batchnorm_backward needs
    """
    out, cache = None, None
    check_feature_maps(x, gamma, beta, "spatial_batchnorm_forward")
    # ---- Task: spatial batch normalization forward -----------------------------------
    # Each channel is one feature, and its statistics come from all N examples and
    # all H x W positions. Rearrange x so that each channel becomes a column of an
    # (N * H * W, C) matrix, call your batchnorm_forward, and rearrange the result
    # back to (N, C, H, W). Mind the order of transpose and reshape.
    # Checked in ConvolutionalNetworks.ipynb under the heading: Spatial batch normalization
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalization.

    Inputs:
    - dout: upstream derivatives, of shape (N, C, H, W)
    - cache: values from spatial_batchnorm_forward

    Returns a tuple of:
    - dx: gradient with respect to the inputs, of shape (N, C, H, W)
    - dgamma: gradient with respect to the scale parameter, of shape (C,)
    - dbeta: gradient with respect to the shift parameter, of shape (C,)
    """
    dx, dgamma, dbeta = None, None, None
    # ---- Task: spatial batch normalization backward ----------------------------------
    # Rearrange dout exactly as the forward pass rearranged x, call your batch
    # normalization backward, and rearrange dx back to (N, C, H, W).
    # Checked in ConvolutionalNetworks.ipynb under the heading: Spatial batch normalization
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N, C, H, W = dout.shape
    drows = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(drows, cache)
    dx = dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Spatial group normalization.

    Per example, the C channels are split into G groups of C // G consecutive
    channels, and each group is normalized with the mean and variance of all its
    values (its channels and their H x W positions). Training and testing behave alike.

    Inputs:
    - x: input data of shape (N, C, H, W)
    - gamma: scale parameter of shape (1, C, 1, 1)
    - beta: shift parameter of shape (1, C, 1, 1)
    - G: number of groups, a divisor of C
    - gn_param: dict with the key
      - eps: constant for numeric stability (default 1e-5)

    Returns a tuple of:
    - out: output data of shape (N, C, H, W)
    - cache: whatever spatial_groupnorm_backward needs
    """
    out, cache = None, None
    eps = gn_param.get("eps", 1e-5)
    check_feature_maps(x, gamma, beta, "spatial_groupnorm_forward", param_shape=(1, x.shape[1], 1, 1))
    check_group_count(x, G, "spatial_groupnorm_forward")
    # ---- Task: spatial group normalization forward -----------------------------------
    # Like layer normalization, but over groups of channels: reshape x so that each
    # (example, group) pair owns one axis of values, compute the mean and variance
    # there, normalize, reshape back to (N, C, H, W), then scale by gamma and shift by
    # beta, which act per channel. Store the result in `out` and what the backward
    # pass needs in `cache`.
    # Checked in ConvolutionalNetworks.ipynb under the heading: Spatial group normalization
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    N, C, H, W = x.shape
    grouped = x.reshape(N, G, -1)
    centered = grouped - grouped.mean(axis=2, keepdims=True)
    std = np.sqrt(np.mean(centered**2, axis=2, keepdims=True) + eps)
    x_hat = (centered / std).reshape(N, C, H, W)
    out = gamma * x_hat + beta
    cache = (x_hat, std, gamma, G)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """Backward pass of spatial group normalization.

    Inputs:
    - dout: upstream derivatives, of shape (N, C, H, W)
    - cache: values from spatial_groupnorm_forward

    Returns a tuple of:
    - dx: gradient with respect to the inputs, of shape (N, C, H, W)
    - dgamma: gradient with respect to the scale parameter, of shape (1, C, 1, 1)
    - dbeta: gradient with respect to the shift parameter, of shape (1, C, 1, 1)
    """
    dx, dgamma, dbeta = None, None, None
    # ---- Task: spatial group normalization backward ----------------------------------
    # dgamma and dbeta sum over examples and positions, keeping the (1, C, 1, 1)
    # shape. For dx, reuse the layer normalization derivation within each
    # (example, group): reshape to the grouped layout of the forward pass, apply it,
    # and reshape back.
    # Checked in ConvolutionalNetworks.ipynb under the heading: Spatial group normalization
    # -----------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    x_hat, std, gamma, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = np.sum(dout * x_hat, axis=(0, 2, 3), keepdims=True)
    dx_hat = (dout * gamma).reshape(N, G, -1)
    x_hat_grouped = x_hat.reshape(N, G, -1)
    dx = (dx_hat - dx_hat.mean(axis=2, keepdims=True)
          - x_hat_grouped * np.mean(dx_hat * x_hat_grouped, axis=2, keepdims=True)) / std
    dx = dx.reshape(N, C, H, W)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    return dx, dgamma, dbeta
