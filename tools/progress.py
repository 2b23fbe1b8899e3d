"""Where you stand: every task of the assignment, in the order of the work.

    python -m tools.progress [--root DIR]

Runs the tests of tests/ (quietly, in this process) and prints the task table of the
README, notebook by notebook: each task done, failing (with the first line of its
error), or not started (its code is still the placeholder that raises
NotImplementedError). Optional tasks (not in the original assignment) are marked so and
never count as failures. Of the framework part it shows the notebook you chose (the one
you have started). The last line names the next task: where to write it and where the
notebook checks it. The test command prints the same table after its own report.

A task whose code is written but that no test checks (a notebook's own cells) is judged
by the notebook as last saved: done when its cells ran without an error or a failed
check, "written, not run yet" before that.

The tests name the task they check with ``@pytest.mark.task(KEY)``: the task's function
("affine_forward", "FullyConnectedNet.loss"), "NOTEBOOK § SECTION" for a notebook's
task, or a notebook's name for a test of its given code. Exit status: 0 when no required
task fails, 1 otherwise.
"""
import argparse
import contextlib
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.conventions import FRAMEWORK_NOTEBOOKS, NOTEBOOKS
from tools.cells import framework_chosen
from tools.tasks import notebook_outcome, not_started, read_notebook_cells, task_list

BUNDLE_ROOT = Path(__file__).resolve().parent.parent
TESTS_FOLDER = "tests"
MARK = "task"
MARK_HELP = (f"{MARK}(key): the assignment task a test checks (its function, 'NOTEBOOK § SECTION', "
             "or a notebook's name); see tools/progress.py")
# A test that stops at a placeholder fails with this error (pytest.fail keeps the name).
_PLACEHOLDER_ERROR = re.compile(r"^(Failed: )?NotImplementedError\b")

DONE, FAILING, NOT_STARTED = "done", "failing", "not started"
NOT_RUN, WAITING = "written, not run yet", "written, waiting"


@dataclass
class Outcome:
    """What one test said: passed, failed (with the first line of its error) or skipped."""
    keys: tuple
    result: str = "passed"
    message: str = ""

    @property
    def at_placeholder(self):
        return self.result == "failed" and _PLACEHOLDER_ERROR.match(self.message) is not None


@dataclass
class Row:
    task: object
    status: str
    message: str = ""


def test_keys(item):
    """The task keys an item's ``task`` marks name."""
    return tuple(key for mark in item.iter_markers(MARK) for key in mark.args)


def chosen_frameworks(root):
    """The framework notebooks of ``root`` the student has started (tools/conventions.py,
    framework_chosen); empty before either is started."""
    chosen = []
    for name in FRAMEWORK_NOTEBOOKS:
        path = Path(root) / name
        if path.is_file() and framework_chosen({"cells": read_notebook_cells(path, name)}):
            chosen.append(name)
    return chosen


def left_out_frameworks(root):
    """The framework notebooks not chosen while another one is: their tests are skipped
    and the table leaves them out."""
    chosen = chosen_frameworks(root)
    return [name for name in FRAMEWORK_NOTEBOOKS if chosen and name not in chosen]


def _first_line(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class TaskRecorder:
    """The pytest plugin behind the table: runs the tests of tests/ in task order, skips
    those of a framework notebook the student did not choose, records every outcome and
    prints the table after the test report."""

    def __init__(self, root):
        self.root = Path(root).resolve()
        self.tasks = task_list(self.root)
        self.outcomes = {}
        self.collection_errors = []
        self._keys = {}

    def _notebook_of(self, key):
        if key in NOTEBOOKS:
            return key
        return next((task.notebook for task in self.tasks if task.key == key), None)

    def _order(self, keys):
        """Where a test goes: at its first task, or at the first task of its notebook."""
        positions = [index for key in keys for index, task in enumerate(self.tasks)
                     if task.key == key or (key in NOTEBOOKS and task.notebook == key)]
        return min(positions, default=len(self.tasks))

    def _is_student_test(self, item):
        return self.root / TESTS_FOLDER in Path(item.path).resolve().parents

    def pytest_collection_modifyitems(self, session, config, items):
        student = [item for item in items if self._is_student_test(item)]
        unknown = sorted({key for item in student for key in test_keys(item)
                          if self._notebook_of(key) is None})
        if unknown:
            raise ValueError(f"tests name tasks that the student files and notebooks do not hold: {unknown}")
        left_out = left_out_frameworks(self.root)
        for item in student:
            keys = test_keys(item)
            self._keys[item.nodeid] = keys
            skipped = [name for name in map(self._notebook_of, keys) if name in left_out]
            if skipped:
                item.add_marker(pytest.mark.skip(reason=f"{skipped[0]} is not your framework part "
                                                        "(it is untouched and the other one is started)"))
        order = {id(item): self._order(test_keys(item)) for item in student}
        slots = [index for index, item in enumerate(items) if id(item) in order]
        for slot, item in zip(slots, sorted(student, key=lambda item: order[id(item)])):
            items[slot] = item

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {_first_line(report)}")

    def pytest_runtest_logreport(self, report):
        if report.nodeid not in self._keys:
            return
        outcome = self.outcomes.setdefault(report.nodeid, Outcome(self._keys[report.nodeid]))
        if report.skipped and outcome.result == "passed":
            outcome.result = "skipped"
        elif report.failed and outcome.result != "failed":
            outcome.result, outcome.message = "failed", _first_line(report)

    def pytest_terminal_summary(self, terminalreporter):
        if self.outcomes:
            terminalreporter.write_sep("=", "where you stand")
            terminalreporter.write_line(self.report())

    def report(self):
        """The table as format_table writes it, for this run's outcomes."""
        rows = table(self.root, self.tasks, self.outcomes)
        others = [outcome for outcome in self.outcomes.values() if not self._is_task_test(outcome)]
        errors = [f"could not load {error}" for error in self.collection_errors]
        return "\n".join(errors + [format_table(self.root, rows, others)])

    def _is_task_test(self, outcome):
        return any(key not in NOTEBOOKS for key in outcome.keys)


def status_of(root, task, outcomes):
    """The Row of one task, from its code, its tests' outcomes and its notebook."""
    if not_started(root, task):
        return Row(task, NOT_STARTED)
    tests = [outcome for outcome in outcomes if task.key in outcome.keys and outcome.result != "skipped"]
    failing = [outcome for outcome in tests if outcome.result == "failed" and not outcome.at_placeholder]
    if failing:
        return Row(task, FAILING, failing[0].message)
    if any(outcome.result == "passed" for outcome in tests):
        return Row(task, DONE)
    if tests:  # every test stopped at another task's placeholder
        return Row(task, WAITING, tests[0].message)
    path = Path(root) / task.notebook
    said = notebook_outcome(read_notebook_cells(path, task.notebook), task.section) if path.is_file() else "not run"
    if said == "ran":
        return Row(task, DONE)
    if said == "not run":
        return Row(task, NOT_RUN)
    return Row(task, FAILING, said)


def table(root, tasks, outcomes):
    """[Row] for every task to show: all but those of a framework notebook left out."""
    left_out = left_out_frameworks(root)
    outcomes = list(outcomes.values()) if isinstance(outcomes, dict) else list(outcomes)
    return [status_of(root, task, outcomes) for task in tasks if task.notebook not in left_out]


def _label(row):
    if row.task.optional:
        return "optional, done" if row.status == DONE else "optional, not done"
    return row.status


def next_row(rows):
    """The first required task that is not done."""
    return next((row for row in rows if not row.task.optional and row.status != DONE), None)


def format_table(root, rows, others=()):
    """The table as text: notebook by notebook, then the counts and the next task.
    ``others``: the Outcomes of tests that check no task (the given code's)."""
    lines = []
    width = max((len(_label(row)) for row in rows), default=0)
    for notebook in NOTEBOOKS:
        shown = [row for row in rows if row.task.notebook == notebook]
        if not shown:
            continue
        note = ""
        if notebook in FRAMEWORK_NOTEBOOKS and not chosen_frameworks(root):
            note = f"  (the framework part: do {' or '.join(FRAMEWORK_NOTEBOOKS)})"
        lines.append(f"{notebook}{note}")
        for row in shown:
            lines.append(f"  {_label(row):<{width}}  {describe(row.task)}")
            if row.message:
                lines.append(f"  {'':<{width}}    {row.message}")
    left_out = left_out_frameworks(root)
    if left_out:
        lines.append(f"Not shown: {', '.join(left_out)} (untouched; your framework part is "
                     f"{' and '.join(chosen_frameworks(root))}).")
    required = [row for row in rows if not row.task.optional]
    optional = [row for row in rows if row.task.optional]
    counts = {status: sum(row.status == status for row in required)
              for status in (DONE, FAILING, NOT_STARTED, NOT_RUN, WAITING)}
    lines.append("")
    lines.append(f"{len(required)} required tasks: " + ", ".join(
        f"{count} {status}" for status, count in counts.items() if count or status in (DONE, FAILING)))
    if optional:
        lines.append(f"{len(optional)} optional tasks: "
                     f"{sum(row.status == DONE for row in optional)} done (they never count as failures)")
    if others:
        waiting = sum(outcome.at_placeholder for outcome in others)
        failed = sum(outcome.result == "failed" for outcome in others) - waiting
        lines.append(f"{len(others)} tests of the given code: "
                     f"{sum(outcome.result == 'passed' for outcome in others)} passed, {failed} failed, "
                     f"{waiting} waiting for a task not started")
    upcoming = next_row(rows)
    if upcoming is None:
        lines.append("next: nothing left; run every notebook in full, then collect your submission")
    else:
        task = upcoming.task
        written = f"{task.file} ({task.function})" if task.function else task.file
        name = task.title if task.function else "the code cell(s) with marker lines"
        lines.append(f"next: {name} in {written}, checked in {checked_in(task)}")
    return "\n".join(lines)


def checked_in(task):
    """Where a task is checked: "NOTEBOOK § SECTION", or the test file that checks it."""
    return task.section if task.section.endswith(".py") else f"{task.notebook} § {task.section}"


def describe(task):
    """One task in a line of the table."""
    if not task.function:
        return f"code cell(s) in {checked_in(task)}"
    return f"{task.title}: {task.file}, {task.function}; checked in {checked_in(task)}"


def run_tests(root):
    """Run the tests of ``root``/tests in this process, their report kept out of sight;
    returns the TaskRecorder. A run that pytest could not start raises RuntimeError
    with pytest's own report."""
    recorder = TaskRecorder(root)
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        status = pytest.main([str(Path(root) / TESTS_FOLDER), "-q", "--tb=line", "-p", "no:cacheprovider",
                              "--continue-on-collection-errors", f"--rootdir={root}"], plugins=[recorder])
    if status in (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERRUPTED):
        raise RuntimeError(f"the tests could not run (pytest exit status {int(status)}):\n{report.getvalue()}")
    return recorder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=BUNDLE_ROOT,
                        help="the assignment folder (default: the one holding this tool)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not (root / TESTS_FOLDER).is_dir():
        parser.error(f"{root} has no {TESTS_FOLDER}/ folder: is it the assignment folder?")
    print(f"Running the tests of {TESTS_FOLDER}/ (about a minute)...", flush=True)
    try:
        recorder = run_tests(root)
    except RuntimeError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    rows = table(root, recorder.tasks, recorder.outcomes)
    print(recorder.report())
    return 1 if any(row.status == FAILING and not row.task.optional for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
