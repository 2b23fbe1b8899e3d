"""Solver: overfitting a tiny set, checkpoints and resuming, stopping on a diverged loss."""
import os
import pickle
import stat

import numpy as np
import pytest

from cs231n.classifiers.fc_net import FullyConnectedNet
from cs231n.solver import Solver

NUM_CLASSES, INPUT_DIM = 5, 12


@pytest.fixture
def small_data():
    """50 training and 40 validation points from five well separated Gaussian blobs."""
    rng = np.random.default_rng(0)
    centers = 3 * rng.standard_normal((NUM_CLASSES, INPUT_DIM))

    def sample(num):
        y = rng.integers(NUM_CLASSES, size=num)
        return centers[y] + rng.standard_normal((num, INPUT_DIM)), y

    X_train, y_train = sample(50)
    X_val, y_val = sample(40)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


def make_model():
    return FullyConnectedNet([30, 30], input_dim=INPUT_DIM, num_classes=NUM_CLASSES, weight_scale=0.1, dtype=np.float64)


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


def test_verbose_training_prints_seed_style_lines(small_data, capsys):
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


def test_unpicklable_update_rule_with_checkpoints_fails_up_front(small_data, tmp_path):
    def nested_rule(w, dw, config):
        return w - 1e-2 * dw, config

    for rule in (lambda w, dw, config: (w, config), nested_rule):
        with pytest.raises(ValueError, match="cannot be pickled.*module level"):
            Solver(make_model(), small_data, update_rule=rule, checkpoint_name=str(tmp_path / "run"))
    # Without checkpoints nothing is pickled, so any callable will do.
    Solver(make_model(), small_data, update_rule=nested_rule)
    assert not list(tmp_path.iterdir())


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
    model = RunningMeanRecorder([30, 30], input_dim=INPUT_DIM, num_classes=NUM_CLASSES, weight_scale=0.1,
                                normalization="batchnorm", dtype=np.float64)
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


def train_with_checkpoints(data, checkpoint_name, num_epochs):
    np.random.seed(1)
    solver = Solver(make_model(), data, update_rule="adam", optim_config={"learning_rate": 5e-3},
                    lr_decay=0.9, num_epochs=num_epochs, batch_size=10, num_train_samples=20,
                    checkpoint_name=str(checkpoint_name), verbose=False)
    solver.train()
    return solver


def test_checkpoint_round_trip_is_exact(small_data, tmp_path):
    solver = train_with_checkpoints(small_data, tmp_path / "run", num_epochs=2)
    path = tmp_path / "run_epoch_2.pkl"
    assert path.exists()
    assert not list(tmp_path.glob("*.tmp")), "temporary files must be renamed into place"

    with open(path, "rb") as f:
        state = pickle.load(f)
    assert state["epoch"] == 2 and state["iteration"] == 10
    assert state["loss_history"] == solver.loss_history
    assert state["val_acc_history"] == solver.val_acc_history

    restored = Solver.load_checkpoint(path, small_data)
    assert restored.epoch == 2 and restored.iteration == 10
    assert restored.best_val_acc == solver.best_val_acc
    for name, value in solver.best_params.items():
        assert np.array_equal(restored.best_params[name], value)
    # The saved model holds the last parameters, not the best ones train() restores.
    assert set(restored.model.params) == set(solver.model.params)
    for name, config in solver.optim_configs.items():
        assert np.array_equal(restored.optim_configs[name]["m"], config["m"])
        assert restored.optim_configs[name]["t"] == config["t"] == 10
        assert restored.optim_configs[name]["learning_rate"] == pytest.approx(5e-3 * 0.9**2)


def test_resumed_training_matches_uninterrupted_training(small_data, tmp_path):
    straight = train_with_checkpoints(small_data, tmp_path / "run", num_epochs=4)

    resumed = Solver.load_checkpoint(tmp_path / "run_epoch_2.pkl", small_data, checkpoint_name=str(tmp_path / "resumed"))
    assert resumed.num_epochs == 4
    resumed.train()

    assert resumed.epoch == 4
    assert resumed.loss_history == straight.loss_history
    assert resumed.train_acc_history == straight.train_acc_history
    assert resumed.val_acc_history == straight.val_acc_history
    for name, value in straight.model.params.items():
        assert np.array_equal(resumed.model.params[name], value)
    assert (tmp_path / "resumed_epoch_4.pkl").exists()


def train_dropout_with_checkpoints(data, checkpoint_name):
    np.random.seed(2)
    # No dropout seed: the masks come from NumPy's global random state.
    model = FullyConnectedNet([30, 30], input_dim=INPUT_DIM, num_classes=NUM_CLASSES, weight_scale=0.1,
                              dropout_keep_ratio=0.5, dtype=np.float64)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 5e-3},
                    num_epochs=4, batch_size=10, checkpoint_name=str(checkpoint_name), verbose=False)
    solver.train()
    return solver


def test_resumed_dropout_training_matches_uninterrupted_training(small_data, tmp_path):
    straight = train_dropout_with_checkpoints(small_data, tmp_path / "run")

    # Whatever ran in between has moved the global random state on.
    np.random.seed(99)
    resumed = Solver.load_checkpoint(tmp_path / "run_epoch_2.pkl", small_data)
    resumed.train()

    assert resumed.loss_history == straight.loss_history
    assert resumed.val_acc_history == straight.val_acc_history
    for name, value in straight.model.params.items():
        assert np.array_equal(resumed.model.params[name], value)


def test_checkpoint_file_has_the_permissions_of_a_normal_file(small_data, tmp_path):
    previous_umask = os.umask(0o022)
    try:
        train_with_checkpoints(small_data, tmp_path / "run", num_epochs=1)
        (tmp_path / "normal").write_bytes(b"")
    finally:
        os.umask(previous_umask)
    checkpoint_mode = stat.S_IMODE(os.stat(tmp_path / "run_epoch_1.pkl").st_mode)
    assert checkpoint_mode == stat.S_IMODE(os.stat(tmp_path / "normal").st_mode)


class UnpicklableModel(FullyConnectedNet):
    """A model that cannot be written into a checkpoint."""

    def __reduce__(self):
        raise pickle.PicklingError("this model refuses to be pickled")


def test_failed_checkpoint_write_leaves_no_temporary_file(small_data, tmp_path):
    np.random.seed(0)
    model = UnpicklableModel([30], input_dim=INPUT_DIM, num_classes=NUM_CLASSES, dtype=np.float64)
    solver = Solver(model, small_data, num_epochs=1, batch_size=25, checkpoint_name=str(tmp_path / "run"),
                    verbose=False)
    with pytest.raises(pickle.PicklingError, match="refuses"):
        solver.train()
    assert not list(tmp_path.iterdir())


def test_resume_can_extend_training(small_data, tmp_path):
    train_with_checkpoints(small_data, tmp_path / "run", num_epochs=1)
    resumed = Solver.load_checkpoint(tmp_path / "run_epoch_1.pkl", small_data, num_epochs=3)
    resumed.train()
    assert resumed.epoch == 3 and len(resumed.loss_history) == 15


class DivergingModel:
    """Wraps a model and reports a NaN training loss from a given training call on."""

    def __init__(self, model, diverge_at_call):
        self.model = model
        self.params = model.params
        self.diverge_at_call = diverge_at_call
        self.training_calls = 0

    def loss(self, X, y=None):
        self.model.params = self.params
        if y is None:
            return self.model.loss(X)
        self.training_calls += 1
        loss, grads = self.model.loss(X, y)
        if self.training_calls >= self.diverge_at_call:
            return np.nan, {name: np.full_like(grad, np.nan) for name, grad in grads.items()}
        return loss, grads


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
