"""The Solver's checkpoints (cs231n/checkpoint.py): a checkpoint is data only, so a hostile
file runs no code; damaged and foreign files give clear errors; a checkpoint is written
atomically, with normal permissions, through a temporary file of its own; a resumed run
continues exactly as an uninterrupted one."""
import json
import os
import pickle
import stat

import numpy as np
import pytest
from hostile_files import CreatesMarker
from small_net import make_model

from cs231n import checkpoint
from cs231n.solver import CheckpointError, Solver

def train_with_checkpoints(data, checkpoint_name, num_epochs):
    np.random.seed(1)
    solver = Solver(make_model(), data, update_rule="adam", optim_config={"learning_rate": 5e-3},
                    lr_decay=0.9, num_epochs=num_epochs, batch_size=10, num_train_samples=20,
                    checkpoint_name=str(checkpoint_name), verbose=False)
    solver.train()
    return solver


# ---------------------------------------------------------------------------- the module's own API

def test_read_checkpoint_returns_the_state_write_checkpoint_was_given(small_data, tmp_path):
    solver = train_with_checkpoints(small_data, tmp_path / "run", num_epochs=1)
    state = solver._checkpoint_state()
    path = tmp_path / f"copy{checkpoint.SUFFIX}"
    checkpoint.write_checkpoint(path, state)
    restored = checkpoint.read_checkpoint(path)
    assert set(restored) == set(state)
    assert restored["loss_history"] == state["loss_history"]
    for name, value in state["model_params"].items():
        assert np.array_equal(restored["model_params"][name], value)
        assert restored["model_params"][name].dtype == value.dtype


@pytest.mark.parametrize("value, message", [
    (np.array([object()]), r"optim_config\['m'\] is an array of Python objects"),
    ({1: 2.0}, r"optim_config\['m'\] has keys that are not strings"),
    (lambda: None, r"optim_config\['m'\] is a function; a checkpoint holds only numbers"),
])
def test_check_encodable_names_what_a_checkpoint_cannot_hold(value, message):
    with pytest.raises(TypeError, match=message):
        checkpoint.check_encodable({"m": value}, "optim_config")


def test_unencodable_optim_config_is_refused_when_checkpoints_are_on(small_data, tmp_path):
    with pytest.raises(ValueError, match=r"checkpoint_name is set but optim_config\['schedule'\] is a function"):
        Solver(make_model(), small_data, update_rule=lambda w, dw, config: (w, config),
               optim_config={"schedule": lambda step: 1.0}, checkpoint_name=str(tmp_path / "run"))


# ---------------------------------------------------------------------------- writing

def test_checkpoint_file_has_the_permissions_of_a_normal_file(small_data, tmp_path):
    previous_umask = os.umask(0o022)
    try:
        train_with_checkpoints(small_data, tmp_path / "run", num_epochs=1)
        (tmp_path / "normal").write_bytes(b"")
    finally:
        os.umask(previous_umask)
    checkpoint_mode = stat.S_IMODE(os.stat(tmp_path / "run_epoch_1.npz").st_mode)
    assert checkpoint_mode == stat.S_IMODE(os.stat(tmp_path / "normal").st_mode)


def test_failed_checkpoint_write_leaves_no_temporary_file(small_data, tmp_path, monkeypatch):
    def savez_then_disk_full(file, *args, **kwargs):
        file.write(b"PK\x03\x04 the first bytes of a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_then_disk_full)
    np.random.seed(0)
    solver = Solver(make_model(), small_data, num_epochs=1, batch_size=25, checkpoint_name=str(tmp_path / "run"),
                    verbose=False)
    with pytest.raises(OSError, match="No space left"):
        solver.train()
    assert not list(tmp_path.iterdir())


def test_two_runs_with_one_checkpoint_name_do_not_share_a_temporary_file(small_data, tmp_path, monkeypatch):
    np.random.seed(0)
    first, second = (Solver(make_model(), small_data, checkpoint_name=str(tmp_path / "run"), verbose=False)
                     for _ in range(2))
    real_savez = np.savez

    def savez_while_the_other_run_saves(file, *args, **kwargs):
        # The second run writes and renames its checkpoint while the first is mid-write.
        monkeypatch.setattr(np, "savez", real_savez)
        second._save_checkpoint()
        real_savez(file, *args, **kwargs)

    monkeypatch.setattr(np, "savez", savez_while_the_other_run_saves)
    assert first._save_checkpoint() == str(tmp_path / "run_epoch_0.npz")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run_epoch_0.npz"]
    restored = Solver.load_checkpoint(tmp_path / "run_epoch_0.npz", make_model(), small_data)
    for name, value in first.model.params.items():
        assert np.array_equal(restored.model.params[name], value)


# ---------------------------------------------------------------------------- checkpoints are data only

def test_pickle_checkpoint_is_refused_without_running_its_code(small_data, tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "old_epoch_3.pkl"
    path.write_bytes(pickle.dumps({"model": CreatesMarker(marker), "epoch": 3}))
    with pytest.raises(CheckpointError, match=r"old_epoch_3\.pkl is a pickle .*can run code.*train again"):
        Solver.load_checkpoint(path, make_model(), small_data)
    assert not marker.exists()


def test_checkpoint_with_an_object_array_is_refused_without_running_its_code(small_data, tmp_path):
    train_with_checkpoints(small_data, tmp_path / "run", num_epochs=1)
    path = tmp_path / "run_epoch_1.npz"
    with np.load(path, allow_pickle=False) as archive:
        contents = {name: archive[name] for name in archive.files}
    marker = tmp_path / "code-ran"
    contents["array_0"] = np.array([CreatesMarker(marker)], dtype=object)
    with open(path, "wb") as f:
        np.savez(f, **contents)
    with pytest.raises(CheckpointError, match=r"run_epoch_1\.npz is not a readable Solver checkpoint: .*allow_pickle"):
        Solver.load_checkpoint(path, make_model(), small_data)
    assert not marker.exists()


def rewrite_state(path, change):
    with np.load(path, allow_pickle=False) as archive:
        contents = {name: archive[name] for name in archive.files}
    state = json.loads(str(contents["state"]))
    change(state)
    contents["state"] = np.array(json.dumps(state))
    with open(path, "wb") as f:
        np.savez(f, **contents)


@pytest.mark.parametrize("change, message", [
    (lambda state: state.update(version=99), r"version 99 checkpoint; this solver reads version 1"),
    (lambda state: state.pop("best_params"), r"lacks 'best_params'"),
    (lambda state: state.update(epoch="three"), r"'epoch' is a str"),
    (lambda state: state.update(format="something else"), r"not a Solver checkpoint"),
    (lambda state: state["model_params"].update(W1={"__ndarray__": "array_999"}), r"array 'array_999'"),
    (lambda state: state.update(rng_state={"bit_generator": "none"}), r"saved random state is invalid"),
])
def test_damaged_checkpoint_record_gives_a_clear_error(small_data, tmp_path, change, message):
    train_with_checkpoints(small_data, tmp_path / "run", num_epochs=1)
    path = tmp_path / "run_epoch_1.npz"
    rewrite_state(path, change)
    model = make_model()
    before = {name: value.copy() for name, value in model.params.items()}
    with pytest.raises(CheckpointError, match=message):
        Solver.load_checkpoint(path, model, small_data)
    for name, value in before.items():
        assert np.array_equal(model.params[name], value), "a refused checkpoint must leave the model alone"


@pytest.mark.parametrize("content, message", [
    (b"not a checkpoint at all", r"not a readable Solver checkpoint"),
    (b"PK\x03\x04 truncated", r"not a readable Solver checkpoint"),
])
def test_other_files_give_a_clear_error(small_data, tmp_path, content, message):
    path = tmp_path / "notes.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        Solver.load_checkpoint(path, make_model(), small_data)


def test_npz_without_a_state_record_is_not_a_checkpoint(small_data, tmp_path):
    path = tmp_path / "weights.npz"
    with open(path, "wb") as f:
        np.savez(f, W1=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"weights\.npz is not a Solver checkpoint: it lacks the 'state' record"):
        Solver.load_checkpoint(path, make_model(), small_data)


# ---------------------------------------------------------------------------- resuming

def test_checkpoint_round_trip_is_exact(small_data, tmp_path):
    solver = train_with_checkpoints(small_data, tmp_path / "run", num_epochs=2)
    path = tmp_path / "run_epoch_2.npz"
    assert path.exists()
    assert not list(tmp_path.glob(".*.tmp")), "temporary files must be renamed into place"

    with np.load(path, allow_pickle=False) as archive:
        state = json.loads(str(archive["state"]))
    assert state["epoch"] == 2 and state["iteration"] == 10
    assert state["loss_history"] == solver.loss_history
    assert state["val_acc_history"] == solver.val_acc_history

    model = make_model()
    restored = Solver.load_checkpoint(path, model, small_data)
    assert restored.model is model
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

    resumed = Solver.load_checkpoint(tmp_path / "run_epoch_2.npz", make_model(), small_data,
                                     checkpoint_name=str(tmp_path / "resumed"))
    assert resumed.num_epochs == 4
    resumed.train()

    assert resumed.epoch == 4
    assert resumed.loss_history == straight.loss_history
    assert resumed.train_acc_history == straight.train_acc_history
    assert resumed.val_acc_history == straight.val_acc_history
    for name, value in straight.model.params.items():
        assert np.array_equal(resumed.model.params[name], value)
    assert (tmp_path / "resumed_epoch_4.npz").exists()



def train_dropout_with_checkpoints(data, checkpoint_name):
    np.random.seed(2)
    # No dropout seed: the masks come from NumPy's global random state.
    solver = Solver(make_model(dropout_keep_ratio=0.5), data, update_rule="adam",
                    optim_config={"learning_rate": 5e-3}, num_epochs=4, batch_size=10,
                    checkpoint_name=str(checkpoint_name), verbose=False)
    solver.train()
    return solver


def test_resumed_dropout_training_matches_uninterrupted_training(small_data, tmp_path):
    straight = train_dropout_with_checkpoints(small_data, tmp_path / "run")

    # Whatever ran in between has moved the global random state on.
    np.random.seed(99)
    resumed = Solver.load_checkpoint(tmp_path / "run_epoch_2.npz", make_model(dropout_keep_ratio=0.5), small_data)
    resumed.train()

    assert resumed.loss_history == straight.loss_history
    assert resumed.val_acc_history == straight.val_acc_history
    for name, value in straight.model.params.items():
        assert np.array_equal(resumed.model.params[name], value)


def test_checkpoint_into_a_model_of_another_architecture_is_refused(small_data, tmp_path):
    train_with_checkpoints(small_data, tmp_path / "run", num_epochs=1)
    other = make_model(hidden_dims=[30])
    with pytest.raises(CheckpointError, match=r"holds parameters .*'W3': \(30, 5\).*same architecture"):
        Solver.load_checkpoint(tmp_path / "run_epoch_1.npz", other, small_data)


def test_resume_can_extend_training(small_data, tmp_path):
    train_with_checkpoints(small_data, tmp_path / "run", num_epochs=1)
    resumed = Solver.load_checkpoint(tmp_path / "run_epoch_1.npz", make_model(), small_data, num_epochs=3)
    resumed.train()
    assert resumed.epoch == 3 and len(resumed.loss_history) == 15


def test_custom_update_rule_must_be_passed_again_to_resume(small_data, tmp_path):
    def nested_rule(w, dw, config):
        return w - config.setdefault("step_size", 1e-2) * dw, config

    np.random.seed(0)
    solver = Solver(make_model(), small_data, update_rule=nested_rule, num_epochs=1, batch_size=25,
                    checkpoint_name=str(tmp_path / "run"), verbose=False)
    solver.train()
    path = tmp_path / "run_epoch_1.npz"
    # A checkpoint holds no code, so the rule is named but not stored.
    with pytest.raises(CheckpointError, match=r"custom update rule .*nested_rule.*update_rule=\.\.\."):
        Solver.load_checkpoint(path, make_model(), small_data)
    resumed = Solver.load_checkpoint(path, make_model(), small_data, update_rule=nested_rule, num_epochs=2)
    resumed.train()
    assert resumed.epoch == 2
    assert all(config["step_size"] == 1e-2 for config in resumed.optim_configs.values())
