"""The assignment's tasks, in the order of the work, and what a student's files say of them.

A task is either a code region of a student file, announced by a task comment right
above it::

    # ---- Task: affine forward -------------------------------------------------
    # ... what to compute ...
    # Checked in FullyConnectedNets.ipynb under the heading: Affine layer
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

or the code cells with marker lines under one section heading of a notebook. The task
list, in notebook order and then in file order, is the table of the README and of the
progress view (tools/progress.py); the tests of tests/ name the task they check with
``pytest.mark.task(KEY)`` (see Task.key).

A check cell that fails prints a line starting with FAILED_CHECK_PREFIX
(cs231n/gradient_check.py); failed_checks finds those lines in a saved notebook.
"""
import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cs231n.gradient_check import FAILED_CHECK_PREFIX
from tools.conventions import NOTEBOOKS, START_MARKER, STUDENT_FILES
from tools.cells import blank_magics, cell_source, section_of
from tools.regions import enclosing_functions, marker_regions

# The task comments of the student files: a header line, and a line naming the check.
_TASK_HEADER = re.compile(r"^\s*# ---- (?P<kind>Task|Extra task \(not in the original assignment\)): "
                          r"(?P<title>.+?) -*$")
_TASK_CHECK = re.compile(r"^\s*# Checked in (?P<where>[\w./-]+\.(?:ipynb|py))(?: under the heading: (?P<heading>.+))?")
# The title of a notebook task: its code cells with marker lines.
CELL_TASK_TITLE = "the code cell(s) with marker lines"
# What a section heading is called where there is none above a cell.
NO_HEADING = "(no heading)"


@dataclass(frozen=True)
class Task:
    """One task of the assignment.

    - title: the task comment's title ("affine forward"), or CELL_TASK_TITLE.
    - file: where the student writes it: a student file or a notebook.
    - function: the function holding the region (qualified: "FullyConnectedNet.loss"),
      or "" for a notebook task.
    - notebook, section: where it is checked (section may name a test file instead).
    - optional: an extra task, not in the original assignment; nothing depends on it.
    - region: for a file task, the number of its region among the file's regions (from 0).
    """
    title: str
    file: str
    function: str
    notebook: str
    section: str
    optional: bool = False
    region: int = -1

    @property
    def key(self):
        """How a test names this task: the function, or "NOTEBOOK § SECTION" for a notebook task."""
        return self.function or f"{self.file} § {self.section}"

    @property
    def where(self):
        """Where the student writes it, as the README says it: "`file`, `function`"."""
        return f"`{self.file}`" + (f", `{self.function}`" if self.function else "")


def _parse(source):
    """The ast of a source (IPython magics blanked), or None when it does not parse."""
    try:
        return ast.parse(blank_magics(source))
    except SyntaxError:
        return None


def read_text(path, name):
    """The UTF-8 text of the file at ``path``; ValueError naming it (as ``name``) when it is not."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{name}: not valid UTF-8 text ({error.reason} at byte {error.start})") from None


def read_notebook_cells(path, name):
    """The cells of the notebook at ``path`` (plain dicts); ValueError naming it when unreadable."""
    try:
        return json.loads(read_text(path, name))["cells"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{name}: not a readable notebook ({type(error).__name__}: {error})") from None


def file_tasks(root):
    """The tasks of the student files under ``root``, in file order.

    A task whose comment names no check (the second task of a function, say) is checked
    where the function's previous task is. A task checked only by a test file is listed
    with the first notebook.
    """
    tasks = []
    for name in STUDENT_FILES:
        path = Path(root) / name
        if not path.is_file():
            continue
        text = read_text(path, name)
        lines = text.split("\n")
        starts = [start for start, _ in marker_regions(lines, name)]
        previous = {}  # function -> (notebook, where checked) of its last task
        for index, line in enumerate(lines):
            header = _TASK_HEADER.match(line)
            if header is None:
                continue
            function = enclosing_functions(text, [index + 1])[0] or ""
            comment = []
            for later in lines[index + 1:]:
                if later.strip() == START_MARKER or not later.strip().startswith("#"):
                    break
                comment.append(later)
            check = next(filter(None, map(_TASK_CHECK.match, comment)), None)
            if check is not None:
                notebook = check["where"] if check["where"] in NOTEBOOKS else NOTEBOOKS[0]
                where = check["heading"] if check["heading"] else check["where"]
            else:
                notebook, where = previous.get(function, (NOTEBOOKS[0], ""))
            previous[function] = notebook, where
            region = next((number for number, start in enumerate(starts) if start > index), -1)
            tasks.append(Task(header["title"], name, function, notebook, where,
                              header["kind"] != "Task", region))
    return tasks


def notebook_tasks(root, name):
    """The tasks of one notebook: one per section heading with code cells holding marker lines."""
    path = Path(root) / name
    if not path.is_file():
        return []
    cells = read_notebook_cells(path, name)
    sections = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and START_MARKER in cell_source(cell):
            heading = section_of(cells, index) or NO_HEADING
            if heading not in sections:
                sections.append(heading)
    return [Task(CELL_TASK_TITLE, name, "", name, heading) for heading in sections]


def task_list(root):
    """Every task of the bundle at ``root`` in the order of the work: notebook by notebook,
    the file tasks checked there (in file order), then the notebook's own tasks."""
    from_files = file_tasks(root)
    return [task for notebook in NOTEBOOKS
            for task in [task for task in from_files if task.notebook == notebook]
            + notebook_tasks(root, notebook)]


def _is_placeholder(body):
    """True when the code between two marker lines is only a raise of NotImplementedError
    (what the release leaves there), comments and blank lines aside."""
    tree = _parse("\n".join(line.strip() for line in body))
    if tree is None or len(tree.body) != 1 or not isinstance(tree.body[0], ast.Raise):
        return False
    raised = tree.body[0].exc
    if isinstance(raised, ast.Call):
        raised = raised.func
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


def _placeholder_regions(lines, where):
    return [_is_placeholder(lines[start + 1:end]) for start, end in marker_regions(lines, where)]


def not_started(root, task):
    """True when the task's code is still the release's placeholder (every one of its
    cells, for a notebook task)."""
    path = Path(root) / task.file
    if not path.is_file():
        return True
    if task.function:
        placeholders = _placeholder_regions(read_text(path, task.file).split("\n"), task.file)
        return 0 <= task.region < len(placeholders) and placeholders[task.region]
    cells = read_notebook_cells(path, task.file)
    regions = [placeholder for index, cell in enumerate(cells)
               if cell.get("cell_type") == "code" and START_MARKER in cell_source(cell)
               and (section_of(cells, index) or NO_HEADING) == task.section
               for placeholder in _placeholder_regions(cell_source(cell).split("\n"), task.file)]
    return all(regions)


def _output_text(output):
    if output.get("output_type") == "stream":
        return output.get("text", "")
    text = output.get("data", {}).get("text/plain", "")
    return text if output.get("output_type") in ("execute_result", "display_data") else ""


def failed_checks(cells):
    """[(section, line)] for every line of a saved notebook's outputs (``cells``: its cells,
    as dicts or nbformat nodes) that reports a failed check, in notebook order."""
    found = []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            text = _output_text(output)
            text = text if isinstance(text, str) else "".join(text)
            found += [(section_of(cells, index) or NO_HEADING, line.strip())
                      for line in text.split("\n") if line.startswith(FAILED_CHECK_PREFIX)]
    return found


def failed_check_lines(name, cells):
    """One line per failed check of the saved notebook ``name``: 'NAME, section "S": FAILED: ...'."""
    return [f'{name}, section "{section}": {line}' for section, line in failed_checks(cells)]


def notebook_outcome(cells, section):
    """What a saved notebook says of the code cells with marker lines under ``section``:
    "not run", "error: <ename: evalue>", "failed check: <line>", or "ran"."""
    task_cells = [cell for index, cell in enumerate(cells)
                  if cell.get("cell_type") == "code" and START_MARKER in cell_source(cell)
                  and (section_of(cells, index) or NO_HEADING) == section]
    if not task_cells or any(cell.get("execution_count") is None for cell in task_cells):
        return "not run"
    section_cells = [cell for index, cell in enumerate(cells) if (section_of(cells, index) or NO_HEADING) == section]
    for cell in section_cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return f"error: {output.get('ename', 'an error')}: {output.get('evalue', '')}".rstrip(": ")
    failed = [line for check_section, line in failed_checks(cells) if check_section == section]
    return f"failed check: {failed[0]}" if failed else "ran"
