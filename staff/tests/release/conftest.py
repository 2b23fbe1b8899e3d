"""Fixtures of the starter release's tests."""
from pathlib import Path

import pytest

from staff.release import make_release

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def real_release(tmp_path_factory):
    """The starter release of this bundle, built for one test module, which may run its
    code or set up an environment in it (the session's ``starter`` is only ever read)."""
    out = tmp_path_factory.mktemp("release") / "assignment2"
    make_release(REPO_ROOT, out)
    return out
