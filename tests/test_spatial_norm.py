"""Spatial batch normalization and group normalization for (N, C, H, W) feature maps."""
import numpy as np
import pytest

from cs231n.gradient_check import numerical_gradients, rel_error
from cs231n.layers import (
    batchnorm_forward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

SHAPES = [(2, 3, 4, 5), (3, 4, 2, 3)]


def feature_maps(shape, seed=231):
    rng = np.random.default_rng(seed)
    return 5 * rng.standard_normal(shape) + 12, rng.standard_normal(shape)


def check_gradients(forward, backward, x, gamma, beta, dout):
    """Assert that backward matches numerical gradients for x, gamma and beta."""
    dx_num, dgamma_num, dbeta_num = numerical_gradients(
        lambda *inputs: forward(*inputs)[0], [x, gamma, beta], dout)
    _, cache = forward(x, gamma, beta)
    dx, dgamma, dbeta = backward(dout, cache)
    assert dgamma.shape == gamma.shape and dbeta.shape == beta.shape
    assert rel_error(dx_num, dx) < 1e-6
    assert rel_error(dgamma_num, dgamma) < 1e-9
    assert rel_error(dbeta_num, dbeta) < 1e-9


def test_spatial_batchnorm_channel_statistics():
    x, _ = feature_maps((4, 3, 5, 6))
    gamma, beta = np.array([3.0, 4.0, 5.0]), np.array([6.0, 7.0, 8.0])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-5)


def test_spatial_batchnorm_equals_batchnorm_over_positions():
    x, _ = feature_maps((2, 3, 4, 5))
    gamma, beta = np.array([0.5, 1.0, 2.0]), np.array([1.0, 0.0, -1.0])
    spatial_param, flat_param = {"mode": "train"}, {"mode": "train"}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, spatial_param)
    rows = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    expected, _ = batchnorm_forward(rows, gamma, beta, flat_param)
    np.testing.assert_allclose(out, expected.reshape(2, 4, 5, 3).transpose(0, 3, 1, 2), rtol=1e-13)
    np.testing.assert_allclose(spatial_param["running_mean"], 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(spatial_param["running_var"], 0.1 * x.var(axis=(0, 2, 3)), rtol=1e-12)


def test_spatial_batchnorm_test_mode_after_warm_up():
    rng = np.random.default_rng(0)
    bn_param = {"mode": "train"}
    gamma, beta = np.ones(4), np.zeros(4)
    for _ in range(50):
        spatial_batchnorm_forward(2.3 * rng.standard_normal((10, 4, 11, 12)) + 13, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    out, _ = spatial_batchnorm_forward(2.3 * rng.standard_normal((10, 4, 11, 12)) + 13, gamma, beta, bn_param)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=0.1)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=0.1)


@pytest.mark.parametrize("shape", SHAPES)
def test_spatial_batchnorm_gradients(shape):
    x, dout = feature_maps(shape)
    C = shape[1]
    rng = np.random.default_rng(1)
    bn_param = {"mode": "train"}
    check_gradients(
        lambda v, g, b: spatial_batchnorm_forward(v, g, b, bn_param),
        spatial_batchnorm_backward,
        x, rng.standard_normal(C), rng.standard_normal(C), dout,
    )


@pytest.mark.parametrize("G", [1, 2, 3, 6])
def test_groupnorm_group_statistics(G):
    N, C, H, W = 2, 6, 4, 5
    x, _ = feature_maps((N, C, H, W))
    out, _ = spatial_groupnorm_forward(x, np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1)), G, {})
    groups = out.reshape(N * G, -1)
    np.testing.assert_allclose(groups.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(groups.std(axis=1), 1, rtol=1e-5)


def test_groupnorm_with_one_group_equals_layernorm():
    N, C, H, W = 3, 4, 2, 3
    x, _ = feature_maps((N, C, H, W))
    rng = np.random.default_rng(2)
    gamma, beta = rng.standard_normal((1, C, 1, 1)), rng.standard_normal((1, C, 1, 1))
    out, _ = spatial_groupnorm_forward(x, gamma, beta, 1, {})
    expected, _ = layernorm_forward(
        x.reshape(N, -1), np.repeat(gamma.ravel(), H * W), np.repeat(beta.ravel(), H * W), {}
    )
    np.testing.assert_allclose(out, expected.reshape(x.shape), rtol=1e-12)


@pytest.mark.parametrize("shape, G", [((2, 6, 4, 5), 2), ((3, 4, 2, 3), 4), ((2, 4, 3, 3), 1)])
def test_groupnorm_gradients(shape, G):
    x, dout = feature_maps(shape, seed=3)
    C = shape[1]
    rng = np.random.default_rng(4)
    check_gradients(
        lambda v, g, b: spatial_groupnorm_forward(v, g, b, G, {}),
        spatial_groupnorm_backward,
        x, rng.standard_normal((1, C, 1, 1)), rng.standard_normal((1, C, 1, 1)), dout,
    )


@pytest.mark.parametrize("G", [0, 4, -2, 2.5])
def test_groupnorm_rejects_invalid_group_count(G):
    x = np.ones((2, 6, 3, 3))
    with pytest.raises(ValueError, match="G="):
        spatial_groupnorm_forward(x, np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1)), G, {})


def test_spatial_layers_reject_flat_input():
    with pytest.raises(ValueError):
        spatial_batchnorm_forward(np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError):
        spatial_groupnorm_forward(np.ones((4, 3)), np.ones((1, 3, 1, 1)), np.zeros((1, 3, 1, 1)), 1, {})


def test_groupnorm_rejects_per_channel_vectors():
    with pytest.raises(ValueError, match=r"\(1, 6, 1, 1\)"):
        spatial_groupnorm_forward(np.ones((2, 6, 3, 3)), np.ones(6), np.zeros(6), 2, {})
