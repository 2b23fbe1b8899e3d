import pickle

import numpy as np
import pytest

from cs231n.data_utils import (
    CIFAR10FormatError, cifar10_dir, get_CIFAR10_data, load_CIFAR10, split_sizes,
)
from cs231n.datasets import DEFAULT_CIFAR10_DIR


def test_data_dir_setting_defaults_to_bundle_folder(monkeypatch):
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    assert cifar10_dir() == DEFAULT_CIFAR10_DIR
    assert DEFAULT_CIFAR10_DIR.parts[-3:] == ("cs231n", "datasets", "cifar-10-batches-py")


def test_data_dir_setting_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path))
    assert cifar10_dir() == tmp_path.resolve()


def test_load_cifar10_reads_every_batch(synthetic_cifar):
    Xtr, ytr, Xte, yte = load_CIFAR10(synthetic_cifar)
    assert Xtr.shape == (100, 32, 32, 3) and ytr.shape == (100,)
    assert Xte.shape == (15, 32, 32, 3) and yte.shape == (15,)
    with open(synthetic_cifar / "data_batch_2", "rb") as f:
        raw = pickle.load(f)
    # CIFAR stores each image as 1024 red, then green, then blue values, row-major.
    first = raw["data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(Xtr[20], first)
    assert ytr[20] == raw["labels"][0]


def test_get_cifar10_data_splits_and_centers(synthetic_cifar):
    data = get_CIFAR10_data(num_training=70, num_validation=10, num_test=15,
                            cifar10_dir_path=synthetic_cifar)
    assert data["X_train"].shape == (70, 3, 32, 32)
    assert data["X_val"].shape == (10, 3, 32, 32)
    assert data["X_test"].shape == (15, 3, 32, 32)
    assert data["y_val"].shape == (10,)
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0, atol=1e-9)
    Xtr, ytr, _, _ = load_CIFAR10(synthetic_cifar)
    np.testing.assert_array_equal(data["y_val"], ytr[70:80])


def test_get_cifar10_data_shrinks_with_one_warning(synthetic_cifar):
    with pytest.warns(UserWarning, match="using 80 train / 20 val / 15 test") as record:
        data = get_CIFAR10_data(cifar10_dir_path=synthetic_cifar)
    assert len(record) == 1
    assert len(data["X_train"]) == 80 and len(data["X_val"]) == 20 and len(data["X_test"]) == 15


def test_get_cifar10_data_uses_the_setting(monkeypatch, synthetic_cifar):
    monkeypatch.setenv("CIFAR10_DIR", str(synthetic_cifar))
    data = get_CIFAR10_data(num_training=50, num_validation=5, num_test=5)
    assert data["X_train"].shape[0] == 50


@pytest.mark.parametrize("available, expected", [
    ((50000, 10000), (49000, 1000, 1000)),
    ((5170, 1017), (4170, 1000, 1000)),
    ((100, 15), (80, 20, 15)),
])
def test_split_sizes(available, expected):
    assert split_sizes(*available, 49000, 1000, 1000) == expected


def test_split_sizes_keep_requests_that_fit():
    assert split_sizes(50000, 10000, 500, 20000, 10) == (500, 20000, 10)
    assert split_sizes(5170, 1017, 500, 3000, 100) == (500, 3000, 100)


def test_split_sizes_refuse_empty_splits():
    with pytest.raises(ValueError, match="too few"):
        split_sizes(4, 10, 49000, 1000, 1000)


def test_truncated_batch_names_the_file(synthetic_cifar):
    path = synthetic_cifar / "data_batch_3"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(CIFAR10FormatError, match="data_batch_3"):
        load_CIFAR10(synthetic_cifar)


def test_garbage_batch_names_the_file(synthetic_cifar):
    (synthetic_cifar / "test_batch").write_bytes(b"this is not a pickle")
    with pytest.raises(CIFAR10FormatError, match="test_batch"):
        load_CIFAR10(synthetic_cifar)


def test_missing_data_explains_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="get_datasets.sh.*CIFAR10_DIR"):
        load_CIFAR10(tmp_path)


def test_partial_dataset(partial_cifar):
    with pytest.warns(UserWarning, match="5170 training and 1017 test"):
        data = get_CIFAR10_data(cifar10_dir_path=partial_cifar)
    assert data["X_train"].shape == (4170, 3, 32, 32)
    assert data["X_val"].shape == (1000, 3, 32, 32)
    assert data["X_test"].shape == (1000, 3, 32, 32)
    # Real images: all ten classes are present in every split.
    for split in ("y_train", "y_val", "y_test"):
        assert set(np.unique(data[split])) == set(range(10))
