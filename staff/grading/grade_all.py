"""Grade a folder of submissions, N at a time, into one CSV, feedback and results.

    python -m staff.grading.grade_all SUBMISSIONS --out DIR [--jobs N] [--parts PART ...]
                                      [--only ID ...] [--seed S] [--timeout S] [--check-timeout S]
                                      [--reference-timeout S] [--total-timeout S] [--no-progress]
                                      [--unconfined]

SUBMISSIONS holds, in any mix: one ``a2_code_submission.zip`` (or any single zip) or a
bundle folder per student subfolder; Gradescope's "export submissions" layout (the
optional ``submission_metadata.yml`` at the top maps each submission folder to its
submitters' ids, names and emails, its time, and its lateness when a due date is given);
or zips side by side (the id is the file's stem). staff/grading/submissions.py reads the
layouts, and staff/grading/intake.py decides what of each entry is graded. Everything
read from SUBMISSIONS is data: ids are sanitised (``[A-Za-z0-9._-]``, no leading dot, at
most 80 characters, unique) before they name a file in DIR, and the metadata is read
with yaml.safe_load only, refused when it is large or holds more than a few anchors or
aliases.

Each submission is graded by staff.grading.autograde.grade in a process of its own
(``--jobs``, default one per core), with the autograder's budgets; one batch uses one
seed for all (random unless ``--seed``, recorded in DIR/batch.json and reused by a
rerun), so the reference solution runs once per seed, in this process, and its values
go to every grading as data. Written as each submission finishes: DIR/grades.csv
(atomically replaced; spreadsheet formulas neutralised), DIR/feedback/ID.txt (the report
a student should see) and DIR/results/ID.json (the report's JSON, with the submission's
hash, the rubric version, the seed and the time taken).

A rerun skips each submission already graded with the same hash, rubric version and
seed (except staff-side failures, which it retries); ``--only ID ...`` regrades those;
``--parts`` regrades only those parts and keeps the other parts' results from before.
Status: ``ok``; ``timeout`` (graded, but some check ran out of time); ``ungradable``
(unreadable submission, or grading failed: the reason is in the note); ``incomplete`` (a
part could not be graded on this grader: a staff-side problem, not the student's).
"""
import argparse
import concurrent.futures
import csv
import datetime
import hashlib
import io
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from tools.conventions import NOTEBOOKS, STUDENT_FILES

from . import autograde
from .cli import add_grading_arguments
from .intake import IntakeError, read_submission
from .report import CSV_COLUMNS, Report, Status
from .rubric import CORE_PARTS, FRAMEWORK_PARTS
from .sandbox import (DEFAULT_CHECK_TIMEOUT, DEFAULT_PART_TIMEOUT, DEFAULT_REFERENCE_TIMEOUT, DEFAULT_TOTAL_TIMEOUT,
                      Limits, SandboxUnavailable)
from .submissions import discover

# The fields of a submission that its result and its CSV row carry.
SUBMISSION_FIELDS = ("id", "student_id", "name", "email", "submitted_at", "late_hours", "source", "submission_hash")


def submission_hash(path):
    """sha256 of a zip's bytes, or of a folder's student files and notebooks."""
    digest = hashlib.sha256()
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    try:
        sources, notebooks, _ = read_submission(path)
    except (IntakeError, OSError) as error:
        digest.update(b"unreadable\0" + str(error).encode())
        return digest.hexdigest()
    for name in STUDENT_FILES + NOTEBOOKS:
        content = sources.get(name, notebooks.get(name))
        if content is not None:
            digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def frameworks_of(path):
    """The framework parts a submission chose (empty when it cannot be read)."""
    try:
        _, notebooks, _ = read_submission(path)
    except (IntakeError, OSError):
        return []
    return autograde.chosen_frameworks(notebooks)


# ----------------------------------------------------------------------------- grading (worker processes)

_REFERENCES = {}


def _init_worker(references):
    _REFERENCES.clear()
    _REFERENCES.update(references)


@dataclass(frozen=True)
class Task:
    """One submission to grade, with the batch's settings."""
    path: str | None
    problem: str | None
    source: str
    parts: list | None
    seed: int
    timeout: int
    check_timeout: int
    reference_timeout: int
    total_timeout: int
    unconfined: bool


def grade_one(task):
    """Grade one submission; never raises. Returns (Report, seconds)."""
    started = time.monotonic()
    try:
        if task.path is None:
            raise autograde.GradingError(task.problem)
        report = autograde.grade(task.path, parts=task.parts, seed=task.seed,
                                 limits=Limits(timeout=task.timeout, check_timeout=task.check_timeout),
                                 reference_timeout=task.reference_timeout, total_timeout=task.total_timeout,
                                 reference_cache=_REFERENCES, unconfined=task.unconfined)
    except autograde.GradingError as error:
        report = autograde.ungradable_report(task.path or task.source, str(error), task.seed)
    except BaseException as error:  # noqa: BLE001 -- a grading that fails in any way fails alone
        report = autograde.staff_failure_report(task.path or task.source, f"{type(error).__name__}: {error}",
                                                task.seed)
    return report, round(time.monotonic() - started, 1)


# ----------------------------------------------------------------------------- results

@dataclass
class Result:
    """A graded submission: its metadata (SUBMISSION_FIELDS, the seed, the rubric
    version, the time taken and when) and its report."""
    meta: dict
    report: Report

    def to_json(self):
        return {"meta": self.meta, "report": self.report.to_json()}

    def retry(self):
        """True for a result that a rerun should retry: a part not gradable here, or the grader failing."""
        return self.report.status is Status.INCOMPLETE or str(self.report.reason or "").startswith("grading failed")


def load_result(path):
    """The Result written at ``path``, or None when there is none that can be read."""
    try:
        data = json.loads(path.read_text())
        return Result(dict(data["meta"]), Report.from_json(data["report"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_json(path):
    try:
        value = json.loads(Path(path).read_text())
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def write_atomically(path, text):
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_csv(path, submissions, results):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for submission in submissions:
        result = results.get(submission["id"])
        if result is not None:
            writer.writerow(result.report.csv_row(result.meta))
    write_atomically(path, buffer.getvalue())


# ----------------------------------------------------------------------------- the batch

def _batch_seed(out, seed):
    """The batch's seed: ``seed`` when given, else the one DIR/batch.json recorded, else new."""
    record = out / "batch.json"
    previous = load_json(record)
    if seed is None:
        seed = previous.get("seed") if isinstance(previous.get("seed"), int) else autograde.random_seed()
    write_atomically(record, json.dumps({"seed": seed, "rubric_version": autograde.rubric_version()}, indent=2))
    return seed


def _to_grade(submissions, results, only, parts, seed, version, log):
    """The submissions to grade now: those ``only`` names, else those not graded before
    with the same hash, rubric version and seed (or whose grading failed on the staff
    side), all when ``parts`` regrades some parts. Sets each submission's hash."""
    wanted = set(only or ())
    unknown = wanted - {s["id"] for s in submissions} - {s["student_id"] for s in submissions} \
        - {s["source"] for s in submissions}
    if unknown:
        log(f"note: --only names no submission: {', '.join(sorted(map(str, unknown)))}")
    to_grade = []
    for submission in submissions:
        submission["submission_hash"] = (submission_hash(submission["path"]) if submission["path"]
                                         else hashlib.sha256(b"missing").hexdigest())
        if wanted and not wanted & {submission["id"], submission["student_id"], submission["source"]}:
            continue
        previous = results.get(submission["id"])
        if not wanted and not parts and previous is not None and not previous.retry() and all(
                previous.meta.get(key) == value for key, value in
                (("submission_hash", submission["submission_hash"]), ("rubric_version", version), ("seed", seed))):
            continue
        to_grade.append(submission)
    return to_grade


def _references(to_grade, parts, seed, reference_timeout, log):
    """The reference solution's values, once per seed, here: for the core parts (or
    ``parts``) and the frameworks the submissions chose."""
    needed = list(parts) if parts else list(CORE_PARTS) + [
        part for part in FRAMEWORK_PARTS
        if any(part in frameworks_of(s["path"]) for s in to_grade if s["path"])]
    references = autograde.compute_references(seed, needed, reference_timeout)
    for (_, part, _), (kind, reason) in references.items():
        if kind != "values":
            log(f"WARNING: the reference solution fails on {part} here (staff-side): {reason}")
    return references


class _Recorder:
    """Writes each graded submission's result, feedback and the CSV as it finishes, and
    shows the progress."""

    def __init__(self, out, submissions, results, parts, seed, version, total, progress):
        self.out, self.submissions, self.results = out, submissions, results
        self.parts, self.seed, self.version = parts, seed, version
        self.by_id = {submission["id"]: submission for submission in submissions}
        self.failures = 0
        self.bar = None
        if progress:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="sub", desc="grading", file=sys.stderr)

    def record(self, identifier, report, seconds):
        previous = self.results.get(identifier)
        if self.parts and previous is not None:
            report = previous.report.merged_with(report)
        meta = {key: self.by_id[identifier].get(key) for key in SUBMISSION_FIELDS}
        meta.update(seed=self.seed, rubric_version=self.version, seconds=seconds,
                    graded_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        result = self.results[identifier] = Result(meta, report)
        write_atomically(self.out / "results" / f"{identifier}.json",
                         json.dumps(result.to_json(), indent=2, default=str))
        write_atomically(self.out / "feedback" / f"{identifier}.txt", report.to_text() + "\n")
        write_csv(self.out / "grades.csv", self.submissions, self.results)
        self.failures += report.batch_status()[0] is not Status.OK
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(done=len(self.results), failures=self.failures)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _grade_in_processes(tasks, jobs, references, record):
    """Grade ``tasks`` (by id) in ``jobs`` worker processes, calling ``record(id, report,
    seconds)`` as each finishes. A submission whose process dies is graded again alone,
    and fails after a second death."""
    pending, attempts = list(tasks), {identifier: 0 for identifier in tasks}
    context = multiprocessing.get_context("spawn")
    while pending:
        broken = []
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(pending)), mp_context=context,
                                                    initializer=_init_worker, initargs=(references,)) as pool:
            futures = {pool.submit(grade_one, tasks[identifier]): identifier for identifier in pending}
            for future in concurrent.futures.as_completed(futures):
                identifier = futures[future]
                try:
                    report, seconds = future.result()
                except BrokenProcessPool:
                    broken.append(identifier)
                    continue
                except BaseException as error:  # noqa: BLE001 -- recorded as ungradable, the batch goes on
                    report, seconds = autograde.ungradable_report(
                        tasks[identifier].path or identifier, f"grading failed: {type(error).__name__}: {error}",
                        tasks[identifier].seed), 0.0
                record(identifier, report, seconds)
        pending = []
        for identifier in broken:
            attempts[identifier] += 1
            if attempts[identifier] >= 2:
                record(identifier, autograde.ungradable_report(
                    tasks[identifier].path or identifier, "grading failed: the grading process died twice",
                    tasks[identifier].seed), 0.0)
            else:
                pending.append(identifier)
        # Rerun one at a time, so that a submission that kills its process takes no other down.
        jobs = 1


def _status_counts(submissions, results):
    counts = {}
    for submission in submissions:
        if submission["id"] in results:
            status = results[submission["id"]].report.batch_status()[0].value
            counts[status] = counts.get(status, 0) + 1
    return counts


def grade_all(submissions_folder, out, jobs=None, parts=None, only=None, seed=None, timeout=DEFAULT_PART_TIMEOUT,
              check_timeout=DEFAULT_CHECK_TIMEOUT, reference_timeout=DEFAULT_REFERENCE_TIMEOUT,
              total_timeout=DEFAULT_TOTAL_TIMEOUT, progress=True, log=print, unconfined=False):
    """Grade every submission of ``submissions_folder`` into ``out``; return a summary dict
    (submissions found, graded now, skipped as already graded, the seed, counts by status)."""
    out = Path(out)
    for sub in ("", "feedback", "results"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    submissions, notes = discover(submissions_folder)
    for name, reason in notes:
        log(f"note: skipped {name!r}: {reason}")
    seed = _batch_seed(out, seed)
    version = autograde.rubric_version()
    results = {submission["id"]: result for submission in submissions
               if (result := load_result(out / "results" / f"{submission['id']}.json")) is not None}
    to_grade = _to_grade(submissions, results, only, parts, seed, version, log)
    skipped = len(submissions) - len(to_grade)
    log(f"{len(submissions)} submissions, {len(to_grade)} to grade ({skipped} already graded); seed {seed}")
    references = {}
    if to_grade:
        # Before anyone is graded: a grader that cannot confine submissions here stops with
        # one error instead of giving a class of failures.
        autograde.preflight(unconfined)
        references = _references(to_grade, parts, seed, reference_timeout, log)
    tasks = {s["id"]: Task(s["path"], s["problem"], s["source"], parts, seed, timeout, check_timeout,
                           reference_timeout, total_timeout, unconfined) for s in to_grade}
    write_csv(out / "grades.csv", submissions, results)
    recorder = _Recorder(out, submissions, results, parts, seed, version, len(to_grade), progress)
    try:
        _grade_in_processes(tasks, jobs or os.cpu_count() or 1, references, recorder.record)
    finally:
        recorder.close()
    counts = _status_counts(submissions, results)
    if counts.get(Status.INCOMPLETE.value):
        log(f"WARNING: {counts[Status.INCOMPLETE.value]} submissions are incomplete: a part is not gradable on "
            "this grader (staff-side problem; see the note column)")
    return {"submissions": len(submissions), "graded": len(to_grade), "skipped": skipped, "seed": seed,
            "counts": counts, "csv": str(out / "grades.csv")}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m staff.grading.grade_all", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", help="folder of submissions (zips, bundle folders, a Gradescope export)")
    parser.add_argument("--out", required=True, help="folder for grades.csv, feedback/ and results/")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: one per core)")
    parser.add_argument("--only", nargs="+", metavar="ID",
                        help="regrade these submissions (id, student id or name in the export)")
    add_grading_arguments(parser, "regrade only these parts, keeping the others' results",
                          "the batch's seed (default: the recorded one, else random)", "submissions")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if not Path(args.submissions).is_dir():
        parser.error(f"{args.submissions} is not a folder")
    try:
        summary = grade_all(args.submissions, args.out, jobs=args.jobs, parts=args.parts, only=args.only,
                            seed=args.seed, timeout=args.timeout, check_timeout=args.check_timeout,
                            reference_timeout=args.reference_timeout, total_timeout=args.total_timeout,
                            progress=not args.no_progress, log=lambda text: print(text, file=sys.stderr),
                            unconfined=args.unconfined)
    except SandboxUnavailable as error:
        print(f"ERROR (nothing was graded): {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
