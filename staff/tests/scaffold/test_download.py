"""The CIFAR-10 downloader, against a small archive served from 127.0.0.1."""
import errno
import functools
import hashlib
import http.server
import os
import signal
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from cs231n.data_utils import load_CIFAR10
from cs231n.datasets import download as dl

BUNDLE_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def archive(tmp_path, write_cifar_folder):
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


# ---------------------------------------------------------------------------- command-line errors, signals, concurrency

def run_downloader(*args, cwd=BUNDLE_ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "cs231n.datasets.download", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("url", ["notaurl", "http://", "ftp:/missing-slash", "www.cs.toronto.edu/cifar.tar.gz"])
def test_bad_url_is_one_clear_error(tmp_path, capsys, url):
    dest = tmp_path / "data" / "cifar-10-batches-py"
    assert dl.main(["--dest", str(dest), "--url", url]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {url!r} is not a URL to download from: expected one starting with https://")
    assert "Traceback" not in error
    assert leftovers(dest.parent) == []


def test_unwritable_destination_is_one_clear_error(tmp_path, capsys, monkeypatch):
    # The tests may run as root, for whom chmod does not block writing, so the refusal
    # is simulated where the downloader first writes: its lock file.
    dest = tmp_path / "data" / "cifar-10-batches-py"
    real_open = os.open

    def refuse_inside_tmp(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(dl.os, "open", refuse_inside_tmp)
    assert dl.main(["--dest", str(dest), "--url", "http://127.0.0.1:9/x"]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: Cannot write into {dest.parent}: Permission denied.")
    assert "Traceback" not in error


def test_second_run_waits_for_the_first_and_then_finds_the_data(tmp_path, archive, write_cifar_folder):
    path, _, _ = archive
    dest = tmp_path / "data" / "cifar-10-batches-py"
    dest.parent.mkdir()
    with dl.destination_lock(dest):
        second = subprocess.Popen(
            [sys.executable, "-m", "cs231n.datasets.download", "--dest", str(dest), "--archive", str(path)],
            cwd=BUNDLE_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert second.stdout.readline() == (
                f"Another run is fetching CIFAR-10 into {dest}; waiting for it to finish...\n")
            write_cifar_folder(dest, train_per_batch=4, num_test=3)  # the first run completes
        except BaseException:
            second.kill()
            raise
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert f"CIFAR-10 is already in {dest}" in out


HANG_UP = "os.kill(os.getpid(), signal.SIGHUP); raise AssertionError('SIGHUP did not stop the run')"


@pytest.mark.parametrize("phase", ["download", "extract"])
def test_sighup_leaves_no_temporary_files(tmp_path, archive, server, phase):
    path, _, _ = archive
    dest = tmp_path / "data" / "cifar-10-batches-py"
    if phase == "download":
        # The archive is in .partial when the verification starts.
        patch = f"def hang_up(*args, **kwargs):\n    {HANG_UP}\ndl.verify_archive = hang_up\n"
        arguments = ["--dest", str(dest), "--url", server]
    else:
        patch = (
            "real_extract = dl._safe_extract\n"
            "dl.verify_archive = lambda *args, **kwargs: None\n"
            f"def hang_up(tar, target):\n    real_extract(tar, target)\n    {HANG_UP}\n"
            "dl._safe_extract = hang_up\n"
        )
        arguments = ["--dest", str(dest), "--archive", str(path)]
    script = f"import os, signal, sys\nfrom cs231n.datasets import download as dl\n{patch}sys.exit(dl.main({arguments!r}))\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=BUNDLE_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 128 + signal.SIGHUP, result.stderr
    assert "AssertionError" not in result.stderr
    assert leftovers(dest.parent) == []
    assert path.exists()


def get_datasets(*args, cwd, **environment):
    return subprocess.run(
        ["bash", str(BUNDLE_ROOT / "cs231n" / "datasets" / "get_datasets.sh"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, **environment},
    )


@pytest.mark.parametrize("form", ["separate", "joined"])
def test_get_datasets_resolves_relative_paths_from_the_callers_directory(tmp_path, archive, form):
    path, _, _ = archive
    relative = path.relative_to(tmp_path)
    arguments = ["--archive", str(relative)] if form == "separate" else [f"--archive={relative}"]
    result = get_datasets(*arguments, "--dest", "data/cifar-10-batches-py", cwd=tmp_path)
    # The test archive is not the real CIFAR-10, so the check of its size is what fails:
    # the downloader found the file where the caller meant it.
    assert result.returncode == 1
    assert f"error: {path}: size {path.stat().st_size:,} bytes, expected 170,498,071" in result.stderr
    assert "No archive at" not in result.stderr and "Traceback" not in result.stderr


def test_get_datasets_resolves_a_relative_data_setting(tmp_path, synthetic_cifar):
    result = get_datasets(cwd=synthetic_cifar.parent, CIFAR10_DIR=synthetic_cifar.name)
    assert result.returncode == 0, result.stderr
    assert f"already in {synthetic_cifar}" in result.stdout


def test_file_system_without_locks_still_gets_the_data(tmp_path, archive, monkeypatch, capsys):
    path, size, md5 = archive
    dest = tmp_path / "data" / "cifar-10-batches-py"

    def no_locks(handle, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(dl.fcntl, "flock", no_locks)
    dl.ensure_cifar10(dest, archive=path, size=size, md5=md5)
    assert dl.is_complete(dest)
    assert f"Note: {dest.parent} does not support file locks (No locks available)" in capsys.readouterr().out


def test_get_datasets_runs_in_the_environment_setup_env_made(tmp_path):
    # setup_env.sh puts the environment at $CS231N_VENV when it is set; the downloader
    # must run with that environment's python, which has the bundle's packages.
    venv_python = tmp_path / "elsewhere" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text('#!/bin/sh\necho "environment python: $*"\n')
    venv_python.chmod(0o755)
    result = get_datasets(cwd=tmp_path, CS231N_VENV=str(tmp_path / "elsewhere"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "environment python: -m cs231n.datasets.download\n"
