"""Layer and update-rule checks whose expected values are recomputed by a formula or by another
task function, moved here from the release's tests/.

Each of these rebuilds (part of) what a student task computes: the dropout mask from the
generator the task draws from, batch normalization's running averages and test-mode output
from their formulas, spatial batch normalization through batchnorm_forward on reshaped input,
group normalization with one group through layernorm_forward, one convolution output as a
direct sum, and AdaGrad's cache as the sum of squared gradients. Shipped, they would hand the
student the answer, so they live with the staff's tests; tests/ checks the same things against
fixed values computed once with the solution.
"""
import numpy as np
import pytest

from cs231n.layers import (
    batchnorm_forward,
    conv_forward_naive,
    dropout_forward,
    layernorm_forward,
    spatial_batchnorm_forward,
    spatial_groupnorm_forward,
)
from cs231n.optim import adagrad


# ------------------------------------------------------------------ from tests/test_dropout.py

def test_seeded_mask_matches_the_reference_generator():
    x = np.random.default_rng(231).standard_normal((500, 500)) + 10
    # The original assignment's printed values come from masks drawn as np.random.seed(s); np.random.rand(...).
    out, _ = dropout_forward(x, {"mode": "train", "p": 0.3, "seed": 123})
    kept = np.random.RandomState(123).rand(*x.shape) < 0.3
    np.testing.assert_array_equal(out, np.where(kept, x / 0.3, 0))


# ---------------------------------------------------------------- from tests/test_batchnorm.py

def test_running_averages_follow_momentum_rule():
    rng = np.random.default_rng(1)
    D, momentum = 4, 0.8
    gamma, beta = np.ones(D), np.zeros(D)
    bn_param = {"mode": "train", "momentum": momentum}
    expected_mean, expected_var = np.zeros(D), np.zeros(D)
    for _ in range(3):
        x = 3 * rng.standard_normal((20, D)) + 2
        batchnorm_forward(x, gamma, beta, bn_param)
        expected_mean = momentum * expected_mean + (1 - momentum) * x.mean(axis=0)
        expected_var = momentum * expected_var + (1 - momentum) * x.var(axis=0)
        np.testing.assert_allclose(bn_param["running_mean"], expected_mean, rtol=1e-12)
        np.testing.assert_allclose(bn_param["running_var"], expected_var, rtol=1e-12)


def test_default_momentum_running_mean():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    bn_param = {"mode": "train"}
    batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn_param)
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-6)


def test_test_mode_uses_running_averages():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    running_mean, running_var = np.array([0.5, -0.5, 1.0]), np.array([4.0, 1.0, 0.25])
    eps = 1e-3
    bn_param = {
        "mode": "test", "eps": eps,
        "running_mean": running_mean.copy(), "running_var": running_var.copy(),
    }
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-12)


# ------------------------------------------------------------- from tests/test_spatial_norm.py

def feature_maps(shape, seed=231):
    rng = np.random.default_rng(seed)
    return 5 * rng.standard_normal(shape) + 12, rng.standard_normal(shape)


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


# ------------------------------------------------------------- from tests/test_conv_layers.py

def test_conv_forward_naive_equals_direct_sum():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 0})
    assert out.shape == (2, 3, 3, 3)
    expected = b[2] + np.sum(x[1, :, 1:4, 2:4] * w[2])
    assert out[1, 2, 1, 2] == pytest.approx(expected, rel=1e-12)


# ------------------------------------------------------------------ from tests/test_optim.py

def test_adagrad_accumulates_squared_gradients():
    w = np.linspace(-0.4, 0.6, num=20).reshape(4, 5)
    dw = np.linspace(-0.6, 0.4, num=20).reshape(4, 5)
    config = {"learning_rate": 0.1}
    first_w, config = adagrad(w, dw, config)
    # On the first step sqrt(cache) = |dw|, so every weight moves by lr * sign(dw).
    nonzero = np.abs(dw) > 1e-6
    assert np.allclose((w - first_w)[nonzero], 0.1 * np.sign(dw)[nonzero])
    assert np.allclose(config["cache"], dw**2)

    second_w, config = adagrad(first_w, dw, config)
    assert np.allclose(config["cache"], 2 * dw**2)
    # The same gradient again now moves weights by lr / sqrt(2): steps only shrink.
    assert np.allclose((first_w - second_w)[nonzero], 0.1 / np.sqrt(2) * np.sign(dw)[nonzero])
