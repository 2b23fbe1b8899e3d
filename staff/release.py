"""Build the student starter bundle from this solution bundle.

    python -m staff.release OUT_DIR [--source DIR]

* In the package's ``.py`` files and in notebook code cells, the code between each pair
  of ``START OF YOUR CODE`` / ``END OF YOUR CODE`` marker lines is replaced by one
  ``raise NotImplementedError(...)`` that names the file (or notebook and cell) and the
  function, and points to the task comment above the region; the marker lines stay.
  Every region raises, so each notebook stops exactly where the student has work to do.
* ``SOLUTION ONLY`` blocks (tools/bundle.py) are dropped with their marker lines, as if
  they had never been there, and so are notebook cells tagged ``solution-only``.
* Inline-answer cells go back to the bare prompt; every output is cleared; cells that
  papermill added to a notebook it ran are dropped.
* Staff material stays out (tools/bundle.py, NOT_RELEASED: the whole staff/ folder,
  CI and the benchmarks), as do environments, build products, datasets, caches,
  version control and submission files. Symbolic links are skipped, each named.
* Everything else is copied as is.

Any line that mentions a marker's words without being exactly a marker line stops the
release with an error naming the file and line, so a mistyped marker never ships a
solution. Exit status: 0 on success, 1 when the release could not be built.
"""
import argparse
import ast
import json
import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

from tools.bundle import (BLANK_ANSWER, INJECTED_PARAMETERS_TAG, NOTEBOOKS, PAPERMILL_ERROR_TAG,
                          SOLUTION_ONLY_END, SOLUTION_ONLY_START, START_MARKER, STUDENT_FILES,
                          MarkerError, blank_magics, is_answer_cell, is_excluded, is_released,
                          describe_place, is_solution_only_cell, marker_regions,
                          section_of)

PAPERMILL_CELL_TAGS = {INJECTED_PARAMETERS_TAG, PAPERMILL_ERROR_TAG}
# Where student tasks live: the package's Python files and the notebooks.
PACKAGE = "cs231n"
# The release's README: this template, relative to the bundle root, with {{TASKS}}
# replaced by the list of tasks read from the student files and the notebooks. The
# bundle's own README is for staff and self-learners and does not ship.
STUDENT_README_TEMPLATE = "staff/student_readme.md"
TASKS_PLACEHOLDER = "{{TASKS}}"
# The task comments of the student files: a header line, and a line naming the check.
_TASK_HEADER = re.compile(r"^\s*# ---- (?P<kind>Task|Extra task \(not in the original assignment\)): "
                          r"(?P<title>.+?) -*$")
_TASK_CHECK = re.compile(r"^\s*# Checked in (?P<where>[\w./-]+\.(?:ipynb|py))(?: under the heading: (?P<heading>.+))?")


class ReleaseError(Exception):
    """The solution bundle cannot be turned into a release; the message says why and where."""


def _indent(line):
    return line[: len(line) - len(line.lstrip())]


def _parseable(source):
    try:
        return ast.parse(blank_magics(source))
    except SyntaxError:
        return None


def _enclosing_function(tree, line_number):
    """The qualified name of the innermost function around a line, or None."""
    best = None

    def visit(node, parents):
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if child.lineno <= line_number <= child.end_lineno:
                    if not isinstance(child, ast.ClassDef):
                        best = ".".join(parents + [child.name])
                    visit(child, parents + [child.name])
            else:
                visit(child, parents)

    if tree is not None:
        visit(tree, [])
    return best


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
    regions = marker_regions(lines, where)
    if not regions:
        return source
    tree = _parseable(source)
    described, counts = [], {}
    for start, end in regions:
        function = _enclosing_function(tree, start + 1)
        counts[function] = counts.get(function, 0) + 1
        described.append((start, end, function, counts[function]))

    for start, end, function, number in reversed(described):
        place = f"{where}, {function}" if function else where
        if counts[function] > 1:
            place += f" (part {number} of {counts[function]})"
        message = f"{place}: not implemented yet."
        if _has_task_comment(lines, start):
            message += " The task comment right above this region says what to compute."
        message += " Replace this line with your code, keeping the two marker lines around it."
        indent = _indent(lines[start])
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
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ReleaseError(f"{relative}: not valid UTF-8 text ({error.reason} at byte {error.start})") from None


def _read_notebook(path, relative):
    import nbformat

    try:
        return nbformat.reads(_read_text(path, relative), as_version=4)
    except ReleaseError:
        raise
    except Exception as error:  # nbformat raises JSON, validation and key errors alike
        raise ReleaseError(f"{relative}: not a readable notebook ({type(error).__name__}: {error})") from None


def _file_tasks(source):
    """{notebook: [(title, file, function, where checked, optional)]} from the task comments.

    A task whose comment names no check (the second task of a function, say) is checked
    where the function's previous task is. A task checked only by a test file is listed
    with the first notebook.
    """
    tasks = {}
    for name in STUDENT_FILES:
        path = source / name
        if not path.is_file():
            continue
        lines = _read_text(path, name).split("\n")
        tree = _parseable("\n".join(lines))
        previous = {}  # function -> (notebook, where checked) of its last task
        for index, line in enumerate(lines):
            header = _TASK_HEADER.match(line)
            if header is None:
                continue
            function = _enclosing_function(tree, index + 1) or ""
            comment = []
            for later in lines[index + 1:]:
                if later.strip() == START_MARKER or not later.strip().startswith("#"):
                    break
                comment.append(later)
            check = next(filter(None, map(_TASK_CHECK.match, comment)), None)
            if check is not None:
                notebook = next((notebook for notebook in NOTEBOOKS if check["where"] == notebook),
                                NOTEBOOKS[0])
                where = check["heading"] if check["heading"] else check["where"]
            else:
                notebook, where = previous.get(function, (NOTEBOOKS[0], ""))
            previous[function] = notebook, where
            tasks.setdefault(notebook, []).append(
                (header["title"], name, function, where, header["kind"] != "Task"))
    return tasks


def _notebook_task_headings(source):
    """{notebook: [heading of each code cell that holds a task region]}."""
    headings = {}
    for name in NOTEBOOKS:
        path = source / name
        if not path.is_file():
            continue
        cells = _read_notebook(path, name).cells
        for index, cell in enumerate(cells):
            if cell.cell_type == "code" and START_MARKER in cell.source:
                heading = section_of(cells, index) or "(no heading)"
                if heading not in headings.setdefault(name, []):
                    headings[name].append(heading)
    return headings


def student_readme(source):
    """The release's README, from the template with the tasks of ``source`` filled in."""
    template = _read_text(source / STUDENT_README_TEMPLATE, STUDENT_README_TEMPLATE)
    file_tasks, cell_tasks = _file_tasks(source), _notebook_task_headings(source)
    sections = []
    for notebook in NOTEBOOKS:
        rows = [f"| {title}{' (optional)' if optional else ''} | `{name}`"
                f"{', `' + function + '`' if function else ''} | {heading} |"
                for title, name, function, heading, optional in file_tasks.get(notebook, [])]
        rows += [f"| the code cell(s) with marker lines | `{notebook}` | {heading} |"
                 for heading in cell_tasks.get(notebook, [])]
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
