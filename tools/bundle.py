"""Conventions of the assignment folder that several tools share: the notebook runner,
the submission collector, the progress view, the tests and the notebook loader import
them from here, and nothing else defines them. (The course's own copy of this folder
holds a worked solution; the tools that make your copy from it and grade your
submission read the same conventions.)
"""
import fnmatch
import re

# ---------------------------------------------------------------------------- notebooks

# The assignment notebooks every submission holds, in the order students work through
# them (and the PDF shows them).
CORE_NOTEBOOKS = (
    "FullyConnectedNets.ipynb",
    "BatchNormalization.ipynb",
    "Dropout.ipynb",
    "ConvolutionalNetworks.ipynb",
)
# The framework part: students do it in PyTorch, in TensorFlow, or in both. A submission
# needs at least one of these; the PDF shows whichever exist, in this order.
FRAMEWORK_NOTEBOOKS = ("PyTorch.ipynb", "TensorFlow.ipynb")
# Every notebook of the bundle, in order.
NOTEBOOKS = CORE_NOTEBOOKS + FRAMEWORK_NOTEBOOKS

# The name of the notebooks' run-size parameter (papermill's "parameters" cell holds
# ``SMOKE = False``; the runner's quick mode injects ``SMOKE = True``).
SMOKE_PARAMETER = "SMOKE"

# Cells papermill adds to a notebook it executes: its injected parameters and the
# banners around a failed cell.
INJECTED_PARAMETERS_TAG = "injected-parameters"
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"


def smoke_parameters(smoke=True):
    """The parameters papermill injects for a smoke run (none for a full run)."""
    return {SMOKE_PARAMETER: True} if smoke else {}


def cell_source(cell):
    """A notebook cell's source as one string (nbformat stores a string or a list of lines)."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def blank_magics(source):
    """``source`` with its IPython magic and shell lines (``%...``, ``!...``) blanked.

    What is left parses as Python, with every line number unchanged.
    """
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.split("\n"))

# ---------------------------------------------------------------------------- student files

# The files you edit and submit: grading takes your code from these.
STUDENT_FILES = (
    "cs231n/layers.py",
    "cs231n/classifiers/fc_net.py",
    "cs231n/classifiers/cnn.py",
    "cs231n/optim.py",
    "cs231n/solver.py",
)
# Scaffold files a student may extend with helpers of their own (the original assignment
# suggests a helper layer in layer_utils.py): graded as the submission has them, or as
# released when it lacks them.
EXTENDABLE_FILES = ("cs231n/layer_utils.py",)
# The zip of a finished assignment's code: what collectSubmission.sh writes and what a
# student uploads.
CODE_ZIP_NAME = "a2_code_submission.zip"

# ---------------------------------------------------------------------------- markers

# Student code sits between these two lines, in .py files and notebook code cells alike.
START_MARKER = "# *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
END_MARKER = "# *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****"
# Code between these two lines exists only in the course's worked solution; your copy was
# made without the lines and everything between them.
SOLUTION_ONLY_START = "# *****SOLUTION ONLY: START (the starter release drops this block)*****"
SOLUTION_ONLY_END = "# *****SOLUTION ONLY: END*****"
MARKER_LINES = (START_MARKER, END_MARKER, SOLUTION_ONLY_START, SOLUTION_ONLY_END)
# The same for whole notebook cells: a cell tagged SOLUTION_ONLY_TAG (about the
# solution's own run) exists only in the worked solution. The answers to inline
# questions come blank in your copy.
SOLUTION_ONLY_TAG = "solution-only"


def is_solution_only_cell(cell):
    """True for a notebook cell tagged SOLUTION_ONLY_TAG."""
    return SOLUTION_ONLY_TAG in cell.get("metadata", {}).get("tags", [])
# tools/regions.py reads the marker lines (exact, or as a student left them).


# ---------------------------------------------------------------------------- where a cell is

# Messages that point into a notebook name it by what Jupyter shows (the section heading,
# the question), never by a cell index a student cannot see.
_QUESTION_TITLE = re.compile(r"^Inline Question\b", re.IGNORECASE)


def _headings(cell):
    if cell.get("cell_type") != "markdown":
        return []
    return [line.lstrip("#").strip() for line in cell_source(cell).split("\n")
            if line.startswith("#") and line.lstrip("#").strip()]


def is_question_title(heading):
    """True for the title of an inline question ("Inline Question 2"), markdown hashes stripped."""
    return _QUESTION_TITLE.match(heading) is not None


def section_of(cells, index):
    """The heading of the section cell ``index`` sits in: the nearest markdown heading at
    or above it that is not an inline question's title; None above the first heading."""
    for cell in reversed(cells[: index + 1]):
        titles = [title for title in _headings(cell) if not is_question_title(title)]
        if titles:
            return titles[-1]
    return None


def question_of(cells, index):
    """For the answer cell ``index``, its question as a reader finds it: the question's
    title and first words, e.g. 'Inline Question 2 ("Which network seemed more ...")'."""
    for cell in reversed(cells[:index]):
        if cell.get("cell_type") != "markdown" or is_answer_cell(cell):
            continue
        lines = [line.strip() for line in cell_source(cell).split("\n") if line.strip()]
        title = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), "the question")
        text = next((line for line in lines if not line.startswith("#")), "")
        words = text.split()
        opening = " ".join(words[:8]) + (" ..." if len(words) > 8 else "")
        return f'{title} ("{opening}")' if opening else title
    return "the question"


def describe_place(notebook_name, cells, index):
    """'NAME, section "HEADING"' for cell ``index``, or just NAME above every heading."""
    section = section_of(cells, index)
    return f'{notebook_name}, section "{section}"' if section else notebook_name


# ---------------------------------------------------------------------------- answer cells

# The markdown cell after each inline question that holds the student's answer: tagged
# with ANSWER_TAG, and starting with ANSWER_PROMPT. Either one makes a cell an answer
# cell, for every tool alike.
ANSWER_TAG = "inline-answer"
ANSWER_PROMPT = "**Your Answer:**"
ANSWER_PLACEHOLDER = "*Write your answer here.*"
BLANK_ANSWER = f"{ANSWER_PROMPT} {ANSWER_PLACEHOLDER}"


def is_answer_cell(cell):
    """True for an inline-answer cell: a markdown cell tagged ANSWER_TAG or starting with the prompt."""
    if cell.get("cell_type") != "markdown":
        return False
    tags = cell.get("metadata", {}).get("tags", [])
    return ANSWER_TAG in tags or cell_source(cell).lstrip().startswith(ANSWER_PROMPT)


def answer_is_filled(source):
    """True when an answer cell holds more than the prompt and the placeholder."""
    text = source.replace(ANSWER_PROMPT, "").replace(ANSWER_PLACEHOLDER, "")
    return bool(text.strip())


def framework_chosen(notebook):
    """True when the student worked in this framework notebook (a parsed nbformat dict):
    one of its code cells has run (an execution count or outputs), or one of its inline
    answers is written. Students do the framework part in either framework or both; an
    untouched notebook means that framework was not chosen."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and (cell.get("execution_count") or cell.get("outputs")):
            return True
        if is_answer_cell(cell) and answer_is_filled(cell_source(cell)):
            return True
    return False


# ---------------------------------------------------------------------------- not part of a bundle

# Names (of files or folders, at any depth) that are never part of a bundle: environments,
# build products, caches, version control, datasets and downloads, submission products.
# .gitignore mirrors this list.
EXCLUDED_NAMES = (
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", ".mypy_cache", ".ipynb_checkpoints", "*.so", "*.pyd", "*.py[cod]",
    "cifar-10-batches-py", "cifar-10-python.tar.gz", "*.partial", ".cifar-10-*",
    "a2_code_submission.zip", "a2_inline_submission.pdf",
)
# Build products that sit next to their sources.
EXCLUDED_PATHS = ("cs231n/im2col_cython.c", "cs231n/im2col_cython.html")


def is_excluded(relative_path):
    """True for a path (relative to the bundle root, a pathlib.PurePath) that is not part of a bundle."""
    if relative_path.as_posix() in EXCLUDED_PATHS:
        return True
    return any(fnmatch.fnmatch(part, pattern)
               for part in relative_path.parts for pattern in EXCLUDED_NAMES)

