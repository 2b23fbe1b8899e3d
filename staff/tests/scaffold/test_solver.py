"""The Solver's scaffold: its training loop, stopping on a non-finite loss, gradient or
update without writing it, and its argument checks (its checkpoints are in
test_checkpoint.py)."""
import warnings

import numpy as np
import pytest
from small_net import make_model

from cs231n.classifiers.fc_net import FullyConnectedNet
from cs231n.solver import Solver, _all_finite, update_rules


def test_small_net_overfits_fifty_samples(small_data):
    np.random.seed(0)
    model = make_model()
    solver = Solver(model, small_data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                    num_epochs=20, batch_size=10, verbose=False)
    solver.train()

    assert solver.check_accuracy(small_data["X_train"], small_data["y_train"]) == 1.0
    assert solver.epoch == 20
    assert len(solver.loss_history) == 20 * 5
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 21
    assert solver.loss_history[-1] < 0.1 * solver.loss_history[0]
    assert solver.best_val_acc == max(solver.val_acc_history)


def test_verbose_training_prints_the_original_progress_lines(small_data, capsys):
    np.random.seed(0)
    solver = Solver(make_model(), small_data, num_epochs=2, batch_size=25, print_every=2,
                    optim_config={"learning_rate": 1e-2})
    solver.train()
    out = capsys.readouterr().out
    assert "(Iteration 1 / 4) loss: " in out and "(Iteration 3 / 4) loss: " in out
    assert "(Epoch 0 / 2) train acc: " in out and "(Epoch 2 / 2) train acc: " in out


def test_accepts_update_rule_callable_and_rejects_unknown_options(small_data):
    def halve_step(w, dw, config):
        return w - 0.5 * config.setdefault("learning_rate", 1e-2) * dw, config

    np.random.seed(0)
    solver = Solver(make_model(), small_data, update_rule=halve_step, num_epochs=1, batch_size=25, verbose=False)
    solver.train()
    assert len(solver.loss_history) == 2

    with pytest.raises(ValueError, match="Unrecognized arguments: learnin_rate"):
        Solver(make_model(), small_data, learnin_rate=1e-3)
    with pytest.raises(ValueError, match="update_rule"):
        Solver(make_model(), small_data, update_rule="sgd_with_magic")


def plain_gradient_step(w, dw, config):
    """An update rule whose config has no learning_rate; module level, so picklable."""
    return w - config.setdefault("step_size", 1e-2) * dw, config


def test_lr_decay_skips_configs_without_learning_rate(small_data):
    np.random.seed(0)
    solver = Solver(make_model(), small_data, update_rule=plain_gradient_step, lr_decay=0.9,
                    num_epochs=2, batch_size=25, verbose=False)
    solver.train()
    assert solver.epoch == 2
    assert all(config == {"step_size": 1e-2} for config in solver.optim_configs.values())



class RunningMeanRecorder(FullyConnectedNet):
    """Batchnorm net that records the first layer's running mean after every training step."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is not None:
            self.running_means.append(self.bn_params[0]["running_mean"].copy())
        return result


def test_best_batchnorm_statistics_are_restored_with_best_params(small_data):
    # Test-mode batchnorm uses the running statistics, so restoring only best_params
    # would pair the best weights with the last epoch's statistics.
    np.random.seed(3)
    model = make_model(net_class=RunningMeanRecorder, normalization="batchnorm")
    model.running_means = []
    solver = Solver(model, small_data, update_rule="adam", optim_config={"learning_rate": 3e-2},
                    num_epochs=8, batch_size=10, verbose=False)
    solver.train()

    best_epoch = solver.val_acc_history.index(solver.best_val_acc)
    assert best_epoch < len(solver.val_acc_history) - 1, "the test needs a best epoch before the last"
    steps_at_best = max(best_epoch * 5, 1)  # 5 iterations per epoch; epoch 0 is measured after one step
    restored = model.bn_params[0]["running_mean"]
    assert np.array_equal(restored, model.running_means[steps_at_best - 1])
    assert not np.array_equal(restored, model.running_means[-1])
    assert solver.check_accuracy(small_data["X_val"], small_data["y_val"]) == solver.best_val_acc



# ---------------------------------------------------------------------------- non-finite losses, gradients and parameters

class DivergingModel:
    """Wraps a model: from a given training call on, its loss and every gradient are NaN,
    or, with ``bad_param``, the loss stays finite and only that parameter's gradient is NaN."""

    def __init__(self, model, diverge_at_call, bad_param=None):
        self.model = model
        self.params = model.params
        self.diverge_at_call = diverge_at_call
        self.bad_param = bad_param
        self.training_calls = 0

    def loss(self, X, y=None):
        self.model.params = self.params
        if y is None:
            return self.model.loss(X)
        self.training_calls += 1
        loss, grads = self.model.loss(X, y)
        if self.training_calls < self.diverge_at_call:
            return loss, grads
        if self.bad_param is not None:
            return loss, dict(grads, **{self.bad_param: np.full_like(grads[self.bad_param], np.nan)})
        return np.nan, {name: np.full_like(grad, np.nan) for name, grad in grads.items()}


def test_nan_loss_stops_training_and_keeps_best_parameters(small_data):
    np.random.seed(0)
    model = DivergingModel(make_model(), diverge_at_call=13)
    solver = Solver(model, small_data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                    num_epochs=10, batch_size=10, verbose=False)

    with pytest.warns(RuntimeWarning, match=r"loss became nan at iteration 13 / 50"):
        solver.train()

    assert len(solver.loss_history) == 13
    assert solver.epoch == 2
    assert all(np.all(np.isfinite(value)) for value in model.params.values())
    for name, value in solver.best_params.items():
        assert np.array_equal(model.params[name], value)
    accuracy = solver.check_accuracy(small_data["X_val"], small_data["y_val"])
    assert accuracy == solver.best_val_acc


def test_nan_before_any_evaluation_keeps_last_finite_parameters(small_data):
    np.random.seed(0)
    model = DivergingModel(make_model(), diverge_at_call=1)
    initial = {name: value.copy() for name, value in model.params.items()}
    solver = Solver(model, small_data, num_epochs=2, batch_size=10, verbose=False)

    with pytest.warns(RuntimeWarning, match="iteration 1 / 10.*last finite parameters"):
        solver.train()

    for name, value in initial.items():
        assert np.array_equal(model.params[name], value)


def test_nan_gradient_with_finite_loss_stops_training_naming_parameter_and_iteration(small_data):
    np.random.seed(0)
    model = DivergingModel(make_model(), diverge_at_call=7, bad_param="W2")
    solver = Solver(model, small_data, update_rule="adam", optim_config={"learning_rate": 1e-2},
                    num_epochs=10, batch_size=10, verbose=False)
    with pytest.warns(RuntimeWarning, match=r"gradient of W2 became non-finite .*at iteration 7 / 50"):
        solver.train()
    assert len(solver.loss_history) == 7 and np.isfinite(solver.loss_history[-1])
    assert all(np.all(np.isfinite(value)) for value in model.params.values())
    for name, value in solver.best_params.items():
        assert np.array_equal(model.params[name], value)


def test_nan_gradient_at_the_first_step_keeps_the_initial_parameters(small_data):
    np.random.seed(0)
    model = DivergingModel(make_model(), diverge_at_call=1, bad_param="b3")
    initial = {name: value.copy() for name, value in model.params.items()}
    solver = Solver(model, small_data, num_epochs=2, batch_size=10, verbose=False)
    with pytest.warns(RuntimeWarning, match="gradient of b3 .*iteration 1 / 10.*last finite parameters"):
        solver.train()
    assert solver.best_params == {}
    for name, value in initial.items():
        assert np.array_equal(model.params[name], value)


def overflowing_rule(w, dw, config):
    """Module level, so a checkpoint could name it; its steps overflow to infinity."""
    with np.errstate(over="ignore"):
        return w * 1e308 * 1e308, config


def test_update_that_overflows_stops_training_without_writing_it(small_data):
    np.random.seed(0)
    model = make_model()
    initial = {name: value.copy() for name, value in model.params.items()}
    solver = Solver(model, small_data, update_rule=overflowing_rule, num_epochs=2, batch_size=10, verbose=False)
    with pytest.warns(RuntimeWarning, match=r"update of W1 made it non-finite at iteration 1 / 10"):
        solver.train()
    for name, value in initial.items():
        assert np.array_equal(model.params[name], value)


class FixedGradientModel:
    """A model with the given parameters whose every training call returns loss 1 and
    copies of the given (finite) gradients."""

    def __init__(self, params, grads):
        self.params = params
        self.grads = grads

    def loss(self, X, y=None):
        if y is None:
            return np.zeros((len(X), 2))
        return 1.0, {name: grad.copy() for name, grad in self.grads.items()}


TWO_POINTS = {"X_train": np.zeros((2, 1)), "y_train": np.zeros(2, dtype=int),
              "X_val": np.zeros((2, 1)), "y_val": np.zeros(2, dtype=int)}


def test_sgd_step_that_overflows_leaves_the_parameter_unchanged():
    # float32, so that the step 10 * 3e38 overflows (float64 would hold it). sgd
    # updates w in place, so only a copy handed to it keeps the model's W finite.
    model = FixedGradientModel({"W": np.array([3e38, 1.0], dtype=np.float32)},
                               {"W": np.array([-3e38, 0.0], dtype=np.float32)})
    solver = Solver(model, TWO_POINTS, update_rule="sgd", optim_config={"learning_rate": 10},
                    num_epochs=1, batch_size=2, verbose=False)
    with np.errstate(over="ignore"), pytest.warns(
            RuntimeWarning, match=r"update of W made it non-finite at iteration 1 / 1 .*last finite parameters"):
        solver.train()
    assert np.array_equal(model.params["W"], np.array([3e38, 1.0], dtype=np.float32))
    assert solver.best_params == {}


def inplace_rule(w, dw, config):
    """Changes w and config in place, as a student's rule may."""
    config["steps"] = config.get("steps", 0) + 1
    w -= config["learning_rate"] * dw
    return w, config


def test_in_place_rule_that_overflows_writes_no_parameter_and_no_config():
    # b comes first and its step is finite: a diverging step writes no parameter at all.
    model = FixedGradientModel(
        {"b": np.array([1.0], dtype=np.float32), "W": np.array([3e38, 1.0], dtype=np.float32)},
        {"b": np.array([1.0], dtype=np.float32), "W": np.array([-3e38, 0.0], dtype=np.float32)})
    solver = Solver(model, TWO_POINTS, update_rule=inplace_rule, optim_config={"learning_rate": 10},
                    num_epochs=1, batch_size=2, verbose=False)
    with np.errstate(over="ignore"), pytest.warns(RuntimeWarning, match=r"update of W made it non-finite"):
        solver.train()
    assert np.array_equal(model.params["b"], np.array([1.0], dtype=np.float32))
    assert np.array_equal(model.params["W"], np.array([3e38, 1.0], dtype=np.float32))
    assert solver.optim_configs == {"b": {"learning_rate": 10}, "W": {"learning_rate": 10}}


def test_non_finite_parameters_never_become_the_best(small_data):
    np.random.seed(0)
    model = make_model()
    solver = Solver(model, small_data, verbose=False)
    model.params["W1"][0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        solver._evaluate()
    assert solver.best_params == {} and solver.val_acc_history
    model.params["W1"][0, 0] = 0.0
    solver._evaluate()
    assert set(solver.best_params) == set(model.params)


# ---------------------------------------------------------------------------- argument checks

@pytest.mark.parametrize("options, message", [
    ({"batch_size": 0}, r"batch_size must be a positive integer, got 0"),
    ({"batch_size": -10}, r"batch_size must be a positive integer, got -10"),
    ({"batch_size": 2.5}, r"batch_size must be a positive integer, got 2\.5"),
    ({"num_epochs": 2.5}, r"num_epochs must be a positive integer, got 2\.5"),
    ({"num_epochs": True}, r"num_epochs must be a positive integer, got True"),
    ({"print_every": 0}, r"print_every must be a positive integer"),
    ({"num_val_samples": 0}, r"num_val_samples must be None or a positive integer"),
    ({"lr_decay": float("nan")}, r"lr_decay must be a positive number"),
    ({"update_rule": "np"}, r'Invalid update_rule "np": cs231n/optim.py has .*adam.*sgd'),
    ({"update_rule": "zeros_like"}, r'Invalid update_rule "zeros_like"'),
    ({"update_rule": 3}, r"update_rule must be a name or a callable, got 3"),
    ({"update_rule": "adam", "optim_config": {"learning_rat": 1e-3}},
     r"update rule adam does not use: 'learning_rat' \(did you mean 'learning_rate'\?\); it uses beta1"),
    ({"update_rule": "sgd", "optim_config": {"learning_rate": 1e-3, "momentum": 0.9}},
     r"update rule sgd does not use: 'momentum'; it uses learning_rate"),
    ({"optim_config": [("learning_rate", 1e-3)]}, r"optim_config must be a dict"),
])
def test_unusable_arguments_are_refused_by_name(small_data, options, message):
    with pytest.raises(ValueError, match=message):
        Solver(make_model(), small_data, **options)


@pytest.mark.parametrize("split", ["train", "val"])
def test_empty_split_is_refused(small_data, split):
    data = dict(small_data, **{f"X_{split}": small_data[f"X_{split}"][:0], f"y_{split}": small_data[f"y_{split}"][:0]})
    with pytest.raises(ValueError, match=rf"data\['X_{split}'\] is empty"):
        Solver(make_model(), data)


def test_missing_data_entries_are_named(small_data):
    data = {key: value for key, value in small_data.items() if key != "y_val"}
    with pytest.raises(ValueError, match="data lacks y_val"):
        Solver(make_model(), data)


# Each rule's hyperparameters, the keys cs231n/optim.py fills in with setdefault. The
# state a rule keeps (velocity, cache, m, v, t) is per parameter, so no optim_config key.
RULE_HYPERPARAMETERS = {
    "sgd": {"learning_rate": 1e-3},
    "sgd_momentum": {"learning_rate": 1e-3, "momentum": 0.5},
    "sgd_nesterov_momentum": {"learning_rate": 1e-3, "momentum": 0.5},
    "rmsprop": {"learning_rate": 1e-3, "decay_rate": 0.9, "epsilon": 1e-6},
    "adam": {"learning_rate": 1e-3, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6},
    "adagrad": {"learning_rate": 1e-3, "epsilon": 1e-6},
}


def test_the_rule_keys_cover_every_named_rule():
    assert set(RULE_HYPERPARAMETERS) == set(update_rules())


@pytest.mark.parametrize("rule", RULE_HYPERPARAMETERS)
def test_every_named_rule_accepts_its_own_keys(small_data, rule):
    np.random.seed(0)
    model = make_model()
    initial = {name: value.copy() for name, value in model.params.items()}
    hyperparameters = RULE_HYPERPARAMETERS[rule]
    # 50 training examples in one batch: one epoch is one step.
    solver = Solver(model, small_data, update_rule=rule, optim_config=hyperparameters,
                    num_epochs=1, batch_size=50, verbose=False)
    solver.train()
    assert solver.iteration == 1 and len(solver.loss_history) == 1
    for name, config in solver.optim_configs.items():
        assert {key: config[key] for key in hyperparameters} == hyperparameters
        assert not np.array_equal(model.params[name], initial[name]), f"the step left {name} unchanged"


@pytest.mark.parametrize("values, finite", [
    ([1.0, -2.0], True),
    ([3e38, 3e38], True),  # squares overflow float32, the entries do not
    ([1.0, np.nan], False),
    ([np.inf, 1.0], False),
    ([-np.inf, np.inf], False),
])
def test_finiteness_check_is_exact(values, finite):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _all_finite(np.array(values, dtype=np.float32)) is finite
