"""Figures of a notebook run, recorded by name for checks that read them afterwards.

The worked solution's answers quote ranges of figures the notebooks print (an accuracy, a
final loss). Checking such a range against a run should read numbers, not parse prose
written for people, so the cells that print a quoted figure also record it:
``record_figure("dropout", "keep ratio 1: final train acc", 0.97)`` records the figure
"keep ratio 1: final train acc" of the experiment "dropout". The printout stays as it is.

Why it works this way:

- Recording does nothing unless the notebook runner asks for it by naming a file in the
  environment variable ``CS231N_RECORD_FIGURES_TO``. On an ordinary run (Jupyter, VS Code, Colab)
  nothing is written and nothing shows: no output, no warning, no new file. Sending the
  figures through Jupyter's display channel instead would put an output of an unknown
  type into the notebook, which some front ends show as a "no renderer" message.
- A kernel inherits the environment of the process that starts it, and a file is the
  simplest way back from it. The runner wraps each execution in ``recording_figures``,
  which keeps the figures in the executed notebook's metadata (``recorded_figures``), so
  an executed notebook carries its own figures and whoever checks them needs only it.
- Values are numbers or lists of numbers, kept as JSON; an infinite or NaN value (a run
  that diverged) travels as the string "inf" or "nan", because a notebook must stay valid
  JSON. Recording a name again (a cell run twice) replaces the earlier value.
"""
import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

RECORD_FIGURES_TO = "CS231N_RECORD_FIGURES_TO"
METADATA_KEY = "recorded_figures"


def _json_number(value):
    value = float(value)
    return value if math.isfinite(value) else str(value)


def record_figure(experiment, name, value):
    """Record a figure (a number, or a sequence of numbers) when the runner asks for it.

    Inputs:
    - experiment: the group of figures one cell records, e.g. "dropout".
    - name: the figure within it, e.g. "keep ratio 1: final train acc".
    - value: a number, or a list of numbers (one per epoch, per weight scale, ...).
    """
    path = os.environ.get(RECORD_FIGURES_TO)
    if not path:
        return
    value = [_json_number(item) for item in value] if hasattr(value, "__len__") else _json_number(value)
    with open(path, "a", encoding="utf-8") as file:
        file.write(json.dumps({"experiment": experiment, "name": name, "value": value}) + "\n")


def _read_record_file(path):
    """{experiment: {name: value}} from the lines record_figure appended, the last value of a name winning."""
    figures = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        figures.setdefault(entry["experiment"], {})[entry["name"]] = entry["value"]
    return figures


@contextmanager
def recording_figures(executed_notebook):
    """Have the notebooks executed inside this block record their figures, then keep them in
    the metadata of the executed notebook at that path (when the execution wrote it)."""
    with tempfile.TemporaryDirectory() as scratch:
        record_file = Path(scratch) / "figures.jsonl"
        previous = os.environ.get(RECORD_FIGURES_TO)
        os.environ[RECORD_FIGURES_TO] = str(record_file)
        try:
            yield
        finally:
            if previous is None:
                del os.environ[RECORD_FIGURES_TO]
            else:
                os.environ[RECORD_FIGURES_TO] = previous
            if Path(executed_notebook).is_file():
                _keep_in_metadata(executed_notebook,
                                  _read_record_file(record_file) if record_file.is_file() else {})


def _keep_in_metadata(path, figures):
    """Put figures into the notebook's metadata, replacing those of an earlier run (a
    notebook executed in place still holds them)."""
    import nbformat  # the runner's dependency: a notebook that only records never loads it

    notebook = nbformat.read(path, as_version=4)
    if figures:
        notebook.metadata[METADATA_KEY] = figures
    elif notebook.metadata.pop(METADATA_KEY, None) is None:
        return
    nbformat.write(notebook, path)


def recorded_figures(notebook):
    """{experiment: {name: number or list of numbers}} that an executed notebook recorded."""
    def number(value):
        return [float(item) for item in value] if isinstance(value, list) else float(value)

    return {experiment: {name: number(value) for name, value in figures.items()}
            for experiment, figures in notebook.metadata.get(METADATA_KEY, {}).items()}
