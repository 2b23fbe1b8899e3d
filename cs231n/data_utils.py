"""Loading CIFAR-10 from the original python-pickle batches.

Where the data lives is decided in one place, :func:`cs231n.datasets.cifar10_dir`
(re-exported here): the ``CIFAR10_DIR`` environment variable when it is set,
``cs231n/datasets/cifar-10-batches-py`` otherwise.
The loaders accept any number of images per batch file, so a partial copy of the
dataset works as well as the full one.
"""
import pickle
import warnings
from pathlib import Path

import numpy as np

from .datasets import CIFAR10_DIR_ENV, cifar10_dir

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
IMAGE_SHAPE = (3, 32, 32)
CLASS_NAMES = (
    "plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)


class CIFAR10FormatError(ValueError):
    """A batch file exists but is not a readable CIFAR-10 batch."""


def missing_data_message(root):
    return (
        f"CIFAR-10 not found in {root}. Run `bash cs231n/datasets/get_datasets.sh` to "
        f"download it, or set {CIFAR10_DIR_ENV} to a folder holding data_batch_1..5 "
        f"and test_batch."
    )


def load_CIFAR_batch(filename):
    """Load one batch file. Returns X of shape (n, 32, 32, 3), float64, and y of shape (n,)."""
    path = Path(filename)
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        pixels = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
        images = pixels.reshape(-1, *IMAGE_SHAPE)
    except (EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError,
            AttributeError, IndexError, MemoryError) as exc:
        raise CIFAR10FormatError(
            f"{path}: not a readable CIFAR-10 batch (truncated or corrupt file?): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if len(images) != len(labels):
        raise CIFAR10FormatError(
            f"{path}: {len(images)} images but {len(labels)} labels (truncated or corrupt file?)"
        )
    return images.transpose(0, 2, 3, 1).astype(np.float64), labels


def load_CIFAR10(ROOT):
    """Load all of CIFAR-10 from ROOT.

    Returns Xtr (n_train, 32, 32, 3), Ytr (n_train,), Xte (n_test, 32, 32, 3), Yte (n_test,).
    """
    root = Path(ROOT)
    if not (root / TEST_BATCH).is_file():
        raise FileNotFoundError(missing_data_message(root))
    train = [load_CIFAR_batch(root / name) for name in TRAIN_BATCHES if (root / name).is_file()]
    if not train:
        raise FileNotFoundError(missing_data_message(root))
    Xtr = np.concatenate([x for x, _ in train])
    Ytr = np.concatenate([y for _, y in train])
    Xte, Yte = load_CIFAR_batch(root / TEST_BATCH)
    return Xtr, Ytr, Xte, Yte


def split_sizes(num_available_train, num_available_test, num_training, num_validation, num_test):
    """The split sizes to use: those requested when the data holds them, else smaller ones.

    When the training batches hold fewer than num_training + num_validation images, the
    validation split keeps its requested size as long as that is at most a fifth of
    them, and the training split gets the rest.
    """
    train, val = num_training, num_validation
    if train + val > num_available_train:
        val = min(num_validation, num_available_train // 5)
        train = min(num_training, num_available_train - val)
    test = min(num_test, num_available_test)
    if (num_training and not train) or (num_validation and not val) or (num_test and not test):
        raise ValueError(
            f"{num_available_train} training and {num_available_test} test images are too "
            f"few for train/val/test splits of {num_training}/{num_validation}/{num_test}."
        )
    return train, val, test


def load_CIFAR10_splits(num_training=49000, num_validation=1000, num_test=1000, root=None):
    """Load CIFAR-10 from root (default: the configured folder) and cut it into splits.

    Validation images are those right after the training images in the data batches;
    test images are the first num_test of the test batch. Returns a dict with X_train,
    y_train, X_val, y_val, X_test, y_test: raw pixels of shape (n, 32, 32, 3), float64.
    When the data holds fewer images than requested (a partial copy), the splits shrink
    as :func:`split_sizes` says and one warning tells the caller.
    """
    root = Path(root) if root is not None else cifar10_dir()
    X_all, y_all, X_test_all, y_test_all = load_CIFAR10(root)

    train, val, test = split_sizes(len(X_all), len(X_test_all),
                                   num_training, num_validation, num_test)
    if (train, val, test) != (num_training, num_validation, num_test):
        warnings.warn(
            f"{root} holds {len(X_all)} training and {len(X_test_all)} test images; "
            f"using {train} train / {val} val / {test} test instead of the requested "
            f"{num_training} / {num_validation} / {num_test}.",
            stacklevel=3,
        )
    return {
        "X_train": X_all[:train], "y_train": y_all[:train],
        "X_val": X_all[train:train + val], "y_val": y_all[train:train + val],
        "X_test": X_test_all[:test], "y_test": y_test_all[:test],
    }


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000,
                     subtract_mean=True, cifar10_dir_path=None):
    """Load CIFAR-10 and split it into train/val/test, channels first.

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test; images have
    shape (n, 3, 32, 32), float64, with the training mean image subtracted when
    subtract_mean is set. When the data holds fewer images than requested (a partial
    copy), the splits shrink and one warning says so.
    """
    data = load_CIFAR10_splits(num_training, num_validation, num_test, cifar10_dir_path)
    if subtract_mean:
        mean_image = data["X_train"].mean(axis=0)
        for split in ("X_train", "X_val", "X_test"):
            data[split] = data[split] - mean_image
    for split in ("X_train", "X_val", "X_test"):
        data[split] = np.ascontiguousarray(data[split].transpose(0, 3, 1, 2))
    return data
