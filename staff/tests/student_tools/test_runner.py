"""The headless notebook runner on tiny notebooks."""
import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

from tools import run_notebooks
from tools.conventions import NOTEBOOKS


def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SMOKE = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(source) for source in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def notebooks(tmp_path):
    passing = write_notebook(tmp_path / "passing.ipynb", "steps = 2 if SMOKE else 1000", "print(steps * 21)")
    failing = write_notebook(tmp_path / "failing.ipynb", "x = 1", "raise ValueError('broken on purpose')", "y = 2")
    return passing, failing


def outputs_text(path):
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_smoke_mode_sets_the_parameter_and_writes_outputs(notebooks, tmp_path, capsys):
    passing, _ = notebooks
    out_dir = tmp_path / "executed"
    assert run_notebooks.main([str(passing), "--smoke", "--output-dir", str(out_dir)]) == 0
    assert "42" in outputs_text(out_dir / "passing.ipynb")
    assert json.loads(passing.read_text())["cells"][1]["outputs"] == []  # source untouched
    printed = capsys.readouterr().out
    assert "passing.ipynb: ok in" in printed and str(out_dir) in printed


def test_full_mode_runs_in_place(notebooks):
    passing, _ = notebooks
    assert run_notebooks.main([str(passing)]) == 0
    assert "21000" in outputs_text(passing)


def test_full_run_after_an_in_place_smoke_run_is_full_again(notebooks):
    passing, _ = notebooks
    assert run_notebooks.main([str(passing), "--smoke"]) == 0
    assert "42" in outputs_text(passing)
    assert run_notebooks.main([str(passing)]) == 0
    assert "21000" in outputs_text(passing)
    tags = [tag for cell in nbformat.read(passing, as_version=4).cells
            for tag in cell.metadata.get("tags", [])]
    assert "injected-parameters" not in tags


def test_failure_names_notebook_and_cell_and_exits_non_zero(notebooks, tmp_path, capsys):
    passing, failing = notebooks
    code = run_notebooks.main([str(failing), str(passing), "--smoke", "--output-dir", str(tmp_path / "out")])
    assert code == 1
    captured = capsys.readouterr()
    assert "failing.ipynb: FAILED" in captured.out
    assert "passing.ipynb: ok" in captured.out  # later notebooks still run
    assert "failing.ipynb: cell" in captured.err and "ValueError: broken on purpose" in captured.err


def test_missing_notebook_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit):
        run_notebooks.main([str(tmp_path / "nope.ipynb")])


def test_notebook_needing_a_missing_package_is_skipped(notebooks, tmp_path, monkeypatch, capsys):
    passing, _ = notebooks
    needy = write_notebook(tmp_path / "needy.ipynb", "print('ran')")
    monkeypatch.setitem(run_notebooks.OPTIONAL_REQUIREMENTS, "needy.ipynb",
                        ("cs231n_no_such_module", "pip install something"))
    out_dir = tmp_path / "executed"
    assert run_notebooks.main([str(needy), str(passing), "--smoke", "--output-dir", str(out_dir)]) == 0
    printed = capsys.readouterr().out
    assert ("needy.ipynb: skipped, it needs cs231n_no_such_module, which is not installed "
            "(install it with: pip install something)") in printed
    assert "skipped needy.ipynb" in printed  # named again in the summary
    assert "passing.ipynb: ok" in printed
    assert not (out_dir / "needy.ipynb").exists()


def test_notebook_whose_package_is_installed_runs(tmp_path, monkeypatch):
    needy = write_notebook(tmp_path / "needy.ipynb", "print('ran')")
    monkeypatch.setitem(run_notebooks.OPTIONAL_REQUIREMENTS, "needy.ipynb", ("json", "n/a"))
    assert run_notebooks.main([str(needy), "--smoke"]) == 0
    assert "ran" in outputs_text(needy)


def test_only_skipped_notebooks_is_a_success(tmp_path, monkeypatch, capsys):
    needy = write_notebook(tmp_path / "needy.ipynb", "print('ran')")
    monkeypatch.setitem(run_notebooks.OPTIONAL_REQUIREMENTS, "needy.ipynb",
                        ("cs231n_no_such_module", "pip install something"))
    assert run_notebooks.main([str(needy)]) == 0
    assert "skipped needy.ipynb" in capsys.readouterr().out


def test_tensorflow_notebook_is_skipped_exactly_when_tensorflow_is_missing():
    installed = importlib.util.find_spec("tensorflow") is not None
    reason = run_notebooks.missing_requirement(Path("TensorFlow.ipynb"))
    assert (reason is None) == installed
    if reason is not None:
        assert "pip install -e '.[tensorflow]'" in reason and "--with-tensorflow" in reason
    assert run_notebooks.missing_requirement(Path("PyTorch.ipynb")) is None
    assert "TensorFlow.ipynb" in NOTEBOOKS  # so a default run includes it
