"""The CIFAR-10 downloader, against a small archive served from 127.0.0.1."""
import functools
import hashlib
import http.server
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from cs231n.data_utils import load_CIFAR10
from cs231n.datasets import download as dl
from conftest import write_cifar_folder

BUNDLE_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def archive(tmp_path):
    """A small cifar-10-python.tar.gz with the real layout, and its size and MD5."""
    source = write_cifar_folder(tmp_path / "source" / "cifar-10-batches-py", train_per_batch=4, num_test=3)
    path = tmp_path / "served" / dl.ARCHIVE_NAME
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        tar.add(source, arcname="cifar-10-batches-py")
    return path, path.stat().st_size, hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def server(archive):
    """An HTTP server on 127.0.0.1 serving the archive's folder; yields the archive URL."""
    handler = functools.partial(_QuietHandler, directory=str(archive[0].parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/{dl.ARCHIVE_NAME}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        return None


def leftovers(folder):
    """Anything a failed run must not leave behind."""
    names = {p.name for p in folder.iterdir()} if folder.exists() else set()
    return sorted(n for n in names if n.endswith(".partial") or n.startswith(dl.EXTRACT_PREFIX)
                  or n in {"cifar-10-batches-py", dl.ARCHIVE_NAME})


def test_download_verify_extract_and_reuse(tmp_path, archive, server, capsys):
    _, size, md5 = archive
    dest = tmp_path / "data" / "cifar-10-batches-py"
    assert dl.ensure_cifar10(dest, url=server, size=size, md5=md5) == dest
    Xtr, ytr, Xte, yte = load_CIFAR10(dest)
    assert Xtr.shape == (20, 32, 32, 3) and Xte.shape == (3, 32, 32, 3)
    assert leftovers(dest.parent) == ["cifar-10-batches-py"]  # the download is removed

    capsys.readouterr()
    dl.ensure_cifar10(dest, url="http://127.0.0.1:9/never-contacted", size=size, md5=md5)
    assert "already" in capsys.readouterr().out


def test_bad_checksum_extracts_nothing(tmp_path, archive, server):
    _, size, _ = archive
    dest = tmp_path / "data" / "cifar-10-batches-py"
    with pytest.raises(dl.DatasetError, match="MD5 checksum"):
        dl.ensure_cifar10(dest, url=server, size=size, md5="0" * 32)
    assert leftovers(dest.parent) == []


def test_wrong_size_extracts_nothing(tmp_path, archive, server):
    _, size, md5 = archive
    dest = tmp_path / "data" / "cifar-10-batches-py"
    with pytest.raises(dl.DatasetError, match=f"expected {size + 1:,}"):
        dl.ensure_cifar10(dest, url=server, size=size + 1, md5=md5)
    assert leftovers(dest.parent) == []


def test_interrupted_extraction_leaves_no_half_folder(tmp_path, archive, monkeypatch):
    path, size, md5 = archive
    dest = tmp_path / "data" / "cifar-10-batches-py"
    real_extract = dl._safe_extract

    def extract_then_interrupt(tar, target):
        real_extract(tar, target)
        raise KeyboardInterrupt

    monkeypatch.setattr(dl, "_safe_extract", extract_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        dl.ensure_cifar10(dest, archive=path, size=size, md5=md5)
    assert not dest.exists()
    assert leftovers(dest.parent) == []

    monkeypatch.setattr(dl, "_safe_extract", real_extract)
    dl.ensure_cifar10(dest, archive=path, size=size, md5=md5)
    assert dl.is_complete(dest)
    assert path.exists()  # an archive the user supplied is kept


def test_interrupted_download_leaves_no_partial_file(tmp_path, archive, server, monkeypatch):
    _, size, md5 = archive
    dest = tmp_path / "data" / "cifar-10-batches-py"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dl, "verify_archive", interrupt)
    with pytest.raises(KeyboardInterrupt):
        dl.ensure_cifar10(dest, url=server, size=size, md5=md5)
    assert leftovers(dest.parent) == []


def test_leftovers_of_a_killed_run_are_cleaned(tmp_path, archive):
    path, size, md5 = archive
    dest = tmp_path / "data" / "cifar-10-batches-py"
    stale = dest.parent / (dl.EXTRACT_PREFIX + "killed")
    (stale / "cifar-10-batches-py").mkdir(parents=True)
    dl.ensure_cifar10(dest, archive=path, size=size, md5=md5)
    assert not stale.exists() and dl.is_complete(dest)


def test_offline_error_says_what_to_do(tmp_path):
    dest = tmp_path / "data" / "cifar-10-batches-py"
    url = "http://127.0.0.1:9/cifar-10-python.tar.gz"  # the discard port: nothing listens
    with pytest.raises(dl.DatasetError) as info:
        dl.ensure_cifar10(dest, url=url)
    message = str(info.value)
    assert url in message
    assert str(dest.parent / dl.ARCHIVE_NAME) in message
    assert "CIFAR10_DIR" in message
    assert leftovers(dest.parent) == []


def test_incomplete_destination_is_not_overwritten(tmp_path, archive):
    path, size, md5 = archive
    dest = tmp_path / "cifar-10-batches-py"
    dest.mkdir()
    (dest / "data_batch_1").write_bytes(b"precious")
    with pytest.raises(dl.DatasetError, match="lacks some of"):
        dl.ensure_cifar10(dest, archive=path, size=size, md5=md5)
    assert (dest / "data_batch_1").read_bytes() == b"precious"


def test_get_datasets_script_honours_the_setting(tmp_path, synthetic_cifar):
    result = subprocess.run(
        ["bash", str(BUNDLE_ROOT / "cs231n" / "datasets" / "get_datasets.sh")],
        cwd=tmp_path, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "CIFAR10_DIR": str(synthetic_cifar)},
    )
    assert result.returncode == 0, result.stderr
    assert f"already in {synthetic_cifar}" in result.stdout


def test_missing_local_archive_is_an_error_not_a_download(tmp_path):
    dest = tmp_path / "data" / "cifar-10-batches-py"
    with pytest.raises(dl.DatasetError, match="No archive at"):
        dl.ensure_cifar10(dest, archive=tmp_path / "typo.tar.gz", url="http://127.0.0.1:9/x")
    assert leftovers(dest.parent) == []


def test_destination_that_is_a_file_is_named(tmp_path):
    dest = tmp_path / "cifar-10-batches-py"
    dest.write_text("not a folder")
    with pytest.raises(dl.DatasetError, match="is a file"):
        dl.ensure_cifar10(dest)
