"""Shared fixtures: a synthetic CIFAR-10 folder written in the original format."""
import pickle
from pathlib import Path

import numpy as np
import pytest

from cs231n.datasets import CIFAR10_FILES

PARTIAL_CIFAR10 = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cifar-10-partial"


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
def synthetic_cifar(tmp_path):
    return write_cifar_folder(tmp_path / "cifar-10-batches-py")


@pytest.fixture
def partial_cifar():
    if not (PARTIAL_CIFAR10 / "test_batch").is_file():
        pytest.skip(f"the partial CIFAR-10 copy is not at {PARTIAL_CIFAR10}")
    return PARTIAL_CIFAR10
