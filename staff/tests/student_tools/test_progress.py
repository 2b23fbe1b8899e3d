"""Where a student stands: the progress view on releases at three stages, and a failed
notebook check as the notebook, the runner and the collector report it."""
import contextlib
import io
import json
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from task_regions import REPO_ROOT, solution_body, task_named, write_region

from cs231n.gradient_check import FAILED_CHECK_PREFIX, check_line
from tools import collect_submission, run_notebooks
from tools.progress import describe
from tools.conventions import CODE_ZIP_NAME, NOTEBOOKS, SUBMISSION_PDF_NAME
from tools.tasks import task_list

RELU_SECTION = 'ReLU and the affine-ReLU "sandwich"'


def progress(root):
    """(exit status, output) of `python -m tools.progress` run in ``root``."""
    run = subprocess.run([sys.executable, "-m", "tools.progress"], cwd=root, capture_output=True,
                         text=True, timeout=900)
    return run.returncode, run.stdout + run.stderr


def status_of(output, description):
    """The status the table gives the task whose line ends with ``description``."""
    found = [line.strip()[: -len(description)].strip() for line in output.splitlines()
             if line.endswith(description)]
    assert len(found) == 1, f"{description!r} is on {len(found)} lines of:\n{output}"
    return found[0]


def line_after(output, description):
    lines = output.splitlines()
    index = next(i for i, line in enumerate(lines) if line.endswith(description))
    return lines[index + 1].strip()


@pytest.mark.slow
def test_stubbed_release_every_task_not_started_and_next_is_the_first(starter):
    status, output = progress(starter)
    tasks = task_list(starter)
    assert status == 0, output
    for task in tasks:
        if task.function and not task.section.endswith(".py"):
            expected = "optional, not done" if task.optional else "not started"
            assert status_of(output, describe(task)) == expected
    assert status_of(output, "code cell(s) in PyTorch.ipynb § Your model") == "not started"
    assert "optional, not done" in status_of(output, "adagrad; checked in tests/test_optim.py")
    first = tasks[0]
    assert first.notebook == NOTEBOOKS[0] and first.function == "affine_forward"
    assert output.strip().splitlines()[-1] == (
        f"next: {first.title} in {first.file} ({first.function}), checked in {first.notebook} § {first.section}")


@pytest.mark.slow
def test_one_task_done_and_one_wrong(starter, tmp_path):
    root = tmp_path / "assignment"
    shutil.copytree(starter, root)
    forward, backward = task_named(root, "relu_forward"), task_named(root, "relu_backward")
    write_region(root, forward, solution_body(forward))
    write_region(root, backward, ["dx = dout.copy()"])
    status, output = progress(root)
    assert status == 1, output  # a required task fails
    assert status_of(output, describe(forward)) == "done"
    assert status_of(output, describe(backward)) == "failing"
    assert re.fullmatch(r"assert .*1\.0\)? < 1e-10", line_after(output, describe(backward)))
    assert status_of(output, describe(task_named(root, "affine_forward"))) == "not started"
    assert "required tasks: 1 done, 1 failing," in output
    assert output.strip().splitlines()[-1].startswith("next: affine forward in cs231n/layers.py")


@pytest.mark.slow
def test_the_completed_bundle_is_done():
    status, output = progress(REPO_ROOT)
    assert status == 0, output
    for task in task_list(REPO_ROOT):
        # The notebooks are committed without outputs: their own cells are done when a test
        # checks them, written and not yet run otherwise.
        expected = (("optional, done",) if task.optional else ("done",)) if task.function else (
            "done", "written, not run yet")
        assert status_of(output, describe(task)) in expected
    assert re.search(r"required tasks: \d+ done, 0 failing, \d+ written, not run yet$", output, re.MULTILINE)
    assert re.search(r"tests of the given code: \d+ passed, 0 failed, 0 waiting", output)


@pytest.mark.slow
def test_tests_run_in_task_order_and_the_framework_left_out_is_skipped(starter, tmp_path):
    root = tmp_path / "assignment"
    shutil.copytree(starter, root)
    notebook = json.loads((root / "PyTorch.ipynb").read_text(encoding="utf-8"))
    code = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    code["execution_count"] = 1  # PyTorch is started: TensorFlow.ipynb is left out
    (root / "PyTorch.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    (root / "TensorFlow.ipynb").write_text(
        (starter / "TensorFlow.ipynb").read_text(encoding="utf-8"), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pytest", "tests", "-v", "-p", "no:cacheprovider",
                          "-k", "affine or batchnorm or challenge"],
                         cwd=root, capture_output=True, text=True, timeout=900)
    names = re.findall(r"^tests/\S+::(\w+)", run.stdout, re.MULTILINE)
    assert names.index("test_affine_forward_matches_reference_values") < names.index(
        "test_batchnorm_train_output_has_beta_mean_and_gamma_std"), names
    assert re.search(r"SKIPPED \[\d+\] tests/test_framework_notebooks.py:\d+: TensorFlow.ipynb is not "
                     r"your framework part", run.stdout), run.stdout
    assert "test_tf_challenge_model_maps_images_to_logits SKIPPED" in run.stdout
    assert "where you stand" in run.stdout and "Not shown: TensorFlow.ipynb" in run.stdout


def test_check_line_fails_over_the_bound_and_on_nan():
    assert check_line("dx", 1e-12, 1e-10) == "dx relative error: 1.00e-12  (should be < 1e-10)"
    assert check_line("dx", 1.0, 1e-10) == f"{FAILED_CHECK_PREFIX}dx relative error 1.0e+00, should be < 1e-10"
    assert check_line("dx", float("nan"), 1e-10).startswith(FAILED_CHECK_PREFIX)


@pytest.fixture(scope="module")
def wrong_relu_run(tmp_path_factory):
    """The ReLU section's check cell of FullyConnectedNets.ipynb, run by the runner against
    a package whose relu_backward returns dout unchanged: (runner exit status, its output,
    the executed notebook)."""
    folder = tmp_path_factory.mktemp("wrong_relu")
    shutil.copytree(REPO_ROOT / "cs231n", folder / "cs231n",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c"))
    write_region(folder, task_named(REPO_ROOT, "relu_backward"), ["dx = dout.copy()"])
    cells = nbformat.read(REPO_ROOT / "FullyConnectedNets.ipynb", as_version=4).cells
    heading = next(index for index, cell in enumerate(cells)
                   if cell.cell_type == "markdown" and RELU_SECTION in cell.source)
    check = next(cell for cell in cells[heading:] if cell.cell_type == "code")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import numpy as np\n"
                                  "from cs231n.gradient_check import eval_numerical_gradient_array\n"
                                  "from cs231n.layers import relu_backward, relu_forward\n"
                                  "from cs231n.plot_utils import print_errors"),
        nbformat.v4.new_markdown_cell(f"### {RELU_SECTION}"),
        nbformat.v4.new_code_cell(check.source),
        nbformat.v4.new_code_cell("print('the notebook went on')"),
    ])
    nbformat.write(notebook, folder / "FullyConnectedNets.ipynb")
    out = folder / "executed"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = run_notebooks.main([str(folder / "FullyConnectedNets.ipynb"), "--output-dir", str(out)])
    return status, printed.getvalue(), nbformat.read(out / "FullyConnectedNets.ipynb", as_version=4)


@pytest.mark.slow
def test_a_wrong_relu_backward_prints_failed_and_the_notebook_goes_on(wrong_relu_run):
    _, _, executed = wrong_relu_run
    text = "".join(output.get("text", "") for cell in executed.cells for output in cell.get("outputs", []))
    assert "FAILED: dx relative error 1.0e+00, should be < 1e-10" in text, text
    assert "the notebook went on" in text


@pytest.mark.slow
def test_the_runner_lists_the_failed_check_by_section(wrong_relu_run):
    status, printed, _ = wrong_relu_run
    assert status == 1
    assert (f'FullyConnectedNets.ipynb, section "{RELU_SECTION}": '
            "FAILED: dx relative error 1.0e+00, should be < 1e-10") in printed, printed


@pytest.mark.slow
def test_the_collector_warns_of_the_failed_check_and_still_packs(wrong_relu_run, bundle):
    _, _, executed = wrong_relu_run
    nbformat.write(executed, bundle / "FullyConnectedNets.ipynb")
    reported = []
    collect_submission.collect(bundle, report=reported.append)
    warning = next(line for line in reported if line.startswith("WARNING"))
    assert (f'  FullyConnectedNets.ipynb, section "{RELU_SECTION}": '
            "FAILED: dx relative error 1.0e+00, should be < 1e-10") in warning.splitlines()
    assert (bundle / CODE_ZIP_NAME).is_file() and (bundle / SUBMISSION_PDF_NAME).is_file()
