"""Fast convolution and max pooling with the same API and results as the naive layers.

Convolution lowers every receptive field to a column (im2col) so that the forward
pass and both weight and input gradients become matrix products, one per chunk of
samples; pooling runs one pass over the input. The loops live in the compiled
extension cs231n.im2col_cython; when it cannot be imported, vectorized NumPy versions
take over (slower, same results) after a one-time warning.

With SciPy's own BLAS at hand, the compiled conv kernels hand whole chunks of samples to
their threads, each chunk lowered and multiplied by one thread with a single-threaded
product; otherwise the chunks go one after another, each lowered by the compiled
kernel and multiplied by NumPy's BLAS.

The compiled loops run on as many threads as NumPy's BLAS is allowed at the time of the
call, so one setting governs both the matrix products and the loops around them:
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before NumPy is imported, or
threadpoolctl.threadpool_limits(n) at run time. Their results do not depend on it.
"""
import contextlib
import os
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .shapes import (
    check_conv_shapes as _check_conv_shapes, check_upstream_gradient, conv_output_shape,
    sliding_output_shape,
)

__all__ = ["conv_forward_fast", "conv_backward_fast",
           "max_pool_forward_fast", "max_pool_backward_fast",
           "relu_max_pool_forward_fast", "relu_max_pool_backward_fast"]

# The kernels' OpenMP threads wait passively when idle: the package sets that before
# this module loads OpenMP (cs231n/__init__.py), unless the user chose otherwise.
# The compiled kernels this module calls. An extension built from an older source lacks
# some of them (the .pyx changed and the package was not rebuilt); it is then set aside
# like a missing one, so that the NumPy code runs instead of a call failing mid-layer.
_KERNEL_NAMES = ("im2col", "col2im", "max_pool_forward", "max_pool_backward", "swap_leading_axes",
                 "conv_forward", "conv_backward", "use_blas")
try:
    from . import im2col_cython as _kernels
except ImportError:
    _kernels = None
    _kernels_problem = "is not built"
else:
    _kernels_problem = None
    if not all(hasattr(_kernels, name) for name in _KERNEL_NAMES):
        _kernels = None
        _kernels_problem = "was built from an older version of im2col_cython.pyx"


def _blas_thread_limit_reader():
    """A function that returns the thread limit of NumPy's BLAS now, at least 1.

    Found once, at import: threadpoolctl's search of the loaded libraries takes
    milliseconds, while asking the library found for its current limit takes about a
    microsecond, little enough for every layer call. Without threadpoolctl, or with no
    BLAS it can control, the kernels run on one thread, as they did before threading.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return lambda: 1
    blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    if not blas_libraries:
        return lambda: 1
    blas = blas_libraries[0]
    return lambda: max(1, blas.get_num_threads() or 1)


_kernel_threads = _blas_thread_limit_reader()


def _scipy_blas_for_threads():
    """A function that readies SciPy's BLAS for the compiled conv kernels, or None.

    The kernels call scipy.linalg.cython_blas from several threads at once, one product
    per thread; threads of the BLAS's own inside each would fight ours for the cores, so
    the library must run each call on one thread. That can be set without touching
    NumPy's BLAS only where SciPy ships a BLAS of its own, as its wheels do (a conda
    environment shares one OpenBLAS between the two). Elsewhere, or without SciPy, the
    conv layers multiply with NumPy's BLAS, chunk after chunk. The function sets the
    limit again at each call: threadpoolctl.threadpool_limits(n) sets it for every BLAS.
    """
    if _kernels is None:
        return None
    try:
        import scipy
        from scipy.linalg import cython_blas
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    folder = os.path.dirname(os.path.abspath(scipy.__file__))
    # Its wheels keep the library inside the package or in scipy.libs beside it.
    own = [library for library in ThreadpoolController().select(user_api="blas").lib_controllers
           if os.path.abspath(library.filepath).startswith((folder + os.sep, folder + ".libs" + os.sep))]
    if not own:
        return None
    _kernels.use_blas(cython_blas.__pyx_capi__["sgemm"], cython_blas.__pyx_capi__["dgemm"])

    def one_thread_each():
        for library in own:
            if library.get_num_threads() != 1:
                library.set_num_threads(1)
    return one_thread_each


_ready_scipy_blas = _scipy_blas_for_threads()

_fallback_announced = False


def _compiled_kernels():
    """The compiled kernel module, or None after warning once that NumPy takes over."""
    global _fallback_announced
    if _kernels is None and not _fallback_announced:
        _fallback_announced = True
        warnings.warn(
            f"cs231n.im2col_cython {_kernels_problem}, so the fast layers use slower NumPy "
            "code (same results). Build it, which needs a C compiler, with: "
            "python setup.py build_ext --inplace (or pip install -e ., or the set-up again)",
            RuntimeWarning, stacklevel=3)
    return _kernels


def compiled_kernels_available():
    """True when the compiled extension is built and the fast layers are using it."""
    return _kernels is not None


@contextlib.contextmanager
def numpy_fallback():
    """Run the fast layers on their NumPy fallback inside the ``with`` block, silently.

    For comparing the two paths (tests, benchmarks); outside the block the compiled
    kernels are back in use, if they are built.
    """
    global _kernels, _fallback_announced
    saved = _kernels, _fallback_announced
    _kernels, _fallback_announced = None, True
    try:
        yield
    finally:
        _kernels, _fallback_announced = saved


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


# Samples are lowered a few at a time, in chunks of about this many bytes of columns
# (at least one sample each). A chunk that fits the processor's L2 cache is still there
# when the matrix product reads it, so the columns never travel to main memory; that is
# most of the difference to lowering the whole batch at once. The NumPy fallback makes
# a Python-level pass per field offset and chunk, so it uses bigger chunks.
_CHUNK_BYTES = 1 << 19
_FALLBACK_CHUNK_BYTES = 1 << 23


def _chunk_size(num_samples, bytes_per_sample, compiled):
    """Samples per chunk: about _CHUNK_BYTES of columns, at least one sample."""
    target = _CHUNK_BYTES if compiled else _FALLBACK_CHUNK_BYTES
    return max(1, min(num_samples, target // max(1, bytes_per_sample)))


def _leading_matrix(buffer, rows, columns):
    """The first rows * columns entries of a flat buffer as a (rows, columns) matrix.

    Buffers are sized for the largest chunk; their leading part serves a shorter last one.
    """
    return buffer[:rows * columns].reshape(rows, columns)


def _column_chunks(x, step, field_height, field_width, stride, pad, positions):
    """Yield (chunk, cols) for the samples of x (N, C, H, W), step samples at a time.

    chunk is the slice of samples and cols their receptive fields as one (C * HH * WW,
    n * P) matrix, P = positions per sample. One buffer serves every chunk (a fresh one
    per chunk would be new memory to fault in), so cols holds only until the next chunk.
    """
    num_samples, channels = x.shape[:2]
    field_size = channels * field_height * field_width
    buffer = np.empty(field_size * step * positions, dtype=x.dtype)
    for start in range(0, num_samples, step):
        chunk = slice(start, min(start + step, num_samples))
        size = chunk.stop - start
        cols = _leading_matrix(buffer, field_size, size * positions)
        _im2col(x[chunk], cols.reshape(field_size, size, positions),
                field_height, field_width, stride, pad)
        yield chunk, cols


def _im2col(x, cols, field_height, field_width, stride, pad):
    """Fill cols (C * HH * WW, N, H' * W') with the receptive fields of x (N, C, H, W)."""
    kernels = _compiled_kernels()
    if kernels is not None:
        kernels.im2col(x, cols, field_height, field_width, stride, pad, _kernel_threads())
        return
    num_samples, channels = x.shape[:2]
    out_shape = sliding_output_shape(x.shape[2:], (field_height, field_width), stride, pad)
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(x_padded, (field_height, field_width), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, H', W', HH, WW)
    cols.reshape(channels, field_height, field_width, num_samples, *out_shape)[...] = (
        windows.transpose(1, 4, 5, 0, 2, 3))


def _col2im(cols, dx, field_height, field_width, stride, pad):
    """Add the columns (C * HH * WW, N, H' * W') onto dx (N, C, H, W), which starts at zero."""
    kernels = _compiled_kernels()
    if kernels is not None:
        kernels.col2im(cols, dx, field_height, field_width, stride, pad, _kernel_threads())
        return
    num_samples, channels, height, width = dx.shape
    out_height, out_width = sliding_output_shape(
        (height, width), (field_height, field_width), stride, pad)
    dx_padded = np.zeros((num_samples, channels, height + 2 * pad, width + 2 * pad),
                         dtype=cols.dtype)
    cols = cols.reshape(channels, field_height, field_width, num_samples, out_height, out_width)
    # One strided slice per field offset: every output pixel adds its share at once.
    for i in range(field_height):
        for j in range(field_width):
            dx_padded[:, :, i:i + stride * out_height:stride,
                      j:j + stride * out_width:stride] += cols[:, i, j].transpose(1, 0, 2, 3)
    dx += dx_padded[:, :, pad:pad + height, pad:pad + width]


def _swap_leading_axes(source, out, shift=None):
    """out (B, A, P) = source (A, B, P) with its first two axes swapped, plus shift (A,)."""
    kernels = _compiled_kernels()
    if kernels is not None:
        kernels.swap_leading_axes(source, out, shift, _kernel_threads())
    elif shift is None:
        out[...] = source.transpose(1, 0, 2)
    else:
        np.add(source.transpose(1, 0, 2), shift[:, None], out=out)


def _threads_multiply(out, field_size):
    """Whether the compiled conv kernels run the products too (readying SciPy's BLAS).

    Not on the NumPy fallback, not without SciPy's own BLAS, and not for empty products,
    which the chunk-after-chunk code handles like any other.
    """
    if _kernels is None or _ready_scipy_blas is None or out.size == 0 or field_size == 0:
        return False
    _ready_scipy_blas()
    return True


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
    num_samples = x.shape[0]
    # Explicit sizes rather than -1: reshape cannot infer a dimension of an empty array.
    field_size = channels * field_height * field_width
    w_matrix = np.ascontiguousarray(w, dtype=dtype).reshape(num_filters, field_size)
    bias = np.ascontiguousarray(b, dtype=dtype).reshape(num_filters)
    positions = out_shape[0] * out_shape[1]
    out = np.empty((num_samples, num_filters, positions), dtype=dtype)
    step = _chunk_size(num_samples, field_size * positions * dtype.itemsize,
                       _kernels is not None)
    if _threads_multiply(out, field_size):
        _kernels.conv_forward(x, w_matrix, bias, out, field_height, field_width, stride, pad,
                              step, _kernel_threads())
    else:
        product_buffer = np.empty(num_filters * step * positions, dtype=dtype)
        for chunk, chunk_cols in _column_chunks(x, step, field_height, field_width, stride,
                                                pad, positions):
            size = chunk.stop - chunk.start
            # (F, K) @ (K, n P): the whole chunk in one product, whose (F, n, P) result
            # goes to the (n, F, P) output with the biases added on the way.
            product = _leading_matrix(product_buffer, num_filters, size * positions)
            np.matmul(w_matrix, chunk_cols, out=product)
            _swap_leading_axes(product.reshape(num_filters, size, positions), out[chunk], bias)
    out = out.reshape(num_samples, num_filters, *out_shape)
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_fast(dout, cache, *, input_gradient=True):
    """Backward pass of conv_forward_fast: returns (dx, dw, db) like the naive layer.

    dout must have the shape of the forward output, else ValueError names both. With
    input_gradient=False, dx is not computed and None is returned in its place: the
    first layer of a network needs no gradient for its input, and dx is a third of
    the work. The columns are rebuilt chunk by chunk rather than kept from the forward
    pass, which costs little next to the matrix products and keeps memory small.
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
    w_matrix = np.ascontiguousarray(w, dtype=dtype).reshape(num_filters, field_size)
    positions = out_height * out_width
    dout = np.ascontiguousarray(dout, dtype=dtype).reshape(num_samples, num_filters, positions)
    db = dout.sum(axis=(0, 2)).astype(np.result_type(b, dtype), copy=False)
    dw = np.zeros((num_filters, field_size), dtype=dtype)
    dx = np.zeros(x.shape, dtype=dtype) if input_gradient else None
    step = _chunk_size(num_samples, field_size * positions * dtype.itemsize,
                       _kernels is not None)
    if _threads_multiply(dout, field_size):
        _kernels.conv_backward(x, w_matrix, dout, dw, dx, field_height, field_width, stride,
                               pad, step, _kernel_threads())
        return dx, dw.reshape(w.shape), db
    chunk_dw = np.empty_like(dw)
    dcols_buffer = np.empty(field_size * step * positions, dtype=dtype) if input_gradient else None
    dout_buffer = np.empty(num_filters * step * positions, dtype=dtype)
    for chunk, chunk_cols in _column_chunks(x, step, field_height, field_width, stride, pad,
                                            positions):
        size = chunk.stop - chunk.start
        # The chunk's upstream gradient as one (F, n P) matrix, in the columns' order.
        chunk_dout = _leading_matrix(dout_buffer, num_filters, size * positions)
        _swap_leading_axes(dout[chunk], chunk_dout.reshape(num_filters, size, positions))
        # (F, n P) @ (n P, K): the filter gradient summed over the chunk in one product.
        np.matmul(chunk_dout, chunk_cols.T, out=chunk_dw)
        dw += chunk_dw
        if input_gradient:
            dcols = _leading_matrix(dcols_buffer, field_size, size * positions)
            np.matmul(w_matrix.T, chunk_dout, out=dcols)
            _col2im(dcols.reshape(field_size, size, positions), dx[chunk],
                    field_height, field_width, stride, pad)
    return dx, dw.reshape(w.shape), db


def _max_pool_forward(x, pool_param, relu, layer):
    """Max pooling of x, or of relu(x) when relu is set; returns (out, cache)."""
    if x.ndim != 4:
        raise ValueError(f"expected x shaped (N, C, H, W), got {x.shape}")
    _check_real(layer, x=x)
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    out_shape = sliding_output_shape(x.shape[2:], (pool_height, pool_width), stride)
    x = np.ascontiguousarray(x, dtype=_float_dtype(x))
    num_samples, channels, height, width = x.shape
    if height * width > np.iinfo(np.intc).max:
        raise ValueError(f"{layer}: planes of {height}x{width} pixels are too large to "
                         "index with 32-bit integers")
    kernels = _compiled_kernels()
    if kernels is not None:
        out = np.empty((num_samples, channels, *out_shape), dtype=x.dtype)
        winners = np.empty(out.shape, dtype=np.intc)
        kernels.max_pool_forward(x, out, winners, pool_height, pool_width, stride, relu,
                                 _kernel_threads())
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
        if relu:
            # The ReLU commutes with the maximum; where it passes no gradient the
            # winner becomes -1, as in the compiled kernel.
            blocked = ~(out > 0)
            winners[blocked] = -1
            out = np.maximum(out, 0)
    cache = (x.shape, pool_param, winners)
    return out, cache


def _max_pool_backward(dout, cache, layer):
    """dx for a cache of _max_pool_forward; winners of -1 receive nothing."""
    x_shape, pool_param, winners = cache
    check_upstream_gradient(dout, winners.shape, layer)
    _check_real(layer, dout=dout)
    num_samples, channels, height, width = x_shape
    dout = np.ascontiguousarray(dout, dtype=_float_dtype(dout))
    dx = np.zeros((num_samples, channels, height * width), dtype=dout.dtype)
    kernels = _compiled_kernels()
    if kernels is not None:
        kernels.max_pool_backward(dout, winners, dx, _kernel_threads())
    else:
        num_planes, pooled = num_samples * channels, winners.shape[2] * winners.shape[3]
        winners = winners.reshape(num_planes, pooled)
        dout = dout.reshape(num_planes, pooled)
        routed = winners >= 0
        # add.at, since overlapping windows can share a winner.
        np.add.at(dx.reshape(num_planes, height * width),
                  (np.nonzero(routed)[0], winners[routed]), dout[routed])
    return dx.reshape(x_shape)


def max_pool_forward_fast(x, pool_param):
    """Fast equivalent of layers.max_pool_forward_naive, for any valid window geometry.

    Complex input is refused: its values have no order.
    """
    return _max_pool_forward(x, pool_param, False, "max_pool_forward_fast")


def max_pool_backward_fast(dout, cache):
    """Backward pass of max_pool_forward_fast: returns dx.

    dout must have the shape of the forward output, else ValueError names both.
    """
    return _max_pool_backward(dout, cache, "max_pool_backward_fast")


def relu_max_pool_forward_fast(x, pool_param):
    """Max pooling of relu(x) in one pass: the result of relu_forward then max_pool_forward_fast.

    A ReLU followed by a max pool reads and writes the whole feature map twice and keeps
    a copy of it for the backward pass; taking the maximum first and clipping it at
    zero gives the same values with one pass and a cache of the winners alone.
    """
    return _max_pool_forward(x, pool_param, True, "relu_max_pool_forward_fast")


def relu_max_pool_backward_fast(dout, cache):
    """Backward pass of relu_max_pool_forward_fast: returns dx, zero where the ReLU was off."""
    return _max_pool_backward(dout, cache, "relu_max_pool_backward_fast")
