"""The input checks of the student files' given code, which run before the student's code:
clear errors instead of silent damage."""
import numpy as np
import pytest

from cs231n.layers import (batchnorm_forward, conv_forward_naive, dropout_forward, layernorm_forward,
                           max_pool_forward_naive, softmax_loss, spatial_batchnorm_forward,
                           spatial_groupnorm_forward)


def test_batchnorm_refuses_an_empty_batch_and_keeps_its_running_averages():
    bn_param = {"mode": "train", "running_mean": np.ones(3), "running_var": np.ones(3)}
    with pytest.raises(ValueError, match="at least one example"):
        batchnorm_forward(np.zeros((0, 3)), np.ones(3), np.zeros(3), bn_param)
    assert np.array_equal(bn_param["running_mean"], np.ones(3))


def test_dropout_refuses_integer_input_it_would_truncate():
    with pytest.raises(ValueError, match="floating-point"):
        dropout_forward(np.arange(12).reshape(3, 4), {"mode": "train", "p": 0.5, "seed": 0})


def test_dropout_seed_leaves_the_callers_random_state_alone():
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    dropout_forward(np.ones((5, 5)), {"mode": "train", "p": 0.5, "seed": 123})
    assert np.random.rand() == expected


def test_non_finite_scores_warn_and_give_a_non_finite_loss():
    with pytest.warns(RuntimeWarning, match="diverged"), np.errstate(invalid="ignore"):
        loss, _ = softmax_loss(np.array([[np.inf, 0.0], [1.0, 2.0]]), np.array([1, 0]))
    assert not np.isfinite(loss)


@pytest.mark.parametrize("call, message", [
    pytest.param(lambda: layernorm_forward(np.ones((2, 3)), np.ones(4), np.zeros(4), {}),
                 r"must both be \(3,\)", id="layernorm_forward"),
    pytest.param(lambda: spatial_batchnorm_forward(np.ones((2, 3, 4, 4)), np.ones(2), np.zeros(2), {"mode": "train"}),
                 r"must both be \(3,\)", id="spatial_batchnorm_forward"),
    pytest.param(lambda: spatial_groupnorm_forward(np.ones((2, 6, 4, 4)), np.ones((1, 6, 1, 1)),
                                                   np.zeros((1, 6, 1, 1)), 4, {}),
                 "do not split into G=4", id="spatial_groupnorm_forward"),
    pytest.param(lambda: conv_forward_naive(np.ones((1, 3, 5, 5)), np.ones((2, 3, 2, 2)), np.zeros(2),
                                            {"stride": 2, "pad": 0}),
                 "does not tile", id="conv_forward_naive"),
    pytest.param(lambda: max_pool_forward_naive(np.ones((1, 1, 5, 5)),
                                                {"pool_height": 2, "pool_width": 2, "stride": 2}),
                 "does not tile", id="max_pool_forward_naive"),
])
def test_bad_shapes_and_geometry_are_named_before_the_task_runs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
