"""Writing a task's region in a copy of the bundle, for the tests that stand in for a
student: the solution's own lines of a task, or lines of the test's choosing."""
from pathlib import Path

from tools.regions import indentation, marker_regions
from tools.tasks import task_list

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_region(root, task, body):
    """Put ``body`` (lines, unindented) between the marker lines of a file task."""
    path = Path(root) / task.file
    lines = path.read_text(encoding="utf-8").split("\n")
    start, end = marker_regions(lines, task.file)[task.region]
    lines[start + 1:end] = [indentation(lines[start]) + line for line in body]
    path.write_text("\n".join(lines), encoding="utf-8")


def solution_body(task):
    """The solution's lines of a file task, unindented."""
    lines = (REPO_ROOT / task.file).read_text(encoding="utf-8").split("\n")
    start, end = marker_regions(lines, task.file)[task.region]
    return [line[len(indentation(lines[start])):] for line in lines[start + 1:end]]


def task_named(root, function):
    """The first task of ``root`` whose region is in ``function``."""
    return next(task for task in task_list(root) if task.function == function)
