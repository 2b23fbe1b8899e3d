"""The quoted run figures of the solution's answers (staff/quoted_figures/): the table
against the notebooks' text, and the check against executed notebooks built here."""
import nbformat
import pytest

from cs231n.run_figures import METADATA_KEY, record_figure, recorded_figures, recording_figures
from staff.quoted_figures import check as checking
from staff.quoted_figures.check import BUNDLE_ROOT, check, source_problems
from staff.quoted_figures.measure import reseeded
from staff.quoted_figures.quotes import QUOTED_FIGURES, QuotedFigure
from staff.quoted_figures.readings import at_scale, over_runs, percent, recorded
from tools import run_notebooks
from tools.conventions import ANSWER_TAG, SOLUTION_ONLY_TAG

# What print_weight_scale_sweep(..., record_as=...) and print_final_accuracies(...,
# record_as=...) record, in the form the executed notebook's metadata keeps.
RECORDED_SWEEP = {
    "weight scales": [1e-4, 1.0],
    "baseline: best val acc": [0.112, 0.098], "baseline: final loss": [2.3, "inf"],
    "batchnorm: best val acc": [0.241, 0.161], "batchnorm: final loss": [1.79, 3.1],
}
RECORDED_ACCURACIES = {
    "baseline, batch size 5: final train acc": 0.612, "baseline, batch size 5: final val acc": 0.281,
    "baseline, batch size 5: best val acc": 0.300,
    "batchnorm, batch size 5: final train acc": 0.391, "batchnorm, batch size 5: final val acc": 0.270,
    "batchnorm, batch size 5: best val acc": 0.285,
}


def notebook_recording(figures):
    """What a notebook that recorded these figures (by experiment) reads back as."""
    return recorded_figures(nbformat.v4.new_notebook(metadata={METADATA_KEY: figures}))


def test_the_recorded_figures_are_read_in_percent():
    sweep = notebook_recording({"sweep": RECORDED_SWEEP})["sweep"]
    assert percent(at_scale("baseline: best val acc", 1e-4))(sweep) == pytest.approx(11.2)
    assert percent(at_scale("batchnorm: best val acc", 1.0))(sweep) == pytest.approx(16.1)
    assert at_scale("baseline: final loss", 1.0)(sweep) == float("inf")
    assert at_scale("batchnorm: final loss", 1e-4)(sweep) == 1.79
    accuracies = notebook_recording({"runs": RECORDED_ACCURACIES})["runs"]
    assert [percent(recorded(f"batchnorm, batch size 5: {measure}"))(accuracies)
            for measure in ("final train acc", "final val acc", "best val acc")] == pytest.approx([39.1, 27.0, 28.5])
    assert percent(over_runs("final val acc", min))(accuracies) == pytest.approx(27.0)


def executed_notebook(recorded_by_experiment, answer):
    """A notebook with one code cell that recorded these figures and one answer cell."""
    code = nbformat.v4.new_code_cell('print_final_accuracies(solvers, record_as="batch sizes")', id="code0001")
    markdown = nbformat.v4.new_markdown_cell(answer, id="answer01")
    markdown.metadata["tags"] = [ANSWER_TAG]
    metadata = {METADATA_KEY: recorded_by_experiment} if recorded_by_experiment else {}
    return nbformat.v4.new_notebook(cells=[code, markdown], metadata=metadata)


def figure(low, high, quote="only 30% to 50% at batch size 5"):
    return QuotedFigure("Test.ipynb", quote, "batch sizes", "batchnorm, batch size 5",
                        percent(recorded("batchnorm, batch size 5: final train acc")), low, high)


@pytest.fixture
def one_figure_bundle(tmp_path, monkeypatch):
    """A bundle whose only notebook is Test.ipynb; returns a function installing a table."""
    monkeypatch.setattr(checking, "NOTEBOOKS", ("Test.ipynb",))
    monkeypatch.setattr(checking, "NOT_RUN_FIGURES", {})

    def install(*figures, answer="**Your Answer:** only 30% to 50% at batch size 5.",
                recorded_by_experiment=(("batch sizes", RECORDED_ACCURACIES),)):
        monkeypatch.setattr(checking, "QUOTED_FIGURES", figures)
        nbformat.write(executed_notebook(dict(recorded_by_experiment), answer), tmp_path / "Test.ipynb")
        return tmp_path
    return install


def test_a_figure_inside_its_range_passes_and_one_outside_names_the_quote(one_figure_bundle):
    rows, problems = check(one_figure_bundle(figure(30, 50)))
    assert problems == [] and rows[0][1] == pytest.approx(39.1) and rows[0][2]
    rows, problems = check(one_figure_bundle(figure(42, 50)))
    assert len(problems) == 1 and "recorded 39.1" in problems[0] and "30% to 50%" in problems[0]


def test_a_missing_figure_is_a_problem_not_a_crash(one_figure_bundle):
    rows, problems = check(one_figure_bundle(figure(30, 50), recorded_by_experiment=()))
    assert rows == [] and "could not read" in problems[0]


def test_a_figure_recorded_during_an_execution_reaches_the_check(one_figure_bundle):
    bundle = one_figure_bundle(figure(30, 50), recorded_by_experiment=())
    with recording_figures(bundle / "Test.ipynb"):
        record_figure("batch sizes", "batchnorm, batch size 5: final train acc", 0.391)
    rows, problems = check(bundle)
    assert problems == [] and rows[0][1] == pytest.approx(39.1)


@pytest.mark.slow
def test_the_runner_keeps_what_a_notebook_recorded_for_the_check(one_figure_bundle, tmp_path):
    bundle = one_figure_bundle(figure(30, 50), recorded_by_experiment=())
    notebook = nbformat.read(bundle / "Test.ipynb", as_version=4)
    notebook.cells[0].source = ("from cs231n.run_figures import record_figure\n"
                                'record_figure("batch sizes", "batchnorm, batch size 5: final train acc", 0.391)')
    nbformat.write(notebook, bundle / "Test.ipynb")
    executed = tmp_path / "executed"
    assert run_notebooks.main([str(bundle / "Test.ipynb"), "--output-dir", str(executed)]) == 0
    rows, problems = check(executed)
    assert problems == [] and rows[0][1] == pytest.approx(39.1)
    assert recorded_figures(nbformat.read(bundle / "Test.ipynb", as_version=4)) == {}


def test_source_problems_catch_an_edited_quote_and_an_unlisted_percentage(one_figure_bundle):
    assert source_problems(one_figure_bundle(figure(30, 50))) == []
    problems = source_problems(one_figure_bundle(
        figure(30, 50), answer="**Your Answer:** about 40% at batch size 5, and 85% at 50."))
    assert any("no longer in an answer" in problem for problem in problems)
    assert any("40%" in problem for problem in problems) and any("85%" in problem for problem in problems)


def test_source_problems_catch_a_figure_no_code_cell_records(one_figure_bundle):
    unrecorded = QuotedFigure("Test.ipynb", "only 30% to 50% at batch size 5", "layer sizes", "a figure",
                              recorded("x"), 30, 50)
    problems = source_problems(one_figure_bundle(unrecorded))
    assert problems == ["Test.ipynb: no code cell records the experiment 'layer sizes' (a figure)"]


def test_a_quote_may_not_state_a_percentage_outside_its_range(one_figure_bundle):
    problems = source_problems(one_figure_bundle(figure(35, 50)))
    assert len(problems) == 1 and "[30.0]" in problems[0]


def test_solution_only_prose_counts_as_well(tmp_path, monkeypatch):
    monkeypatch.setattr(checking, "NOTEBOOKS", ("Test.ipynb",))
    monkeypatch.setattr(checking, "QUOTED_FIGURES", ())
    prose = nbformat.v4.new_markdown_cell("In this run it reached 58.9%.", id="prose001")
    prose.metadata["tags"] = [SOLUTION_ONLY_TAG]
    plain = nbformat.v4.new_markdown_cell("The bar is 70%.", id="prose002")
    nbformat.write(nbformat.v4.new_notebook(cells=[prose, plain]), tmp_path / "Test.ipynb")
    problems = source_problems(tmp_path)
    assert len(problems) == 1 and "58.9%" in problems[0]


def test_the_solution_notebooks_agree_with_the_table():
    assert source_problems() == []


def test_committed_notebooks_carry_no_recorded_figures():
    for name in sorted({quoted.notebook for quoted in QUOTED_FIGURES}):
        assert recorded_figures(nbformat.read(BUNDLE_ROOT / name, as_version=4)) == {}, name


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
