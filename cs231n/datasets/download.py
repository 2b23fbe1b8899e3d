"""Download, verify and extract CIFAR-10 (python version) into the configured folder.

Usage: ``python -m cs231n.datasets.download [--dest DIR] [--archive FILE]``.

Nothing is left half-written: the archive is downloaded to ``*.partial`` and renamed
only once its size and MD5 match; it is extracted into a hidden temporary folder next to
the destination and renamed into place only when every batch file is there. Ctrl-C,
SIGTERM and SIGHUP remove those temporary files on the way out; leftovers of a killed
run are removed at the start of the next one. Runs into one destination take turns: a
second run waits (and says so) until the first is done, then finds the data there.
Every failure ends in an error message and exit status 1, never a traceback.
"""
import argparse
import hashlib
import http.client
import os
import shutil
import signal
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from . import CIFAR10_DIR_ENV, CIFAR10_FILES, cifar10_dir

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_SIZE = 170_498_071
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
ARCHIVE_TOP_FOLDER = "cifar-10-batches-py"
EXTRACT_PREFIX = ".cifar-10-extract-"
LOCK_PREFIX = ".cifar-10-download-"
URL_SCHEMES = ("https", "http", "ftp", "file")
CHUNK = 1 << 20


class DatasetError(RuntimeError):
    """The dataset could not be fetched, verified or extracted."""


def is_complete(folder):
    return all((Path(folder) / name).is_file() for name in CIFAR10_FILES)


def file_md5(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_archive(path, size=CIFAR10_SIZE, md5=CIFAR10_MD5):
    """Raise DatasetError unless the file at path has the expected size and MD5."""
    actual_size = Path(path).stat().st_size
    if actual_size != size:
        raise DatasetError(
            f"{path}: size {actual_size:,} bytes, expected {size:,} (incomplete or wrong "
            f"file): delete it and run again."
        )
    actual_md5 = file_md5(path)
    if actual_md5 != md5:
        raise DatasetError(
            f"{path}: MD5 checksum {actual_md5}, expected {md5} (corrupt file): "
            f"delete it and run again."
        )


def _progress_bar(total):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc="CIFAR-10")


def download(url, archive, size=CIFAR10_SIZE, md5=CIFAR10_MD5):
    """Fetch url into archive via a .partial file; the final name appears only once verified."""
    partial = archive.with_name(archive.name + ".partial")
    try:
        out = open(partial, "wb")
    except OSError as exc:
        raise _unwritable(archive.parent, exc) from exc
    try:
        with out, urllib.request.urlopen(url, timeout=60) as response:
            bar = _progress_bar(int(response.headers.get("Content-Length") or size))
            for chunk in iter(lambda: response.read(CHUNK), b""):
                try:
                    out.write(chunk)
                except OSError as exc:  # a full disk, not the network
                    raise _unwritable(archive.parent, exc) from exc
                if bar is not None:
                    bar.update(len(chunk))
            if bar is not None:
                bar.close()
        verify_archive(partial, size, md5)
        partial.replace(archive)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        raise DatasetError(
            f"Could not download {url}: {exc}.\n"
            f"Without network access, download that file elsewhere and copy it to\n"
            f"    {archive}\n"
            f"then run this command again; or set {CIFAR10_DIR_ENV} to a folder that already "
            f"holds the extracted batches (data_batch_1..5, test_batch, batches.meta)."
        ) from exc
    finally:
        partial.unlink(missing_ok=True)


def _safe_extract(tar, target):
    if hasattr(tarfile, "data_filter"):
        tar.extractall(target, filter="data")
        return
    root = Path(target).resolve()
    for member in tar.getmembers():
        if not (member.isfile() or member.isdir()) or not (root / member.name).resolve().is_relative_to(root):
            raise DatasetError(f"Refusing to extract suspicious archive member {member.name!r}.")
    tar.extractall(target)


def extract(archive, dest):
    """Extract the archive's cifar-10-batches-py folder to dest, atomically."""
    staging = Path(tempfile.mkdtemp(prefix=EXTRACT_PREFIX, dir=dest.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            _safe_extract(tar, staging)
        extracted = staging / ARCHIVE_TOP_FOLDER
        if not is_complete(extracted):
            raise DatasetError(f"{archive}: the archive lacks some of {', '.join(CIFAR10_FILES)}.")
        extracted.rename(dest)
    except (tarfile.TarError, EOFError) as exc:
        raise DatasetError(f"{archive}: cannot extract ({exc}); delete it and run again.") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_leftovers(parent):
    """Delete staging folders that an interrupted earlier run left behind."""
    for stale in parent.glob(EXTRACT_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)


def _unwritable(folder, exc):
    return DatasetError(
        f"Cannot write into {folder}: {exc.strerror or exc}. Make it writable (or free some "
        f"space there), or set {CIFAR10_DIR_ENV} to a folder you can write to."
    )


def check_url(url):
    """Raise DatasetError unless url is an absolute URL this downloader can fetch."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in URL_SCHEMES or not (parts.netloc or parts.scheme == "file"):
        raise DatasetError(
            f"{url!r} is not a URL to download from: expected one starting with "
            f"{' or '.join(scheme + '://' for scheme in URL_SCHEMES)}."
        )


try:
    import fcntl
except ImportError:  # Windows: byte-range locks through msvcrt instead of flock
    fcntl = None
    import msvcrt


def _lock(handle, wait):
    """Lock the open file ``handle`` exclusively; without ``wait``, raise BlockingIOError
    at once when another process holds the lock."""
    if fcntl is not None:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        return
    while True:
        try:
            msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)
            return
        except OSError:
            if not wait:
                raise BlockingIOError("the lock is held by another process") from None
            time.sleep(1)


@contextmanager
def destination_lock(dest):
    """Hold a lock on dest for the duration of the block, waiting for any other run.

    The lock is an flock (on Windows, a byte-range lock) on a hidden file next to dest;
    the system releases it when the holder exits, even when killed, so a crashed run
    never blocks the next one. On a
    file system without locks (some network and FUSE mounts) the run goes on unguarded,
    with a note.
    """
    lock_path = dest.parent / f"{LOCK_PREFIX}{dest.name}.lock"
    try:
        handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _unwritable(dest.parent, exc) from exc
    try:
        try:
            _lock(handle, wait=False)
        except BlockingIOError:
            print(f"Another run is fetching CIFAR-10 into {dest}; waiting for it to finish...",
                  flush=True)
            _lock(handle, wait=True)
        except OSError as exc:
            print(f"Note: {dest.parent} does not support file locks ({exc.strerror}); a second "
                  f"run started now would not wait for this one.", flush=True)
        yield
    finally:
        os.close(handle)


def ensure_cifar10(dest=None, archive=None, url=CIFAR10_URL, size=CIFAR10_SIZE, md5=CIFAR10_MD5):
    """Make sure CIFAR-10 is extracted at dest (default: the configured folder).

    Returns the folder. Reuses a complete folder, then a verified archive (given, or
    next to dest), and downloads only when neither is there; a downloaded archive is
    deleted once extracted. Concurrent runs into one dest take turns (destination_lock).
    """
    dest = Path(dest).expanduser() if dest is not None else cifar10_dir()
    archive = Path(archive).expanduser() if archive is not None else None
    if dest.exists() and not dest.is_dir():
        raise DatasetError(f"{dest} is a file, not a folder for the CIFAR-10 batches.")
    if archive is not None and not Path(archive).is_file():
        raise DatasetError(f"No archive at {archive}: check the path given with --archive.")
    if archive is None:
        check_url(url)
    if is_complete(dest):
        print(f"CIFAR-10 is already in {dest}")
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(dest.parent, exc) from exc
    with destination_lock(dest):
        return _fetch_and_extract(dest, archive, url, size, md5)


def _fetch_and_extract(dest, archive, url, size, md5):
    """The work of ensure_cifar10, done while holding the destination's lock."""
    if is_complete(dest):
        print(f"CIFAR-10 is already in {dest}")
        return dest
    if dest.exists() and any(dest.iterdir()):
        raise DatasetError(
            f"{dest} exists but lacks some of {', '.join(CIFAR10_FILES)}. Move it away or "
            f"delete it, or point {CIFAR10_DIR_ENV} at a complete copy."
        )
    remove_leftovers(dest.parent)
    downloaded = False
    archive = Path(archive) if archive is not None else dest.parent / ARCHIVE_NAME
    if archive.exists():
        verify_archive(archive, size, md5)
    else:
        print(f"Downloading {url}")
        download(url, archive, size, md5)
        downloaded = True
    if dest.exists():
        dest.rmdir()
    extract(archive, dest)
    if downloaded:
        archive.unlink()
    print(f"CIFAR-10 extracted to {dest}")
    return dest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", help=f"target folder (default: ${CIFAR10_DIR_ENV} or {cifar10_dir()})")
    parser.add_argument("--archive", help=f"a local {ARCHIVE_NAME} to use instead of downloading")
    parser.add_argument("--url", default=CIFAR10_URL, help="where to download the archive from")
    args = parser.parse_args(argv)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):  # Windows has no SIGHUP
            signal.signal(getattr(signal, name), _exit_on_signal)
    try:
        ensure_cifar10(args.dest, args.archive, args.url)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted; no partial download or dataset was left behind.", file=sys.stderr)
        return 130
    return 0


def _exit_on_signal(signal_number, frame):
    # An exception, unlike the default action, runs the cleanup of the temporary files.
    raise SystemExit(128 + signal_number)


if __name__ == "__main__":
    sys.exit(main())
