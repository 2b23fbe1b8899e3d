"""The answer regions of a student file: where the code a student writes sits.

One data type, Region, and three readers:

* ``answer_regions`` (exact): the code between each pair of START/END marker lines
  (tools/conventions.py) of a file or notebook cell. A line that mentions a marker's words
  without being exactly a marker line, and an unbalanced, nested or unevenly indented
  pair, is an error naming the file and line: code built from these regions must never
  take a mistyped marker for ordinary code.
* ``submitted_regions`` (lenient): a student file as handed in, whatever was done to it.
  The tasks are the functions that hold answer regions in the assignment's own copy of
  the file. A task function whose marker lines are exact, as many as the assignment's,
  gives its marked regions. Any other task function (marker lines deleted or edited, or
  the original assignment's comment banners, ``# TODO: ...`` / ``#  END OF YOUR CODE  #``,
  beside or instead of them) gives its whole body, less the lines the assignment's copy
  of that function holds, and a note names it. Functions the student added (helpers)
  are one more region.
* ``notebook_regions``: the marked regions of a notebook's code cells, labelled by
  section; the original assignment's comment banners are ignored, a cell with broken
  marker lines is left out with a note.
"""
import ast
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tools.conventions import END_MARKER, MARKER_LINES, START_MARKER
from tools.cells import blank_magics, cell_source, describe_place

BUNDLE_ROOT = Path(__file__).resolve().parents[1]
# Any line holding one of these words must be exactly one of the marker lines.
_MARKER_WORDS = re.compile(r"START OF YOUR CODE|END OF YOUR CODE|SOLUTION ONLY", re.IGNORECASE)
# The original assignment's comment banners around an answer: a boxed comment line
# (``#  END OF YOUR CODE  #``) or a line of hashes, or a ``# TODO:`` comment.
_BANNER = re.compile(r"^\s*#(?:.*#\s*$|\s*TODO\b)")
_DEFINITION = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+(\w+)")
ADDED_FUNCTIONS = "functions added by the student"
_PART = re.compile(r" \(part \d+ of \d+\)$")


@dataclass(frozen=True)
class Region:
    """One answer region.

    ``label`` is unique within a file: the file (or notebook and section), the function,
    and "(part N of M)" when a function holds several regions. ``lines`` is the first and
    last line number (from 1) of the code in its file or cell; ``code`` is the code.
    """
    label: str
    file: str
    function: str | None
    lines: tuple
    code: str

    @property
    def owner(self):
        """The label without its part number: the same for all the regions of one function
        (or of one notebook section outside functions)."""
        return _PART.sub("", self.label)


class MarkerError(ValueError):
    """A marker line is malformed, unbalanced or nested; the message names file and line."""


# ---------------------------------------------------------------------------- exact markers

def marker_kind(line):
    """The marker a line is (one of MARKER_LINES), None for an ordinary line.

    Raises MarkerError for a near miss: a line that mentions a marker's words but is not
    exactly that marker (after stripping the indentation), such as a START marker with
    a missing space, which a tool would otherwise silently treat as ordinary code.
    """
    stripped = line.strip()
    if stripped in MARKER_LINES:
        return stripped
    if _MARKER_WORDS.search(line):
        raise MarkerError(f"not an exact marker line: {stripped!r}")
    return None


def marker_regions(lines, where, start=START_MARKER, end=END_MARKER):
    """(start, end) line indices of every ``start``/``end`` pair in ``lines``.

    Checks every line for near-miss markers (see marker_kind), and that the pairs are
    balanced, not nested and indented alike; any problem raises MarkerError naming
    ``where`` (a file, or a notebook and cell) and the line number.
    """
    regions, opened = [], None
    for index, line in enumerate(lines):
        try:
            kind = marker_kind(line)
        except MarkerError as error:
            raise MarkerError(f"{where}, line {index + 1}: {error}") from None
        if kind == start:
            if opened is not None:
                raise MarkerError(f"{where}, line {index + 1}: START marker inside the region "
                                  f"opened on line {opened + 1}")
            opened = index
        elif kind == end:
            if opened is None:
                raise MarkerError(f"{where}, line {index + 1}: END marker without a START marker")
            if indentation(line) != indentation(lines[opened]):
                raise MarkerError(f"{where}, line {index + 1}: END marker indented differently "
                                  f"from its START marker on line {opened + 1}")
            regions.append((opened, index))
            opened = None
    if opened is not None:
        raise MarkerError(f"{where}, line {opened + 1}: START marker without an END marker")
    return regions


def indentation(line):
    return line[: len(line) - len(line.lstrip())]


# ---------------------------------------------------------------------------- functions

@dataclass(frozen=True)
class _Function:
    name: str    # qualified: "Class.method", "outer.inner"
    first: int   # the def line (from 1)
    body: int    # the first line of the body after the docstring
    last: int


def _functions_by_ast(tree):
    found = []

    def visit(node, parents):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if not isinstance(child, ast.ClassDef):
                    statements = child.body
                    if (len(statements) > 1 and isinstance(statements[0], ast.Expr)
                            and isinstance(statements[0].value, ast.Constant)
                            and isinstance(statements[0].value.value, str)):
                        statements = statements[1:]
                    found.append(_Function(".".join(parents + [child.name]), child.lineno,
                                           statements[0].lineno, child.end_lineno or child.lineno))
                visit(child, parents + [child.name])
            elif isinstance(child, ast.stmt):
                visit(child, parents)

    visit(tree, [])
    return found


def _functions_by_indentation(lines):
    """The functions of code that does not parse, read from its def/class lines and
    indentation (comment lines do not end a block)."""
    found, open_blocks, last_code = [], [], 0

    def close(until):
        while open_blocks and open_blocks[-1][0] >= until:
            _, kind, chain, first = open_blocks.pop()
            if kind == "def":
                found.append(_Function(".".join(chain), first, first + 1, last_code))

    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        width = len(indentation(line))
        close(width)
        match = _DEFINITION.match(line)
        if match:
            chain = (open_blocks[-1][2] if open_blocks else []) + [match.group(3)]
            open_blocks.append((width, match.group(2), chain, number))
        last_code = number
    close(0)
    return sorted(found, key=lambda function: function.first)


def _functions(source):
    """Every function and method of ``source``: by its syntax tree, or by indentation
    when it does not parse (so broken code still gets the labels of the rest)."""
    try:
        tree = ast.parse(blank_magics(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _functions_by_indentation(source.split("\n")), False
    return _functions_by_ast(tree), True


def _innermost(functions, line_number):
    around = [function for function in functions if function.first <= line_number <= function.last]
    return max(around, key=lambda function: function.first).name if around else None


def enclosing_functions(source, line_numbers):
    """The qualified name (``Class.method``) of the innermost function around each line
    number (from 1) of ``source``, or None for a line outside every function."""
    functions, _ = _functions(source) if line_numbers else ([], True)
    return [_innermost(functions, number) for number in line_numbers]


def _numbered(where, pieces):
    """Regions of ``pieces`` [(function, (first, last), code)], labelled by ``where`` and
    the function, with "(part N of M)" where a function holds several."""
    counts, seen, regions = Counter(function for function, _, _ in pieces), Counter(), []
    for function, lines, code in pieces:
        seen[function] += 1
        label = f"{where}, {function}" if function else where
        if counts[function] > 1:
            label += f" (part {seen[function]} of {counts[function]})"
        regions.append(Region(label, where, function, lines, code))
    return regions


def _marked_pieces(source, spans):
    lines = source.split("\n")
    functions = enclosing_functions(source, [start + 1 for start, _ in spans])
    return [(function, (start + 2, end), "\n".join(lines[start + 1 : end]))
            for (start, end), function in zip(spans, functions)]


def answer_regions(source, where):
    """The Regions between exact marker lines of ``source`` (a file or a notebook cell,
    named ``where``); raises MarkerError on any malformed marker line."""
    return _numbered(where, _marked_pieces(source, marker_regions(source.split("\n"), where)))


# ---------------------------------------------------------------------------- lenient reading

def _tasks(template, path):
    """{function: (number of answer regions, the function's own lines, stripped)} of the
    assignment's copy of a file, in file order; and the names of all its functions."""
    lines = template.split("\n")
    spans = marker_regions(lines, path)
    inside = {index for start, end in spans for index in range(start + 1, end)}
    functions, _ = _functions(template)
    counts = Counter(function for function, _, _ in _marked_pieces(template, spans))
    tasks = {}
    for function in functions:
        if function.name in counts:
            # From the body on: a docstring may quote a line of an answer.
            own = {lines[index].strip() for index in range(function.body - 1, function.last)
                   if index not in inside}
            tasks[function.name] = (counts[function.name], own - {""})
    return tasks, {function.name for function in functions}


def _assignment_copy(path):
    copy = BUNDLE_ROOT / path
    if not copy.is_file():
        raise FileNotFoundError(f"no assignment copy of {path} beside this module to read it against")
    return copy.read_text(encoding="utf-8")


def _why_not_exact(lines, expected):
    """None when the function's lines hold exactly ``expected`` well-formed marker
    pairs and nothing else that looks like a marker; otherwise the reason."""
    if any(_BANNER.match(line) and _MARKER_WORDS.search(line) for line in lines):
        return "the original assignment's comment banners (TODO ... END OF YOUR CODE) mark the answers"
    try:
        found = len(marker_regions(lines, "function"))
    except MarkerError as error:
        return f"marker lines edited or unbalanced ({str(error).split(': ', 1)[1]})"
    if found == 0:
        return "no marker lines"
    if found != expected:
        return f"{found} marked region(s) where the assignment has {expected}"
    return None


def _runs_of_own_code(lines, function, own):
    """(first, last) line numbers of each run of the function's body lines that are not
    the assignment's own lines (nor marker or banner lines): the student's code, one
    part per stretch between the assignment's lines, as the marked regions would be."""
    runs, start, last_code = [], None, None
    for number in range(function.body, function.last + 1):
        line = lines[number - 1]
        if line.strip() in own or _MARKER_WORDS.search(line):
            if start is not None:
                runs.append((start, last_code))
            start = None
        elif line.strip():
            start = number if start is None else start
            last_code = number
    if start is not None:
        runs.append((start, last_code))
    return runs


def submitted_regions(text, path, template=None):
    """(regions, notes) of a student file as handed in: its text and its path in the
    bundle (``cs231n/layers.py``). ``template`` is the assignment's own copy of the
    file (the released or the complete one: only the lines outside answer regions are
    read); by default, the copy in the bundle that holds this module.

    Each task function gives its marked regions when its marker lines are exact;
    otherwise (see the module's description) its body less the assignment's own lines,
    one part per stretch of the student's lines between the assignment's. Functions the student added are one
    region, ADDED_FUNCTIONS. Every departure from the exact layout is one note per kind,
    naming the functions; nothing is left out silently.
    """
    tasks, template_names = _tasks(_assignment_copy(path) if template is None else template, path)
    lines = text.split("\n")
    functions, parses = _functions(text)
    notes = [] if parses else [f"{path} does not parse as Python; its functions were found by indentation"]
    by_name = {function.name: function for function in functions}
    pieces, departures, missing = [], {}, []
    for name, (expected, own) in tasks.items():
        function = by_name.get(name)
        if function is None:
            missing.append(name)
            continue
        body = lines[function.first : function.last]
        reason = _why_not_exact(body, expected)
        if reason is None:
            spans = [(function.first + start, function.first + end) for start, end in marker_regions(body, path)]
            pieces += [(name, (start + 2, end), "\n".join(lines[start + 1 : end])) for start, end in spans]
            continue
        departures.setdefault(reason, []).append(name)
        pieces += [(name, run, "\n".join(lines[run[0] - 1 : run[1]]))
                   for run in _runs_of_own_code(lines, function, own)]
    regions = _numbered(path, pieces)

    tasks_and_parents = set(tasks)
    added = [function for function in functions if function.name not in template_names
             and not any(function.name.startswith(parent + ".") for parent in tasks_and_parents)]
    taken = []
    for function in added:
        if not any(outer.first <= function.first <= outer.last for outer in taken):
            taken.append(function)
    if taken:
        code = "\n".join("\n".join(lines[function.first - 1 : function.last]) for function in taken)
        regions.append(Region(f"{path}, {ADDED_FUNCTIONS}", path, None,
                              (taken[0].first, taken[-1].last), code))

    for reason, names in departures.items():
        notes.append(f"{path}: {reason}; read as the body of each function less the assignment's "
                     f"own lines: {', '.join(names)}")
    if missing:
        notes.append(f"{path}: no function named {', '.join(missing)}; those answers are missing")
    return regions, notes


def notebook_regions(name, data):
    """(regions, notes) of a notebook's code cells (``data``: the .ipynb bytes), each
    region labelled by the notebook, the section its cell is in and its function. The
    original assignment's comment banners are ignored; a cell with broken marker lines
    is left out with a note. A file that is not a notebook raises ValueError."""
    try:
        notebook = json.loads(data.decode("utf-8", errors="replace"))
    except ValueError as error:
        raise ValueError(f"{name} is not a readable notebook ({error})") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError(f"{name} is not a notebook (no list of cells)")
    cells = [cell if isinstance(cell, dict) else {} for cell in cells]
    by_place, notes = {}, []
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        try:
            source = cell_source(cell)
            if not isinstance(source, str):
                raise TypeError("source is neither text nor a list of lines")
            place = describe_place(name, cells, index)
        except TypeError as error:
            notes.append(f"{name}, cell {index + 1}: unreadable ({error}); this cell is not read")
            continue
        lines = ["" if _BANNER.match(line) and _MARKER_WORDS.search(line) else line
                 for line in source.split("\n")]
        try:
            spans = marker_regions(lines, f"{place} (cell {index + 1})")
        except MarkerError as error:
            notes.append(f"{error}; this cell is not read")
            continue
        by_place.setdefault(place, []).extend(_marked_pieces("\n".join(lines), spans))
    return [region for place, pieces in by_place.items() for region in _numbered(place, pieces)], notes
