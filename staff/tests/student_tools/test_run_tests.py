"""The test command (tools/run_tests.py, conftest.py): the test folders it adds, and the
fast set it runs by default, with --slow for every test and a -m of one's own left as given."""
import contextlib
import io

import pytest
from task_regions import REPO_ROOT

from tools.run_tests import pytest_arguments

# A file that holds both slow tests and fast ones.
SAMPLE = REPO_ROOT / "staff/tests/student_tools/test_student_commands.py"


class SelectionRecorder:
    """A pytest plugin that keeps what a collection selects and deselects: for each test's
    node id, whether it is marked slow."""

    def __init__(self):
        self.selected, self.deselected = {}, {}

    def pytest_deselected(self, items):
        self.deselected.update(marked_slow(items))

    def pytest_collection_finish(self, session):
        self.selected = marked_slow(session.items)


def marked_slow(items):
    return {item.nodeid: item.get_closest_marker("slow") is not None for item in items}


def collect(*options):
    """What pytest selects and deselects from SAMPLE with these options and the project's
    configuration; collected in this process, which has imported everything it needs."""
    recorder = SelectionRecorder()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        status = pytest.main(["-p", "no:cacheprovider", "--collect-only", "-q", "--rootdir", str(REPO_ROOT),
                              *options, str(SAMPLE)], plugins=[recorder])
    assert status == pytest.ExitCode.OK, printed.getvalue()
    return recorder


def test_the_test_command_adds_the_other_test_folders_only_when_no_path_is_named():
    everything = pytest_arguments(["-x"])
    assert everything == ["-x", "tests", "staff/tests"]
    assert pytest_arguments(["tests/test_optim.py::test_sgd_momentum", "-x"]) == \
        ["tests/test_optim.py::test_sgd_momentum", "-x"]
    assert pytest_arguments(["-k", "downloader"]) == ["-k", "downloader", "tests", "staff/tests"]


def test_the_fast_set_holds_no_slow_test_and_slow_adds_them_all():
    fast = collect()
    assert fast.selected and not any(fast.selected.values()), fast.selected
    assert fast.deselected and all(fast.deselected.values()), fast.deselected
    every = collect("--slow")
    assert every.selected == {**fast.selected, **fast.deselected} and not every.deselected
    # A -m of one's own wins over --slow.
    assert set(collect("--slow", "-m", "not slow").selected) == set(fast.selected)
