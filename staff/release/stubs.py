"""What a starter release does to a student file or notebook.

* In the package's ``.py`` files and in notebook code cells, the code between each pair
  of ``START OF YOUR CODE`` / ``END OF YOUR CODE`` marker lines is replaced by one
  ``raise NotImplementedError(...)`` that names the region as tools/regions.py labels it
  (the file, or notebook and section, and the function) and points to the task comment
  above the region; the marker lines stay. Every region raises, so each notebook stops
  exactly where the student has work to do.
* ``SOLUTION ONLY`` blocks (tools/conventions.py) are dropped with their marker lines,
  as if they had never been there, and so are notebook cells tagged ``solution-only``.
* Inline-answer cells go back to the bare prompt; every output is cleared; cells that
  papermill added to a notebook it ran are dropped.

Any line that mentions a marker's words without being exactly a marker line raises
MarkerError naming the file and line, so a mistyped marker never ships a solution.
"""
import json
import textwrap

from tools.cells import describe_place, is_answer_cell, is_solution_only_cell
from tools.conventions import (BLANK_ANSWER, INJECTED_PARAMETERS_TAG, PAPERMILL_ERROR_TAG, SOLUTION_ONLY_END,
                               SOLUTION_ONLY_START)
from tools.regions import answer_regions, indentation, marker_regions

PAPERMILL_CELL_TAGS = {INJECTED_PARAMETERS_TAG, PAPERMILL_ERROR_TAG}


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
