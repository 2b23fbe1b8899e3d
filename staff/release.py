"""Build the student starter bundle from this solution bundle.

    python -m staff.release OUT_DIR [--source DIR]

* In the package's ``.py`` files and in notebook code cells, the code between each pair
  of ``START OF YOUR CODE`` / ``END OF YOUR CODE`` marker lines is replaced by one
  ``raise NotImplementedError(...)`` that names the file (or notebook and cell) and the
  function, and points to the task comment above the region; the marker lines stay.
  Every region raises, so each notebook stops exactly where the student has work to do.
* ``SOLUTION ONLY`` blocks (tools/conventions.py) are dropped with their marker lines, as if
  they had never been there, and so are notebook cells tagged ``solution-only``.
* Inline-answer cells go back to the bare prompt; every output is cleared; cells that
  papermill added to a notebook it ran are dropped.
* Staff material stays out (NOT_RELEASED: the whole staff/ folder,
  CI and the benchmarks), as do environments, build products, datasets, caches,
  version control and submission files. Symbolic links are skipped, each named.
* Everything else is copied as is.

Any line that mentions a marker's words without being exactly a marker line stops the
release with an error naming the file and line, so a mistyped marker never ships a
solution. Exit status: 0 on success, 1 when the release could not be built.
"""
import argparse
import json
import os
import shutil
import sys
import textwrap
from pathlib import Path, PurePosixPath

from tools.conventions import (BLANK_ANSWER, INJECTED_PARAMETERS_TAG, NOTEBOOKS, PAPERMILL_ERROR_TAG,
                               SOLUTION_ONLY_END, SOLUTION_ONLY_START, is_excluded)
from tools.cells import is_answer_cell, describe_place, is_solution_only_cell
from tools.regions import MarkerError, answer_regions, indentation, marker_regions
from tools.tasks import read_text, task_list

PAPERMILL_CELL_TAGS = {INJECTED_PARAMETERS_TAG, PAPERMILL_ERROR_TAG}
# Where student tasks live: the package's Python files and the notebooks.
PACKAGE = "cs231n"
# The release's README: this template, relative to the bundle root, with {{TASKS}}
# replaced by the list of tasks read from the student files and the notebooks. The
# bundle's own README is for staff and self-learners and does not ship.
STUDENT_README_TEMPLATE = "staff/student_readme.md"
TASKS_PLACEHOLDER = "{{TASKS}}"


# What a starter release leaves out, relative to the bundle root: the staff folder (so a
# staff file added there later never ships), CI, the benchmarks and two older entry
# points of the staff tools. Everything else ships, with its solution-only material
# removed. Defined here, not among the conventions the release ships, so that the
# release names none of it.
NOT_RELEASED = ("staff", ".ci", "benchmarks")


def is_released(relative_path):
    """False for a path (relative to the bundle root) that a starter release leaves out."""
    posix = PurePosixPath(PurePosixPath(relative_path).as_posix())
    return not any(posix == PurePosixPath(item) or PurePosixPath(item) in posix.parents
                   for item in NOT_RELEASED)


class ReleaseError(Exception):
    """The solution bundle cannot be turned into a release; the message says why and where."""


def _has_task_comment(lines, start):
    """True when comment lines sit right above the START marker at line index ``start``."""
    return start > 0 and lines[start - 1].strip().startswith("#")


def drop_solution_only(source, where):
    """Remove every SOLUTION ONLY block of ``source``, marker lines included."""
    lines = source.split("\n")
    blocks = marker_regions(lines, where, SOLUTION_ONLY_START, SOLUTION_ONLY_END)
    for start, end in reversed(blocks):
        del lines[start : end + 1]
    return "\n".join(lines)


def stub_regions(source, where):
    """Drop SOLUTION ONLY blocks and replace every student region by a raising placeholder.

    ``where`` names the file (or notebook and section) in messages and errors. Raises
    MarkerError on malformed or unbalanced markers.
    """
    source = drop_solution_only(source, where)
    lines = source.split("\n")
    for region in reversed(answer_regions(source, where)):
        # The code runs from line region.lines[0]; its START marker is the line above.
        start, end = region.lines[0] - 2, region.lines[1]
        message = f"{region.label}: not implemented yet."
        if _has_task_comment(lines, start):
            message += " The task comment right above this region says what to compute."
        message += " Replace this line with your code, keeping the two marker lines around it."
        indent = indentation(lines[start])
        pieces = textwrap.wrap(message, width=max(40, 84 - len(indent)), break_on_hyphens=False)
        # JSON strings are valid Python literals and come out double-quoted.
        literals = [f"{indent}    {json.dumps(piece + ' ', ensure_ascii=False)}" for piece in pieces[:-1]]
        literals.append(f"{indent}    {json.dumps(pieces[-1], ensure_ascii=False)}")
        lines[start + 1 : end] = [f"{indent}raise NotImplementedError(", *literals, f"{indent})"]
    return "\n".join(lines)


def release_notebook(notebook, name):
    """Stub the code regions, blank the answers and clear all outputs of a notebook node.

    Cells that papermill added and solution-only cells are dropped first; placeholders
    name the notebook and the section their cell is in.
    """
    # Run records and widget state are outputs too.
    for key in ("papermill", "widgets"):
        notebook.metadata.pop(key, None)
    notebook.cells = [
        cell for cell in notebook.cells
        if not PAPERMILL_CELL_TAGS & set(cell.metadata.get("tags", []))
        and not is_solution_only_cell(cell)
    ]
    for index, cell in enumerate(notebook.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            # Named by its section, as Jupyter shows it: a student cannot see cell numbers.
            cell.source = stub_regions(cell.source, describe_place(name, notebook.cells, index))
        elif is_answer_cell(cell):
            cell.source = BLANK_ANSWER
    return notebook


def _read_text(path, relative):
    try:
        return read_text(path, relative)
    except ValueError as error:
        raise ReleaseError(str(error)) from None


def _read_notebook(path, relative):
    import nbformat

    try:
        return nbformat.reads(_read_text(path, relative), as_version=4)
    except ReleaseError:
        raise
    except Exception as error:  # nbformat raises JSON, validation and key errors alike
        raise ReleaseError(f"{relative}: not a readable notebook ({type(error).__name__}: {error})") from None


def student_readme(source):
    """The release's README, from the template with the tasks of ``source`` filled in."""
    template = _read_text(source / STUDENT_README_TEMPLATE, STUDENT_README_TEMPLATE)
    try:
        tasks = task_list(source)
    except ValueError as error:
        raise ReleaseError(str(error)) from None
    sections = []
    for notebook in NOTEBOOKS:
        rows = [f"| {task.title}{' (optional)' if task.optional else ''} | {task.where} | {task.section} |"
                for task in tasks if task.notebook == notebook]
        if rows:
            sections.append(f"**{notebook}**\n\n| task | where you write it | where it is checked |\n"
                            "| --- | --- | --- |\n" + "\n".join(rows))
    return template.replace(TASKS_PLACEHOLDER, "\n\n".join(sections))


def _bundle_paths(source):
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


def release_contents(source):
    """What the release of ``source`` holds, computed in memory.

    Returns (outputs, changed, skipped_links): outputs maps each relative path to its new
    text, or to the source Path to copy as is; changed lists the stubbed or cleared
    files; skipped_links lists the symbolic links left out.
    """
    import nbformat

    outputs, changed, skipped_links = {}, [], []
    if (source / STUDENT_README_TEMPLATE).is_file():
        outputs[Path("README.md")] = student_readme(source)
        changed.append("README.md")
    for path in _bundle_paths(source):
        relative = path.relative_to(source)
        if path.is_symlink():
            skipped_links.append(relative.as_posix())
            continue
        if not path.is_file() or relative in outputs:
            continue
        try:
            if path.suffix == ".py" and relative.parts[0] == PACKAGE:
                text = _read_text(path, relative)
                released = stub_regions(text, relative.as_posix())
                if released != text:
                    outputs[relative] = released
                    changed.append(relative.as_posix())
                    continue
            elif path.suffix == ".ipynb":
                notebook = release_notebook(_read_notebook(path, relative), relative.as_posix())
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="folder for the starter bundle (new or empty)")
    parser.add_argument("--source", default=Path(__file__).resolve().parents[1],
                        help="the solution bundle (default: the one holding this script)")
    args = parser.parse_args(argv)
    try:
        changed, skipped_links = make_release(args.source, args.out_dir)
    except ReleaseError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    print(f"Wrote the starter bundle to {args.out_dir}; stubbed or cleared:")
    for name in changed:
        print(f"  {name}")
    for name in skipped_links:
        print(f"Skipped the symbolic link {name}: a release holds only the bundle's own files.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
