"""Build the student starter bundle from this solution bundle.

    python -m tools.make_release OUT_DIR [--source DIR]

* In ``.py`` files and notebook code cells, the code between each pair of
  ``START OF YOUR CODE`` / ``END OF YOUR CODE`` marker lines is replaced by one
  ``raise NotImplementedError(...)`` naming the file (or notebook and cell), the function
  and what it should do; the marker lines stay. Every region raises, including those that
  only fill in a value, so each notebook stops exactly where the student has work to do.
* Inline-answer cells go back to the bare prompt; every output is cleared; cells that
  papermill added to a notebook it ran (injected parameters such as ``SMOKE = True``,
  error banners) are dropped.
* Everything else is copied as is, apart from environments, build products, datasets,
  caches, version control and submission files.
"""
import argparse
import ast
import fnmatch
import json
import shutil
import sys
import textwrap
from pathlib import Path

from .bundle import ANSWER_TAG, INJECTED_PARAMETERS_TAG, PAPERMILL_ERROR_TAG

START_MARKER = "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
END_MARKER = "# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
BLANK_ANSWER = "**Your Answer:** *Write your answer here.*"
PAPERMILL_CELL_TAGS = {INJECTED_PARAMETERS_TAG, PAPERMILL_ERROR_TAG}

# Names (of files or folders, at any depth) that stay out of the release.
EXCLUDED_NAMES = (
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ipynb_checkpoints", "*.so", "*.pyd", "*.py[cod]",
    "cifar-10-batches-py", "cifar-10-python.tar.gz", "*.partial", ".cifar-10-*",
    "a2_code_submission.zip", "a2_inline_submission.pdf",
)
# Build products that sit next to their sources.
EXCLUDED_PATHS = ("cs231n/im2col_cython.c", "cs231n/im2col_cython.html")


class ReleaseError(Exception):
    """The solution bundle cannot be turned into a release (e.g. unbalanced markers)."""


def is_excluded(relative_path):
    """True for paths (relative to the bundle root) that are not part of a release."""
    if relative_path.as_posix() in EXCLUDED_PATHS:
        return True
    return any(fnmatch.fnmatch(part, pattern) for part in relative_path.parts for pattern in EXCLUDED_NAMES)


def _indent(line):
    return line[: len(line) - len(line.lstrip())]


def marker_regions(lines, where):
    """Return (start, end) line indices of every marker pair; raise on unbalanced markers."""
    regions, start = [], None
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped == START_MARKER:
            if start is not None:
                raise ReleaseError(
                    f"{where}, line {index + 1}: START marker inside the region opened on line {start + 1}"
                )
            start = index
        elif stripped == END_MARKER:
            if start is None:
                raise ReleaseError(f"{where}, line {index + 1}: END marker without a START marker")
            if _indent(line) != _indent(lines[start]):
                raise ReleaseError(
                    f"{where}, line {index + 1}: END marker indented differently from its START marker"
                )
            regions.append((start, index))
            start = None
    if start is not None:
        raise ReleaseError(f"{where}, line {start + 1}: START marker without an END marker")
    return regions


def _parseable(source):
    # IPython magics and shell escapes are not Python; blank them so line numbers hold.
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _enclosing_function(tree, line_number):
    """(qualified name, first docstring line) of the innermost function around a line."""
    best, path = None, []

    def visit(node, parents):
        nonlocal best, path
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inside = child.lineno <= line_number <= child.end_lineno
                if inside and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    best, path = child, parents + [child.name]
                if inside:
                    visit(child, parents + [child.name])
            else:
                visit(child, parents)

    if tree is not None:
        visit(tree, [])
    if best is None:
        return None, None
    docstring = ast.get_docstring(best) or ""
    summary = docstring.strip().split("\n\n")[0].replace("\n", " ").strip()
    return ".".join(path), summary


def stub_regions(source, where, context=None):
    """Replace the body of every marker region in ``source`` by a raising placeholder.

    ``where`` names the file (or notebook and cell) in messages and errors; ``context``
    describes the task when the region is not inside a documented function.
    """
    lines = source.split("\n")
    regions = marker_regions(lines, where)
    if not regions:
        return source
    tree = _parseable(source)
    counts = {}
    described = []
    for start, end in regions:
        function, summary = _enclosing_function(tree, start + 1)
        counts[function] = counts.get(function, 0) + 1
        described.append((start, end, function, summary, counts[function]))

    for start, end, function, summary, number in reversed(described):
        place = f"{where}, {function}" if function else where
        if counts[function] > 1:
            place += f" (part {number} of {counts[function]})"
        task = summary or context
        message = f"{place}: not implemented yet."
        if task:
            message += f" Task: {task}" + ("" if task.endswith((".", "!", "?")) else ".")
        message += " Write your code between the START OF YOUR CODE and END OF YOUR CODE lines."
        indent = _indent(lines[start])
        pieces = textwrap.wrap(message, width=max(40, 84 - len(indent)), break_on_hyphens=False)
        # JSON strings are valid Python literals and come out double-quoted.
        literals = [f"{indent}    {json.dumps(piece + ' ', ensure_ascii=False)}" for piece in pieces[:-1]]
        literals.append(f"{indent}    {json.dumps(pieces[-1], ensure_ascii=False)}")
        placeholder = [f"{indent}raise NotImplementedError(", *literals, f"{indent})"]
        lines[start + 1 : end] = placeholder
    return "\n".join(lines)


def _nearest_heading(cells, index):
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            headings = [line.lstrip("#").strip() for line in cell.source.split("\n") if line.startswith("#")]
            if headings:
                return headings[-1]
    return None


def release_notebook(notebook, name):
    """Stub the code regions, blank the answers and clear all outputs of a notebook node.

    Cells that papermill added are dropped first, so cell numbers in the placeholder
    messages are those of the released notebook.
    """
    # Run records and widget state are outputs too.
    for key in ("papermill", "widgets"):
        notebook.metadata.pop(key, None)
    notebook.cells = [
        cell for cell in notebook.cells
        if not PAPERMILL_CELL_TAGS & set(cell.metadata.get("tags", []))
    ]
    for index, cell in enumerate(notebook.cells):
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            heading = _nearest_heading(notebook.cells, index)
            context = f"the code for '{heading}'" if heading else None
            cell.source = stub_regions(cell.source, f"{name}, cell {index + 1}", context)
        elif cell.cell_type == "markdown" and ANSWER_TAG in cell.metadata.get("tags", []):
            cell.source = BLANK_ANSWER
    return notebook


def make_release(source, destination):
    """Write the starter bundle for the solution bundle ``source`` into ``destination``.

    Returns the list of files (relative paths) whose content was changed.
    """
    import nbformat

    source, destination = Path(source).resolve(), Path(destination).resolve()
    if destination == source or source in destination.parents:
        raise ReleaseError(f"the release folder {destination} must be outside the bundle {source}")
    if destination.exists() and any(destination.iterdir()):
        raise ReleaseError(f"the release folder {destination} is not empty")

    # Stub everything in memory first, so a marker error leaves no half-built release.
    outputs, changed = {}, []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if is_excluded(relative) or not path.is_file():
            continue
        if path.suffix == ".py":
            text = path.read_text()
            released = stub_regions(text, relative.as_posix())
            if released != text:
                outputs[relative], changed = released, changed + [relative.as_posix()]
                continue
        elif path.suffix == ".ipynb":
            notebook = release_notebook(nbformat.read(path, as_version=4), relative.as_posix())
            outputs[relative] = nbformat.writes(notebook) + "\n"
            changed.append(relative.as_posix())
            continue
        outputs[relative] = path

    for relative, content in outputs.items():
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy2(content, target)
        else:
            target.write_text(content)
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="folder for the starter bundle (new or empty)")
    parser.add_argument("--source", default=Path(__file__).resolve().parents[1],
                        help="the solution bundle (default: the one holding this script)")
    args = parser.parse_args(argv)
    try:
        changed = make_release(args.source, args.out_dir)
    except ReleaseError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    print(f"Wrote the starter bundle to {args.out_dir}; stubbed or cleared:")
    for name in changed:
        print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
