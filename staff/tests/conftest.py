"""Fixtures of the staff tests (the ones every test folder shares are in ../../conftest.py)."""
import pytest

from cs231n import fast_layers


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
