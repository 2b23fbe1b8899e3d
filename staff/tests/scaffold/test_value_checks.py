"""The notebooks' checks of a value beside what it should be (cs231n/gradient_check.py:
value_line, near_line, above_line, shape_line): a value off its bound prints a FAILED line
that the runner and the collector list, and no notebook prints a bound of its own."""
import io
import re
import tokenize
from pathlib import Path

import nbformat
import numpy as np
import pytest

from cs231n.gradient_check import FAILED_CHECK_PREFIX, above_line, near_line, shape_line, value_line
from tools.conventions import NOTEBOOKS
from tools.cells import blank_magics
from tools.tasks import failed_checks

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK_PATHS = [REPO_ROOT / name for name in NOTEBOOKS if (REPO_ROOT / name).is_file()]


def test_a_value_within_its_bound_prints_it_beside_the_bound():
    assert near_line("loss", 2.3025, np.log(10), 0.01) == "loss: 2.3025  (should be within 0.01 of 2.3026)"
    assert near_line("zeros", 0.0, 0, 0) == "zeros: 0.0000  (should be 0.0000)"
    assert near_line("means", [1.5, 2.5], [1.5, 2.5], 1e-6, digits=1) == (
        "means: [1.5, 2.5]  (should be within 1e-06 of [1.5, 2.5])")
    assert above_line("speedup", 2.29, 0.1, digits=2) == "speedup: 2.29  (should be above 0.10)"
    assert shape_line("scores", (64, 10), (64, 10)) == "scores shape: (64, 10)  (should be (64, 10))"
    assert value_line("Final training accuracy", "1.00", "1.00", True) == (
        "Final training accuracy: 1.00  (should be 1.00)")


def test_a_value_off_its_bound_prints_a_failed_line():
    assert near_line("loss", 23.0, np.log(10), 0.01) == f"{FAILED_CHECK_PREFIX}loss 23.0000, should be within 0.01 of 2.3026"
    assert near_line("means", [0.0, 0.5], 0, 0.1).startswith(FAILED_CHECK_PREFIX)  # one entry is enough
    assert near_line("loss", float("nan"), 1.0, 0.1).startswith(FAILED_CHECK_PREFIX)
    assert above_line("loss with reg", 2.3, 2.3).startswith(FAILED_CHECK_PREFIX)
    assert above_line("speedup", float("nan"), 0.2).startswith(FAILED_CHECK_PREFIX)
    assert shape_line("scores", np.zeros((64, 5)).shape, (64, 10)) == (
        f"{FAILED_CHECK_PREFIX}scores shape (64, 5), should be (64, 10)")
    assert value_line("Final training accuracy", "0.96", "1.00", False) == (
        f"{FAILED_CHECK_PREFIX}Final training accuracy 0.96, should be 1.00")


def test_a_failed_value_check_is_found_in_a_saved_notebook():
    cells = [nbformat.v4.new_markdown_cell("## Initial loss"),
             nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
                 "stream", name="stdout", text=near_line("Initial loss", 0.0, np.log(10), 0.01) + "\n")])]
    assert failed_checks(cells) == [("Initial loss", "FAILED: Initial loss 0.0000, should be within 0.01 of 2.3026")]


SHOULD = re.compile(r"\bshould (be|equal)\b", re.IGNORECASE)


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.stem)
def test_no_notebook_prints_a_bound_without_checking_it(path):
    """A string in a code cell that says what a value should be is a check that cannot fail:
    the bound belongs in one of the checks above, which print FAILED when it is not met."""
    found = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        tokens = tokenize.generate_tokens(io.StringIO(blank_magics(cell.source) + "\n").readline)
        found += [f"cell {index + 1}: {token.string[:80]}" for token in tokens
                  if token.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1))
                  and SHOULD.search(token.string)]
    assert found == []
