"""Batch and layer normalization: statistics, running averages and gradient checks."""
import numpy as np
import pytest

from cs231n.gradient_check import model_gradient_errors, numerical_gradients, rel_error
from cs231n.layers import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
)

SHAPES = [(4, 5), (10, 3), (3, 8)]


def random_problem(shape, seed=231):
    """Shifted, scaled inputs with random gamma, beta and upstream gradient."""
    rng = np.random.default_rng(seed)
    N, D = shape
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma = rng.standard_normal(D)
    beta = rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    return x, gamma, beta, dout


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("backward", [
    pytest.param(batchnorm_backward, marks=pytest.mark.task("batchnorm_backward")),
    pytest.param(batchnorm_backward_alt, marks=pytest.mark.task("batchnorm_backward_alt")),
])
def test_batchnorm_gradients(shape, backward):
    x, gamma, beta, dout = random_problem(shape)
    bn_param = {"mode": "train"}
    expected = numerical_gradients(lambda *inputs: batchnorm_forward(*inputs, bn_param)[0],
                                   [x, gamma, beta], dout)
    _, cache = batchnorm_forward(x, gamma, beta, bn_param)
    for name, analytic, numeric in zip(("dx", "dgamma", "dbeta"), backward(dout, cache), expected):
        assert rel_error(numeric, analytic) < 1e-7, name


@pytest.mark.parametrize("shape", SHAPES + [(100, 500)])
@pytest.mark.task("batchnorm_backward_alt")
def test_batchnorm_alt_matches_staged_backward(shape):
    x, gamma, beta, dout = random_problem(shape, seed=7)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    staged = batchnorm_backward(dout, cache)
    closed_form = batchnorm_backward_alt(dout, cache)
    for analytic, alternative in zip(staged, closed_form):
        assert alternative.shape == analytic.shape
        assert rel_error(analytic, alternative) < 1e-10


@pytest.mark.task("batchnorm_forward")
def test_batchnorm_train_output_has_beta_mean_and_gamma_std():
    rng = np.random.default_rng(0)
    x = 30 * rng.standard_normal((200, 3)) + np.array([-2.0, 13.0, 40.0])
    gamma = np.array([1.0, 2.0, 3.0])
    beta = np.array([11.0, 12.0, 13.0])
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-6)


# Running averages after each of three training batches x = 3 * RandomState(1).randn(20, 4) + 2
# with momentum 0.8, starting from zero (computed once with the solution).
EXPECTED_RUNNING_MEANS = np.array([
    [0.44472812082380625, 0.3134579393054727, 0.5649136784640607, 0.39571752947875505],
    [0.6377109495481794, 0.7383901523015155, 1.0670826506676332, 0.7056482622663349],
    [1.0750051232302051, 1.033414494338842, 1.3166794197156844, 1.02522704645315],
])
EXPECTED_RUNNING_VARS = np.array([
    [1.3584555815760901, 1.494577972870116, 1.2906878954191834, 2.268896765535993],
    [1.9793165182942665, 2.6330868081713588, 1.9793017052524786, 3.341913002551072],
    [4.185687681732554, 4.32467626443543, 3.110566684939865, 4.113171990102283],
])


@pytest.mark.task("batchnorm_forward")
def test_running_averages_follow_momentum_rule():
    rng = np.random.RandomState(1)
    D, momentum = 4, 0.8
    gamma, beta = np.ones(D), np.zeros(D)
    bn_param = {"mode": "train", "momentum": momentum}
    for expected_mean, expected_var in zip(EXPECTED_RUNNING_MEANS, EXPECTED_RUNNING_VARS):
        x = 3 * rng.randn(20, D) + 2
        batchnorm_forward(x, gamma, beta, bn_param)
        np.testing.assert_allclose(bn_param["running_mean"], expected_mean, rtol=1e-12)
        np.testing.assert_allclose(bn_param["running_var"], expected_var, rtol=1e-12)


@pytest.mark.task("batchnorm_forward")
def test_default_momentum_and_running_stats_dtype():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    bn_param = {"mode": "train"}
    batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn_param)
    assert bn_param["running_mean"].dtype == np.float32
    assert bn_param["running_var"].dtype == np.float32
    np.testing.assert_allclose(bn_param["running_mean"], [0.45, 0.55, 0.65], rtol=1e-6)
    np.testing.assert_allclose(bn_param["running_var"], [1.125, 1.125, 1.125], rtol=1e-6)


# Test-mode output for x = RandomState(2).randn(6, 3) and the parameters below.
EXPECTED_TEST_MODE_OUT = np.array([
    [-4.5832163707829077e-01, -1.1297705510264378e-01, -1.2994245814851579e-01],
    [5.7006415063673421e-01, -3.5855787040735296e+00, 1.1619251152974017e+00],
    [1.4405285242085955e-03, -2.4898314436285229e+00, 9.4615137887757639e-01],
    [-7.0441576099586045e-01, 1.1018574229822518e+00, 4.2896313242833743e+00],
    [-2.2920165508432683e-01, -2.2352334278401380e+00, 2.5399774474762342e+00],
    [-5.4801135276494151e-01, -3.8741502193934796e-02, 3.1746522635807892e+00],
])


@pytest.mark.task("batchnorm_forward")
def test_test_mode_uses_running_averages_and_leaves_them_alone():
    x = np.random.RandomState(2).randn(6, 3)
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    running_mean, running_var = np.array([0.5, -0.5, 1.0]), np.array([4.0, 1.0, 0.25])
    bn_param = {
        "mode": "test", "eps": 1e-3,
        "running_mean": running_mean.copy(), "running_var": running_var.copy(),
    }
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, EXPECTED_TEST_MODE_OUT, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(bn_param["running_mean"], running_mean)
    np.testing.assert_array_equal(bn_param["running_var"], running_var)


@pytest.mark.task("batchnorm_forward")
def test_warmed_up_test_mode_normalizes_fresh_data():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((10, 3))
    bn_param = {"mode": "train"}
    gamma, beta = np.ones(3), np.zeros(3)
    for _ in range(60):
        batchnorm_forward(rng.standard_normal((200, 10)) @ W + 5, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    out, _ = batchnorm_forward(rng.standard_normal((200, 10)) @ W + 5, gamma, beta, bn_param)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=0.25)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=0.15)


@pytest.mark.parametrize(
    "x_shape, gamma_shape, mode",
    [((4, 3, 2), (3,), "train"), ((4, 3), (4,), "train"), ((4, 3), (3,), "eval")],
)
@pytest.mark.task("batchnorm_forward")
def test_batchnorm_rejects_bad_input(x_shape, gamma_shape, mode):
    with pytest.raises(ValueError):
        batchnorm_forward(np.ones(x_shape), np.ones(gamma_shape), np.zeros(gamma_shape), {"mode": mode})


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.task("layernorm_backward")
def test_layernorm_gradients(shape):
    x, gamma, beta, dout = random_problem(shape, seed=11)
    expected = numerical_gradients(lambda *inputs: layernorm_forward(*inputs, {})[0],
                                   [x, gamma, beta], dout)
    _, cache = layernorm_forward(x, gamma, beta, {})
    for name, analytic, numeric in zip(("dx", "dgamma", "dbeta"), layernorm_backward(dout, cache), expected):
        assert rel_error(numeric, analytic) < 1e-7, name


@pytest.mark.task("layernorm_forward")
def test_layernorm_normalizes_each_sample():
    rng = np.random.default_rng(4)
    x = 20 * rng.standard_normal((4, 30)) + rng.uniform(-50, 50, size=(4, 1))
    out, _ = layernorm_forward(x, 3 * np.ones(30), 5 * np.ones(30), {})
    np.testing.assert_allclose(out.mean(axis=1), 5, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=1), 3, rtol=1e-6)


@pytest.mark.task("layernorm_forward")
def test_layernorm_output_does_not_depend_on_batch():
    x, gamma, beta, _ = random_problem((8, 6), seed=5)
    full, _ = layernorm_forward(x, gamma, beta, {"mode": "train"})
    for size in (1, 3):
        part, _ = layernorm_forward(x[:size], gamma, beta, {"mode": "train"})
        np.testing.assert_allclose(part, full[:size], rtol=1e-13)
    test_mode, _ = layernorm_forward(x, gamma, beta, {"mode": "test"})
    np.testing.assert_array_equal(test_mode, full)


# The network's share is a FullyConnectedNet task; it is checked after the layer it wires in.
@pytest.mark.parametrize("normalization", [
    pytest.param("batchnorm", marks=pytest.mark.task("batchnorm_backward")),
    pytest.param("layernorm", marks=pytest.mark.task("layernorm_backward")),
])
@pytest.mark.parametrize("reg", [0.0, 3.14])
def test_fully_connected_net_with_normalization_gradients(normalization, reg):
    # Imported here so that a broken fc_net fails only the tests that use it.
    from cs231n.classifiers.fc_net import FullyConnectedNet

    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    model = FullyConnectedNet(
        [H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2,
        dtype=np.float64, normalization=normalization,
    )
    loss, grads = model.loss(X, y)
    assert np.isfinite(loss)
    assert {"gamma1", "beta1", "gamma2", "beta2"} <= set(grads)
    assert "gamma3" not in model.params
    for name, error in model_gradient_errors(model, X, y).items():
        assert error < 1e-3, name
