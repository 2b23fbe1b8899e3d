"""Naive convolution and max pooling, and the convolutional sandwich layers."""
import numpy as np
import pytest

from cs231n.gradient_check import numerical_gradients, rel_error
from cs231n.layer_utils import (
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from cs231n.shapes import sliding_output_shape
from cs231n.fast_layers import conv_forward_fast, max_pool_forward_fast

POOL_2X2 = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.mark.task("conv_forward_naive")
def test_conv_forward_naive_matches_reference_values():
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    expected = np.array([
        [[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
         [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
         [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
        [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
         [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
         [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    assert rel_error(out, expected) < 1e-7


@pytest.mark.task("max_pool_forward_naive")
def test_max_pool_forward_naive_matches_reference_values():
    x = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    out, _ = max_pool_forward_naive(x, POOL_2X2)
    expected = np.array([
        [[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
         [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
         [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
        [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
         [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
         [[0.32631579, 0.34105263], [0.38526316, 0.4]]]])
    assert rel_error(out, expected) < 1e-7


@pytest.mark.task("conv_forward_naive")
def test_conv_forward_naive_matches_reference_elements():
    rng = np.random.RandomState(3)
    x, w, b = rng.randn(2, 2, 5, 4), rng.randn(3, 2, 3, 2), rng.randn(3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 0})
    assert out.shape == (2, 3, 3, 3)
    # Single outputs computed once with the solution: (example, filter, row, column).
    assert out[1, 2, 1, 2] == pytest.approx(-1.2632248087560303, rel=1e-12)
    assert out[0, 0, 0, 0] == pytest.approx(2.529821344095243, rel=1e-12)
    assert out[0, 1, 2, 0] == pytest.approx(-0.44013919278608465, rel=1e-12)


@pytest.mark.parametrize("stride, pad, x_shape, w_shape", [
    (1, 1, (4, 3, 5, 5), (2, 3, 3, 3)),
    (2, 1, (2, 2, 7, 5), (3, 2, 3, 3)),
    (1, 2, (1, 2, 4, 6), (2, 2, 5, 3)),
])
@pytest.mark.task("conv_backward_naive")
def test_conv_backward_naive_gradient_check(stride, pad, x_shape, w_shape):
    rng = np.random.default_rng(231)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx_num, dw_num, db_num = numerical_gradients(
        lambda x, w, b: conv_forward_naive(x, w, b, conv_param)[0], [x, w, b], dout)
    dx, dw, db = conv_backward_naive(dout, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    assert rel_error(dx, dx_num) < 1e-7
    assert rel_error(dw, dw_num) < 1e-7
    assert rel_error(db, db_num) < 1e-7


@pytest.mark.parametrize("pool_param, x_shape", [
    (POOL_2X2, (3, 2, 8, 8)),
    ({"pool_height": 3, "pool_width": 2, "stride": 1}, (2, 2, 5, 4)),  # overlapping
    ({"pool_height": 3, "pool_width": 3, "stride": 2}, (2, 1, 7, 9)),  # overlapping
])
@pytest.mark.task("max_pool_backward_naive")
def test_max_pool_backward_naive_gradient_check(pool_param, x_shape):
    rng = np.random.default_rng(231)
    x = rng.standard_normal(x_shape)
    out, cache = max_pool_forward_naive(x, pool_param)
    dout = rng.standard_normal(out.shape)
    dx_num, = numerical_gradients(lambda v: max_pool_forward_naive(v, pool_param)[0], [x], dout)
    dx = max_pool_backward_naive(dout, cache)
    assert rel_error(dx, dx_num) < 1e-10


@pytest.mark.task("max_pool_backward_naive")
def test_overlapping_pool_windows_share_their_winner():
    # The centre pixel wins all four 2x2 windows (stride 1) and collects every gradient.
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 1}
    out, cache = max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 5.0))
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dx = max_pool_backward_naive(dout, cache)
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(dx, expected)


@pytest.mark.task("ConvolutionalNetworks.ipynb")
def test_sliding_output_shape():
    assert sliding_output_shape((32, 30), (7, 3), stride=1, pad=3) == (32, 34)
    assert sliding_output_shape((31, 31), (3, 3), stride=2, pad=1) == (16, 16)


@pytest.mark.parametrize("forward", [conv_forward_naive, conv_forward_fast])
@pytest.mark.parametrize("x_shape, w_shape, conv_param, message", [
    ((1, 3, 6, 6), (2, 3, 3, 3), {"stride": 2, "pad": 0}, "does not tile"),
    ((1, 3, 4, 4), (2, 3, 7, 7), {"stride": 1, "pad": 1}, "does not fit"),
    ((1, 3, 5, 5), (2, 3, 3, 3), {"stride": 0, "pad": 1}, "stride"),
    ((1, 3, 5, 5), (2, 2, 3, 3), {"stride": 1, "pad": 1}, "disagree"),
])
@pytest.mark.task("conv_forward_naive")
def test_conv_rejects_invalid_geometry(forward, x_shape, w_shape, conv_param, message):
    x, w, b = np.zeros(x_shape), np.zeros(w_shape), np.zeros(w_shape[0])
    with pytest.raises(ValueError, match=message):
        forward(x, w, b, conv_param)


@pytest.mark.parametrize("forward", [max_pool_forward_naive, max_pool_forward_fast])
@pytest.mark.task("max_pool_forward_naive")
def test_pool_rejects_windows_that_do_not_tile(forward):
    with pytest.raises(ValueError, match=r"5x5"):
        forward(np.zeros((1, 1, 5, 5)), POOL_2X2)


# The sandwich layers of the given code: conv-ReLU keeps the 8x8 maps, conv-ReLU-pool halves them.
@pytest.mark.parametrize("forward, backward, pool_args, out_shape", [
    (conv_relu_forward, conv_relu_backward, (), (2, 3, 8, 8)),
    (conv_relu_pool_forward, conv_relu_pool_backward, (POOL_2X2,), (2, 3, 4, 4)),
], ids=["conv_relu", "conv_relu_pool"])
@pytest.mark.task("ConvolutionalNetworks.ipynb")
def test_conv_sandwich_gradient_check(forward, backward, pool_args, out_shape):
    rng = np.random.default_rng(231)
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((3, 3, 3, 3)), rng.standard_normal(3)
    conv_param = {"stride": 1, "pad": 1}
    out, cache = forward(x, w, b, conv_param, *pool_args)
    assert out.shape == out_shape
    dout = rng.standard_normal(out.shape)
    numeric = numerical_gradients(lambda x, w, b: forward(x, w, b, conv_param, *pool_args)[0], [x, w, b], dout)
    for analytic, num in zip(backward(dout, cache), numeric):
        assert rel_error(analytic, num) < 1e-7


@pytest.mark.task("spatial_batchnorm_backward")
def test_conv_bn_relu_gradient_check():
    rng = np.random.default_rng(231)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    conv_param = {"stride": 1, "pad": 1}

    def forward(x, w, b, gamma, beta):
        return conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, {"mode": "train"})[0]

    out, cache = conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, {"mode": "train"})
    dout = rng.standard_normal(out.shape)
    numeric = numerical_gradients(forward, [x, w, b, gamma, beta], dout)
    analytic = conv_bn_relu_backward(dout, cache)
    for name, grad, num in zip(["dx", "dw", "db", "dgamma", "dbeta"], analytic, numeric):
        # db is zero in theory: batch normalization removes any per-channel shift.
        tolerance = 1e-5 if name == "db" else 1e-6
        assert np.abs(grad - num).max() < tolerance * max(1.0, np.abs(num).max()), name
