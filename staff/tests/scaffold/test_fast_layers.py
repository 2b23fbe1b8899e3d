"""The fast layers agree with the naive ones, with and without the compiled extension."""
import importlib
import sys
import types
import warnings

import os

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import cs231n
from cs231n import fast_layers
from cs231n.gradient_check import rel_error
from cs231n.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_backward,
    relu_forward,
)
from cs231n.layer_utils import (
    conv_relu_pool_backward,
    conv_relu_pool_forward,
    conv_relu_pool_weight_backward,
)

# (x shape, w shape, stride, pad): stride 2, padding 0-3, non-square images and
# filters, odd sizes, batch 1.
CONV_GEOMETRIES = [
    ((2, 3, 7, 7), (4, 3, 3, 3), 1, 1),
    ((3, 2, 9, 7), (5, 2, 3, 3), 2, 1),
    ((1, 3, 8, 6), (2, 3, 2, 4), 2, 0),
    ((2, 1, 5, 8), (3, 1, 5, 3), 1, 2),
    ((1, 4, 6, 5), (3, 4, 7, 4), 1, 3),
    ((2, 2, 11, 9), (2, 2, 5, 5), 2, 3),
    ((4, 3, 4, 4), (2, 3, 1, 1), 1, 0),
    ((1, 1, 1, 1), (1, 1, 3, 3), 1, 1),
]
POOL_GEOMETRIES = [
    ((2, 3, 8, 8), 2, 2, 2),
    ((1, 2, 9, 6), 3, 2, 2),  # overlapping rows
    ((2, 1, 7, 5), 3, 3, 2),  # overlapping windows, odd sizes
    ((3, 2, 5, 6), 1, 2, 2),
    ((1, 1, 5, 5), 2, 2, 1),
]


@pytest.fixture(params=["threads' products", "NumPy's products", "numpy"])
def conv_path(request, monkeypatch):
    """The conv layers' path under test: the compiled kernels with each thread running
    its own products on SciPy's BLAS (skipped without it), the compiled kernels with
    NumPy's BLAS multiplying chunk after chunk, or the NumPy fallback."""
    if request.param == "numpy":
        with fast_layers.numpy_fallback():
            yield request.param
        return
    if not fast_layers.compiled_kernels_available():
        pytest.skip("the Cython extension is not built")
    if request.param == "NumPy's products":
        monkeypatch.setattr(fast_layers, "_ready_scipy_blas", None)
    elif fast_layers._ready_scipy_blas is None:
        pytest.skip("no BLAS of SciPy's own to give the kernels' threads")
    yield request.param


def assert_fast_conv_equals_naive(x_shape, w_shape, stride, pad, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    conv_param = {"stride": stride, "pad": pad}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = fast_layers.conv_forward_fast(x, w, b, conv_param)
    assert out_fast.shape == out_naive.shape
    assert rel_error(out_naive, out_fast) < 1e-9
    dout = rng.standard_normal(out_naive.shape)
    for naive, fast in zip(conv_backward_naive(dout, cache_naive),
                           fast_layers.conv_backward_fast(dout, cache_fast)):
        assert fast.shape == naive.shape
        assert rel_error(naive, fast) < 1e-9


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_GEOMETRIES)
def test_fast_conv_equals_naive(conv_path, x_shape, w_shape, stride, pad):
    assert_fast_conv_equals_naive(x_shape, w_shape, stride, pad,
                                  seed=sum(x_shape) + sum(w_shape) + pad)


def random_conv_geometry(rng):
    """(x shape, w shape, stride, pad): 1-4 samples, channels and rows of windows, windows
    of 1-5 pixels a side, stride 1-3, padding 0-3, and an image that the windows tile."""
    stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 4))
    field = [int(size) for size in rng.integers(1, 6, size=2)]
    # Each side as the windows tile it, at least one pixel of image inside the padding.
    image = [max(1, (int(rows) - 1) * stride + size - 2 * pad)
             for rows, size in zip(rng.integers(1, 5, size=2), field)]
    image = [side + (-(side + 2 * pad - size)) % stride for side, size in zip(image, field)]
    channels = int(rng.integers(1, 5))
    return ((int(rng.integers(1, 5)), channels, *image),
            (int(rng.integers(1, 6)), channels, *field), stride, pad)


@pytest.mark.parametrize("seed", range(12))
def test_fast_conv_equals_naive_on_random_geometries(conv_path, seed):
    assert_fast_conv_equals_naive(*random_conv_geometry(np.random.default_rng(seed)), seed=seed)


def test_fast_conv_in_one_sample_chunks_equals_naive(conv_path, monkeypatch):
    # Big batches are lowered a few samples at a time; force one sample per chunk.
    monkeypatch.setattr(fast_layers, "_CHUNK_BYTES", 1)
    monkeypatch.setattr(fast_layers, "_FALLBACK_CHUNK_BYTES", 1)
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((3, 2, 7, 5)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    conv_param = {"stride": 2, "pad": 1}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    out_fast, cache_fast = fast_layers.conv_forward_fast(x, w, b, conv_param)
    assert rel_error(out_naive, out_fast) < 1e-9
    dout = rng.standard_normal(out_naive.shape)
    for naive, fast in zip(conv_backward_naive(dout, cache_naive),
                           fast_layers.conv_backward_fast(dout, cache_fast)):
        assert rel_error(naive, fast) < 1e-9


@pytest.mark.parametrize("x_shape, pool_height, pool_width, stride", POOL_GEOMETRIES)
def test_fused_relu_pool_equals_relu_then_pool(kernels, x_shape, pool_height, pool_width, stride):
    rng = np.random.default_rng(sum(x_shape) + 7)
    x = rng.standard_normal(x_shape)
    x[0, 0, 0, :2] = np.nan  # NaNs pass the ReLU, but no gradient flows through them
    x[-1, -1] = -np.abs(x[-1, -1])  # a whole plane the ReLU turns off
    pool_param = {"pool_height": pool_height, "pool_width": pool_width, "stride": stride}
    relu_out, relu_cache = relu_forward(x)
    out_naive, pool_cache = max_pool_forward_naive(relu_out, pool_param)
    out_fused, fused_cache = fast_layers.relu_max_pool_forward_fast(x, pool_param)
    np.testing.assert_array_equal(out_fused, out_naive)
    dout = rng.standard_normal(out_naive.shape)
    dx_naive = relu_backward(max_pool_backward_naive(dout, pool_cache), relu_cache)
    np.testing.assert_array_equal(fast_layers.relu_max_pool_backward_fast(dout, fused_cache), dx_naive)


@pytest.mark.parametrize("x_shape, pool_height, pool_width, stride", POOL_GEOMETRIES)
def test_fast_pool_equals_naive(kernels, x_shape, pool_height, pool_width, stride):
    rng = np.random.default_rng(sum(x_shape))
    x = rng.standard_normal(x_shape)
    pool_param = {"pool_height": pool_height, "pool_width": pool_width, "stride": stride}
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = fast_layers.max_pool_forward_fast(x, pool_param)
    np.testing.assert_array_equal(out_fast, out_naive)
    dout = rng.standard_normal(out_naive.shape)
    dx_naive = max_pool_backward_naive(dout, cache_naive)
    dx_fast = fast_layers.max_pool_backward_fast(dout, cache_fast)
    assert rel_error(dx_naive, dx_fast) < 1e-12


def test_fast_pool_ties_go_to_the_first_maximum(kernels):
    x = np.ones((1, 1, 2, 2))
    out, cache = fast_layers.max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = fast_layers.max_pool_backward_fast(np.array([[[[3.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0], [0.0, 0.0]]]])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_pool_nan_wins_like_naive(kernels, dtype):
    # Four 2x2 windows: a NaN after a number, two NaNs (the first must win), a NaN
    # after a larger number, and no NaN at all.
    nan = np.nan
    x = np.array([[[[1, nan, nan, 5, 4, 9, 1, 2],
                    [3, 2, nan, 7, 1, nan, 3, 4]]]], dtype=dtype)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out_fast, cache_fast = fast_layers.max_pool_forward_fast(x, pool_param)
    np.testing.assert_array_equal(out_naive, [[[[nan, nan, nan, 4]]]])
    np.testing.assert_array_equal(out_fast, out_naive)
    # Distinct upstream gradients show which pixel each window routed to.
    dout = np.array([[[[1.0, 2.0, 3.0, 4.0]]]], dtype=dtype)
    expected = np.array([[[[0, 1, 2, 0, 0, 0, 0, 0],
                           [0, 0, 0, 0, 0, 3, 0, 4]]]], dtype=dtype)
    np.testing.assert_array_equal(max_pool_backward_naive(dout, cache_naive), expected)
    np.testing.assert_array_equal(fast_layers.max_pool_backward_fast(dout, cache_fast), expected)


def test_weight_gradients_without_the_input_gradient(conv_path):
    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((3, 2, 8, 6)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    conv_param = {"stride": 1, "pad": 1}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = fast_layers.conv_backward_fast(dout, cache)
    no_dx, dw_only, db_only = fast_layers.conv_backward_fast(dout, cache, input_gradient=False)
    assert no_dx is None
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)
    pooled, sandwich_cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    dpooled = rng.standard_normal(pooled.shape)
    _, dw, db = conv_relu_pool_backward(dpooled, sandwich_cache)
    dw_only, db_only = conv_relu_pool_weight_backward(dpooled, sandwich_cache)
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)


def test_float32_stays_float32(conv_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    conv_param = {"stride": 1, "pad": 1}
    out, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    assert out.dtype == np.float32
    dout = rng.standard_normal(out.shape).astype(np.float32)
    grads = fast_layers.conv_backward_fast(dout, cache)
    assert all(grad.dtype == np.float32 for grad in grads)
    # The float32 inputs are exact in float64, so the float64 naive layer is the exact
    # result up to about 1e-16. A float32 sum of n terms, in any order and with or
    # without fused multiply-adds, is off by at most (n - 1) u (1 + O(n u)) times the
    # sum of the terms' absolute values, u = eps / 2 the unit roundoff; eps * n bounds
    # that with room to spare. Each output sums n = C * HH * WW = 27 products and the
    # bias (28 terms), each dx entry at most F * HH * WW = 36 products, each dw entry
    # N * H' * W' = 72 and each db entry 72 terms. The sums of absolute values are the
    # same layers applied to absolute values: for the output, 28 * 1.19e-7 = 3.3e-6 of
    # a sum that is about 28 * 0.64 = 18 for standard normal data, some 6e-5 at most.
    x64, w64, b64, dout64 = (a.astype(np.float64) for a in (x, w, b, dout))
    expected, expected_cache = conv_forward_naive(x64, w64, b64, conv_param)
    magnitude, magnitude_cache = conv_forward_naive(np.abs(x64), np.abs(w64), np.abs(b64),
                                                    conv_param)
    eps = np.finfo(np.float32).eps
    num_filters, channels, field_height, field_width = w.shape
    terms = {"out": channels * field_height * field_width + 1,
             "dx": num_filters * field_height * field_width,
             "dw": x.shape[0] * out.shape[2] * out.shape[3],
             "db": x.shape[0] * out.shape[2] * out.shape[3]}
    assert np.all(np.abs(out - expected) <= eps * terms["out"] * magnitude)
    exact_grads = conv_backward_naive(dout64, expected_cache)
    grad_magnitudes = conv_backward_naive(np.abs(dout64), magnitude_cache)
    for name, grad, exact, grad_magnitude in zip(("dx", "dw", "db"), grads, exact_grads,
                                                 grad_magnitudes):
        assert np.all(np.abs(grad - exact) <= eps * terms[name] * grad_magnitude), name
    pooled, pool_cache = fast_layers.max_pool_forward_fast(
        out, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert pooled.dtype == np.float32
    assert fast_layers.max_pool_backward_fast(np.ones_like(pooled), pool_cache).dtype == np.float32


def _kernel_results(num_threads):
    """Every compiled kernel's output on one set of float64 inputs, at ``num_threads``.

    The kernels are called directly: the layers around them also call the BLAS, whose
    results may change with its own thread count, which is not ours to test.
    """
    from cs231n import im2col_cython as kernels

    rng = np.random.default_rng(8)
    # Big enough for several threads everywhere: the kernels start one per 262,144 values
    # (cs231n/im2col_cython.pyx) of the columns, or of the pooled output for the pool
    # backward pass, which the larger images give 64 * 16 * 32 * 31 = 1,015,808.
    x = rng.standard_normal((64, 16, 33, 31))
    images = rng.standard_normal((64, 16, 65, 63))
    results = []
    # Stride 2 with 3x3 windows overlaps them, so col2im adds several columns per pixel.
    for stride, pad in ((1, 1), (2, 2)):
        out_h, out_w = (33 + 2 * pad - 3) // stride + 1, (31 + 2 * pad - 3) // stride + 1
        cols = np.empty((16 * 9, 64, out_h * out_w))
        kernels.im2col(x, cols, 3, 3, stride, pad, num_threads)
        dx = np.zeros_like(x)
        kernels.col2im(rng.standard_normal(cols.shape), dx, 3, 3, stride, pad, num_threads)
        results += [cols, dx]
    # 2x2 windows tile the 64x62 part of the planes; overlapping 3x3 windows at stride 2
    # tile all 65x63 and can share a winner in the backward pass.
    for pooled_x, size, stride in ((np.ascontiguousarray(images[:, :, 1:, 1:]), 2, 2), (images, 3, 2)):
        for relu in (False, True):
            out_shape = (64, 16, (pooled_x.shape[2] - size) // stride + 1,
                         (pooled_x.shape[3] - size) // stride + 1)
            out, winners = np.empty(out_shape), np.empty(out_shape, dtype=np.intc)
            kernels.max_pool_forward(pooled_x, out, winners, size, size, stride, relu, num_threads)
            dx = np.zeros((64, 16, pooled_x.shape[2] * pooled_x.shape[3]))
            kernels.max_pool_backward(rng.standard_normal(out_shape), winners, dx, num_threads)
            results += [out, winners, dx]
    # The conv output's layout changes: (F, n, P) products to (n, F, P) plus the biases,
    # and the upstream gradient back; 64 * 16 * 1023 values run on up to 4 threads.
    product, bias = rng.standard_normal((16, 64, 1023)), rng.standard_normal(16)
    out = np.empty((64, 16, 1023))
    kernels.swap_leading_axes(product, out, bias, num_threads)
    back = np.empty_like(product)
    kernels.swap_leading_axes(out, back, None, num_threads)
    results += [out, back]
    if fast_layers._ready_scipy_blas is not None:
        # The conv layers' own kernels, two samples a chunk: 32 chunks of products, each
        # filter gradient the sum of 32 chunk products, up to 36 threads' worth of values.
        fast_layers._ready_scipy_blas()
        w, bias = rng.standard_normal((8, 16 * 9)), rng.standard_normal(8)
        out = np.empty((64, 8, 33 * 31))
        kernels.conv_forward(x, w, bias, out, 3, 3, 1, 1, 2, num_threads)
        dw, dx = np.zeros((8, 16 * 9)), np.zeros_like(x)
        kernels.conv_backward(x, w, rng.standard_normal(out.shape), dw, dx, 3, 3, 1, 1, 2,
                              num_threads)
        results += [out, dw, dx]
    return results


def test_results_do_not_depend_on_the_thread_count():
    # The kernels split planes over threads, each plane summed by one thread in a fixed
    # order: the results must agree bit for bit, not just to rounding.
    if not fast_layers.compiled_kernels_available():
        pytest.skip("the Cython extension is not built")
    single = _kernel_results(1)
    for threads in (2, 4):
        for one, many in zip(single, _kernel_results(threads)):
            assert np.array_equal(one, many), f"differs at {threads} threads"


def test_one_setting_gives_the_blas_and_the_kernels_their_threads():
    for threads in (1, 2, 4):
        with threadpool_limits(threads):
            assert fast_layers._kernel_threads() == threads


def test_scipy_blas_runs_each_threads_product_on_one_thread():
    # The kernels' threads each run a product at once; SciPy's BLAS must not start
    # threads of its own inside them, whatever the setting, while NumPy's keeps it.
    if fast_layers._ready_scipy_blas is None or not fast_layers.compiled_kernels_available():
        pytest.skip("no BLAS of SciPy's own to give the kernels' threads")
    import scipy

    folder = os.path.dirname(scipy.__file__)
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((2, 3, 3, 3)), np.zeros(2)
    with threadpool_limits(4):
        fast_layers.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
        scipy_blas = [info["num_threads"] for info in threadpool_info()
                      if info["user_api"] == "blas" and info["filepath"].startswith(folder)]
        assert scipy_blas and set(scipy_blas) == {1}
        assert fast_layers._kernel_threads() == 4


def test_non_contiguous_inputs(conv_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 6, 3, 2)).transpose(3, 2, 1, 0)  # (2, 3, 6, 5), Fortran order
    w, b = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(2)
    conv_param = {"stride": 1, "pad": 1}
    out_fast, _ = fast_layers.conv_forward_fast(x, w, b, conv_param)
    out_naive, _ = conv_forward_naive(x, w, b, conv_param)
    assert rel_error(out_naive, out_fast) < 1e-9


def stale_build(names=("im2col", "col2im")):
    """A kernel module lacking some of the kernels fast_layers calls: a build older than the .pyx."""
    stale = types.ModuleType("cs231n.im2col_cython")
    for name in names:
        setattr(stale, name, lambda *args: None)
    return stale


def build_before_the_conv_kernels():
    """What an extension built before the whole-conv kernels holds: all but those."""
    return stale_build(("im2col", "col2im", "max_pool_forward", "max_pool_backward", "swap_leading_axes"))


# None in sys.modules (and no attribute on the package) makes "from . import im2col_cython"
# raise ImportError, as if it had never been built.
@pytest.mark.parametrize("installed, message", [(None, "is not built"), (stale_build, "older version"),
                                                (build_before_the_conv_kernels, "older version")],
                         ids=["missing", "stale", "before the conv kernels"])
def test_missing_or_stale_extension_falls_back_with_one_warning(monkeypatch, installed, message):
    # The layers must warn once, naming the problem and the build command, and use NumPy
    # rather than fail inside a layer.
    module = installed() if installed else None
    if module is None:
        monkeypatch.delattr(cs231n, "im2col_cython", raising=False)
    else:
        monkeypatch.setattr(cs231n, "im2col_cython", module, raising=False)
    monkeypatch.setitem(sys.modules, "cs231n.im2col_cython", module)
    try:
        reloaded = importlib.reload(fast_layers)
        assert not reloaded.compiled_kernels_available()
        x = np.random.default_rng(2).standard_normal((2, 2, 6, 6))
        w, b = np.ones((3, 2, 3, 3)), np.arange(3.0)
        with pytest.warns(RuntimeWarning, match=f"{message}.*build_ext"):
            out, cache = reloaded.conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            reloaded.conv_backward_fast(np.ones_like(out), cache)
            reloaded.max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
        expected, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
        assert rel_error(out, expected) < 1e-9
    finally:
        monkeypatch.undo()
        importlib.reload(fast_layers)
