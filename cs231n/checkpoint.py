"""The file format of the Solver's checkpoints (see cs231n/solver.py), which is data only.

A checkpoint is a NumPy .npz archive, loaded with allow_pickle=False so that it cannot
hold code: the arrays of the training state, plus one JSON document under STATE_KEY
for everything else, in which each array appears as {ARRAY_TAG: its name in the
archive}. The document also records FORMAT and VERSION.

Public API:
- write_checkpoint(path, state): write a training state (a dict) to path, atomically.
- read_checkpoint(path): the training state stored in path, arrays in place.
- check_encodable(value, where): raise TypeError unless value can go into a checkpoint.
- CheckpointError: raised for a file that is not a checkpoint this module can read.
- SUFFIX: the file name ending of checkpoints.
"""
import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

FORMAT = "cs231n-solver-checkpoint"
VERSION = 1
SUFFIX = ".npz"
STATE_KEY = "state"
ARRAY_TAG = "__ndarray__"

# What read_checkpoint requires of a checkpoint's document: each entry and its type.
_FIELDS = {
    "update_rule": (str, type(None)), "update_rule_name": str, "optim_config": dict,
    "lr_decay": (int, float), "batch_size": int, "num_epochs": int,
    "num_train_samples": (int, type(None)), "num_val_samples": (int, type(None)),
    "epoch": int, "iteration": int, "loss_history": list, "train_acc_history": list,
    "val_acc_history": list, "best_val_acc": (int, float), "best_params": dict,
    "best_bn_params": (list, type(None)), "optim_configs": dict, "rng_state": dict,
    "numpy_global_state": dict, "model_params": dict, "model_bn_params": (list, type(None)),
}


class CheckpointError(ValueError):
    """A file is not a checkpoint this solver can load; the message names the file."""


def check_encodable(value, where):
    """Raise TypeError, naming ``where``, unless a checkpoint can hold value.

    A checkpoint holds dicts with string keys, lists, tuples (read back as lists),
    strings, numbers, booleans, None and numeric arrays.
    """
    _to_document(value, {}, where)


def write_checkpoint(path, state):
    """Write the dict ``state`` to path as a checkpoint.

    The file is written to a uniquely named temporary file next to path and then
    renamed into place, so a crash mid-write never leaves a truncated checkpoint under
    the final name, and two runs writing the same path never write into each other's
    file. Raises TypeError (see check_encodable) before writing anything if the state
    holds a value a checkpoint cannot.
    """
    arrays = {}
    document = _to_document({"format": FORMAT, "version": VERSION, **state}, arrays, "the training state")
    handle, temp_path = _private_temporary(path)
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **{STATE_KEY: np.array(json.dumps(document))}, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise


def read_checkpoint(path):
    """The training state stored in a checkpoint file, arrays in place.

    Raises CheckpointError naming the file when it is not a checkpoint of this format
    and version holding every field the solver needs; nothing in the file is run.
    """
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80":
        raise CheckpointError(
            f"{path} is a pickle (as checkpoints of earlier versions of this solver were), "
            f"and loading a pickle can run code, so it is not read. Checkpoints are now "
            f".npz files: train again to write one."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files") or STATE_KEY not in archive.files:
                raise CheckpointError(
                    f"{path} is not a Solver checkpoint: it lacks the {STATE_KEY!r} record"
                )
            document = json.loads(str(archive[STATE_KEY]))
            arrays = {name: archive[name] for name in archive.files if name != STATE_KEY}
    except CheckpointError:
        raise
    except (ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise CheckpointError(f"{path} is not a readable Solver checkpoint: {error}") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a Solver checkpoint (no {FORMAT!r} record)")
    if document.get("version") != VERSION:
        raise CheckpointError(
            f"{path} is a version {document.get('version')!r} checkpoint; this solver reads "
            f"version {VERSION}"
        )
    for field, kind in _FIELDS.items():
        if field not in document:
            raise CheckpointError(f"{path}: the checkpoint lacks {field!r}")
        if not isinstance(document[field], kind) or isinstance(document[field], bool):
            raise CheckpointError(
                f"{path}: the checkpoint's {field!r} is a {type(document[field]).__name__}"
            )
    state = _from_document(document, arrays, path)
    del state["format"], state["version"]
    return state


def _to_document(value, arrays, where):
    """A JSON-ready copy of value, with its arrays moved into ``arrays``.

    Anything a checkpoint cannot hold (see check_encodable) raises TypeError naming
    ``where``.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"{where} is an array of Python objects, which a checkpoint cannot hold")
        key = f"array_{len(arrays)}"
        arrays[key] = value
        return {ARRAY_TAG: key}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_to_document(item, arrays, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"{where} has keys that are not strings, which a checkpoint cannot hold")
        return {key: _to_document(item, arrays, f"{where}[{key!r}]") for key, item in value.items()}
    raise TypeError(
        f"{where} is a {type(value).__name__}; a checkpoint holds only numbers, strings, "
        f"lists, dicts and numeric arrays"
    )


def _from_document(value, arrays, path):
    """Undo _to_document: put the arrays back where their tags are."""
    if isinstance(value, dict):
        if set(value) == {ARRAY_TAG}:
            try:
                return arrays[value[ARRAY_TAG]]
            except (KeyError, TypeError):
                raise CheckpointError(f"{path}: refers to an array {value[ARRAY_TAG]!r} it does not hold") from None
        return {key: _from_document(item, arrays, path) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_document(item, arrays, path) for item in value]
    return value


def _private_temporary(final_path):
    """A new, uniquely named temporary file next to final_path, with normal permissions."""
    directory, name = os.path.split(os.path.abspath(final_path))
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    # mkstemp makes the file private; give it the permissions any new file would get.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    return handle, temporary
