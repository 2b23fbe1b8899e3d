"""Loading CIFAR-10 from the original python-pickle batches.

Where the data lives is decided in one place, :func:`cs231n.datasets.cifar10_dir`
(re-exported here): the ``CIFAR10_DIR`` environment variable when it is set,
``cs231n/datasets/cifar-10-batches-py`` otherwise.
The loaders accept any number of images per batch file, so a partial copy of the
dataset works as well as the full one.

A batch file is data, never code: it is read with a restricted unpickler that builds
only what the format holds (dicts, lists, strings, bytes, numbers and NumPy arrays) and
refuses every other global, so a hostile file cannot run anything. Every batch is then
checked (shape, pixel range, labels) before it is used.
"""
import numbers
import pickle
import warnings
from pathlib import Path

import numpy as np

from .datasets import CIFAR10_DIR_ENV, DEFAULT_CIFAR10_DIR, cifar10_dir

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
IMAGE_SHAPE = (3, 32, 32)
PIXELS_PER_IMAGE = 3 * 32 * 32
NUM_CLASSES = 10
CLASS_NAMES = (
    "plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)


class CIFAR10FormatError(ValueError):
    """A batch file exists but is not a valid CIFAR-10 batch; the message names the file."""


def _latin1_bytes(text, encoding="latin1", errors="strict"):
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1");
    # that one codec is all the format needs, so no other codec can be reached.
    if encoding not in ("latin1", "latin-1") or errors != "strict" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _numpy_reconstructors():
    """The functions NumPy's own pickles of arrays and scalars call, by every module name
    they are written under (numpy.core in NumPy 1, numpy._core in NumPy 2)."""
    functions = (
        np.arange(1).__reduce__()[0],       # _reconstruct: protocols 0 to 4
        np.arange(1).__reduce_ex__(5)[0],   # _frombuffer: protocol 5
        np.int64(0).__reduce__()[0],        # scalar: NumPy scalars, e.g. labels
    )
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for function in functions:
        module = function.__module__
        for spelling in {module, module.replace("numpy._core", "numpy.core"),
                         module.replace("numpy.core", "numpy._core")}:
            allowed[(spelling, function.__name__)] = function
    return allowed


_ALLOWED_GLOBALS = {**_numpy_reconstructors(), ("_codecs", "encode"): _latin1_bytes}


class _RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, module, name):
        super().__init__(f"{module}.{name}")
        self.qualified_name = f"{module}.{name}"


class _BatchUnpickler(pickle.Unpickler):
    """Builds dicts, lists, str, bytes, numbers and NumPy arrays; refuses any other global."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise _RefusedGlobal(module, name) from None


def safe_unpickle(path):
    """Read the pickle at ``path`` with the restricted unpickler (latin1 for Python 2 strings).

    Raises CIFAR10FormatError naming the file and the refused global when the file asks
    for anything beyond plain containers, numbers, strings and NumPy arrays; nothing in
    such a file is called.
    """
    path = Path(path)
    with open(path, "rb") as f:
        try:
            return _BatchUnpickler(f, encoding="latin1").load()
        except _RefusedGlobal as refused:
            raise CIFAR10FormatError(
                f"{path}: refused to load {refused.qualified_name}: a CIFAR-10 batch holds "
                f"only dicts, lists, strings, numbers and NumPy arrays, so this file is not "
                f"one (nothing in it was run)"
            ) from None


def missing_data_message(root):
    return (
        f"CIFAR-10 not found in {root}. Run `bash cs231n/datasets/get_datasets.sh` to "
        f"download it, or set {CIFAR10_DIR_ENV} to a folder holding data_batch_1..5 "
        f"and test_batch."
    )


def _value_range(array):
    return f"{array.min()}..{array.max()}" if array.size else "none"


def _checked_pixels(path, data):
    """The batch's pixel rows as uint8, after checking type, shape and range."""
    if not isinstance(data, np.ndarray):
        raise CIFAR10FormatError(f"{path}: 'data' is a {type(data).__name__}, expected a NumPy array")
    if data.dtype.kind not in "iu":
        raise CIFAR10FormatError(
            f"{path}: 'data' has dtype {data.dtype}, expected integer pixel values 0..255"
        )
    if data.ndim != 2 or data.shape[1] != PIXELS_PER_IMAGE:
        raise CIFAR10FormatError(
            f"{path}: 'data' has shape {data.shape}, expected (n, {PIXELS_PER_IMAGE}): one "
            f"row per image of 1024 red, 1024 green and 1024 blue values"
        )
    if data.size and (data.min() < 0 or data.max() > 255):
        raise CIFAR10FormatError(
            f"{path}: 'data' holds values {_value_range(data)}, expected pixel values 0..255"
        )
    return data.astype(np.uint8)


def _checked_labels(path, labels, num_images):
    """The batch's labels as int64, after checking type, count and range."""
    if not isinstance(labels, (list, np.ndarray)):
        raise CIFAR10FormatError(f"{path}: 'labels' is a {type(labels).__name__}, expected a list")
    labels = np.asarray(labels)
    if labels.size and labels.dtype.kind not in "iu":
        raise CIFAR10FormatError(f"{path}: 'labels' are of type {labels.dtype}, expected integers 0..9")
    if labels.ndim != 1 or len(labels) != num_images:
        raise CIFAR10FormatError(
            f"{path}: {num_images} images but 'labels' of shape {labels.shape}, expected "
            f"({num_images},) (truncated or corrupt file?)"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise CIFAR10FormatError(
            f"{path}: 'labels' range over {_value_range(labels)}, expected class numbers 0..9"
        )
    return labels.astype(np.int64)


def load_CIFAR_batch(filename):
    """Load one batch file. Returns X of shape (n, 32, 32, 3), float64, and y of shape (n,).

    Raises CIFAR10FormatError naming the file and the problem when the file is not a
    valid CIFAR-10 batch: unreadable, holding anything but plain data, or with pixels,
    labels or counts that do not fit the format.
    """
    path = Path(filename)
    try:
        batch = safe_unpickle(path)
    except CIFAR10FormatError:
        raise
    except (EOFError, pickle.UnpicklingError, TypeError, ValueError, AttributeError,
            IndexError, KeyError, MemoryError, UnicodeDecodeError) as exc:
        raise CIFAR10FormatError(
            f"{path}: not a readable CIFAR-10 batch (truncated or corrupt file?): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(batch, dict) or not {"data", "labels"} <= batch.keys():
        found = sorted(map(str, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise CIFAR10FormatError(
            f"{path}: expected a dict with 'data' and 'labels', found {found}"
        )
    pixels = _checked_pixels(path, batch["data"])
    labels = _checked_labels(path, batch["labels"], len(pixels))
    images = pixels.reshape(-1, *IMAGE_SHAPE)
    return images.transpose(0, 2, 3, 1).astype(np.float64), labels


def load_CIFAR10(ROOT, partial=False):
    """Load all of CIFAR-10 from ROOT.

    Returns Xtr (n_train, 32, 32, 3), Ytr (n_train,), Xte (n_test, 32, 32, 3), Yte (n_test,).
    Every training batch data_batch_1..5 must be there; a folder lacking some of them is
    an error naming those, unless ``partial`` is set, which loads the batches present
    (with a warning naming the missing ones).
    """
    root = Path(ROOT)
    present = [name for name in TRAIN_BATCHES if (root / name).is_file()]
    if not (root / TEST_BATCH).is_file() or not present:
        raise FileNotFoundError(missing_data_message(root))
    missing = [name for name in TRAIN_BATCHES if name not in present]
    if missing and not partial:
        raise FileNotFoundError(
            f"{root} lacks the training batch(es) {', '.join(missing)} (it holds "
            f"{', '.join(present)}). Restore them, or pass partial=True to load only "
            f"the batches that are there."
        )
    if missing:
        warnings.warn(
            f"{root} lacks {', '.join(missing)}; loading only {', '.join(present)} (partial=True).",
            stacklevel=2,
        )
    train = [load_CIFAR_batch(root / name) for name in present]
    Xtr = np.concatenate([x for x, _ in train])
    Ytr = np.concatenate([y for _, y in train])
    Xte, Yte = load_CIFAR_batch(root / TEST_BATCH)
    return Xtr, Ytr, Xte, Yte


def _check_split_size(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive whole number of images, got {value!r}")


def split_sizes(num_available_train, num_available_test, num_training, num_validation, num_test):
    """The split sizes to use: those requested when the data holds them, else smaller ones.

    Every requested size must be a positive integer. When the training batches hold
    fewer than num_training + num_validation images, the validation split keeps its
    requested size as long as that is at most a fifth of them, and the training split
    gets the rest.
    """
    for name, value in (("num_training", num_training), ("num_validation", num_validation),
                        ("num_test", num_test)):
        _check_split_size(name, value)
    train, val = num_training, num_validation
    if train + val > num_available_train:
        val = min(num_validation, num_available_train // 5)
        train = min(num_training, num_available_train - val)
    test = min(num_test, num_available_test)
    if not (train and val and test):
        raise ValueError(
            f"{num_available_train} training and {num_available_test} test images are too "
            f"few for train/val/test splits of {num_training}/{num_validation}/{num_test}."
        )
    return train, val, test


def load_CIFAR10_splits(num_training=49000, num_validation=1000, num_test=1000, root=None,
                        partial=False):
    """Load CIFAR-10 from root (default: the configured folder) and cut it into splits.

    Validation images are those right after the training images in the data batches;
    test images are the first num_test of the test batch. Returns a dict with X_train,
    y_train, X_val, y_val, X_test, y_test: raw pixels of shape (n, 32, 32, 3), float64.
    When the data holds fewer images than requested (a partial copy), the splits shrink
    as :func:`split_sizes` says and one warning tells the caller. ``partial`` allows a
    folder that lacks some training batch files (see :func:`load_CIFAR10`).
    """
    for name, value in (("num_training", num_training), ("num_validation", num_validation),
                        ("num_test", num_test)):
        _check_split_size(name, value)
    root = Path(root) if root is not None else cifar10_dir()
    X_all, y_all, X_test_all, y_test_all = load_CIFAR10(root, partial=partial)

    train, val, test = split_sizes(len(X_all), len(X_test_all),
                                   num_training, num_validation, num_test)
    if (train, val, test) != (num_training, num_validation, num_test):
        # The folder is named only when it is not the default one, which students never set.
        where = "" if root.resolve() == DEFAULT_CIFAR10_DIR.resolve() else f" at {root}"
        warnings.warn(
            f"This copy of CIFAR-10{where} holds {len(X_all):,} training and "
            f"{len(X_test_all):,} test images, fewer than requested: using {train:,} / {val:,} / "
            f"{test:,} train / validation / test images instead of {num_training:,} / "
            f"{num_validation:,} / {num_test:,}.",
            stacklevel=3,
        )
    return {
        "X_train": X_all[:train], "y_train": y_all[:train],
        "X_val": X_all[train:train + val], "y_val": y_all[train:train + val],
        "X_test": X_test_all[:test], "y_test": y_test_all[:test],
    }


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000,
                     subtract_mean=True, cifar10_dir_path=None, partial=False):
    """Load CIFAR-10 and split it into train/val/test, channels first.

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test; images have
    shape (n, 3, 32, 32), float64, with the training mean image subtracted when
    subtract_mean is set. When the data holds fewer images than requested (a partial
    copy), the splits shrink and one warning says so. ``partial`` allows a folder that
    lacks some training batch files (see :func:`load_CIFAR10`).
    """
    data = load_CIFAR10_splits(num_training, num_validation, num_test, cifar10_dir_path,
                               partial=partial)
    if subtract_mean:
        mean_image = data["X_train"].mean(axis=0)
        for split in ("X_train", "X_val", "X_test"):
            data[split] = data[split] - mean_image
    for split in ("X_train", "X_val", "X_test"):
        data[split] = np.ascontiguousarray(data[split].transpose(0, 3, 1, 2))
    return data
