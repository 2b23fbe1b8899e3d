"""Update rules against the original assignment's reference arrays.

Each bound is the error the original assignment prints for its own solution, rounded up in its
third significant digit."""
import numpy as np
import pytest

from cs231n.gradient_check import rel_error
from cs231n.optim import adagrad, adam, rmsprop, sgd, sgd_momentum, sgd_nesterov_momentum

N, D = 4, 5

EXPECTED_VELOCITY = np.asarray([
    [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
    [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
    [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
    [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
])


def linspace_grid(start, stop):
    return np.linspace(start, stop, num=N * D).reshape(N, D)


@pytest.fixture
def w():
    return linspace_grid(-0.4, 0.6)


@pytest.fixture
def dw():
    return linspace_grid(-0.6, 0.4)


def test_sgd_steps_against_the_gradient(w, dw):
    expected = w - 0.1 * dw
    next_w, config = sgd(w.copy(), dw, {"learning_rate": 0.1})
    assert np.allclose(next_w, expected)
    _, default_config = sgd(w.copy(), dw)
    assert default_config["learning_rate"] == 1e-2


def test_sgd_momentum_matches_reference(w, dw):
    config = {"learning_rate": 1e-3, "velocity": linspace_grid(0.6, 0.9)}
    next_w, _ = sgd_momentum(w, dw, config=config)
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
    ])
    assert rel_error(next_w, expected_next_w) <= 8.89e-9
    assert rel_error(EXPECTED_VELOCITY, config["velocity"]) <= 4.27e-9


def test_sgd_nesterov_momentum_matches_reference(w, dw):
    config = {"learning_rate": 1e-3, "velocity": linspace_grid(0.6, 0.9)}
    next_w, _ = sgd_nesterov_momentum(w, dw, config=config)
    expected_next_w = np.asarray([
        [0.08714, 0.15246105, 0.21778211, 0.28310316, 0.34842421],
        [0.41374526, 0.47906632, 0.54438737, 0.60970842, 0.67502947],
        [0.74035053, 0.80567158, 0.87099263, 0.93631368, 1.00163474],
        [1.06695579, 1.13227684, 1.19759789, 1.26291895, 1.32824],
    ])
    assert rel_error(next_w, expected_next_w) <= 1.09e-8
    assert rel_error(EXPECTED_VELOCITY, config["velocity"]) <= 4.27e-9


def test_rmsprop_matches_reference(w, dw):
    config = {"learning_rate": 1e-2, "cache": linspace_grid(0.6, 0.9)}
    next_w, _ = rmsprop(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
    ])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
    ])
    assert rel_error(expected_next_w, next_w) <= 9.53e-8
    assert rel_error(expected_cache, config["cache"]) <= 2.65e-9


def test_adam_matches_reference(w, dw):
    config = {"learning_rate": 1e-2, "m": linspace_grid(0.6, 0.9), "v": linspace_grid(0.7, 0.5), "t": 5}
    next_w, _ = adam(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
    ])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
    ])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
    ])
    assert rel_error(expected_next_w, next_w) <= 1.14e-7
    assert rel_error(expected_v, config["v"]) <= 4.21e-9
    assert rel_error(expected_m, config["m"]) <= 4.22e-9
    assert config["t"] == 6


def test_adagrad_accumulates_squared_gradients(w, dw):
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


# AdaGrad's steps keep shrinking, so it needs a larger learning rate to get there.
@pytest.mark.parametrize(
    "rule, learning_rate",
    [(sgd_momentum, 0.05), (sgd_nesterov_momentum, 0.05), (adagrad, 1.0), (rmsprop, 0.05), (adam, 0.05)],
)
def test_rules_minimize_a_quadratic(rule, learning_rate):
    target = np.array([1.0, -2.0, 3.0])
    w, config = np.zeros(3), {"learning_rate": learning_rate}
    for _ in range(2000):
        w, config = rule(w, 2 * (w - target), config)
    assert np.allclose(w, target, atol=1e-2)


@pytest.mark.parametrize("rule", [sgd, sgd_momentum, sgd_nesterov_momentum, adagrad, rmsprop, adam])
def test_rules_keep_float32_weights_float32(rule, w, dw):
    # A float64 scalar slipped into an update would turn a float32 model into float64
    # after its first step, and every layer after it twice as slow.
    w32, config = w.astype(np.float32), {"learning_rate": 1e-2}
    for _ in range(3):
        w32, config = rule(w32, dw.astype(np.float32), config)
    assert w32.dtype == np.float32
    assert all(value.dtype == np.float32 for value in config.values() if isinstance(value, np.ndarray))
