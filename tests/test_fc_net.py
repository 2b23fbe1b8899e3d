"""FullyConnectedNet and TwoLayerNet: initialization, losses and gradients."""
import numpy as np
import pytest

from cs231n.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n.gradient_check import model_gradient_errors


@pytest.mark.parametrize("hidden_dims", [[7], [10, 6], [8, 6, 5], [6, 5, 7, 4]])
@pytest.mark.parametrize("reg", [0.0, 3.14])
@pytest.mark.task("FullyConnectedNet.loss")
def test_fully_connected_net_gradients(hidden_dims, reg):
    np.random.seed(231)
    N, D, C = 3, 9, 4
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=N)
    model = FullyConnectedNet(hidden_dims, input_dim=D, num_classes=C, reg=reg, weight_scale=5e-1, dtype=np.float64)

    errors = model_gradient_errors(model, X, y)

    expected_names = {f"{kind}{layer}" for kind in "Wb" for layer in range(1, len(hidden_dims) + 2)}
    assert set(errors) == expected_names
    # A hidden unit sitting right at the ReLU kink can spoil a numeric gradient; the
    # the original assignment accepts up to ~1e-5 there, so allow that and require 1e-6 for most.
    assert max(errors.values()) < 1e-5, errors
    assert sum(error > 1e-6 for error in errors.values()) <= 1, errors


@pytest.mark.task("FullyConnectedNet.loss")
def test_seed_initial_losses_and_parameter_layout():
    # Same data, random seeds and initialization as the original notebook check.
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    losses = []
    for reg in [0, 3.14]:
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2, dtype=np.float64)
        losses.append(model.loss(X, y)[0])
    assert losses[0] == pytest.approx(2.300479089768492, abs=1e-10)
    assert losses[1] == pytest.approx(7.052114776533016, abs=1e-10)

    assert model.num_layers == 3
    assert [model.params[f"W{i}"].shape for i in (1, 2, 3)] == [(D, H1), (H1, H2), (H2, C)]
    assert all(np.all(model.params[f"b{i}"] == 0) for i in (1, 2, 3))
    assert model.bn_params == [] and not model.use_dropout


@pytest.mark.task("FullyConnectedNet.loss")
def test_initial_loss_is_near_log_num_classes():
    np.random.seed(0)
    model = FullyConnectedNet([50, 40], input_dim=30, num_classes=10, weight_scale=1e-3)
    X = np.random.randn(200, 30)
    y = np.random.randint(10, size=200)
    loss, _ = model.loss(X, y)
    assert loss == pytest.approx(np.log(10), abs=1e-3)


@pytest.mark.task("FullyConnectedNet.loss")
def test_regularization_only_touches_weights():
    np.random.seed(1)
    X = np.random.randn(4, 6)
    y = np.array([0, 1, 2, 1])
    model = FullyConnectedNet([5], input_dim=6, num_classes=3, weight_scale=0.3, dtype=np.float64)
    loss_plain, grads_plain = model.loss(X, y)
    model.reg = 0.5
    loss_reg, grads_reg = model.loss(X, y)

    weight_penalty = 0.25 * sum(np.sum(model.params[f"W{i}"] ** 2) for i in (1, 2))
    assert loss_reg - loss_plain == pytest.approx(weight_penalty)
    assert np.allclose(grads_reg["W1"] - grads_plain["W1"], 0.5 * model.params["W1"])
    assert np.array_equal(grads_reg["b1"], grads_plain["b1"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.task("FullyConnectedNet.loss")
def test_dtype_is_respected(dtype):
    np.random.seed(2)
    model = FullyConnectedNet([6, 5], input_dim=8, num_classes=3, reg=0.1, dtype=dtype)
    X = np.random.randn(4, 8)  # float64 input is cast to the model's dtype
    y = np.array([0, 2, 1, 0])

    scores = model.loss(X)
    _, grads = model.loss(X, y)

    assert all(param.dtype == dtype for param in model.params.values())
    assert scores.dtype == dtype and scores.shape == (4, 3)
    assert all(grads[name].dtype == dtype for name in model.params)


@pytest.mark.task("FullyConnectedNet.loss")
def test_test_mode_returns_scores_only():
    model = FullyConnectedNet([4], input_dim=3 * 2 * 2, num_classes=5)
    scores = model.loss(np.ones((6, 3, 2, 2)))
    assert isinstance(scores, np.ndarray) and scores.shape == (6, 5)


@pytest.mark.task("FullyConnectedNet.__init__")
def test_constructor_rejects_bad_options():
    with pytest.raises(ValueError, match="normalization"):
        FullyConnectedNet([4], normalization="instancenorm")
    with pytest.raises(ValueError, match="dropout_keep_ratio"):
        FullyConnectedNet([4], dropout_keep_ratio=0)


@pytest.mark.task("FullyConnectedNet.__init__")
def test_dropout_and_normalization_hooks_are_configured():
    model = FullyConnectedNet([4, 3], input_dim=5, num_classes=2, dropout_keep_ratio=0.7,
                              normalization="batchnorm", seed=11)
    assert model.use_dropout
    assert model.dropout_param == {"mode": "train", "p": 0.7, "seed": 11}
    assert len(model.bn_params) == 2
    assert {"gamma1", "beta1", "gamma2", "beta2"} <= set(model.params)
    assert "gamma3" not in model.params and "beta3" not in model.params
    assert np.all(model.params["gamma1"] == 1) and np.all(model.params["beta2"] == 0)


def two_layer_net_with_seed_parameters():
    N, D, H, C = 3, 5, 50, 7
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-2)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    return model, X, np.asarray([0, 5, 1])


@pytest.mark.task("FullyConnectedNet.__init__")
def test_two_layer_net_initialization():
    np.random.seed(231)
    std = 1e-2
    model = TwoLayerNet(input_dim=5, hidden_dim=50, num_classes=7, weight_scale=std)
    assert abs(model.params["W1"].std() - std) < std / 10
    assert abs(model.params["W2"].std() - std) < std / 10
    assert np.all(model.params["b1"] == 0) and np.all(model.params["b2"] == 0)
    assert set(model.params) == {"W1", "b1", "W2", "b2"}


@pytest.mark.task("FullyConnectedNet.loss")
def test_two_layer_net_matches_reference_scores_and_losses():
    model, X, y = two_layer_net_with_seed_parameters()
    # The seed prints the first six columns of each row; the seventh follows the same
    # linear pattern (it is the full array of the original assignment).
    correct_scores = np.asarray([
        [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
        [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
        [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319],
    ])
    assert np.abs(model.loss(X) - correct_scores).sum() < 1e-6

    loss, _ = model.loss(X, y)
    assert abs(loss - 3.4702243556) < 1e-10
    model.reg = 1.0
    loss, _ = model.loss(X, y)
    assert abs(loss - 26.5948426952) < 1e-10


@pytest.mark.parametrize("reg", [0.0, 0.7])
@pytest.mark.task("FullyConnectedNet.loss")
def test_two_layer_net_gradients(reg):
    model, X, y = two_layer_net_with_seed_parameters()
    model.reg = reg
    errors = model_gradient_errors(model, X, y)
    assert max(errors.values()) < 1e-6, errors
