"""Recording a notebook's figures by name (cs231n/run_figures.py); the print helpers that
record what they print are tested in test_plot_utils.py."""
import os

import nbformat
import pytest

from cs231n.run_figures import RECORD_FIGURES_TO, record_figure, recorded_figures, recording_figures


def record_some_figures():
    record_figure("challenge", "test acc", 0.55)
    record_figure("challenge", "val acc by epoch", [0.1, 0.4, float("inf")])


def test_without_the_runner_recording_writes_nothing_and_prints_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(RECORD_FIGURES_TO, raising=False)
    monkeypatch.chdir(tmp_path)
    record_some_figures()
    assert os.listdir(tmp_path) == [] and capsys.readouterr() == ("", "")


def test_recording_keeps_the_figures_in_the_executed_notebook(tmp_path, capsys):
    path = tmp_path / "executed.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    with recording_figures(path):
        record_some_figures()
        record_figure("challenge", "test acc", 0.56)  # a cell run again: the later value counts
    assert RECORD_FIGURES_TO not in os.environ and capsys.readouterr() == ("", "")
    assert recorded_figures(nbformat.read(path, as_version=4)) == {
        "challenge": {"test acc": 0.56, "val acc by epoch": [0.1, 0.4, float("inf")]}}


def test_a_run_that_records_nothing_leaves_no_figures_of_an_earlier_run(tmp_path):
    path = tmp_path / "executed.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    with recording_figures(path):
        record_some_figures()
    with recording_figures(path):
        pass
    assert recorded_figures(nbformat.read(path, as_version=4)) == {}


def test_a_notebook_the_execution_did_not_write_is_left_alone(tmp_path):
    with pytest.raises(RuntimeError), recording_figures(tmp_path / "never.ipynb"):
        record_some_figures()
        raise RuntimeError("the kernel died")
    assert os.listdir(tmp_path) == []
