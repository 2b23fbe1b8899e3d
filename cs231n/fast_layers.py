"""Fast convolution and max pooling with the same API and results as the naive layers.

Convolution lowers every receptive field to a column (im2col) so that the forward
pass and both weight and input gradients become matrix products; pooling runs one
pass over the input. The loops live in the compiled extension cs231n.im2col_cython;
when it cannot be imported, vectorized NumPy versions take over (slower, same
results) after a one-time warning.
"""
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .shapes import (
    check_conv_shapes as _check_conv_shapes, check_upstream_gradient, conv_output_shape,
    sliding_output_shape,
)

__all__ = ["conv_forward_fast", "conv_backward_fast",
           "max_pool_forward_fast", "max_pool_backward_fast"]

try:
    from . import im2col_cython as _kernels
except ImportError:
    _kernels = None

_fallback_announced = False


def _compiled_kernels():
    """The compiled kernel module, or None after warning once that NumPy takes over."""
    global _fallback_announced
    if _kernels is None and not _fallback_announced:
        _fallback_announced = True
        warnings.warn(
            "cs231n.im2col_cython is not built, so the fast layers use slower NumPy code. "
            "Build it with: python setup.py build_ext --inplace (or pip install -e .)",
            RuntimeWarning, stacklevel=3)
    return _kernels


def _check_real(layer, **arrays):
    """Raise ValueError unless every named array holds real numbers (bool, int or float).

    Casting complex values to float would silently drop their imaginary parts.
    """
    for name, array in arrays.items():
        dtype = np.asarray(array).dtype
        if dtype.kind not in "biuf":
            raise ValueError(f"{layer}: {name} must hold real numbers, got dtype {dtype}")


def _float_dtype(*arrays):
    """The common dtype of the arrays when it is float32 or float64, else float64."""
    dtype = np.result_type(*arrays)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


# Samples are lowered in chunks of about this many bytes of columns (at least one
# sample each). Smaller chunks stay in the processor's cache and let malloc recycle the
# buffers instead of mapping fresh memory, which is slow to touch, on every call; larger
# ones mean fewer, bigger matrix products, which multi-threaded BLAS handles better.
# Measured on 2 cores: one array for the whole batch was up to 3x slower single-threaded
# than 2 MiB chunks, which in turn were up to 2x slower than 8-32 MiB with two threads.
_CHUNK_BYTES = 1 << 23


def _sample_chunks(num_samples, bytes_per_sample):
    """Slices that split range(num_samples) into chunks of about _CHUNK_BYTES each."""
    step = max(1, _CHUNK_BYTES // max(1, bytes_per_sample))
    return [slice(start, min(start + step, num_samples)) for start in range(0, num_samples, step)]


def _im2col(x, field_height, field_width, stride, pad, out_shape):
    """Columns (C * HH * WW, N, H' * W') of the receptive fields of x (N, C, H, W)."""
    num_samples, channels = x.shape[:2]
    cols = np.empty((channels * field_height * field_width, num_samples,
                     out_shape[0] * out_shape[1]), dtype=x.dtype)
    kernels = _compiled_kernels()
    if kernels is not None:
        kernels.im2col(x, cols, field_height, field_width, stride, pad)
        return cols
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(x_padded, (field_height, field_width), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, H', W', HH, WW)
    cols.reshape(channels, field_height, field_width, num_samples, *out_shape)[...] = (
        windows.transpose(1, 4, 5, 0, 2, 3))
    return cols


def _col2im(cols, dx, field_height, field_width, stride, pad):
    """Add the columns (C * HH * WW, N, H' * W') onto dx (N, C, H, W), which starts at zero."""
    kernels = _compiled_kernels()
    if kernels is not None:
        kernels.col2im(cols, dx, field_height, field_width, stride, pad)
        return
    num_samples, channels, height, width = dx.shape
    out_height = (height + 2 * pad - field_height) // stride + 1
    out_width = (width + 2 * pad - field_width) // stride + 1
    dx_padded = np.zeros((num_samples, channels, height + 2 * pad, width + 2 * pad),
                         dtype=cols.dtype)
    cols = cols.reshape(channels, field_height, field_width, num_samples, out_height, out_width)
    # One strided slice per field offset: every output pixel adds its share at once.
    for i in range(field_height):
        for j in range(field_width):
            dx_padded[:, :, i:i + stride * out_height:stride,
                      j:j + stride * out_width:stride] += cols[:, i, j].transpose(1, 0, 2, 3)
    dx += dx_padded[:, :, pad:pad + height, pad:pad + width]


def conv_forward_fast(x, w, b, conv_param):
    """Fast equivalent of layers.conv_forward_naive (same inputs, same output).

    The result is float32 when x and w are float32, float64 otherwise. Complex input
    is refused rather than cast. With no input channels the output is the bias; with no
    filters it is empty, as with the naive layer.
    """
    _check_conv_shapes(x, w, b)
    _check_real("conv_forward_fast", x=x, w=w, b=b)
    stride, pad = conv_param["stride"], conv_param["pad"]
    num_filters, channels, field_height, field_width = w.shape
    out_shape = sliding_output_shape(x.shape[2:], w.shape[2:], stride, pad)
    dtype = _float_dtype(x, w)
    x = np.ascontiguousarray(x, dtype=dtype)
    # Explicit sizes rather than -1: reshape cannot infer a dimension of an empty array.
    field_size = channels * field_height * field_width
    w_matrix = np.asarray(w, dtype=dtype).reshape(num_filters, field_size)
    bias = np.asarray(b, dtype=dtype)[:, None]
    positions = out_shape[0] * out_shape[1]
    out = np.empty((x.shape[0], num_filters, positions), dtype=dtype)
    column_bytes = field_size * positions * dtype.itemsize  # per sample
    for chunk in _sample_chunks(x.shape[0], column_bytes):
        cols = _im2col(x[chunk], field_height, field_width, stride, pad, out_shape)
        chunk_size = cols.shape[1]
        # One product (F, K) @ (K, n * P); its (F, n, P) result is reordered to (n, F, P)
        # in the same pass that adds the biases.
        products = (w_matrix @ cols.reshape(field_size, chunk_size * positions)).reshape(
            num_filters, chunk_size, positions)
        np.add(products.transpose(1, 0, 2), bias, out=out[chunk])
    out = out.reshape(x.shape[0], num_filters, *out_shape)
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_fast(dout, cache):
    """Backward pass of conv_forward_fast: returns (dx, dw, db) like the naive layer.

    dout must have the shape of the forward output, else ValueError names both. The
    columns are rebuilt chunk by chunk rather than kept from the forward pass, which
    costs little next to the matrix products and keeps memory small.
    """
    x, w, b, conv_param = cache
    expected_shape = conv_output_shape(x, w, b, conv_param)
    check_upstream_gradient(dout, expected_shape, "conv_backward_fast")
    _check_real("conv_backward_fast", dout=dout)
    stride, pad = conv_param["stride"], conv_param["pad"]
    num_samples, num_filters, out_height, out_width = expected_shape
    _, channels, field_height, field_width = w.shape
    # A no-op for the forward pass's own cache; a cache built by hand gets the same
    # contiguous float array the kernels need.
    dtype = _float_dtype(x, w)
    x = np.ascontiguousarray(x, dtype=dtype)
    field_size = channels * field_height * field_width
    w_matrix = np.asarray(w, dtype=dtype).reshape(num_filters, field_size)
    positions = out_height * out_width
    dout = np.asarray(dout, dtype=dtype).reshape(num_samples, num_filters, positions)
    db = dout.sum(axis=(0, 2)).astype(np.result_type(b, dtype), copy=False)
    dw = np.zeros(w_matrix.shape, dtype=dtype)
    dx = np.zeros(x.shape, dtype=dtype)
    column_bytes = field_size * positions * dtype.itemsize  # per sample
    for chunk in _sample_chunks(num_samples, column_bytes):
        cols = _im2col(x[chunk], field_height, field_width, stride, pad, (out_height, out_width))
        columns = cols.shape[1] * positions
        cols_matrix = cols.reshape(field_size, columns)
        # (n, F, P) -> (F, n * P), matching the columns' (K, n * P) order.
        dout_matrix = np.ascontiguousarray(dout[chunk].transpose(1, 0, 2)).reshape(
            num_filters, columns)
        dw += dout_matrix @ cols_matrix.T
        dcols = (w_matrix.T @ dout_matrix).reshape(cols.shape)
        _col2im(dcols, dx[chunk], field_height, field_width, stride, pad)
    return dx, dw.reshape(w.shape), db


def max_pool_forward_fast(x, pool_param):
    """Fast equivalent of layers.max_pool_forward_naive, for any valid window geometry.

    Complex input is refused: its values have no order.
    """
    if x.ndim != 4:
        raise ValueError(f"expected x shaped (N, C, H, W), got {x.shape}")
    _check_real("max_pool_forward_fast", x=x)
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    out_shape = sliding_output_shape(x.shape[2:], (pool_height, pool_width), stride)
    x = np.ascontiguousarray(x, dtype=_float_dtype(x))
    num_samples, channels, height, width = x.shape
    if height * width > np.iinfo(np.intc).max:
        raise ValueError(f"max_pool_forward_fast: planes of {height}x{width} pixels are too "
                         "large to index with 32-bit integers")
    kernels = _compiled_kernels()
    if kernels is not None:
        out = np.empty((num_samples, channels, *out_shape), dtype=x.dtype)
        winners = np.empty(out.shape, dtype=np.intc)
        kernels.max_pool_forward(x, out, winners, pool_height, pool_width, stride)
    else:
        windows = sliding_window_view(x, (pool_height, pool_width), axis=(2, 3))
        windows = windows[:, :, ::stride, ::stride].reshape(
            num_samples, channels, *out_shape, pool_height * pool_width)
        within = windows.argmax(axis=-1)
        out = np.take_along_axis(windows, within[..., None], axis=-1)[..., 0]
        # Turn each window-relative winner into its index in the flattened (H * W) plane.
        row_in, col_in = np.divmod(within, pool_width)
        tops = stride * np.arange(out_shape[0])[:, None]
        lefts = stride * np.arange(out_shape[1])[None, :]
        winners = ((tops + row_in) * width + lefts + col_in).astype(np.intc)
    cache = (x.shape, pool_param, winners)
    return out, cache


def max_pool_backward_fast(dout, cache):
    """Backward pass of max_pool_forward_fast: returns dx.

    dout must have the shape of the forward output, else ValueError names both.
    """
    x_shape, pool_param, winners = cache
    check_upstream_gradient(dout, winners.shape, "max_pool_backward_fast")
    _check_real("max_pool_backward_fast", dout=dout)
    num_samples, channels, height, width = x_shape
    dout = np.ascontiguousarray(dout, dtype=_float_dtype(dout))
    dx = np.zeros((num_samples, channels, height * width), dtype=dout.dtype)
    kernels = _compiled_kernels()
    if kernels is not None:
        kernels.max_pool_backward(dout, winners, dx)
    else:
        num_planes, pooled = num_samples * channels, winners.shape[2] * winners.shape[3]
        # add.at, since overlapping windows can share a winner.
        np.add.at(dx.reshape(num_planes, height * width),
                  (np.arange(num_planes)[:, None], winners.reshape(num_planes, pooled)),
                  dout.reshape(num_planes, pooled))
    return dx.reshape(x_shape)
