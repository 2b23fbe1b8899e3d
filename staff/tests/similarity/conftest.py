"""Fixtures of the similarity report's tests: the solution's and the starter release's
bundle files (staff/similarity/synthetic.py, read_bundle), and a run of the report over a
class against the starter release (``starter``, built once per session)."""
import csv
from pathlib import Path

import pytest

from staff.similarity.report import DEFAULT_DETAIL_PAIRS, NOTES_CSV, write_outputs
from staff.similarity.run import analyse
from staff.similarity.synthetic import read_bundle

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def solution():
    """The solution's bundle files, {relative path: text}; tests never change it."""
    return read_bundle(REPO_ROOT)


@pytest.fixture(scope="session")
def released(starter):
    """The starter release's bundle files, {relative path: text}; tests never change it."""
    return read_bundle(starter)


def _csv_rows(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="session")
def report_run(starter):
    """run(root, out, references=()): the report of the class in ``root`` against the
    starter release, in one process, its files written into ``out``; returns (report,
    pairs.csv rows, submission_notes.csv rows, report.html's text)."""
    def run(root, out, references=()):
        report = analyse(root, starter, references=references, jobs=1)
        write_outputs(report, out, DEFAULT_DETAIL_PAIRS, str(starter))
        return (report, _csv_rows(out / "pairs.csv"), _csv_rows(out / NOTES_CSV),
                (out / "report.html").read_text(encoding="utf-8"))
    return run
