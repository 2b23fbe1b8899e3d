"""The grading results type on its own, without grading anything: a report survives its
JSON, writes Gradescope's fields only with points that add up, keeps staff fields out of
what students read, counts the better framework, merges a regrade of some parts, and
gives the class's CSV the right status and cells."""
import json

import pytest

from staff.grading.report import (CSV_COLUMNS, GRADESCOPE_RESULT_FIELDS, GRADESCOPE_TEST_FIELDS, NO_FRAMEWORK_WORKED_IN,
                                  NOT_WORKED_IN, CheckResult, PartResult, Report, Status, StaffFields, Total)
from staff.grading.sandbox import NOT_RUN

STAFF = StaffFields("/submissions/alice", 2026, {"user": "unprivileged uid 61000", "limits": "CPU 300 s"})


def checks(*outcomes):
    """CheckResults from (name, passed, extra, points when passed) tuples."""
    return [CheckResult(name, passed, extra, points if passed else 0, points, "passed" if passed else "differs")
            for name, passed, extra, points in outcomes]


def sample_parts():
    """A core part with a failed and an extra-credit check, PyTorch graded and TensorFlow not chosen."""
    return [PartResult("optimizers", False, Status.GRADED, None, True, 3, 1,
                       checks(("sgd", True, False, 1), ("adam", False, False, 2), ("adamw", True, True, 1))),
            PartResult("PyTorch models", True, Status.GRADED, None, False, 2,
                       0, checks(("model", True, False, 2))),
            PartResult("TensorFlow models", True, Status.NOT_CHOSEN, NOT_WORKED_IN, False, 2, 0)]


def sample_report():
    return Report.of_parts(sample_parts(), ["missing student files (their checks fail): cs231n/rnn.py"],
                           ["PyTorch models"], STAFF, 12.5)


def test_the_better_framework_counts_and_the_totals_add_up():
    report = sample_report()
    assert report.status is Status.GRADED
    assert [part.counted for part in report.parts] == [True, True, False]
    optimizers = report.parts[0]
    assert (optimizers.passed, optimizers.total, optimizers.points, optimizers.extra_points) == (2, 3, 1, 1)
    assert optimizers.score == pytest.approx(1 / 3)
    assert report.total == Total(passed=3, total=4, points=3, max_points=5, extra_points=1, extra_max_points=1)
    assert report.total.score == pytest.approx(3 / 5)


def test_with_no_framework_chosen_the_first_counts_with_zero_and_says_why():
    parts = sample_parts()
    parts[1] = PartResult("PyTorch models", True, Status.NOT_CHOSEN, NOT_WORKED_IN, False, 2, 0)
    report = Report.of_parts(parts, [], [], STAFF, 1.0)
    assert [part.counted for part in report.parts] == [True, True, False]
    assert report.parts[1].reason == NO_FRAMEWORK_WORKED_IN and report.parts[2].reason == NOT_WORKED_IN
    assert report.total.max_points == 5 and report.total.points == 1


def test_a_part_not_gradable_here_makes_the_report_incomplete():
    parts = sample_parts()
    parts[2] = PartResult("TensorFlow models", True, Status.NOT_GRADABLE, "tensorflow is not installed", False, 2, 0)
    report = Report.of_parts(parts, [], ["PyTorch models", "TensorFlow models"], STAFF, 1.0)
    assert report.status is Status.INCOMPLETE
    status, note = report.batch_status()
    assert status is Status.INCOMPLETE and note == "staff-side problem, not the student's: tensorflow is not installed"


def test_the_json_keeps_its_keys_and_reads_back_as_the_same_report():
    report = sample_report()
    data = json.loads(json.dumps(report.to_json()))
    assert list(data) == ["status", "notes", "frameworks_chosen", "parts", "total", "elapsed_seconds", "staff"]
    assert data["status"] == "graded" and data["parts"][2]["status"] == "not chosen"
    assert set(data["parts"][0]) == {"name", "framework", "status", "reason", "counted", "passed", "total", "points",
                                     "max_points", "extra_points", "extra_max_points", "checks", "score"}
    assert data["total"]["score"] == pytest.approx(0.6)
    assert data["staff"]["replay"] == "python -m staff.grading.autograde SUBMISSION --seed 2026"
    assert Report.from_json(data) == report
    failure = Report.not_graded(Status.INCOMPLETE, "grading failed on the staff side", Total(0, 0, 0, 5, 0, 1),
                                StaffFields("x.zip", None, {}, "no sandbox here"))
    data = json.loads(json.dumps(failure.to_json()))
    assert data["reason"] and data["staff"]["error"] == "no sandbox here" and data["staff"]["replay"] is None
    assert Report.from_json(data) == failure


def test_gradescope_gets_its_fields_only_and_points_that_add_up():
    results = sample_report().to_gradescope(hidden_parts=["PyTorch models"])
    assert set(results) <= GRADESCOPE_RESULT_FIELDS
    assert all(set(test) <= GRADESCOPE_TEST_FIELDS for test in results["tests"])
    assert [test["number"] for test in results["tests"]] == ["2.1", "2.2", "2.3", "7.1", "8"]
    assert sum(test["max_score"] for test in results["tests"]) == 5
    assert results["score"] == sum(test["score"] for test in results["tests"]) == 4
    extra = results["tests"][2]
    assert extra["max_score"] == 0 and extra["tags"] == ["optimizers", "extra credit"]
    assert extra["output"].startswith("extra credit, PASSED (1/1 extra point)")
    assert [test["visibility"] for test in results["tests"]] == ["visible"] * 3 + ["after_due_date", "visible"]
    assert results["tests"][4]["name"] == "TensorFlow models: not chosen" and results["tests"][4]["max_score"] == 0
    assert "  PyTorch models: " not in results["output"] and "  optimizers: 1/3" in results["output"]


def test_students_read_no_staff_field_and_staff_read_them_all():
    report = sample_report()
    student = report.to_text() + json.dumps(report.to_gradescope())
    for staff_only in ("2026", "/submissions/alice", "unprivileged", "Sandbox"):
        assert staff_only not in student
    assert "FAILED adam\n      differs" in report.to_text()
    staff = report.to_staff_text()
    assert staff.startswith("Graded /submissions/alice\nSandbox: user: unprivileged uid 61000; limits: CPU 300 s")
    assert "Random seed: 2026 (--seed 2026 replays this run)" in staff and staff.endswith(report.to_text())


def test_a_regrade_of_some_parts_replaces_only_those():
    earlier = sample_report()
    regraded = Report.of_parts([PartResult("optimizers", False, Status.GRADED, None, True, 3, 1,
                                           checks(("sgd", True, False, 1), ("adam", True, False, 2)))],
                               [], [], StaffFields("/submissions/alice", 7), 3.0)
    merged = earlier.merged_with(regraded)
    assert [part.name for part in merged.parts] == ["optimizers", "PyTorch models", "TensorFlow models"]
    assert merged.parts[0].points == 3 and merged.parts[1].counted and merged.total.points == 5
    assert merged.staff.seed == 7 and merged.elapsed_seconds == 3.0 and merged.frameworks_chosen == ["PyTorch models"]
    ungradable = Report.not_graded(Status.UNGRADABLE, "not a zip", Total(0, 0, 0, 5, 0, 1), STAFF)
    assert earlier.merged_with(ungradable) is ungradable


def test_the_csv_row_says_ok_timeout_or_ungradable_and_is_spreadsheet_safe():
    meta = {"id": "alice", "name": "=cmd()", "seconds": 12.5, "seed": 2026}
    row = dict(zip(CSV_COLUMNS, sample_report().csv_row(meta)))
    assert (row["status"], row["note"], row["name"]) == ("ok", "", "'=cmd()")
    assert (row["optimizers points"], row["required_total"], row["percentage"]) == (1, 3, 60.0)
    assert row["convolution points"] == "" and row["seed"] == 2026
    timed_out = sample_report()
    timed_out.parts[0].checks[1].message = f"{NOT_RUN}the submission's total time budget of 0 s ran out"
    assert timed_out.batch_status() == (Status.TIMEOUT, "1 checks ran out of time: adam")
    ungradable = Report.not_graded(Status.UNGRADABLE, "not a zip", Total(0, 0, 0, 5, 0, 1), STAFF)
    assert dict(zip(CSV_COLUMNS, ungradable.csv_row(meta)))["status"] == "ungradable"
