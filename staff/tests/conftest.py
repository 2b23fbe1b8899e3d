"""Fixtures of the staff tests (the ones every test folder shares are in ../../conftest.py)."""
from pathlib import Path

import pytest

from cs231n import fast_layers
from staff import release

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def starter(tmp_path_factory):
    """The starter release built from this solution, once per test session; tests copy
    from it and never change it."""
    out = tmp_path_factory.mktemp("starter") / "assignment2"
    release.make_release(REPO_ROOT, out)
    return out


@pytest.fixture(params=["compiled", "numpy"])
def kernels(request):
    """The fast layers' path under test, "compiled" or "numpy": the test runs once with
    the compiled kernels (skipped when they are not built) and once with the NumPy
    fallback, which the fast layers use in this process for the test's duration."""
    if request.param == "compiled":
        if not fast_layers.compiled_kernels_available():
            pytest.skip("the Cython extension is not built")
        yield request.param
    else:
        with fast_layers.numpy_fallback():
            yield request.param
