"""What students read in the notebooks: no words from our tooling, "seed" only for random seeds."""
import io
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

from tools.bundle import NOTEBOOKS, blank_magics

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_PATHS = [REPO_ROOT / name for name in NOTEBOOKS if (REPO_ROOT / name).is_file()]

# Words of our build and test machinery, which mean nothing to a student.
TOOLING_WORDS = (
    (re.compile(r"\bCI\b"), "CI"),
    (re.compile(r"headless", re.IGNORECASE), "headless"),
    (re.compile(r"smoke", re.IGNORECASE), "smoke"),
)
SEED_WORD = re.compile(r"\bseeds?\b", re.IGNORECASE)


def comments(source):
    """The comment texts of a code cell, IPython magics and shell lines left out."""
    tokens = tokenize.generate_tokens(io.StringIO(blank_magics(source) + "\n").readline)
    return [token.string for token in tokens if token.type == tokenize.COMMENT]


def student_text(path):
    """(where, text) for every markdown cell and every code comment of a notebook."""
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        where = f"{path.name}, cell {index + 1}"
        if cell.cell_type == "markdown":
            yield where, cell.source
        elif cell.cell_type == "code":
            for comment in comments(cell.source):
                yield where, comment


def is_random_seed_use(text, match):
    """A "seed" about random numbers: code (`seed`, 'seed') or "random" in the same sentence."""
    before = text[max(0, match.start() - 8):match.start()]
    after = text[match.end():match.end() + 1]
    quoted = before.endswith(("`", "'", '"', "`'")) and after in ("`", "'", '"')
    sentence_start = max(text.rfind(". ", 0, match.start()), text.rfind("\n\n", 0, match.start()))
    sentence_end = min(position for position in (text.find(". ", match.end()), text.find("\n\n", match.end()),
                                                 len(text)) if position >= 0)
    return quoted or "random" in text[sentence_start + 1:sentence_end].lower()


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.stem)
def test_no_tooling_words_in_student_text(path):
    found = [f"{where}: {label!r} in {text.strip()[:80]!r}"
             for where, text in student_text(path)
             for pattern, label in TOOLING_WORDS if pattern.search(text)]
    assert found == []


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.stem)
def test_seed_means_a_random_seed(path):
    found = [f"{where}: {text[max(0, match.start() - 40):match.end() + 40]!r}"
             for where, text in student_text(path)
             for match in SEED_WORD.finditer(text) if not is_random_seed_use(text, match)]
    assert found == []


def test_the_checks_catch_what_they_look_for():
    assert comments("x = 1  # used by CI\n%timeit f()\n") == ["# used by CI"]
    text = ("The function prints the accuracy, as in the seeds, and also returns it. "
            "Fix the random seed with `seed`, or with dropout_param's 'seed' key.")
    flagged = [match.group() for match in SEED_WORD.finditer(text) if not is_random_seed_use(text, match)]
    assert flagged == ["seeds"]
    assert TOOLING_WORDS[0][0].search("CIFAR-10 on CI") and not TOOLING_WORDS[0][0].search("CIFAR")
