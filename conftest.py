"""What every test folder shares: the fast set by default (``--slow`` for every test), the
time the tests took, CIFAR-10 folders, synthetic and real, and a small classification
problem.

The tests marked ``slow`` (executing notebooks, building environments or packages,
compiling the extension, rendering PDFs, anything over a few seconds) run only with
``--slow`` or with a ``-m`` expression of one's own: ``pytest`` and ``python -m
tools.run_tests`` alone run the rest, ``--slow`` runs everything, ``-m slow`` only those.

``partial_cifar`` is the folder of real images the tests train and check on: the one
``CIFAR10_DIR`` names when it is set (as CI sets it), otherwise the partial copy beside the
checkout (../shared/datasets/cifar-10-partial); tests that need it are skipped when
neither holds CIFAR-10.
"""
import os
import pickle
import time
from pathlib import Path

import numpy as np
import pytest

from cs231n.datasets import CIFAR10_FILES

BESIDE_THE_CHECKOUT = Path(__file__).resolve().parent.parent / "shared" / "datasets" / "cifar-10-partial"
SLOW = "slow"
FAST_SET = f"not {SLOW}"
_TESTS_STARTED = pytest.StashKey[float]()


def pytest_addoption(parser):
    parser.addoption(f"--{SLOW}", action="store_true",
                     help=f"run the tests marked {SLOW} too (without it, and without -m, they are deselected)")


def pytest_configure(config):
    # A hook rather than addopts = -m "not slow" in pyproject.toml: the flag is then one
    # that pytest itself knows (pytest --slow, python -m tools.run_tests --slow, either
    # with any other argument), and a -m of the user's own is left exactly as given.
    if not config.option.markexpr and not config.getoption(SLOW):
        config.option.markexpr = FAST_SET


def pytest_collection_finish(session):
    session.config.stash[_TESTS_STARTED] = time.perf_counter()


def pytest_terminal_summary(terminalreporter, config):
    """The time the tests themselves took: from the end of collection, so neither the
    environment's set-up nor the imports of collection count."""
    started = config.stash.get(_TESTS_STARTED, None)
    if started is not None and not config.option.collectonly:
        selection = f"-m {config.option.markexpr!r}" if config.option.markexpr else "every test"
        terminalreporter.write_line(f"tests ran in {time.perf_counter() - started:.1f} s ({selection}; "
                                    "collection and set-up not counted)")


def real_cifar_folder():
    """The CIFAR-10 folder of real images for the tests, or None when there is none."""
    folder = Path(os.environ.get("CIFAR10_DIR") or BESIDE_THE_CHECKOUT)
    return folder if (folder / "test_batch").is_file() else None


def write_cifar_batch(path, num_images, seed):
    """Write a batch file in CIFAR-10's pickle format with random pixels and labels."""
    rng = np.random.default_rng(seed)
    batch = {
        "batch_label": f"synthetic batch {seed}",
        "labels": rng.integers(0, 10, size=num_images).tolist(),
        "data": rng.integers(0, 256, size=(num_images, 3072), dtype=np.uint8),
        "filenames": [f"image_{seed}_{i}.png" for i in range(num_images)],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f)
    return batch


def write_cifar_folder(folder, train_per_batch=20, num_test=15):
    """A complete CIFAR-10 folder with 5 * train_per_batch training and num_test test images."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        write_cifar_batch(folder / f"data_batch_{i}", train_per_batch, seed=i)
    write_cifar_batch(folder / "test_batch", num_test, seed=99)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["plane", "car", "bird", "cat", "deer",
                                     "dog", "frog", "horse", "ship", "truck"]}, f)
    assert all((folder / name).is_file() for name in CIFAR10_FILES)
    return folder


@pytest.fixture
def small_data():
    """A small classification problem for training tests: 50 training and 40 validation
    points of dimension 12 from five well separated Gaussian blobs."""
    num_classes, input_dim = 5, 12
    rng = np.random.default_rng(0)
    centers = 3 * rng.standard_normal((num_classes, input_dim))

    def sample(num):
        y = rng.integers(num_classes, size=num)
        return centers[y] + rng.standard_normal((num, input_dim)), y

    X_train, y_train = sample(50)
    X_val, y_val = sample(40)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}


@pytest.fixture
def synthetic_cifar(tmp_path):
    return write_cifar_folder(tmp_path / "cifar-10-batches-py")


@pytest.fixture(name="write_cifar_folder")
def write_cifar_folder_fixture():
    """The writer itself, for tests that build CIFAR-10 folders of their own sizes."""
    return write_cifar_folder


@pytest.fixture(scope="session")
def partial_cifar():
    folder = real_cifar_folder()
    if folder is None:
        pytest.skip(f"no CIFAR-10 copy: CIFAR10_DIR is not set and {BESIDE_THE_CHECKOUT} is missing")
    return folder
