import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hostile_files import CreatesMarker

from cs231n.data_utils import (
    CIFAR10FormatError, cifar10_dir, get_CIFAR10_data, load_CIFAR10, load_CIFAR_batch, split_sizes,
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
    with pytest.warns(UserWarning, match="using 80 / 20 / 15 train / validation / test images") as record:
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
    if (partial_cifar / "test_batch").stat().st_size > 10_000_000:
        pytest.skip(f"{partial_cifar} holds the full test set; this test checks the partial copy's counts")
    with pytest.warns(UserWarning, match="5,170 training and 1,017 test") as record:
        data = get_CIFAR10_data(cifar10_dir_path=partial_cifar)
    # Not the default folder, so the message says which one.
    assert str(partial_cifar) in str(record[0].message)
    assert data["X_train"].shape == (4170, 3, 32, 32)
    assert data["X_val"].shape == (1000, 3, 32, 32)
    assert data["X_test"].shape == (1000, 3, 32, 32)
    # Real images: all ten classes are present in every split.
    for split in ("y_train", "y_val", "y_test"):
        assert set(np.unique(data[split])) == set(range(10))


# ---------------------------------------------------------------------------- hostile and malformed batches

def write_pickle(path, obj, protocol=pickle.DEFAULT_PROTOCOL):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


def test_plain_pickle_of_the_hostile_object_would_run_its_code(tmp_path):
    # Shows that the hostile files below are real: pickle.loads runs their code.
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(CreatesMarker(marker)))
    assert marker.exists()


@pytest.mark.parametrize("with_real_batch", [False, True], ids=["bare", "inside-real-batch"])
def test_hostile_batch_is_refused_without_running_code(synthetic_cifar, tmp_path, with_real_batch):
    marker = tmp_path / "code-ran"
    path = synthetic_cifar / "data_batch_3"
    if with_real_batch:
        batch = pickle.loads(path.read_bytes())
        batch["batch_label"] = CreatesMarker(marker)
        write_pickle(path, batch)
    else:
        write_pickle(path, CreatesMarker(marker))
    with pytest.raises(CIFAR10FormatError, match=r"data_batch_3: refused to load builtins\.exec"):
        load_CIFAR10(synthetic_cifar)
    assert not marker.exists()


@pytest.mark.parametrize("global_name", [b"os\nsystem", b"numpy\nload", b"numpy.core.multiarray\nmatrix"])
def test_any_other_global_is_refused_by_name(tmp_path, global_name):
    path = tmp_path / "test_batch"
    # A protocol-2 GLOBAL opcode followed by STOP: enough to name the global.
    path.write_bytes(b"\x80\x02c" + global_name + b"\n.")
    module, name = global_name.decode().split("\n")
    with pytest.raises(CIFAR10FormatError, match=rf"test_batch: refused to load {module}\.{name}"):
        load_CIFAR_batch(path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("numpy_module", ["numpy._core", "numpy.core"])
def test_numpy_pickles_of_every_protocol_and_numpy_version_load(tmp_path, protocol, numpy_module):
    rng = np.random.default_rng(protocol)
    batch = {"data": rng.integers(0, 256, size=(4, 3072), dtype=np.uint8),
             "labels": [np.int64(3), 0, 9, 1], "batch_label": b"bytes too", "filenames": ["a"] * 4}
    raw = pickle.dumps(batch, protocol=protocol)
    # NumPy 1 (and the original Python 2 batches) name numpy.core where NumPy 2 names numpy._core.
    raw = raw.replace(b"numpy._core", numpy_module.encode()) if protocol == 2 else raw
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    X, y = load_CIFAR_batch(path)
    np.testing.assert_array_equal(X.transpose(0, 3, 1, 2).reshape(4, -1), batch["data"])
    np.testing.assert_array_equal(y, [3, 0, 9, 1])


def good_batch(num=6, seed=0):
    rng = np.random.default_rng(seed)
    return {"data": rng.integers(0, 256, size=(num, 3072), dtype=np.uint8),
            "labels": rng.integers(0, 10, size=num).tolist()}


def with_changes(**changes):
    batch = good_batch()
    batch.update(changes)
    return batch


PIXELS = good_batch()["data"]


@pytest.mark.parametrize("batch, problem", [
    (with_changes(data=PIXELS.astype(np.int16) + 45), r"values 45\.\.300, expected pixel values 0\.\.255"),
    (with_changes(data=PIXELS.astype(np.int64) - 256), r"values -256\.\.-1"),
    (with_changes(data=PIXELS / 255.0), r"dtype float64, expected integer pixel values"),
    (with_changes(data=np.full((6, 3072), np.nan)), r"dtype float64"),
    (with_changes(data=PIXELS > 100), r"dtype bool"),
    (with_changes(data=np.ascontiguousarray(PIXELS.T)), r"shape \(3072, 6\), expected \(n, 3072\)"),
    (with_changes(data=PIXELS.reshape(6, 3, 32, 32).transpose(0, 2, 3, 1)),
     r"shape \(6, 32, 32, 3\), expected \(n, 3072\)"),
    (with_changes(data=PIXELS.tolist()), r"'data' is a list, expected a NumPy array"),
    (with_changes(labels=[0, 1, 2, 3, 4, 10]), r"'labels' range over 0\.\.10, expected class numbers 0\.\.9"),
    (with_changes(labels=[0, 1, 2, 3, 4, -1]), r"'labels' range over -1\.\.4"),
    (with_changes(labels=[0.0, 1.5, 2, 3, 4, 5]), r"'labels' are of type float64"),
    (with_changes(labels=[0, 1, 2]), r"6 images but 'labels' of shape \(3,\)"),
    (with_changes(labels="0123456789"), r"'labels' is a str"),
    ({"data": PIXELS}, r"expected a dict with 'data' and 'labels', found \['data'\]"),
    ([1, 2, 3], r"expected a dict with 'data' and 'labels', found list"),
])
def test_invalid_batch_contents_name_file_and_problem(tmp_path, batch, problem):
    path = tmp_path / "data_batch_4"
    write_pickle(path, batch)
    with pytest.raises(CIFAR10FormatError, match=r"data_batch_4: .*" + problem):
        load_CIFAR_batch(path)


def test_integer_pixels_of_any_width_convert_exactly(tmp_path):
    batch = good_batch()
    write_pickle(tmp_path / "b", with_changes(data=batch["data"].astype(np.int64)))
    X, y = load_CIFAR_batch(tmp_path / "b")
    np.testing.assert_array_equal(X.transpose(0, 3, 1, 2).reshape(6, -1), batch["data"])
    assert y.dtype == np.int64 and list(y) == batch["labels"]


# ---------------------------------------------------------------------------- missing batches, split sizes

@pytest.mark.parametrize("removed", [("data_batch_1",), ("data_batch_2", "data_batch_4")])
def test_missing_training_batches_are_named(synthetic_cifar, removed):
    for name in removed:
        (synthetic_cifar / name).unlink()
    with pytest.raises(FileNotFoundError, match=rf"lacks the training batch\(es\) {', '.join(removed)}.*partial=True"):
        load_CIFAR10(synthetic_cifar)
    with pytest.raises(FileNotFoundError, match=removed[0]):
        get_CIFAR10_data(num_training=10, num_validation=5, num_test=5, cifar10_dir_path=synthetic_cifar)


def test_partial_set_on_request_loads_the_batches_present_with_a_warning(synthetic_cifar):
    (synthetic_cifar / "data_batch_1").unlink()
    with pytest.warns(UserWarning, match="lacks data_batch_1; loading only data_batch_2, "
                                         "data_batch_3, data_batch_4, data_batch_5"):
        Xtr, ytr, _, _ = load_CIFAR10(synthetic_cifar, partial=True)
    assert Xtr.shape == (80, 32, 32, 3)
    _, second_batch_labels = load_CIFAR_batch(synthetic_cifar / "data_batch_2")
    np.testing.assert_array_equal(ytr[:20], second_batch_labels)
    with pytest.warns(UserWarning, match="lacks data_batch_1"):
        data = get_CIFAR10_data(num_training=50, num_validation=10, num_test=5,
                                cifar10_dir_path=synthetic_cifar, partial=True)
    assert data["X_train"].shape == (50, 3, 32, 32)


@pytest.mark.parametrize("sizes, name", [
    ((0, 10, 10), "num_training"), ((-5, 10, 10), "num_training"), ((50, 0, 10), "num_validation"),
    ((50, 10, 2.5), "num_test"), ((True, 10, 10), "num_training"), ((50, "10", 10), "num_validation"),
])
def test_split_sizes_must_be_positive_integers(synthetic_cifar, sizes, name):
    with pytest.raises(ValueError, match=f"{name} must be a positive whole number of images, got"):
        get_CIFAR10_data(*sizes, cifar10_dir_path=synthetic_cifar)
    with pytest.raises(ValueError, match=name):
        split_sizes(100, 15, *sizes)


def python2_batch_pickle(pixels, labels):
    """A batch pickled the way the original CIFAR-10 files were: Python 2, protocol 2,
    NumPy 1's module names, the array's bytes as a Python 2 string."""
    num_images = pixels.shape[0]
    raw = pixels.tobytes()
    return b"".join([
        b"\x80\x02}(U\x04data",
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85U\x01b\x87R",
        b"(K\x01K", bytes([num_images]), b"M\x00\x0c\x86",
        b"cnumpy\ndtype\nU\x02u1K\x00K\x01\x87R(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb",
        b"\x89T", struct.pack("<I", len(raw)), raw, b"tb",
        b"U\x06labels](", b"".join(b"K" + bytes([label]) for label in labels), b"eu.",
    ])


def test_original_python2_batch_format_loads(tmp_path):
    batch = good_batch(num=3)
    path = tmp_path / "data_batch_1"
    path.write_bytes(python2_batch_pickle(batch["data"], batch["labels"]))
    X, y = load_CIFAR_batch(path)
    np.testing.assert_array_equal(X.transpose(0, 3, 1, 2).reshape(3, -1), batch["data"])
    assert list(y) == batch["labels"]


def test_tensor_loader_takes_the_partial_flag(synthetic_cifar):
    torch_data = pytest.importorskip("cs231n.torch_data")
    (synthetic_cifar / "data_batch_5").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_5"):
        torch_data.load_cifar10_tensors(synthetic_cifar, num_training=50, num_validation=10, num_test=5)
    with pytest.warns(UserWarning, match="lacks data_batch_5"):
        data = torch_data.load_cifar10_tensors(synthetic_cifar, num_training=50, num_validation=10,
                                               num_test=5, partial=True)
    assert tuple(data["X_train"].shape) == (50, 3, 32, 32)


def test_shrink_warning_names_no_path_for_the_default_folder(synthetic_cifar, monkeypatch):
    import cs231n.data_utils as data_utils

    monkeypatch.setattr(data_utils, "DEFAULT_CIFAR10_DIR", Path(synthetic_cifar))
    with pytest.warns(UserWarning, match="This copy of CIFAR-10 holds") as record:
        data_utils.load_CIFAR10_splits(num_training=10**6, root=synthetic_cifar)
    assert str(synthetic_cifar) not in str(record[0].message)
