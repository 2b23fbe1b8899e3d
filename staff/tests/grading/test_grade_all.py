"""Batch grading: every layout of a submissions folder, one row each with the right
status, resumable runs, --only and --parts, seeded replays, hostile ids kept inside the
output folder and neutralised in the CSV, metadata read as data only."""
import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from staff.grading import grade_all
from staff.grading import submissions as layouts
from staff.grading.autograde import ungradable_report
from staff.grading.report import PartResult, Status
from staff.grading.rubric import CHECKS

REPO_ROOT = Path(__file__).resolve().parents[3]
PARTS = ["FC layers", "optimizers"]  # enough to tell the statuses apart, and quick
FAST = {"check_timeout": 2, "total_timeout": 40, "progress": False, "log": lambda text: None}


def zip_folder(folder, archive_path):
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive_path, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return archive_path


HANG = {"cs231n/layers.py": lambda text: text.replace("    out = x.reshape(x.shape[0], -1) @ w + b\n",
                                                      "    while True:\n        pass\n", 1)}


@pytest.fixture(scope="module")
def submissions(tmp_path_factory, starter, student_files_copy):
    base = tmp_path_factory.mktemp("batch")
    folder = base / "submissions"
    student_files_copy(REPO_ROOT, folder / "alice")                                 # a bundle folder
    zip_folder(student_files_copy(REPO_ROOT, base / "bob"), folder / "bob" / "a2_code_submission.zip")
    zip_folder(student_files_copy(starter, base / "carol"), folder / "carol.zip")   # flat zips
    (folder / "=cmd().zip").write_bytes(b"PK\x03\x04" + os.urandom(500))           # broken
    student_files_copy(REPO_ROOT, folder / "submission_1001", HANG)                 # Gradescope export
    zip_folder(student_files_copy(REPO_ROOT, base / "evil"),
               folder / "submission_1002" / "a2_code_submission.zip")
    (folder / "submission_metadata.yml").write_text(
        "submission_1001:\n"
        "  :submitters:\n  - :name: Dan Hang\n    :sid: '1001'\n    :email: dan@example.edu\n"
        "  :created_at: 2026-03-02 10:00:00.123456789 -08:00\n"
        "  :due_date: 2026-03-01 23:59:00 -08:00\n"
        "submission_1002:\n"
        "  :submitters:\n  - :name: =cmd()\n    :sid: ../evil\n    :email: '@evil'\n"
        "  :created_at: 2026-03-01 10:00:00 -08:00\n"
        "  :due_date: 2026-03-01 23:59:00 -08:00\n")
    return folder


def read_rows(out):
    with open(out / "grades.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def graded(submissions, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    summary = grade_all.grade_all(submissions, out, jobs=2, parts=PARTS, seed=11, **FAST)
    return out, summary


@pytest.mark.slow
def test_every_layout_gets_one_row_with_the_right_status(graded):
    out, summary = graded
    rows = {row["id"]: row for row in read_rows(out)}
    assert sorted(rows) == sorted(["alice", "bob", "carol", "_cmd__", "1001", "___evil"])
    status = {identifier: row["status"] for identifier, row in rows.items()}
    assert status == {"alice": "ok", "bob": "ok", "carol": "ok", "_cmd__": "ungradable",
                      "1001": "timeout", "___evil": "ok"}
    full = sum(check.points for check in CHECKS if check.part in PARTS and not check.extra)
    assert rows["alice"]["required_total"] == str(full) and rows["alice"]["PyTorch models points"] == ""
    assert rows["alice"]["required_total"] == rows["bob"]["required_total"]
    assert rows["alice"]["percentage"] == "100.0" and rows["carol"]["percentage"] == "0.0"
    assert "not a readable zip" in rows["_cmd__"]["note"]
    assert rows["1001"]["name"] == "Dan Hang" and rows["1001"]["email"] == "dan@example.edu"
    assert float(rows["1001"]["late_hours"]) == pytest.approx(10.02, abs=0.01)
    assert rows["___evil"]["late_hours"] == "0.0"
    assert {row["seed"] for row in rows.values()} == {"11"}
    assert all(len(row["submission_hash"]) == 64 for row in rows.values())
    for identifier in rows:
        # The student's report: the status first, no staff field.
        feedback = (out / "feedback" / f"{identifier}.txt").read_text()
        assert feedback.startswith(("Status: ", "Note: ")) and "seed" not in feedback.lower()
        assert json.loads((out / "results" / f"{identifier}.json").read_text())["meta"]["id"] == identifier
    assert summary["graded"] == 6


@pytest.mark.slow
def test_hostile_ids_stay_inside_the_folder_and_are_neutralised(graded):
    out, _ = graded
    inside = {path.resolve() for path in out.rglob("*")}
    assert all(str(path).startswith(str(out.resolve()) + os.sep) for path in inside)
    assert not (out.parent / "evil.json").exists() and not (out / "evil.json").exists()
    rows = {row["id"]: row for row in read_rows(out)}
    assert rows["___evil"]["name"] == "'=cmd()" and rows["___evil"]["email"] == "'@evil"
    assert rows["___evil"]["student_id"] == "../evil"
    assert rows["_cmd__"]["source"] == "'=cmd().zip"
    # Numbers the grader writes stay numbers.
    assert float(rows["___evil"]["required_total"]) > 0


@pytest.mark.slow
def test_a_rerun_grades_nothing_new_and_only_regrades_one(graded, submissions):
    out, _ = graded
    before = read_rows(out)
    summary = grade_all.grade_all(submissions, out, jobs=2, parts=None, **FAST)
    assert summary["graded"] == 0 and summary["seed"] == 11 and read_rows(out) == before
    summary = grade_all.grade_all(submissions, out, jobs=1, only=["carol"], parts=PARTS, **FAST)
    assert summary["graded"] == 1
    after = read_rows(out)
    assert [row["id"] for row in after] == [row["id"] for row in before]
    assert [row for row in after if row["id"] != "carol"] == [row for row in before if row["id"] != "carol"]


@pytest.mark.slow
def test_parts_replaces_only_those_columns(graded, submissions):
    out, _ = graded
    before = {row["id"]: row for row in read_rows(out)}
    optim = submissions / "alice" / "cs231n" / "optim.py"
    original = optim.read_text()
    try:
        optim.write_text(original.replace('decay * config["cache"] + (1 - decay) * dw**2',
                                          'decay * config["cache"] + (1 - decay) * dw'))
        summary = grade_all.grade_all(submissions, out, jobs=1, only=["alice"], parts=["optimizers"], **FAST)
    finally:
        optim.write_text(original)
    assert summary["graded"] == 1
    after = {row["id"]: row for row in read_rows(out)}["alice"]
    assert after["FC layers points"] == before["alice"]["FC layers points"]
    assert int(after["optimizers points"]) < int(before["alice"]["optimizers points"])
    lost = int(before["alice"]["optimizers points"]) - int(after["optimizers points"])
    assert int(after["required_total"]) == int(before["alice"]["required_total"]) - lost


@pytest.mark.slow
def test_the_same_seed_replays_the_same_rows(tmp_path, student_files_copy):
    folder = tmp_path / "submissions"
    student_files_copy(REPO_ROOT, folder / "one", {"cs231n/optim.py": lambda text: text.replace(
        'decay * config["cache"] + (1 - decay) * dw**2', 'decay * config["cache"] + (1 - decay) * dw')})
    rows = []
    for name in ("first", "second"):
        grade_all.grade_all(folder, tmp_path / name, jobs=1, parts=["optimizers"], seed=2026, **FAST)
        rows.append([{key: value for key, value in row.items() if key != "seconds"}
                     for row in read_rows(tmp_path / name)])
        feedback = (tmp_path / name / "feedback" / "one.txt").read_text()
    assert rows[0] == rows[1] and rows[0][0]["seed"] == "2026"
    assert "FAILED rmsprop" in feedback


def test_metadata_with_an_object_tag_is_refused_and_folders_still_grade(tmp_path):
    folder = tmp_path / "submissions"
    (folder / "submission_7" / "notes").mkdir(parents=True)
    (folder / "submission_metadata.yml").write_text(
        "submission_7:\n  :submitters:\n  - !!python/object/apply:os.system ['touch pwned']\n")
    notes = []
    summary = grade_all.grade_all(folder, tmp_path / "out", jobs=1, parts=["optimizers"],
                                  **dict(FAST, log=notes.append))
    assert any("refused" in note for note in notes)
    rows = read_rows(tmp_path / "out")
    assert [(row["id"], row["status"]) for row in rows] == [("submission_7", "ungradable")]
    assert summary["graded"] == 1 and not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_alias_bombs_and_ids_are_handled_as_data(tmp_path):
    bomb = tmp_path / layouts.METADATA_NAME
    bomb.write_text("a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: &d [*c, *c]\ne: &e [*d, *d]\n")
    assert layouts.read_metadata(bomb)[0] == {} and "aliases" in layouts.read_metadata(bomb)[1]
    assert layouts.unique_ids(["../evil", ".hidden", "a b", "A_b", "x" * 200]) == [
        "___evil", "_hidden", "a_b", "A_b-2", "x" * 80]
    assert layouts.spreadsheet_safe("+1") == "'+1" and layouts.spreadsheet_safe(-3) == -3


def test_an_incomplete_report_is_a_staff_side_problem():
    report = ungradable_report("submission", "")
    report.status = Status.INCOMPLETE
    report.parts = [PartResult("TensorFlow models", True, Status.NOT_GRADABLE,
                               "tensorflow is not installed on this grader", True, 10, 0)]
    status, note = report.batch_status()
    assert status is Status.INCOMPLETE and note.startswith("staff-side problem") and "tensorflow" in note


def test_the_command_line_writes_the_csv_and_a_summary(tmp_path):
    folder = tmp_path / "submissions"
    (folder / "nobody" / "notes").mkdir(parents=True)
    result = subprocess.run([sys.executable, "-m", "staff.grading.grade_all", str(folder), "--out", str(tmp_path / "out"),
                             "--jobs", "1", "--parts", "optimizers"], check=False, cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["graded"] == 1 and summary["counts"] == {"ungradable": 1}
    assert "failures=1" in result.stderr  # the progress bar's running count
    assert [row["status"] for row in read_rows(tmp_path / "out")] == ["ungradable"]
