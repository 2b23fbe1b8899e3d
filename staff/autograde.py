"""Grade a submission against the rubric and print a score per part.

    python -m staff.autograde BUNDLE|ZIP [--json] [--output REPORT_JSON] [--parts NAME ...]
                              [--timeout S] [--check-timeout S] [--reference-timeout S]
                              [--total-timeout S] [--seed N] [--gradescope RESULTS_JSON]
                              [--gradescope-hidden [PART ...]] [--max-members N]
                              [--max-member-mib M] [--max-total-mib M]

The submission's code only computes; this process judges. Only the student files
(tools/conventions.py) and the notebooks are taken from the submission and laid over the
grader's own copy of the package in a temporary sandbox. For each part of the rubric
(staff/grading/rubric.py) confined processes (staff/grading/launcher.py: an unprivileged
user of its own and private namespaces when the grader runs as root, resource limits
always, a wall-clock budget per part and a timeout per check, every leftover process of
its own killed) run the checks' student calls on inputs drawn from this run's seed and
return the raw values as data. This process runs the same calls on its own solution,
compares, and decides. A check the submission did not answer (import error, crash, exit,
timeout) fails with the reason.

The required total is the same for every submission: the core parts plus one framework
part. A framework notebook is graded when the student worked in it
(tools.cells.framework_chosen); with both, the better one counts. Extra tasks are extra
credit, outside the required total. A part that cannot be graded on this grader (its
framework not installed, the reference solution failing here) is reported as not
gradable here, a staff problem, and the report's status is ``incomplete``.

Students read the report's checks, messages and totals (``format_report``, Gradescope's
outputs); the confinement obtained, the random seed and how to replay the run are staff
fields (the JSON's ``staff``, ``format_staff_report``, which this command prints).

The exit status is 0 whenever grading ran, whatever the score; 2 when the submission
could not be graded (unreadable or hostile submission, unknown part), with status
``ungradable`` and the reason; 3 when this grader could not grade at all (its sandbox
cannot be made safe here, or cannot start), with status ``incomplete``, a student-facing
reason saying it is the staff's problem, and the details for staff. A result is written
in every case.
"""
import argparse
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tools.conventions import EXTENDABLE_FILES, NOTEBOOKS, STUDENT_FILES
from tools.cells import framework_chosen
from .grading.intake import (DEFAULT_MAX_MEMBER_MIB, DEFAULT_MAX_MEMBERS, DEFAULT_MAX_TOTAL_MIB,
                             IntakeError, IntakeLimits, read_submission)
from .grading.rubric import (CHECKS, CORE_PARTS, FRAMEWORK_MODULES, FRAMEWORK_PARTS, FRAMEWORK_POINTS, PARTS,
                             add_notes_and_pointers)
from .grading import confinement
from .grading.sandbox import (GRADER_ROOT, NOT_RUN, SANDBOX_UIDS, Limits, SandboxRun, SandboxUnavailable, become_subreaper,
                              build_sandbox, children, kill_leftovers, open_to_the_sandbox, remove_files_of,
                              reserve_sandbox_user, run_trusted, temporary_folder)

DEFAULT_TOTAL_TIMEOUT = 20 * 60
# The solution's own run of one part; far above what it needs (seconds), and separate from
# the submission's budgets so that a tight --timeout never makes the grader fail itself.
DEFAULT_REFERENCE_TIMEOUT = 600
NOT_CHOSEN = "not chosen"
NOT_GRADABLE = "not gradable here"


class GradingError(Exception):
    """The submission could not be graded at all."""


# What decides a grade besides the submission: the rubric, the probes, the worker that
# runs them and the reference solution's student files. A change to any of them changes
# this version, and with it every grade (staff.grade_all regrades on a new version).
RUBRIC_SOURCES = (Path(__file__).resolve().parent / "grading" / "rubric.py",
                  Path(__file__).resolve().parent / "grading" / "probes.py",
                  Path(__file__).resolve().parent / "grading" / "worker.py")
_RUBRIC_VERSION = []


def rubric_version():
    """A short hash of what decides a grade besides the submission (RUBRIC_SOURCES and the
    grader's own student and extendable files), computed once per process."""
    if not _RUBRIC_VERSION:
        digest = hashlib.sha256()
        for path in RUBRIC_SOURCES + tuple(GRADER_ROOT / name for name in STUDENT_FILES + EXTENDABLE_FILES):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        _RUBRIC_VERSION.append(digest.hexdigest()[:16])
    return _RUBRIC_VERSION[0]


def reference_key(seed, part):
    """The key of one part's reference values in a ``reference_cache``."""
    return (seed, part, rubric_version())


def _part_checks(part):
    return [(index, check.probe, check.params) for index, check in enumerate(CHECKS) if check.part == part]


def _build_reference_sandbox(folder):
    """The grader's own solution laid out as a sandbox package under ``folder``/reference,
    which the sandbox user may not enter."""
    solution = build_sandbox(folder / "reference", *_grader_files(), as_released=False)
    (folder / "reference").chmod(0o700)
    return solution


def _run_reference(solution, run_dir, part, seed, reference_timeout):
    """("values", {index: values}) for every check of ``part`` on the solution, or
    ("error", reason) when the solution's run fails here (a staff problem)."""
    try:
        return "values", run_trusted(solution, run_dir, _part_checks(part), seed, reference_timeout)
    except subprocess.TimeoutExpired:
        return "error", f"the reference solution ran past {reference_timeout} s"
    except RuntimeError as error:
        return "error", str(error)


def compute_references(seed, parts=PARTS, reference_timeout=DEFAULT_REFERENCE_TIMEOUT, cache=None):
    """Run the solution once on the checks of ``parts`` for ``seed`` and return ``cache``
    (a new dict when None) filled with their entries, for grade(reference_cache=...).

    The entries are plain data (NumPy arrays, numbers, strings): a batch computes them
    once per seed and hands them to every grading, in this process or another. Parts
    this grader cannot grade (their framework not installed) and parts already in the
    cache are skipped.
    """
    cache = {} if cache is None else cache
    wanted = [part for part in parts if reference_key(seed, part) not in cache and not not_gradable_reason(part)]
    if not wanted:
        return cache
    folder = temporary_folder()
    try:
        solution = _build_reference_sandbox(folder)
        for part in wanted:
            cache[reference_key(seed, part)] = _run_reference(
                solution, folder / "reference" / f"part{PARTS.index(part)}", part, seed, reference_timeout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return cache


def judge_check(check, answer, reference):
    """(passed, message) for one check."""
    submitted, error = answer
    if error is not None:
        return False, error
    try:
        problem = check.judge(submitted, reference)
    except Exception as failure:  # malformed values from the submission fail the check
        problem = f"the returned values are not what was asked for ({type(failure).__name__}: {failure})"
    return problem is None, problem or "passed"


def _grader_files():
    """The grader's own student files and notebooks: the reference solution."""
    sources = {name: (GRADER_ROOT / name).read_bytes() for name in STUDENT_FILES}
    notebooks = {name: (GRADER_ROOT / name).read_bytes() for name in NOTEBOOKS
                 if (GRADER_ROOT / name).is_file()}
    return sources, notebooks


def chosen_frameworks(notebooks):
    """The framework parts whose notebook the student worked in. A notebook that is not
    valid JSON counts as chosen: grading it tells the student what is wrong with it."""
    chosen = []
    for part, name in FRAMEWORK_PARTS.items():
        if name not in notebooks:
            continue
        try:
            notebook = json.loads(notebooks[name])
        except ValueError:
            chosen.append(part)
            continue
        if not isinstance(notebook, dict) or framework_chosen(notebook):
            chosen.append(part)
    return chosen


def installed(module):
    """True when ``module`` can be imported on this grader (without importing it)."""
    return importlib.util.find_spec(module) is not None


def not_gradable_reason(part):
    """Why ``part`` cannot be graded on this grader, or None."""
    module = FRAMEWORK_MODULES.get(part)
    if module is not None and not installed(module):
        return (f"{module} is not installed on this grader, so {part} cannot be graded here: a "
                f"staff configuration problem, not the student's (install the framework's extra)")
    return None


def required_points(part):
    """The points of ``part`` in the required total (a framework part: FRAMEWORK_POINTS)."""
    return sum(check.points for check in CHECKS if check.part == part and not check.extra)


def extra_points(part):
    """The extra credit ``part`` offers."""
    return sum(check.points for check in CHECKS if check.part == part and check.extra)


def grade(bundle, parts=None, limits=None, intake_limits=None, seed=None,
          reference_timeout=DEFAULT_REFERENCE_TIMEOUT, total_timeout=DEFAULT_TOTAL_TIMEOUT,
          reference_cache=None, unconfined=False):
    """Grade ``bundle`` (folder or zip) and return the report as a dictionary.

    Without ``parts``, every core part and each framework part the student chose are
    graded; with ``parts``, exactly those. Raises GradingError when the submission cannot
    be read at all.

    ``reference_cache`` (a dict, or None) holds the solution's values by
    reference_key(seed, part): a part found there is not run on the solution again, and
    a part run here is added to it, so that gradings with the same seed share one
    reference run (compute_references fills one ahead).

    Raises SandboxUnavailable when the submission cannot be confined here (``unconfined``
    accepts that, for a grader without root).
    """
    started = time.monotonic()
    deadline = started + total_timeout
    unknown = [part for part in parts or () if part not in PARTS]
    if unknown:
        raise GradingError(f"unknown parts {unknown}; choose from {list(PARTS)}")
    limits = limits or Limits()
    seed = secrets.randbelow(2**31) if seed is None else seed
    try:
        sources, notebooks, notes = read_submission(bundle, intake_limits)
    except IntakeError as error:
        raise GradingError(str(error)) from None
    chosen = chosen_frameworks(notebooks)
    listed = list(parts) if parts else list(PARTS)
    to_grade = list(parts) if parts else list(CORE_PARTS) + chosen
    status = {part: ("graded" if part in to_grade else NOT_CHOSEN) for part in listed}
    reasons = {part: "the student did not work in its notebook (no cell run, no answer written)"
               for part in listed if status[part] == NOT_CHOSEN}
    for part in to_grade:
        reason = not_gradable_reason(part)
        if reason:
            status[part], reasons[part] = NOT_GRADABLE, reason
    selected = [(index, check) for index, check in enumerate(CHECKS) if status.get(check.part) == "graded"]
    total_reason = f"the submission's total time budget of {total_timeout} s ran out"

    become_subreaper()
    own_children = children()
    folder = temporary_folder()
    answers, reference, isolation = {}, {}, {}
    try:
        with reserve_sandbox_user() as uid:
            try:
                cache = {} if reference_cache is None else reference_cache
                # The sandbox user may enter the submission's folder only, never the solution's.
                solution = (_build_reference_sandbox(folder) if any(
                    reference_key(seed, part) not in cache for part in listed if status[part] == "graded")
                    else None)
                package = build_sandbox(folder / "submission", sources, notebooks)
                open_to_the_sandbox(folder, uid)
                interpreter = confinement.plan(uid, GRADER_ROOT, unconfined)
                runner = SandboxRun(folder / "submission", package, uid, limits, interpreter, spare=own_children)
                for number, part in enumerate(listed):
                    if status[part] != "graded":
                        continue
                    checks = [(index, check.probe, check.params) for index, check in selected
                              if check.part == part]
                    if time.monotonic() >= deadline:
                        answers.update((index, (None, f"{NOT_RUN}{total_reason}")) for index, _, _ in checks)
                        continue
                    key = reference_key(seed, part)
                    if key not in cache:
                        cache[key] = _run_reference(solution, folder / "reference" / f"part{number}",
                                                    part, seed, reference_timeout)
                    kind, values = cache[key]
                    try:
                        if kind != "values":
                            raise RuntimeError(values)
                        answers.update(runner.run(f"part{number}", checks, seed, deadline, total_reason))
                    except RuntimeError as error:
                        status[part] = NOT_GRADABLE
                        reasons[part] = (f"{error} (a problem of this grader's installation, "
                                         "not of the submission)")
                        continue
                    reference.update((index, values[index]) for index, _, _ in checks)
                isolation = dict(runner.isolation)
            finally:
                kill_leftovers(uid, own_children)
                if uid is not None:
                    remove_files_of(uid)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    report = {"status": None, "notes": notes, "frameworks_chosen": chosen, "parts": [],
              "staff": staff_fields(bundle, seed, isolation)}
    for part in listed:
        entry = {"name": part, "framework": part in FRAMEWORK_PARTS, "status": status[part],
                 "reason": reasons.get(part), "counted": part not in FRAMEWORK_PARTS,
                 "passed": 0, "total": 0, "points": 0, "max_points": required_points(part),
                 "extra_points": 0, "extra_max_points": extra_points(part), "checks": []}
        for index, check in selected:
            if check.part != part or status[part] != "graded":
                continue
            passed, message = judge_check(check, answers[index], reference.get(index))
            prefix = "extra_" if check.extra else ""
            entry["total"] += 1
            entry["passed"] += passed
            entry[prefix + "points"] += check.points if passed else 0
            entry["checks"].append({"name": check.name, "passed": passed, "extra": check.extra,
                                    "points": check.points if passed else 0,
                                    "max_points": check.points, "message": message})
        entry["score"] = entry["points"] / entry["max_points"] if entry["max_points"] else 0.0
        report["parts"].append(entry)
    add_notes_and_pointers(report["parts"], answers)
    _count_the_better_framework(report["parts"])
    report["status"] = "incomplete" if NOT_GRADABLE in status.values() else "graded"
    report["total"] = _totals(report["parts"])
    report["elapsed_seconds"] = round(time.monotonic() - started, 1)
    return report


def _count_the_better_framework(entries):
    """Mark one framework entry as counted: the best graded one, else one the student chose
    that this grader cannot grade, else the first listed (scoring 0, with its reason)."""
    frameworks = [entry for entry in entries if entry["framework"]]
    if not frameworks:
        return
    graded = [entry for entry in frameworks if entry["status"] == "graded"]
    not_gradable = [entry for entry in frameworks if entry["status"] == NOT_GRADABLE]
    best = max(graded, key=lambda entry: entry["points"]) if graded else (not_gradable or frameworks)[0]
    best["counted"] = True
    if best["status"] == NOT_CHOSEN:
        best["reason"] = ("no framework notebook was worked in (" + ", ".join(FRAMEWORK_PARTS.values())
                          + " untouched: no cell run, no answer written), so the framework part scores 0")


def _totals(entries):
    counted = [entry for entry in entries if entry["counted"]]
    totals = {key: sum(entry[key] for entry in counted)
              for key in ("passed", "total", "points", "max_points", "extra_points", "extra_max_points")}
    totals["score"] = totals["points"] / totals["max_points"] if totals["max_points"] else 0.0
    return totals


def staff_fields(bundle, seed, isolation=None, error=None):
    """What only staff see of a grading run: the submission's path, the random seed and how
    to replay it, the confinement the sandbox obtained, and a staff-side error."""
    fields = {"bundle": str(Path(bundle).resolve()), "seed": seed,
              "replay": None if seed is None else f"python -m staff.autograde SUBMISSION --seed {seed}",
              "isolation": dict(isolation or {})}
    if error:
        fields["error"] = error
    return fields


def _empty_total():
    required = sum(required_points(part) for part in CORE_PARTS) + FRAMEWORK_POINTS
    return {"passed": 0, "total": 0, "points": 0, "max_points": required, "extra_points": 0,
            "extra_max_points": sum(extra_points(part) for part in CORE_PARTS), "score": 0.0}


def ungradable_report(bundle, reason, seed=None):
    """The result of a submission that could not be graded: score 0, and why."""
    return {"status": "ungradable", "reason": reason, "notes": [], "frameworks_chosen": [], "parts": [],
            "total": _empty_total(), "elapsed_seconds": 0.0, "staff": staff_fields(bundle, seed)}


STAFF_FAILURE = ("grading failed on the staff side; this is not a problem with your submission, and the "
                 "course staff will grade it again")


def staff_failure_report(bundle, error, seed=None):
    """The result when the grader itself could not grade (its sandbox could not be made
    safe or could not start): score 0 for now, status ``incomplete``; the student reads
    only that it is the staff's problem, staff read ``error``."""
    return {"status": "incomplete", "reason": STAFF_FAILURE, "notes": [], "frameworks_chosen": [],
            "parts": [], "total": _empty_total(), "elapsed_seconds": 0.0,
            "staff": staff_fields(bundle, seed, error=str(error))}


def sandbox_user_for_checks():
    """A sandbox user id for checking what such a user can reach (None when not root)."""
    return SANDBOX_UIDS.start if os.geteuid() == 0 else None


def preflight(unconfined=False):
    """Raise SandboxUnavailable, before any submission is graded, when this grader cannot
    confine submissions here (staff/grading/confinement.py says what to change; without
    root, ``unconfined`` accepts running them unconfined); build what the sandbox needs
    once (the interpreter mirror) otherwise."""
    confinement.plan(sandbox_user_for_checks(), GRADER_ROOT, unconfined)


def isolation_summary(report):
    """The confinement the sandbox obtained, for staff."""
    isolation = report["staff"]["isolation"]
    if not isolation:
        return "isolation: unknown (no part ran)"
    return "; ".join(f"{key}: {value}" for key, value in isolation.items())


def _summary_lines(report):
    total = report["total"]
    lines = [f"Status: {report['status']}" + (f" ({report['reason']})" if report.get("reason") else "")]
    lines += [f"Required total: {total['points']}/{total['max_points']} points ({total['score']:.1%}); "
              f"extra credit: {total['extra_points']}/{total['extra_max_points']}"]
    for entry in report["parts"]:
        if entry["status"] != "graded":
            state = f"{entry['status']}: {entry['reason']}"
        else:
            state = "counted" if entry["counted"] else "not counted: one framework counts, the better one"
        lines.append(f"  {entry['name']}: {entry['points']}/{entry['max_points']}"
                     + (f", extra {entry['extra_points']}" if entry["extra_points"] else "") + f" ({state})")
    return lines


def format_report(report):
    """What the student reads: the score table, then every failed check with what differed."""
    lines = [f"Note: {note}" for note in report["notes"]]
    lines += _summary_lines(report) + [""]
    lines.append(f"{'part':<18}{'checks':>12}{'points':>12}{'extra':>7}{'score':>9}")
    for entry in report["parts"]:
        mark = "" if entry["counted"] else "  (not counted)"
        lines.append(f"{entry['name']:<18}{entry['passed']:>6}/{entry['total']:<5}"
                     f"{entry['points']:>6}/{entry['max_points']:<5}{entry['extra_points']:>7}"
                     f"{entry['score']:>9.1%}{mark}")
    total = report["total"]
    lines.append(f"{'required total':<18}{total['passed']:>6}/{total['total']:<5}"
                 f"{total['points']:>6}/{total['max_points']:<5}{total['extra_points']:>7}{total['score']:>9.1%}")
    for entry in report["parts"]:
        failed = [check for check in entry["checks"] if not check["passed"]]
        if failed:
            lines += ["", f"{entry['name']}:"]
            lines += [f"  FAILED {check['name']}\n      {check['message']}" for check in failed]
    lines.append(f"\nGraded in {report['elapsed_seconds']} s.")
    return "\n".join(lines)


def format_staff_report(report):
    """What staff read: the submission, the sandbox's confinement, the seed and how to
    replay the run, any staff-side error, then the student's report."""
    staff = report["staff"]
    lines = [f"Graded {staff['bundle']}", f"Sandbox: {isolation_summary(report)}"]
    if staff["seed"] is not None:
        lines.append(f"Random seed: {staff['seed']} (--seed {staff['seed']} replays this run)")
    if staff.get("error"):
        lines.append(f"Staff-side error: {staff['error']}")
    return "\n".join(lines + ["", format_report(report)])


# The fields Gradescope's results.json specification defines, at the top and per test.
GRADESCOPE_RESULT_FIELDS = {"score", "execution_time", "output", "output_format", "test_output_format",
                            "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
                            "leaderboard"}
GRADESCOPE_TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output",
                          "output_format", "tags", "visibility", "extra_data"}


def gradescope_results(report, hidden_parts=()):
    """The report in Gradescope's autograder format (results.json), with the fields of
    Gradescope's specification only (GRADESCOPE_RESULT_FIELDS, GRADESCOPE_TEST_FIELDS):
    the score is the required points plus the extra credit; the tests' maximums add up to
    the required total, which is what Gradescope shows it out of.
    One test per check, numbered "part.check" (parts in rubric order, "0" for the
    submission itself) and tagged with its part; an extra-credit check is a test of its
    own with a maximum of 0, named and tagged "extra credit" and saying whether it
    passed. The tests of ``hidden_parts`` are shown after the due date, the others at
    once. Students read the outputs; the run's stdout (the staff report) is hidden."""
    hidden = set(hidden_parts)
    tests = []

    def add(name, score, max_score, output, number, tags, part=None, passed=False):
        tests.append({"name": name, "number": number, "score": score, "max_score": max_score,
                      "status": "passed" if passed else "failed", "output": output, "tags": tags,
                      "visibility": "after_due_date" if part in hidden else "visible"})

    for entry in report["parts"]:
        part_number = PARTS.index(entry["name"]) + 1 if entry["name"] in PARTS else 0
        if entry["status"] != "graded":
            add(f"{entry['name']}: {entry['status']}", 0, entry["max_points"] if entry["counted"] else 0,
                entry["reason"], f"{part_number}", [entry["name"]], entry["name"])
            continue
        for check_number, check in enumerate(entry["checks"], 1):
            counted = entry["counted"] or check["extra"]
            if check["extra"]:
                verdict = "PASSED" if check["passed"] else "FAILED"
                prefix = f"extra credit, {verdict} ({check['points']}/{check['max_points']} extra point): "
                name = f"{entry['name']} (extra credit): {check['name']}"
            else:
                prefix = "" if counted else "not counted (one framework counts, the better one): "
                name = f"{entry['name']}: {check['name']}"
            add(name, check["points"] if counted else 0,
                0 if check["extra"] or not counted else check["max_points"],
                prefix + check["message"], f"{part_number}.{check_number}",
                [entry["name"]] + (["extra credit"] if check["extra"] else []), entry["name"], check["passed"])
    if report["status"] in ("ungradable", "incomplete") and not report["parts"]:
        add("submission", 0, report["total"]["max_points"], f"{report['status']}: {report['reason']}",
            "0", ["submission"])
    # The per-part lines of the parts shown after the due date stay out of the summary.
    lines = [line for line in _summary_lines(report)
             if not any(line.startswith(f"  {part}: ") for part in hidden)]
    return {"score": report["total"]["points"] + report["total"]["extra_points"],
            "execution_time": report["elapsed_seconds"], "output": "\n".join(lines),
            "stdout_visibility": "hidden", "tests": tests}


def _write_results(args, report):
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2))
    if args.gradescope:
        Path(args.gradescope).write_text(
            json.dumps(gradescope_results(report, args.gradescope_hidden or ()), indent=2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="bundle folder or submission zip")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--output", metavar="REPORT_JSON", help="also write the JSON report to this file")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), metavar="PART",
                        help=f"grade only these parts, out of: {', '.join(PARTS)}")
    parser.add_argument("--timeout", type=int, default=300,
                        help="wall-clock budget in seconds of each part of the submission, and each "
                             "sandboxed process's CPU limit (default 300)")
    parser.add_argument("--check-timeout", type=int, default=60,
                        help="seconds one check of the submission may run (default 60)")
    parser.add_argument("--reference-timeout", type=int, default=DEFAULT_REFERENCE_TIMEOUT,
                        help=f"seconds the solution's run of one part may take "
                             f"(default {DEFAULT_REFERENCE_TIMEOUT})")
    parser.add_argument("--total-timeout", type=int, default=DEFAULT_TOTAL_TIMEOUT,
                        help=f"seconds for the whole submission, after which unfinished checks fail "
                             f"(default {DEFAULT_TOTAL_TIMEOUT})")
    parser.add_argument("--seed", type=int, help="the random inputs' seed, to replay a grading run exactly")
    parser.add_argument("--gradescope", metavar="RESULTS_JSON",
                        help="also write the results in Gradescope's format to this file")
    parser.add_argument("--gradescope-hidden", nargs="*", choices=list(PARTS), metavar="PART",
                        help="with --gradescope: show the tests of these parts to students only after "
                             "the due date")
    parser.add_argument("--unconfined", action="store_true",
                        help="without root and without user namespaces, grade anyway: the submission can "
                             "then read whatever this user can (only for code you trust)")
    parser.add_argument("--max-members", type=int, default=DEFAULT_MAX_MEMBERS,
                        help=f"most members a zip may hold (default {DEFAULT_MAX_MEMBERS})")
    parser.add_argument("--max-member-mib", type=int, default=DEFAULT_MAX_MEMBER_MIB,
                        help=f"largest unpacked member in MiB (default {DEFAULT_MAX_MEMBER_MIB})")
    parser.add_argument("--max-total-mib", type=int, default=DEFAULT_MAX_TOTAL_MIB,
                        help=f"largest unpacked zip in MiB (default {DEFAULT_MAX_TOTAL_MIB})")
    args = parser.parse_args(argv)
    if args.seed is not None and not 0 <= args.seed < 2**63:
        parser.error(f"--seed must be between 0 and 2**63 - 1, not {args.seed}")
    intake_limits = IntakeLimits(args.max_members, args.max_member_mib, args.max_total_mib)
    limits = Limits(timeout=args.timeout, check_timeout=args.check_timeout)
    try:
        preflight(args.unconfined)
        report = grade(args.bundle, parts=args.parts, limits=limits, intake_limits=intake_limits,
                       seed=args.seed, reference_timeout=args.reference_timeout,
                       total_timeout=args.total_timeout, unconfined=args.unconfined)
    except GradingError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return _finish(args, ungradable_report(args.bundle, str(error), args.seed), 2)
    except SandboxUnavailable as error:
        print(f"ERROR (staff side, nothing was graded): {error}", file=sys.stderr)
        return _finish(args, staff_failure_report(args.bundle, error, args.seed), 3)
    if report["status"] == "incomplete":
        print("WARNING: some parts are not gradable on this grader (staff configuration): "
              + "; ".join(entry["reason"] for entry in report["parts"] if entry["status"] == NOT_GRADABLE),
              file=sys.stderr)
    return _finish(args, report, 0)


def _finish(args, report, status):
    """Write the results asked for, print the staff report (or the JSON), return ``status``."""
    _write_results(args, report)
    print(json.dumps(report, indent=2) if args.json else format_staff_report(report))
    return status


if __name__ == "__main__":
    sys.exit(main())
