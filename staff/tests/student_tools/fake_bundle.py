"""A fake bundle for the collector's tests: tiny notebooks with a marker sentence, math,
code and an answered question, and which of them most students submit."""
from pathlib import Path

import nbformat

from tools import conventions

# What most students submit: the core notebooks and one framework notebook.
SUBMITTED = conventions.CORE_NOTEBOOKS + ("PyTorch.ipynb",)


def fake_notebook(name, with_plot):
    """A tiny notebook with a unique marker sentence, math, code and an answered question."""
    stem = Path(name).stem
    cells = [
        nbformat.v4.new_markdown_cell(
            f"# Notebook {stem}\n\nMarker sentence for {stem}. The loss is "
            r"$L = \frac{1}{N}\sum_i L_i$ and costs `$5`."
        ),
        nbformat.v4.new_code_cell(f"value = 6 * 7\nprint('{stem} prints', value)"),
        nbformat.v4.new_markdown_cell("## Inline Question 1\n\nWhy?"),
        nbformat.v4.new_markdown_cell(
            "**Your Answer:** because $x^2 \\geq 0$.", metadata={"tags": [conventions.ANSWER_TAG]}
        ),
    ]
    if with_plot:
        cells.insert(2, nbformat.v4.new_code_cell(
            "import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
            "import matplotlib.pyplot as plt\n"
            "plt.plot([0, 1, 2], [1, 0, 2])\nplt.title('a plot')\nplt.show()"
        ))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook
