"""Checking the table of quoted figures (quotes.py): against the solution notebooks'
prose (``source_problems``, no execution needed) and against the figures an executed run
recorded (``check``)."""
import re
from pathlib import Path

import nbformat

from cs231n.run_figures import recorded_figures
from tools.cells import cell_source, is_answer_cell, is_solution_only_cell
from tools.conventions import NOTEBOOKS

from .quotes import NOT_RUN_FIGURES, QUOTED_FIGURES

BUNDLE_ROOT = Path(__file__).resolve().parents[2]

_PERCENTAGE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?%")


def quoting_cells(notebook):
    """The markdown cells whose figures this package answers for: answers and solution-only."""
    return [cell for cell in notebook.cells if cell.cell_type == "markdown"
            and (is_answer_cell(cell) or is_solution_only_cell(cell))]


def _range_problems(figure):
    problems = []
    if not figure.low <= figure.high:
        problems.append(f"{figure.notebook}: empty range for {figure.what}")
    # A percentage the quote states must lie in the range: "about 40%" may be quoted for
    # 30-50%, never for 45-60%.
    stated = [float(percentage[:-1]) for percentage in _PERCENTAGE.findall(figure.quote)]
    outside = [number for number in stated if not figure.low <= number <= figure.high]
    if outside:
        problems.append(f"{figure.notebook}: {figure.quote!r} states {outside}, outside the range "
                        f"{figure.low}-{figure.high} of {figure.what}")
    return problems


def _notebook_problems(name, notebook):
    """The table against one solution notebook: its quotes, the experiments its code
    cells record, and the percentages of its answers and solution-only cells."""
    problems = []
    texts = {cell.get("id"): " ".join(cell_source(cell).split()) for cell in quoting_cells(notebook)}
    code = "\n".join(cell_source(cell) for cell in notebook.cells if cell.cell_type == "code")
    figures = [figure for figure in QUOTED_FIGURES if figure.notebook == name]
    not_run = {words: reason for (notebook_name, words), reason in NOT_RUN_FIGURES.items()
               if notebook_name == name}
    for figure in figures:
        if not any(figure.quote in text for text in texts.values()):
            problems.append(f"{name}: the quote {figure.quote!r} ({figure.what}) is no longer in an "
                            "answer or solution-only cell")
        problems += [f"{name}: no code cell records the experiment {experiment!r} ({figure.what})"
                     for experiment in figure.experiments() if f'"{experiment}"' not in code]
    problems += [f"{name}: the words {words!r} ({reason}) are no longer in an answer or solution-only cell"
                 for words, reason in not_run.items() if not any(words in text for text in texts.values())]
    for cell_id, text in texts.items():
        for words in [figure.quote for figure in figures] + list(not_run):
            text = text.replace(words, " ")
        problems += [f"{name} {cell_id}: {percentage} is quoted without a range in "
                     "staff/quoted_figures/quotes.py (quote a measured range, or refer to the printout)"
                     for percentage in _PERCENTAGE.findall(text)]
    return problems


def source_problems(bundle_root=BUNDLE_ROOT):
    """What is wrong between the table and the solution notebooks' markdown, one line each."""
    problems = [problem for figure in QUOTED_FIGURES for problem in _range_problems(figure)]
    for name in NOTEBOOKS:
        path = Path(bundle_root) / name
        if path.is_file():
            problems += _notebook_problems(name, nbformat.read(path, as_version=4))
    return problems


def check(executed_dir):
    """(rows, problems) for the notebooks in executed_dir: each figure against its range."""
    rows, problems, recorded = [], [], {}
    for figure in QUOTED_FIGURES:
        path = Path(executed_dir) / figure.notebook
        if not path.is_file():
            problems.append(f"{figure.notebook}: not in {executed_dir}")
            continue
        if figure.notebook not in recorded:
            recorded[figure.notebook] = recorded_figures(nbformat.read(path, as_version=4))
        figures = {}
        for experiment in figure.experiments():
            figures.update(recorded[figure.notebook].get(experiment, {}))
        try:
            value = figure.value(figures)
        except (KeyError, ValueError, IndexError) as error:
            problems.append(f"{figure.notebook}: could not read {figure.what} from the figures recorded "
                            f"as {', '.join(figure.experiments())} ({error!r})")
            continue
        ok = figure.low <= value <= figure.high
        rows.append((figure, value, ok))
        if not ok:
            problems.append(f"{figure.notebook}: {figure.what} recorded {value:g}, outside the "
                            f"range {figure.low:g}-{figure.high:g} that {figure.quote!r} quotes")
    return rows, problems
