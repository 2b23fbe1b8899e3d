"""ThreeLayerConvNet: shapes, initial loss, gradients and the ability to overfit."""
import numpy as np
import pytest

from cs231n.classifiers.cnn import ThreeLayerConvNet
from cs231n.gradient_check import model_gradient_errors
from cs231n.solver import Solver


@pytest.mark.task("ThreeLayerConvNet.__init__")
def test_parameter_shapes_and_dtype():
    model = ThreeLayerConvNet(input_dim=(3, 8, 6), num_filters=4, filter_size=3, hidden_dim=5)
    expected = {"W1": (4, 3, 3, 3), "b1": (4,), "W2": (4 * 4 * 3, 5), "b2": (5,),
                "W3": (5, 10), "b3": (10,)}
    assert {name: value.shape for name, value in model.params.items()} == expected
    assert all(value.dtype == np.float32 for value in model.params.values())
    scores = model.loss(np.random.randn(2, 3, 8, 6))
    assert scores.shape == (2, 10) and scores.dtype == np.float32


@pytest.mark.task("ThreeLayerConvNet.loss")
def test_initial_loss_is_log_num_classes_and_grows_with_reg():
    np.random.seed(231)
    model = ThreeLayerConvNet()
    X = np.random.randn(20, 3, 32, 32)
    y = np.random.randint(10, size=20)
    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(np.log(10), abs=1e-3)
    assert set(grads) == set(model.params)
    model.reg = 0.5
    regularized, _ = model.loss(X, y)
    weights_squared = sum(np.sum(model.params[name].astype(np.float64) ** 2)
                          for name in ("W1", "W2", "W3"))
    assert regularized - loss == pytest.approx(0.25 * weights_squared, rel=1e-3)


@pytest.mark.parametrize("reg", [0.0, 0.3])
@pytest.mark.task("ThreeLayerConvNet.loss")
def test_gradient_check(reg):
    rng = np.random.default_rng(231)
    np.random.seed(231)
    X = rng.standard_normal((2, 3, 8, 8))
    y = rng.integers(10, size=2)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=3, filter_size=3, hidden_dim=7,
                              weight_scale=0.5, reg=reg, dtype=np.float64)
    for name, error in model_gradient_errors(model, X, y, h=1e-6).items():
        assert error < 1e-5, name


@pytest.mark.task("ThreeLayerConvNet.loss")
def test_overfits_a_tiny_dataset():
    rng = np.random.default_rng(0)
    np.random.seed(0)
    data = {
        "X_train": rng.standard_normal((20, 3, 8, 8)),
        "y_train": rng.integers(10, size=20),
        "X_val": rng.standard_normal((10, 3, 8, 8)),
        "y_val": rng.integers(10, size=10),
    }
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=8, filter_size=3,
                              hidden_dim=50, weight_scale=1e-1)
    solver = Solver(model, data, num_epochs=20, batch_size=10, update_rule="adam",
                    optim_config={"learning_rate": 1e-2}, verbose=False)
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert solver.loss_history[-1] < 0.1 * solver.loss_history[0]
