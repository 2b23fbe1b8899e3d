"""The quoted run figures of the solution's answers (staff/quoted_figures.py): the table
against the notebooks' text, and the check against executed notebooks built here."""
import nbformat
import pytest

from staff import quoted_figures
from staff.quoted_figures import (
    QUOTED_FIGURES,
    QuotedFigure,
    check,
    final_accuracies,
    printed_text,
    reseeded,
    source_problems,
    weight_scale_sweep,
)
from tools.conventions import ANSWER_TAG, SOLUTION_ONLY_TAG

SWEEP_PRINTOUT = """\
weight scale 1.0e-04  baseline: best val acc 0.112, final loss 2.3 | batchnorm: best val acc 0.241, final loss 1.79
weight scale 1.0e+00  baseline: best val acc 0.098, diverged | batchnorm: best val acc 0.161, final loss 3.1
"""
ACCURACY_PRINTOUT = """\
baseline, batch size 5   train acc 0.612, val acc 0.281 (best 0.300)
batchnorm, batch size 5  train acc 0.391, val acc 0.270 (best 0.285)
"""


def test_the_printouts_are_read_in_percent():
    assert weight_scale_sweep(SWEEP_PRINTOUT) == [
        (1e-4, {"baseline": (pytest.approx(11.2), 2.3), "batchnorm": (pytest.approx(24.1), 1.79)}),
        (1.0, {"baseline": (pytest.approx(9.8), float("inf")), "batchnorm": (pytest.approx(16.1), 3.1)}),
    ]
    assert final_accuracies(ACCURACY_PRINTOUT)["batchnorm, batch size 5"] == pytest.approx((39.1, 27.0, 28.5))


def executed_notebook(printout, answer):
    """A notebook with one code cell that printed printout and one answer cell."""
    code = nbformat.v4.new_code_cell("run_experiment()", id="code0001")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printout)]
    markdown = nbformat.v4.new_markdown_cell(answer, id="answer01")
    markdown.metadata["tags"] = [ANSWER_TAG]
    return nbformat.v4.new_notebook(cells=[code, markdown])


def figure(low, high, quote="only 30% to 50% at batch size 5"):
    return QuotedFigure("Test.ipynb", "answer01", quote, "code0001", "batchnorm, batch size 5",
                        lambda text: final_accuracies(text)["batchnorm, batch size 5"][0], low, high)


@pytest.fixture
def one_figure_bundle(tmp_path, monkeypatch):
    """A bundle whose only notebook is Test.ipynb; returns a function installing a table."""
    monkeypatch.setattr(quoted_figures, "NOTEBOOKS", ("Test.ipynb",))
    monkeypatch.setattr(quoted_figures, "NOT_RUN_FIGURES", {})

    def install(*figures, answer="**Your Answer:** only 30% to 50% at batch size 5."):
        monkeypatch.setattr(quoted_figures, "QUOTED_FIGURES", figures)
        nbformat.write(executed_notebook(ACCURACY_PRINTOUT, answer), tmp_path / "Test.ipynb")
        return tmp_path
    return install


def test_a_figure_inside_its_range_passes_and_one_outside_names_the_quote(one_figure_bundle):
    rows, problems = check(one_figure_bundle(figure(30, 50)))
    assert problems == [] and rows[0][1] == pytest.approx(39.1) and rows[0][2]
    rows, problems = check(one_figure_bundle(figure(42, 50)))
    assert len(problems) == 1 and "printed 39.1" in problems[0] and "30% to 50%" in problems[0]


def test_a_missing_printout_is_a_problem_not_a_crash(one_figure_bundle, tmp_path):
    bundle = one_figure_bundle(figure(30, 50))
    nbformat.write(executed_notebook("nothing printed\n", "x"), bundle / "Test.ipynb")
    rows, problems = check(bundle)
    assert rows == [] and "could not read" in problems[0]


def test_source_problems_catch_an_edited_quote_and_an_unlisted_percentage(one_figure_bundle):
    assert source_problems(one_figure_bundle(figure(30, 50))) == []
    problems = source_problems(one_figure_bundle(
        figure(30, 50), answer="**Your Answer:** about 40% at batch size 5, and 85% at 50."))
    assert any("no longer in that cell" in problem for problem in problems)
    assert any("40%" in problem for problem in problems) and any("85%" in problem for problem in problems)


def test_a_quote_may_not_state_a_percentage_outside_its_range(one_figure_bundle):
    problems = source_problems(one_figure_bundle(figure(35, 50)))
    assert len(problems) == 1 and "[30.0]" in problems[0]


def test_solution_only_prose_counts_as_well(tmp_path, monkeypatch):
    monkeypatch.setattr(quoted_figures, "NOTEBOOKS", ("Test.ipynb",))
    monkeypatch.setattr(quoted_figures, "QUOTED_FIGURES", ())
    prose = nbformat.v4.new_markdown_cell("In this run it reached 58.9%.", id="prose001")
    prose.metadata["tags"] = [SOLUTION_ONLY_TAG]
    plain = nbformat.v4.new_markdown_cell("The bar is 70%.", id="prose002")
    nbformat.write(nbformat.v4.new_notebook(cells=[prose, plain]), tmp_path / "Test.ipynb")
    problems = source_problems(tmp_path)
    assert len(problems) == 1 and "58.9%" in problems[0]


def test_the_solution_notebooks_agree_with_the_table():
    assert source_problems() == []


def test_every_figure_reads_a_printing_cell_of_its_notebook():
    for quoted in QUOTED_FIGURES:
        notebook = nbformat.read(quoted_figures.BUNDLE_ROOT / quoted.notebook, as_version=4)
        for cell_id in quoted.printing_cells():
            assert printed_text(notebook, cell_id) == "", "committed notebooks carry no outputs"


def test_reseeding_shifts_every_literal_seed_and_nothing_else():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("np.random.seed(231)\nx = 231\ntorch.manual_seed(0)"),
        nbformat.v4.new_code_cell("tf.keras.utils.set_random_seed(0)\nseed=123"),
        nbformat.v4.new_markdown_cell("np.random.seed(231)"),
    ])
    copy = reseeded(notebook, 2)
    assert copy.cells[0].source == "np.random.seed(233)\nx = 231\ntorch.manual_seed(2)"
    assert copy.cells[1].source == "tf.keras.utils.set_random_seed(2)\nseed=123"
    assert copy.cells[2].source == "np.random.seed(231)"
    assert notebook.cells[0].source.startswith("np.random.seed(231)")
