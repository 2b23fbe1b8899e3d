"""Which files of a solution bundle a starter release holds, and reading them.

Staff material stays out (NOT_RELEASED: the whole staff/ folder, the guides for staff
and maintainers, CI and the benchmarks), as do environments, build products, datasets,
caches, version control and submission files (tools/conventions.py, is_excluded).
Everything else ships, stubbed or as is.
"""
import os
from pathlib import Path, PurePosixPath

from tools.conventions import is_excluded
from tools.tasks import read_text

# What a starter release leaves out, relative to the bundle root: the staff folder (so a
# staff file added there later never ships), docs/ (the student guide ships as the
# release's README.md, the staff and maintainer guides not at all), CI and the
# benchmarks. Defined here, not among the conventions the release ships, so that the
# release names none of it.
NOT_RELEASED = ("staff", "docs", ".ci", "benchmarks")


class ReleaseError(Exception):
    """The solution bundle cannot be turned into a release; the message says why and where."""


def is_released(relative_path):
    """False for a path (relative to the bundle root) that a starter release leaves out."""
    posix = PurePosixPath(PurePosixPath(relative_path).as_posix())
    return not any(posix == PurePosixPath(item) or PurePosixPath(item) in posix.parents
                   for item in NOT_RELEASED)


def bundle_paths(source):
    """Every path under ``source`` that a release may hold, sorted; folders that are
    excluded or not released (an environment, the staff folder) are not even entered."""
    paths = []
    for folder, subfolders, files in os.walk(source):
        folder = Path(folder)
        kept = [name for name in subfolders
                if not is_excluded((folder / name).relative_to(source))
                and is_released((folder / name).relative_to(source))]
        # Linked folders are listed (and then skipped, by name) but never walked into.
        subfolders[:] = [name for name in kept if not (folder / name).is_symlink()]
        paths += [folder / name for name in kept]
        paths += [folder / name for name in files
                  if not is_excluded((folder / name).relative_to(source))
                  and is_released((folder / name).relative_to(source))]
    return sorted(paths)


def read_source_text(path, relative):
    """The UTF-8 text of a bundle file; ReleaseError naming it (``relative``) when it is not."""
    try:
        return read_text(path, relative)
    except ValueError as error:
        raise ReleaseError(str(error)) from None


def read_source_notebook(path, relative):
    """The nbformat node of a bundle notebook; ReleaseError naming it when unreadable."""
    import nbformat

    try:
        return nbformat.reads(read_source_text(path, relative), as_version=4)
    except ReleaseError:
        raise
    except Exception as error:  # nbformat raises JSON, validation and key errors alike
        raise ReleaseError(f"{relative}: not a readable notebook ({type(error).__name__}: {error})") from None
