"""Spatial batch normalization and group normalization for (N, C, H, W) feature maps."""
import numpy as np
import pytest

from cs231n.gradient_check import numerical_gradients, rel_error
from cs231n.layers import (
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


@pytest.mark.task("spatial_batchnorm_forward")
def test_spatial_batchnorm_channel_statistics():
    x, _ = feature_maps((4, 3, 5, 6))
    gamma, beta = np.array([3.0, 4.0, 5.0]), np.array([6.0, 7.0, 8.0])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-5)


# Output and running averages for x = 5 * RandomState(231).randn(2, 3, 2, 3) + 12 (computed
# once with the solution).
EXPECTED_SPATIAL_BATCHNORM_OUT = np.array([
    [[[1.2053810339386106, 1.795727233217812, -0.12334694382261269],
      [0.5260362992165234, 0.9083447571490868, 0.4861300833583755]],
     [[-0.12531619897253493, 2.480335196684358, -1.777847542287757],
      [-0.4187913877393659, -0.37464382536242147, 0.450737541044516]],
     [[-4.369598721111111, 1.1417366054307387, 2.3032178617009147],
      [-0.1749859031706149, -2.246928154839466, 0.9487695826947731]]],
    [[[1.0284280092465525, 1.5509399576777807, 0.9745879778611504],
      [1.1114034606074314, 1.0397357577079374, 1.4966323738413523]],
     [[0.3690663821382686, -0.9640099762832428, 0.22418232892434575],
      [-0.7820613254065164, 0.4174039396568337, 0.5009448676035225]],
     [[-0.9462212295716287, 0.556480883048948, -3.9328119381987996],
      [-0.8910555760420196, -2.976222819432815, -1.4123805905089082]]],
])
EXPECTED_SPATIAL_RUNNING_MEAN = np.array([1.2386477072641542, 1.173472236886387, 1.3283866237129873])
EXPECTED_SPATIAL_RUNNING_VAR = np.array([1.719375644724716, 1.4899057436719765, 1.0542772994991907])


@pytest.mark.task("spatial_batchnorm_forward")
def test_spatial_batchnorm_matches_reference_values():
    x = 5 * np.random.RandomState(231).randn(2, 3, 2, 3) + 12
    gamma, beta = np.array([0.5, 1.0, 2.0]), np.array([1.0, 0.0, -1.0])
    bn_param = {"mode": "train"}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, EXPECTED_SPATIAL_BATCHNORM_OUT, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bn_param["running_mean"], EXPECTED_SPATIAL_RUNNING_MEAN, rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"], EXPECTED_SPATIAL_RUNNING_VAR, rtol=1e-12)


@pytest.mark.task("spatial_batchnorm_forward")
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
@pytest.mark.task("spatial_batchnorm_backward")
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
@pytest.mark.task("spatial_groupnorm_forward")
def test_groupnorm_group_statistics(G):
    N, C, H, W = 2, 6, 4, 5
    x, _ = feature_maps((N, C, H, W))
    out, _ = spatial_groupnorm_forward(x, np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1)), G, {})
    groups = out.reshape(N * G, -1)
    np.testing.assert_allclose(groups.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(groups.std(axis=1), 1, rtol=1e-5)


# Group normalization of x = 5 * RandomState(231).randn(2, 4, 1, 3) + 12 with gamma, beta drawn
# (in that order) from RandomState(2).randn(1, 4, 1, 1), for one group (every channel of an
# example together, as layer normalization) and for two (computed once with the solution).
EXPECTED_GROUPNORM_OUT = {
    1: np.array([
        [[[-2.0249289756715205, -2.431991231803403, -1.1087292795043686]],
         [[-0.8097584165647878, -0.8453491231858025, -0.8060433786379712]],
         [[0.5261122429532248, -3.760278340858127, 3.2445859425609753]],
         [[-1.6338246641157141, -1.5780603200603471, -0.5354919875165219]]],
        [[[-0.8936108697872984, -2.1635944470047086, -2.4312359591451997]],
         [[-0.8507586537510122, -0.786299061097713, -0.8857194837656754]],
         [[1.6165729727616895, -1.5359821957695345, 1.9414146720329422]],
         [[-1.7160259775606694, -2.048046090410266, 0.06865166760153452]]],
    ]),
    2: np.array([
        [[[-2.073039988340824, -2.4799318491732056, -1.1572238112036966]],
         [[-0.8162803982165785, -0.8518562066518176, -0.8125669153958683]],
         [[0.7771314362257191, -3.569711454284068, 3.5339446204480964]],
         [[-1.8317969684327808, -1.775246162396463, -0.7179741626621007]]],
        [[[-1.0622723887216163, -2.0773149026661573, -2.291229096670333]],
         [[-0.8473332747160883, -0.7958135321395707, -0.875275942183824]],
         [[2.080476072186647, -2.715942358826071, 2.5747027011442727]],
         [[-1.8717881585183491, -2.3769363014073686, 0.843488908198458]]],
    ]),
}


@pytest.mark.parametrize("G", sorted(EXPECTED_GROUPNORM_OUT))
@pytest.mark.task("spatial_groupnorm_forward")
def test_groupnorm_matches_reference_values(G):
    x = 5 * np.random.RandomState(231).randn(2, 4, 1, 3) + 12
    rng = np.random.RandomState(2)
    gamma, beta = rng.randn(1, 4, 1, 1), rng.randn(1, 4, 1, 1)
    out, _ = spatial_groupnorm_forward(x, gamma, beta, G, {})
    np.testing.assert_allclose(out, EXPECTED_GROUPNORM_OUT[G], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape, G", [((2, 6, 4, 5), 2), ((3, 4, 2, 3), 4), ((2, 4, 3, 3), 1)])
@pytest.mark.task("spatial_groupnorm_backward")
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
@pytest.mark.task("spatial_groupnorm_forward")
def test_groupnorm_rejects_invalid_group_count(G):
    x = np.ones((2, 6, 3, 3))
    with pytest.raises(ValueError, match="G="):
        spatial_groupnorm_forward(x, np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1)), G, {})


@pytest.mark.task("spatial_batchnorm_forward")
def test_spatial_layers_reject_flat_input():
    with pytest.raises(ValueError):
        spatial_batchnorm_forward(np.ones((4, 3)), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError):
        spatial_groupnorm_forward(np.ones((4, 3)), np.ones((1, 3, 1, 1)), np.zeros((1, 3, 1, 1)), 1, {})


@pytest.mark.task("spatial_groupnorm_forward")
def test_groupnorm_rejects_per_channel_vectors():
    with pytest.raises(ValueError, match=r"\(1, 6, 1, 1\)"):
        spatial_groupnorm_forward(np.ones((2, 6, 3, 3)), np.ones(6), np.zeros(6), 2, {})
