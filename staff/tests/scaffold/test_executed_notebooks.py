"""The five notebooks, executed once in the runner's quick mode on the partial CIFAR-10 copy:
what their saved outputs and their submission PDF look like.

Skipped when the partial copy is not beside the checkout.
"""
import json
import os
from pathlib import Path

import nbformat
import papermill
import pytest
from weasyprint.formatting_structure import boxes

from tools.conventions import NOTEBOOKS, smoke_parameters
from tools.run_notebooks import missing_requirement
from tools.submission_pdf import WIDGET_MIME_TYPE, render_document

REPO_ROOT = Path(__file__).resolve().parents[3]
# The notebooks this environment can run (an optional framework may not be installed).
NOTEBOOK_NAMES = [name for name in NOTEBOOKS
                  if (REPO_ROOT / name).is_file() and missing_requirement(REPO_ROOT / name) is None]

# Slow: the module runs every notebook and renders their PDF (minutes on two cores).
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

# Run first in every kernel: records the labels of every figure as it is drawn, whatever
# draws it (plt.show, a figure returned at the end of a cell, or a helper of the package).
RECORD_FIGURES = """
import json as _json
import matplotlib.backend_bases as _backend_bases

_figure_labels = []
_print_figure = _backend_bases.FigureCanvasBase.print_figure


def _recording_print_figure(self, *args, **kwargs):
    figure = self.figure
    texts = [figure._suptitle.get_text() if figure._suptitle is not None else ""]
    for ax in figure.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
    _figure_labels.append([text for text in texts if text.strip()])
    return _print_figure(self, *args, **kwargs)


_backend_bases.FigureCanvasBase.print_figure = _recording_print_figure
"""
REPORT_FIGURES = 'print("FIGURE LABELS", _json.dumps(_figure_labels))'


@pytest.fixture(scope="module")
def executed(tmp_path_factory, partial_cifar):
    """{name: (executed notebook without the recording cells, labels of each figure drawn)}."""
    out_dir = tmp_path_factory.mktemp("executed")
    environment = dict(os.environ)
    os.environ["CIFAR10_DIR"] = str(partial_cifar)
    results = {}
    try:
        for name in NOTEBOOK_NAMES:
            notebook = nbformat.read(REPO_ROOT / name, as_version=4)
            notebook.cells.insert(0, nbformat.v4.new_code_cell(RECORD_FIGURES))
            notebook.cells.append(nbformat.v4.new_code_cell(REPORT_FIGURES))
            executed_notebook = papermill.execute_notebook(
                notebook, str(out_dir / name), parameters=smoke_parameters(),
                cwd=str(REPO_ROOT), kernel_name="python3", progress_bar=False)
            report = "".join(executed_notebook.cells[-1].outputs[0]["text"])
            labels = json.loads(report.split("FIGURE LABELS", 1)[1])
            executed_notebook.cells = [cell for cell in executed_notebook.cells
                                       if cell.source not in (RECORD_FIGURES.strip(), REPORT_FIGURES)]
            nbformat.write(executed_notebook, out_dir / name)
            results[name] = (executed_notebook, labels)
    finally:
        os.environ.clear()
        os.environ.update(environment)
    return out_dir, results


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_every_figure_has_a_title_or_axis_labels(executed, name):
    _, results = executed
    _, labels = results[name]
    unlabelled = [index for index, texts in enumerate(labels) if not texts]
    assert unlabelled == [], f"figures {unlabelled} of {name} have no title and no axis labels"


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_no_saved_output_is_a_widget(executed, name):
    _, results = executed
    notebook, _ = results[name]
    widgets = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"
               for output in cell.outputs if WIDGET_MIME_TYPE in output.get("data", {})]
    assert widgets == [], f"cells {widgets} of {name} saved a widget instead of its final state"


def page_extent(page):
    """(fraction of the page's content height in use, height of its first block, starts a notebook)."""
    page_box = page._page_box
    top, height = page_box.content_box_y(), page_box.height
    leaves = [box for box in page_box.descendants()
              if isinstance(box, (boxes.TextBox, boxes.ReplacedBox)) and box.height
              # The running header and the page number sit in the margins; half a pixel
              # allows for the rounding of millimetre margins into pixels.
              and top - 0.5 <= box.position_y <= top + height]
    if not leaves:
        return 0.0, 0.0, False
    bottom = max(box.position_y + box.margin_height() for box in leaves)
    first = min(leaves, key=lambda box: box.position_y)
    starts_notebook = any("notebook-name" in (box.element.get("class") or "")
                          for box in leaves if box.element is not None)
    return (bottom - top) / height, first.margin_height() / height, starts_notebook


def nearly_blank_pages(document, threshold=0.3):
    """Pages (1-based) less than `threshold` full, except where the content that follows could
    not have fitted there (an output or figure taller than the space left) or a notebook ends."""
    extents = [page_extent(page) for page in document.pages]
    blank = []
    for number, (used, _, _) in enumerate(extents, start=1):
        if used >= threshold or number == len(extents):
            continue
        _, next_first_height, next_starts_notebook = extents[number]
        if next_starts_notebook or next_first_height > 1 - used:
            continue
        blank.append(number)
    return blank


def test_no_nearly_blank_page_in_the_solution_pdf(executed):
    out_dir, _ = executed
    document = render_document([out_dir / name for name in NOTEBOOK_NAMES], bundle_root=out_dir)
    assert nearly_blank_pages(document) == []
