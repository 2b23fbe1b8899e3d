"""The assignment folder's conventions, each defined once: the notebooks and their run
parameter, the files a student edits and submits, the marker lines around student code,
the inline-answer cells, and what never belongs in a copy of the folder. The notebook
runner, the submission collector, the progress view, the tests and the course's own tools
import them from here. (tools/cells.py reads notebook cells by these conventions;
tools/regions.py reads the marked regions.)
"""
import fnmatch

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
# The PDF of the notebooks (inline answers and outputs) that goes beside it.
SUBMISSION_PDF_NAME = "a2_inline_submission.pdf"

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

# ---------------------------------------------------------------------------- answer cells

# The markdown cell after each inline question that holds the student's answer: tagged
# with ANSWER_TAG, and starting with ANSWER_PROMPT. Either one makes a cell an answer
# cell, for every tool alike.
ANSWER_TAG = "inline-answer"
ANSWER_PROMPT = "**Your Answer:**"
ANSWER_PLACEHOLDER = "*Write your answer here.*"
BLANK_ANSWER = f"{ANSWER_PROMPT} {ANSWER_PLACEHOLDER}"

# ---------------------------------------------------------------------------- not part of a bundle

# Names (of files or folders, at any depth) that are never part of a bundle: environments,
# build products, caches, version control, datasets and downloads, submission products.
# .gitignore mirrors this list.
EXCLUDED_NAMES = (
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".ruff_cache", ".mypy_cache", ".ipynb_checkpoints", "*.so", "*.pyd", "*.py[cod]",
    "cifar-10-batches-py", "cifar-10-python.tar.gz", "*.partial", ".cifar-10-*",
    CODE_ZIP_NAME, SUBMISSION_PDF_NAME,
)
# Build products that sit next to their sources.
EXCLUDED_PATHS = ("cs231n/im2col_cython.c", "cs231n/im2col_cython.html")


def is_excluded(relative_path):
    """True for a path (relative to the bundle root, a pathlib.PurePath) that is not part of a bundle."""
    if relative_path.as_posix() in EXCLUDED_PATHS:
        return True
    return any(fnmatch.fnmatch(part, pattern)
               for part in relative_path.parts for pattern in EXCLUDED_NAMES)
