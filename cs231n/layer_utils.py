"""Sandwich layers: common sequences of primitives from layers.py as one forward/backward pair."""
from .fast_layers import (
    conv_backward_fast, conv_forward_fast, relu_max_pool_backward_fast,
    relu_max_pool_forward_fast,
)
from .layers import *


# ----------------------------------------------------------------------------------
# Fully connected sandwiches
# ----------------------------------------------------------------------------------

NORMALIZATIONS = (None, "batchnorm", "layernorm")


def affine_relu_forward(x, w, b):
    """Affine layer followed by a ReLU.

    Inputs:
    - x: input of shape (N, d_1, ..., d_k)
    - w, b: weights (D, M) and biases (M,) of the affine layer

    Returns a tuple of:
    - out: ReLU output of shape (N, M)
    - cache: what affine_relu_backward needs
    """
    affine_out, affine_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(affine_out)
    return out, (affine_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of affine_relu_forward; returns (dx, dw, db)."""
    affine_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), affine_cache)


# *****SOLUTION ONLY: START (the starter release drops this block)*****
# The solution's hidden layer of FullyConnectedNet. Writing such a helper is part of the
# FullyConnectedNet tasks (cs231n/classifiers/fc_net.py), as in the original assignment.
def affine_norm_relu_dropout_forward(
    x, w, b, gamma=None, beta=None, norm_param=None, normalization=None, dropout_param=None
):
    """One hidden layer of a fully connected net: affine -> [norm] -> ReLU -> [dropout].

    Inputs:
    - x: input of shape (N, d_1, ..., d_k)
    - w, b: weights (D, M) and biases (M,) of the affine layer
    - gamma, beta: scale and shift of shape (M,), used when normalization is set
    - norm_param: the bn_param / ln_param dict handed to the normalization layer
    - normalization: None, "batchnorm" or "layernorm"
    - dropout_param: dict for dropout_forward, or None to skip dropout

    Returns a tuple of:
    - out: output of shape (N, M)
    - cache: what affine_norm_relu_dropout_backward needs
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    out, affine_cache = affine_forward(x, w, b)
    norm_cache = None
    if normalization == "batchnorm":
        out, norm_cache = batchnorm_forward(out, gamma, beta, norm_param)
    elif normalization == "layernorm":
        out, norm_cache = layernorm_forward(out, gamma, beta, norm_param)
    out, relu_cache = relu_forward(out)
    dropout_cache = None
    if dropout_param is not None:
        out, dropout_cache = dropout_forward(out, dropout_param)
    return out, (normalization, affine_cache, norm_cache, relu_cache, dropout_cache)


def affine_norm_relu_dropout_backward(dout, cache):
    """Backward pass of affine_norm_relu_dropout_forward.

    Returns a tuple (dx, dw, db, dgamma, dbeta); dgamma and dbeta are None when the
    layer has no normalization.
    """
    normalization, affine_cache, norm_cache, relu_cache, dropout_cache = cache
    if dropout_cache is not None:
        dout = dropout_backward(dout, dropout_cache)
    dout = relu_backward(dout, relu_cache)
    dgamma, dbeta = None, None
    if normalization == "batchnorm":
        dout, dgamma, dbeta = batchnorm_backward(dout, norm_cache)
    elif normalization == "layernorm":
        dout, dgamma, dbeta = layernorm_backward(dout, norm_cache)
    dx, dw, db = affine_backward(dout, affine_cache)
    return dx, dw, db, dgamma, dbeta
# *****SOLUTION ONLY: END*****


# ----------------------------------------------------------------------------------
# Convolutional sandwiches
# ----------------------------------------------------------------------------------
# These use the fast layers; their caches are opaque tuples, as in the original assignment.


def conv_relu_forward(x, w, b, conv_param):
    """Convolution followed by a ReLU.

    Inputs: x (N, C, H, W), w (F, C, HH, WW), b (F,) and conv_param as for
    conv_forward_naive. Returns (out, cache) with out of shape (N, F, H', W').
    """
    conv_out, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(conv_out)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """Backward pass of conv_relu_forward; returns (dx, dw, db)."""
    conv_cache, relu_cache = cache
    return conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convolution, ReLU, then max pooling.

    Inputs: as conv_relu_forward plus pool_param for the max pool. Returns
    (out, cache) with out of shape (N, F, H'', W'') after pooling. The ReLU and the
    pool run as one pass (relu_max_pool_forward_fast), with the same result.
    """
    conv_out, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, pool_cache = relu_max_pool_forward_fast(conv_out, pool_param)
    return out, (conv_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """Backward pass of conv_relu_pool_forward; returns (dx, dw, db)."""
    conv_cache, pool_cache = cache
    return conv_backward_fast(relu_max_pool_backward_fast(dout, pool_cache), conv_cache)


def conv_relu_pool_weight_backward(dout, cache):
    """conv_relu_pool_backward without dx: returns (dw, db).

    For a network's first layer, whose input (the images) needs no gradient; dx would
    cost a third of the layer's backward pass.
    """
    conv_cache, pool_cache = cache
    _, dw, db = conv_backward_fast(relu_max_pool_backward_fast(dout, pool_cache), conv_cache,
                                   input_gradient=False)
    return dw, db


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """Convolution, spatial batch normalization, then ReLU.

    Inputs: as conv_relu_forward plus gamma, beta (F,) and bn_param for
    spatial_batchnorm_forward. Returns (out, cache) with out of shape (N, F, H', W').
    """
    conv_out, conv_cache = conv_forward_fast(x, w, b, conv_param)
    norm_out, norm_cache = spatial_batchnorm_forward(conv_out, gamma, beta, bn_param)
    out, relu_cache = relu_forward(norm_out)
    return out, (conv_cache, norm_cache, relu_cache)


def conv_bn_relu_backward(dout, cache):
    """Backward pass of conv_bn_relu_forward; returns (dx, dw, db, dgamma, dbeta)."""
    conv_cache, norm_cache, relu_cache = cache
    dnorm, dgamma, dbeta = spatial_batchnorm_backward(relu_backward(dout, relu_cache), norm_cache)
    dx, dw, db = conv_backward_fast(dnorm, conv_cache)
    return dx, dw, db, dgamma, dbeta
