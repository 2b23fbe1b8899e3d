"""Building a starter release: every file of the bundle that ships (files.py), stubbed
(stubs.py) or copied as is, and the student guide as its README (readme.py); computed in
memory first, so that an error leaves no half-built release.
"""
import shutil
from pathlib import Path

from staff.release.files import ReleaseError, bundle_paths, read_source_notebook, read_source_text
from staff.release.readme import STUDENT_GUIDE, student_readme
from staff.release.stubs import release_notebook, stub_regions
from tools.regions import MarkerError

# Where student tasks live: the package's Python files and the notebooks.
PACKAGE = "cs231n"


def release_contents(source):
    """What the release of ``source`` holds, computed in memory.

    Returns (outputs, changed, skipped_links): outputs maps each relative path to its new
    text, or to the source Path to copy as is; changed lists the stubbed or cleared
    files; skipped_links lists the symbolic links left out.
    """
    import nbformat

    outputs, changed, skipped_links = {}, [], []
    if (source / STUDENT_GUIDE).is_file():
        outputs[Path("README.md")] = student_readme(source)
        changed.append("README.md")
    for path in bundle_paths(source):
        relative = path.relative_to(source)
        if path.is_symlink():
            skipped_links.append(relative.as_posix())
            continue
        if not path.is_file() or relative in outputs:
            continue
        try:
            if path.suffix == ".py" and relative.parts[0] == PACKAGE:
                text = read_source_text(path, relative)
                released = stub_regions(text, relative.as_posix())
                if released != text:
                    outputs[relative] = released
                    changed.append(relative.as_posix())
                    continue
            elif path.suffix == ".ipynb":
                notebook = release_notebook(read_source_notebook(path, relative), relative.as_posix())
                outputs[relative] = nbformat.writes(notebook) + "\n"
                changed.append(relative.as_posix())
                continue
        except MarkerError as error:
            raise ReleaseError(str(error)) from None
        outputs[relative] = path
    return outputs, changed, skipped_links


def make_release(source, destination):
    """Write the starter bundle for the solution bundle ``source`` into ``destination``.

    Returns (changed, skipped_links): the files whose content was stubbed or cleared and
    the symbolic links that were left out. Nothing is written when the release cannot
    be built.
    """
    source, destination = Path(source).resolve(), Path(destination).resolve()
    if not source.is_dir():
        raise ReleaseError(f"the solution bundle {source} is not a folder")
    if destination == source or source in destination.parents:
        raise ReleaseError(f"the release folder {destination} must be outside the bundle {source}")
    if destination.exists() and not destination.is_dir():
        raise ReleaseError(f"the release destination {destination} exists and is not a folder")
    if destination.exists() and any(destination.iterdir()):
        raise ReleaseError(f"the release folder {destination} is not empty")

    # Everything is stubbed in memory first, so an error leaves no half-built release.
    outputs, changed, skipped_links = release_contents(source)
    try:
        for relative, content in outputs.items():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):
                shutil.copy2(content, target)
            else:
                target.write_text(content, encoding="utf-8")
    except OSError as error:
        raise ReleaseError(f"could not write the release into {destination}: {error}") from None
    return changed, skipped_links
