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


@pytest.mark.task("FullyConnectedNets.ipynb")
def test_sgd_steps_against_the_gradient(w, dw):
    expected = w - 0.1 * dw
    next_w, config = sgd(w.copy(), dw, {"learning_rate": 0.1})
    assert np.allclose(next_w, expected)
    _, default_config = sgd(w.copy(), dw)
    assert default_config["learning_rate"] == 1e-2


# One step of each rule from w, dw and the config given, with the original assignment's
# reference values: (rule, config, {"next_w" or a config key: (expected, bound)}).
REFERENCE_STEPS = [
    (sgd_momentum, {"learning_rate": 1e-3, "velocity": (0.6, 0.9)}, {
        "next_w": (np.asarray([
            [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
            [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
            [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
            [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
        ]), 8.89e-9),
        "velocity": (EXPECTED_VELOCITY, 4.27e-9),
    }),
    (sgd_nesterov_momentum, {"learning_rate": 1e-3, "velocity": (0.6, 0.9)}, {
        "next_w": (np.asarray([
            [0.08714, 0.15246105, 0.21778211, 0.28310316, 0.34842421],
            [0.41374526, 0.47906632, 0.54438737, 0.60970842, 0.67502947],
            [0.74035053, 0.80567158, 0.87099263, 0.93631368, 1.00163474],
            [1.06695579, 1.13227684, 1.19759789, 1.26291895, 1.32824],
        ]), 1.09e-8),
        "velocity": (EXPECTED_VELOCITY, 4.27e-9),
    }),
    (rmsprop, {"learning_rate": 1e-2, "cache": (0.6, 0.9)}, {
        "next_w": (np.asarray([
            [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
            [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
            [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
            [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
        ]), 9.53e-8),
        "cache": (np.asarray([
            [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
            [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
            [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
            [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
        ]), 2.65e-9),
    }),
    (adam, {"learning_rate": 1e-2, "m": (0.6, 0.9), "v": (0.7, 0.5), "t": 5}, {
        "next_w": (np.asarray([
            [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
            [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
            [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
            [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
        ]), 1.14e-7),
        "v": (np.asarray([
            [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
            [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
            [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
            [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
        ]), 4.21e-9),
        "m": (np.asarray([
            [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
            [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
            [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
            [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
        ]), 4.22e-9),
        "t": (6, 0),
    }),
]


@pytest.mark.parametrize("rule, config, expected", [
    pytest.param(rule, config, expected, marks=pytest.mark.task(rule.__name__), id=rule.__name__)
    for rule, config, expected in REFERENCE_STEPS])
def test_rule_step_matches_reference(w, dw, rule, config, expected):
    # A pair (start, stop) in the config stands for the state array linspace_grid(start, stop).
    config = {key: linspace_grid(*value) if isinstance(value, tuple) else value for key, value in config.items()}
    next_w, config = rule(w, dw, config=config)
    for key, (reference, bound) in expected.items():
        assert rel_error(reference, next_w if key == "next_w" else config[key]) <= bound, key


@pytest.mark.task("adagrad")
def test_adagrad_matches_reference(w, dw):
    # Two steps with the same gradient from an empty cache (values computed once with the
    # solution). On the first step sqrt(cache) = |dw|, so every weight moves by about
    # lr * sign(dw); on the second by about lr / sqrt(2) * sign(dw): steps only shrink.
    config = {"learning_rate": 0.1}
    first_w, config = adagrad(w, dw, config)
    expected_first_w = np.asarray([
        [-0.3000000016666667, -0.24736842287955466, -0.19473684412653974, -0.14210526541979945, -0.08947368677809384],
        [-0.03684210823190784, 0.0157894701656921, 0.06842104831339728, 0.12105262599071236, 0.17368420260964973],
        [0.22631577590225743, 0.2789473209210752, 0.13157897903507765, 0.18421053819078795, 0.23684211257084958],
        [0.28947368948830376, 0.34210526728832924, 0.39473684549812005, 0.4473684239314193, 0.5000000024999999],
    ])
    expected_first_cache = np.asarray([
        [0.36, 0.2996121883656509, 0.24476454293628808, 0.19545706371191135, 0.15168975069252078],
        [0.11346260387811634, 0.08077562326869805, 0.05362880886426593, 0.03202216066481994, 0.01595567867036011],
        [0.00542936288088643, 0.00044321329639889, 0.00099722991689751, 0.00709141274238226, 0.01872576177285318],
        [0.03590027700831026, 0.05861495844875345, 0.08686980609418278, 0.12066481994459832, 0.16000000000000003],
    ])
    assert rel_error(expected_first_w, first_w) <= 1e-8
    assert rel_error(expected_first_cache, config["cache"]) <= 1e-12

    second_w, config = adagrad(first_w, dw, config)
    expected_second_w = np.asarray([
        [-0.22928932438134525, -0.17665774567436143, -0.12402616701852329, -0.07139458843209706, -0.01876300994322284],
        [0.03386856840237194, 0.08650014652508764, 0.1391317242729612, 0.1917633013152496, 0.24439487676997138],
        [0.29702644723519855, 0.34965797528973797, 0.06086831674975268, 0.11349986600963269, 0.1661314381060408],
        [0.21876301400853781, 0.27139459123489185, 0.3240261690758938, 0.37665774725215845, 0.4292893256313451],
    ])
    expected_second_cache = np.asarray([
        [0.72, 0.5992243767313018, 0.48952908587257615, 0.3909141274238227, 0.30337950138504155],
        [0.22692520775623268, 0.1615512465373961, 0.10725761772853186, 0.06404432132963989, 0.03191135734072022],
        [0.01085872576177285, 0.00088642659279778, 0.00199445983379501, 0.01418282548476452, 0.03745152354570636],
        [0.07180055401662053, 0.1172299168975069, 0.17373961218836556, 0.24132963988919665, 0.32000000000000006],
    ])
    assert rel_error(expected_second_w, second_w) <= 1e-8
    assert rel_error(expected_second_cache, config["cache"]) <= 1e-12
    assert np.all(np.abs(first_w - second_w) < np.abs(w - first_w))


# AdaGrad's steps keep shrinking, so it needs a larger learning rate to get there.
@pytest.mark.parametrize(
    "rule, learning_rate",
    [pytest.param(rule, rate, marks=pytest.mark.task(rule.__name__))
     for rule, rate in [(sgd_momentum, 0.05), (sgd_nesterov_momentum, 0.05), (adagrad, 1.0),
                        (rmsprop, 0.05), (adam, 0.05)]],
)
def test_rules_minimize_a_quadratic(rule, learning_rate):
    target = np.array([1.0, -2.0, 3.0])
    w, config = np.zeros(3), {"learning_rate": learning_rate}
    for _ in range(2000):
        w, config = rule(w, 2 * (w - target), config)
    assert np.allclose(w, target, atol=1e-2)


@pytest.mark.parametrize("rule", [pytest.param(sgd, marks=pytest.mark.task("FullyConnectedNets.ipynb"))] + [
    pytest.param(rule, marks=pytest.mark.task(rule.__name__))
    for rule in (sgd_momentum, sgd_nesterov_momentum, adagrad, rmsprop, adam)])
def test_rules_keep_float32_weights_float32(rule, w, dw):
    # A float64 scalar slipped into an update would turn a float32 model into float64
    # after its first step, and every layer after it twice as slow.
    w32, config = w.astype(np.float32), {"learning_rate": 1e-2}
    for _ in range(3):
        w32, config = rule(w32, dw.astype(np.float32), config)
    assert w32.dtype == np.float32
    assert all(value.dtype == np.float32 for value in config.values() if isinstance(value, np.ndarray))
