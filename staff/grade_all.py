"""Grade a folder of submissions, N at a time, into one CSV, feedback and results.

    python -m staff.grade_all SUBMISSIONS --out DIR [--jobs N] [--parts PART ...]
                              [--only ID ...] [--seed S] [--timeout S] [--check-timeout S]
                              [--reference-timeout S] [--total-timeout S]

SUBMISSIONS holds, in any mix: one ``a2_code_submission.zip`` (or any single zip) or a
bundle folder per student subfolder; Gradescope's "export submissions" layout (the
optional ``submission_metadata.yml`` at the top maps each submission folder to its
submitters' ids, names and emails, its time, and its lateness when a due date is given);
or zips side by side (the id is the file's stem). Everything read from SUBMISSIONS is
data: ids are sanitised (``[A-Za-z0-9._-]``, no leading dot, at most 80 characters,
unique) before they name a file in DIR, and the metadata is read with yaml.safe_load
only, refused when it is large or holds more than a few anchors or aliases.

Each submission is graded by staff.autograde.grade in a process of its own (``--jobs``,
default one per core), with the autograder's budgets; one batch uses one seed for all
(random unless ``--seed``, recorded in DIR/batch.json and reused by a rerun), so the
reference solution runs once per seed, in this process, and its values go to every
grading as data. Written as each submission finishes: DIR/grades.csv (atomically
replaced; spreadsheet formulas neutralised), DIR/feedback/ID.txt (the report a student
should see) and DIR/results/ID.json (the report, with the submission's hash, the rubric
version, the seed and the time taken).

A rerun skips each submission already graded with the same hash, rubric version and
seed (except staff-side failures, which it retries); ``--only ID ...`` regrades those; ``--parts`` regrades only those parts and keeps
the other parts' results from before. Status: ``ok``; ``timeout`` (graded, but some check
ran out of time); ``ungradable`` (unreadable submission, or grading failed: the reason is
in the note); ``incomplete`` (a part could not be graded on this grader: a staff-side
problem, not the student's).
"""
import argparse
import concurrent.futures
import csv
import datetime
import hashlib
import json
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from tools.conventions import NOTEBOOKS, STUDENT_FILES

from . import autograde
from .grading.intake import IntakeError, read_submission
from .grading.rubric import CORE_PARTS, FRAMEWORK_PARTS, PARTS
from .grading.sandbox import Limits
from .grading.submissions import discover, spreadsheet_safe

# Check messages that mean the submission ran out of time.
TIMEOUT_MARKS = ("timed out", "not run:")


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


def grade_one(task):
    """Grade one submission; never raises. Returns (report, seconds)."""
    started = time.monotonic()
    try:
        if task["path"] is None:
            raise autograde.GradingError(task["problem"])
        report = autograde.grade(task["path"], parts=task["parts"], seed=task["seed"],
                                 limits=Limits(timeout=task["timeout"], check_timeout=task["check_timeout"]),
                                 reference_timeout=task["reference_timeout"],
                                 total_timeout=task["total_timeout"], reference_cache=_REFERENCES,
                                 unconfined=task["unconfined"])
    except autograde.GradingError as error:
        report = autograde.ungradable_report(task["path"] or task["source"], str(error), task["seed"])
    except BaseException as error:  # noqa: BLE001 -- a grading that fails in any way fails alone
        report = autograde.staff_failure_report(task["path"] or task["source"],
                                                f"{type(error).__name__}: {error}", task["seed"])
    return report, round(time.monotonic() - started, 1)


# ----------------------------------------------------------------------------- results

def batch_status(report):
    """(status, note) of a report for the CSV."""
    if report["status"] == "ungradable":
        return "ungradable", report.get("reason") or ""
    if report["status"] == "incomplete":
        reasons = ([entry["reason"] for entry in report["parts"] if entry["status"] == autograde.NOT_GRADABLE]
                   or [f"grading failed: {report['staff'].get('error', report.get('reason'))}"])
        return "incomplete", "staff-side problem, not the student's: " + "; ".join(reasons)
    timed_out = [check["name"] for entry in report["parts"] for check in entry["checks"]
                 if not check["passed"] and check["message"].startswith(TIMEOUT_MARKS)]
    if timed_out:
        return "timeout", f"{len(timed_out)} checks ran out of time: " + "; ".join(timed_out)[:300]
    return "ok", ""


def merge_parts(previous, report, parts):
    """``previous`` with the entries of ``parts`` replaced by ``report``'s, totals recomputed."""
    if previous is None or previous["status"] == "ungradable" or report["status"] == "ungradable":
        return report
    new = {entry["name"]: entry for entry in report["parts"]}
    merged = dict(previous, parts=[new.get(entry["name"], entry) for entry in previous["parts"]])
    names = {entry["name"] for entry in merged["parts"]}
    merged["parts"] += [entry for entry in report["parts"] if entry["name"] not in names]
    merged["parts"].sort(key=lambda entry: PARTS.index(entry["name"]))
    for entry in merged["parts"]:
        if entry["framework"]:
            entry["counted"] = False
            if entry["status"] == autograde.NOT_CHOSEN:
                entry["reason"] = "the student did not work in its notebook (no cell run, no answer written)"
    autograde._count_the_better_framework(merged["parts"])
    merged["total"] = autograde._totals(merged["parts"])
    merged["status"] = ("incomplete" if any(entry["status"] == autograde.NOT_GRADABLE for entry in merged["parts"])
                        else "graded")
    merged["notes"] = list(dict.fromkeys(previous.get("notes", []) + report.get("notes", [])))
    merged["staff"] = report["staff"]
    merged["elapsed_seconds"] = report["elapsed_seconds"]
    return merged


COLUMNS = (["id", "student_id", "name", "email", "submitted_at", "late_hours", "status", "note"]
           + [f"{part} points" for part in PARTS]
           + ["required_total", "required_max", "extra_credit", "percentage", "seconds", "seed",
              "submission_hash", "rubric_version", "source"])


def csv_row(result):
    report, meta = result["report"], result["meta"]
    status, note = batch_status(report)
    row = {key: meta.get(key) for key in ("id", "student_id", "name", "email", "submitted_at", "late_hours",
                                           "seconds", "seed", "submission_hash", "rubric_version", "source")}
    points = {entry["name"]: entry["points"] for entry in report["parts"]}
    row.update({f"{part} points": points.get(part) for part in PARTS})
    total = report["total"]
    row.update(status=status, note=note, required_total=total["points"], required_max=total["max_points"],
               extra_credit=total["extra_points"], percentage=round(100 * total["score"], 2))
    return [spreadsheet_safe(row[column]) for column in COLUMNS]


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
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for submission in submissions:
        result = results.get(submission["id"])
        if result is not None:
            writer.writerow(csv_row(result))
    write_atomically(path, buffer.getvalue())


def load_result(path):
    try:
        result = json.loads(path.read_text())
        return result if isinstance(result, dict) and "report" in result and "meta" in result else None
    except (OSError, ValueError):
        return None


# ----------------------------------------------------------------------------- the batch

def _batch_seed(out, seed):
    """The batch's seed: ``seed`` when given, else the one DIR/batch.json recorded, else new."""
    record = out / "batch.json"
    previous = load_json(record)
    if seed is None:
        seed = previous.get("seed") if isinstance(previous.get("seed"), int) else secrets.randbelow(2**31)
    write_atomically(record, json.dumps({"seed": seed, "rubric_version": autograde.rubric_version()}, indent=2))
    return seed


def load_json(path):
    try:
        value = json.loads(Path(path).read_text())
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError):
        return {}


def _staff_side(report):
    """True for a result that a rerun should retry: a part not gradable here, or the grader failing."""
    return report.get("status") == "incomplete" or str(report.get("reason") or "").startswith("grading failed")


def grade_all(submissions_folder, out, jobs=None, parts=None, only=None, seed=None, timeout=300,
              check_timeout=60, reference_timeout=autograde.DEFAULT_REFERENCE_TIMEOUT,
              total_timeout=autograde.DEFAULT_TOTAL_TIMEOUT, progress=True, log=print, unconfined=False):
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
    results = {}
    for submission in submissions:
        result = load_result(out / "results" / f"{submission['id']}.json")
        if result is not None:
            results[submission["id"]] = result
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
        if not wanted and not parts and previous is not None and not _staff_side(previous["report"]) and all(
                previous["meta"].get(key) == value for key, value in
                (("submission_hash", submission["submission_hash"]), ("rubric_version", version), ("seed", seed))):
            continue
        to_grade.append(submission)
    skipped = len(submissions) - len(to_grade)
    log(f"{len(submissions)} submissions, {len(to_grade)} to grade ({skipped} already graded); seed {seed}")
    if to_grade:
        # Before anyone is graded: a grader that cannot confine submissions here stops with
        # one error instead of giving a class of failures.
        autograde.preflight(unconfined)

    # The reference once per seed, here: the core parts (or --parts) and the frameworks chosen.
    needed = list(parts) if parts else list(CORE_PARTS) + [
        part for part in FRAMEWORK_PARTS
        if any(part in frameworks_of(s["path"]) for s in to_grade if s["path"])]
    references = autograde.compute_references(seed, needed, reference_timeout) if to_grade else {}
    for (_, part, _), (kind, reason) in references.items():
        if kind != "values":
            log(f"WARNING: the reference solution fails on {part} here (staff-side): {reason}")

    tasks = {s["id"]: {"path": s["path"], "problem": s["problem"], "source": s["source"], "parts": parts,
                       "seed": seed, "timeout": timeout, "check_timeout": check_timeout,
                       "reference_timeout": reference_timeout, "total_timeout": total_timeout,
                       "unconfined": unconfined}
             for s in to_grade}
    by_id = {s["id"]: s for s in to_grade}
    write_csv(out / "grades.csv", submissions, results)
    failures = 0
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(to_grade), unit="sub", desc="grading", file=sys.stderr)

    def finish(identifier, report, seconds):
        nonlocal failures
        submission = by_id[identifier]
        previous = results.get(identifier)
        if parts and previous is not None:
            report = merge_parts(previous["report"], report, parts)
        meta = {key: submission.get(key) for key in ("id", "student_id", "name", "email", "submitted_at",
                                                       "late_hours", "source", "submission_hash")}
        meta.update(seed=seed, rubric_version=version, seconds=seconds,
                    graded_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        result = {"meta": meta, "report": report}
        results[identifier] = result
        write_atomically(out / "results" / f"{identifier}.json", json.dumps(result, indent=2, default=str))
        write_atomically(out / "feedback" / f"{identifier}.txt", autograde.format_report(report) + "\n")
        write_csv(out / "grades.csv", submissions, results)
        status = batch_status(report)[0]
        failures += status != "ok"
        if bar is not None:
            bar.update(1)
            bar.set_postfix(done=len(results), failures=failures)

    jobs = jobs or os.cpu_count() or 1
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
                        tasks[identifier]["path"] or identifier,
                        f"grading failed: {type(error).__name__}: {error}", seed), 0.0
                finish(identifier, report, seconds)
        pending = []
        for identifier in broken:
            attempts[identifier] += 1
            if attempts[identifier] >= 2:
                finish(identifier, autograde.ungradable_report(
                    tasks[identifier]["path"] or identifier,
                    "grading failed: the grading process died twice", seed), 0.0)
            else:
                pending.append(identifier)
        if pending:
            # Rerun one at a time, so that a submission that kills its process takes no other down.
            jobs = 1
    if bar is not None:
        bar.close()
    counts = {}
    for submission in submissions:
        if submission["id"] in results:
            status = batch_status(results[submission["id"]]["report"])[0]
            counts[status] = counts.get(status, 0) + 1
    if counts.get("incomplete"):
        log(f"WARNING: {counts['incomplete']} submissions are incomplete: a part is not gradable on this "
            "grader (staff-side problem; see the note column)")
    return {"submissions": len(submissions), "graded": len(to_grade), "skipped": skipped, "seed": seed,
            "counts": counts, "csv": str(out / "grades.csv")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", help="folder of submissions (zips, bundle folders, a Gradescope export)")
    parser.add_argument("--out", required=True, help="folder for grades.csv, feedback/ and results/")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: one per core)")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), metavar="PART",
                        help=f"regrade only these parts, keeping the others' results: {', '.join(PARTS)}")
    parser.add_argument("--only", nargs="+", metavar="ID", help="regrade these submissions (id, student id or name in the export)")
    parser.add_argument("--seed", type=int, help="the batch's seed (default: the recorded one, else random)")
    parser.add_argument("--timeout", type=int, default=300, help="each part's budget in seconds (default 300)")
    parser.add_argument("--check-timeout", type=int, default=60, help="seconds per check (default 60)")
    parser.add_argument("--reference-timeout", type=int, default=autograde.DEFAULT_REFERENCE_TIMEOUT,
                        help="seconds the solution's run of one part may take")
    parser.add_argument("--total-timeout", type=int, default=autograde.DEFAULT_TOTAL_TIMEOUT,
                        help="seconds per submission, after which unfinished checks fail")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--unconfined", action="store_true",
                        help="without root and without user namespaces, grade anyway: submissions can "
                             "then read whatever this user can (only for code you trust)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.seed is not None and not 0 <= args.seed < 2**63:
        parser.error(f"--seed must be between 0 and 2**63 - 1, not {args.seed}")
    if not Path(args.submissions).is_dir():
        parser.error(f"{args.submissions} is not a folder")
    try:
        summary = grade_all(args.submissions, args.out, jobs=args.jobs, parts=args.parts, only=args.only,
                            seed=args.seed, timeout=args.timeout, check_timeout=args.check_timeout,
                            reference_timeout=args.reference_timeout, total_timeout=args.total_timeout,
                            progress=not args.no_progress, log=lambda text: print(text, file=sys.stderr),
                            unconfined=args.unconfined)
    except autograde.SandboxUnavailable as error:
        print(f"ERROR (nothing was graded): {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
