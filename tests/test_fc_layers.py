"""Affine, ReLU, loss layers and the affine-ReLU sandwich, checked against numeric gradients."""
import numpy as np
import pytest

from cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from cs231n.layer_utils import affine_relu_backward, affine_relu_forward
from cs231n.layers import (
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)

# (input shape, output dim): batch of one, flat inputs, and non-square image-like inputs.
AFFINE_SHAPES = [((1, 7), 3), ((4, 5), 5), ((3, 2, 3), 6), ((2, 3, 4, 5), 2)]

LOSSES = [pytest.param(softmax_loss, marks=pytest.mark.task("softmax_loss")),
          pytest.param(svm_loss, marks=pytest.mark.task("svm_loss"))]


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def affine_inputs(rng, input_shape, output_dim):
    x = rng.standard_normal(input_shape)
    w = rng.standard_normal((int(np.prod(input_shape[1:])), output_dim))
    b = rng.standard_normal(output_dim)
    dout = rng.standard_normal((input_shape[0], output_dim))
    return x, w, b, dout


@pytest.mark.task("affine_forward")
def test_affine_forward_matches_reference_values():
    num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
    input_size = num_inputs * np.prod(input_shape)
    weight_size = output_dim * np.prod(input_shape)
    x = np.linspace(-0.1, 0.5, num=input_size).reshape(num_inputs, *input_shape)
    w = np.linspace(-0.2, 0.3, num=weight_size).reshape(np.prod(input_shape), output_dim)
    b = np.linspace(-0.3, 0.1, num=output_dim)

    out, _ = affine_forward(x, w, b)

    expected = np.array([[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]])
    assert rel_error(out, expected) < 1e-8


@pytest.mark.parametrize("input_shape, output_dim", AFFINE_SHAPES)
@pytest.mark.task("affine_backward")
def test_affine_backward_matches_numeric_gradient(rng, input_shape, output_dim):
    x, w, b, dout = affine_inputs(rng, input_shape, output_dim)
    dx_num = eval_numerical_gradient_array(lambda x: affine_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_forward(x, w, b)[0], b, dout)

    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)

    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    assert rel_error(dx_num, dx) < 1e-7
    assert rel_error(dw_num, dw) < 1e-7
    assert rel_error(db_num, db) < 1e-7


@pytest.mark.task("affine_forward")
def test_affine_forward_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        affine_forward(np.zeros((2, 3, 4)), np.zeros((10, 5)), np.zeros(5))
    with pytest.raises(ValueError, match="bias"):
        affine_forward(np.zeros((2, 12)), np.zeros((12, 5)), np.zeros(4))


@pytest.mark.task("relu_forward")
def test_relu_forward_matches_reference_values():
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    expected = np.array(
        [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.04545455, 0.13636364], [0.22727273, 0.31818182, 0.40909091, 0.5]]
    )
    assert rel_error(out, expected) < 1e-7


@pytest.mark.parametrize("shape", [(1, 4), (10, 10), (3, 2, 5)])
@pytest.mark.task("relu_backward")
def test_relu_backward_matches_numeric_gradient(rng, shape):
    # Keep inputs away from the kink at 0, where the numeric gradient is ill-defined.
    x = rng.standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5
    dout = rng.standard_normal(shape)
    dx_num = eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout)
    _, cache = relu_forward(x)
    dx = relu_backward(dout, cache)
    assert rel_error(dx_num, dx) < 1e-10


@pytest.mark.parametrize("input_shape, output_dim", AFFINE_SHAPES)
@pytest.mark.task("relu_backward")
def test_affine_relu_sandwich_matches_numeric_gradient(rng, input_shape, output_dim):
    x, w, b, dout = affine_inputs(rng, input_shape, output_dim)
    _, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)

    dx_num = eval_numerical_gradient_array(lambda x: affine_relu_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: affine_relu_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: affine_relu_forward(x, w, b)[0], b, dout)
    assert rel_error(dx_num, dx) < 1e-7
    assert rel_error(dw_num, dw) < 1e-7
    assert rel_error(db_num, db) < 1e-7


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_loss_gradients_match_numeric_gradient(rng, loss_fn):
    x = rng.standard_normal((12, 6))
    y = rng.integers(6, size=12)
    dx_num = eval_numerical_gradient(lambda x: loss_fn(x, y)[0], x, verbose=False)
    _, dx = loss_fn(x, y)
    assert rel_error(dx_num, dx) < 1e-7


@pytest.mark.task("softmax_loss")
def test_softmax_initial_loss_is_log_num_classes(rng):
    x = 0.001 * rng.standard_normal((50, 10))
    y = rng.integers(10, size=50)
    loss, _ = softmax_loss(x, y)
    assert loss == pytest.approx(np.log(10), abs=1e-2)


@pytest.mark.task("softmax_loss")
def test_softmax_is_finite_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]])
    y = np.array([1, 2, 0])
    loss, dx = softmax_loss(x, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    # Example 0 puts the label 2e4 below the winner; the others are (nearly) right.
    assert loss == pytest.approx((2e4 + np.log(2)) / 3)
    assert np.allclose(dx[0], np.array([1.0, -1.0, 0.0]) / 3)


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_losses_reject_bad_labels(loss_fn):
    with pytest.raises(ValueError, match="labels"):
        loss_fn(np.zeros((3, 4)), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels"):
        loss_fn(np.zeros((2, 4)), np.array([0, 4]))
