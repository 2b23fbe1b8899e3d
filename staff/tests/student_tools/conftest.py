"""Fixtures of the student tools' tests: a fake bundle whose notebooks really ran in a
kernel (fake_bundle.py), shared by the collector's and the progress view's tests."""
import nbformat
import pytest
from fake_bundle import SUBMITTED, fake_notebook
from nbclient import NotebookClient

from tools import conventions


@pytest.fixture(scope="session")
def executed_notebooks():
    """Every notebook of the bundle, executed once for the whole test session; tests
    write them into their own bundle and never change them."""
    notebooks = {}
    for position, name in enumerate(conventions.NOTEBOOKS):
        notebook = fake_notebook(name, with_plot=(position == 1))
        NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
        notebooks[name] = notebook
    return notebooks


@pytest.fixture
def bundle(tmp_path, executed_notebooks):
    """A complete executed bundle, plus files that must stay out of the archive."""
    root = tmp_path / "assignment2"
    for name in conventions.STUDENT_FILES + ("cs231n/__init__.py", "cs231n/im2col_cython.pyx",
                                           "cs231n/datasets/download.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"# {name}\n")
    for name in ("cs231n/__pycache__/layers.cpython-311.pyc", "cs231n/im2col_cython.c",
                 "cs231n/datasets/cifar-10-batches-py/data_batch_1", "cs231n/build/stale.py",
                 ".venv/lib/site.py", "notes.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("not for the archive\n")
    for name in SUBMITTED:
        nbformat.write(executed_notebooks[name], root / name)
    return root
