"""Fixtures of the grading tests: submissions made of copies of a bundle's student files."""
from pathlib import Path

import pytest

from tools.conventions import EXTENDABLE_FILES, STUDENT_FILES

REPO_ROOT = Path(__file__).resolve().parents[3]


def copy_student_files(source, root, edits=None, names=STUDENT_FILES + EXTENDABLE_FILES):
    """A submission folder ``root`` holding ``names`` copied from the bundle ``source``
    and an empty package marker, with ``edits`` applied: {file: function(text) -> text},
    each of which must change its file."""
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes((source / name).read_bytes())
    (root / "cs231n" / "__init__.py").write_text("")
    for name, edit in (edits or {}).items():
        path = root / name
        edited = edit(path.read_text())
        assert edited != path.read_text(), f"the edit of {name} changed nothing"
        path.write_text(edited)
    return root


@pytest.fixture(scope="session")
def student_files_copy():
    """copy_student_files(source, root, edits=None, names=...): a submission copied from a bundle."""
    return copy_student_files


@pytest.fixture
def solution_copy(tmp_path):
    """A function giving the solution's student files, with its ``edits`` applied, as a
    submission folder in the test's temporary folder."""
    return lambda edits: copy_student_files(REPO_ROOT, tmp_path / "bundle", edits)


@pytest.fixture
def release_copy(starter, tmp_path):
    """A function giving the starter release's student files and PyTorch notebook, with
    its ``edits`` applied, as a submission folder in the test's temporary folder."""
    return lambda edits: copy_student_files(starter, tmp_path / "submission", edits,
                                            STUDENT_FILES + ("PyTorch.ipynb",))
