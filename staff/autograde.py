"""Grade a submission against the rubric and print a score per part.

    python -m staff.autograde BUNDLE|ZIP [--json] [--parts NAME ...] [--timeout S]
                              [--gradescope RESULTS_JSON] [--max-members N]
                              [--max-member-mib M] [--max-total-mib M]

The submission's code only computes; this process judges. Only the student files
(tools/bundle.py) and the notebooks are taken from the submission and laid over the
grader's own copy of the package in a temporary sandbox. For each part of the rubric
(staff/grading/rubric.py) a confined process (staff/grading/launcher.py: an unprivileged
user and private namespaces when the grader runs as root, resource limits always, a
wall-clock timeout, every leftover process killed) runs the checks' student calls on
inputs drawn for this grading run and returns the raw values as data. This process runs
the same calls on its own solution, compares, and decides. A check the submission did
not answer (import error, crash, exit, timeout) fails with the reason; the rubric, not
the submission, fixes what each part is out of.

The exit status is 0 whenever grading ran, whatever the score, and 2 when it could not
(unreadable or hostile submission, unknown part).
"""
import argparse
import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tools.bundle import NOTEBOOKS, STUDENT_FILES
from .grading.intake import (DEFAULT_MAX_MEMBER_MIB, DEFAULT_MAX_MEMBERS, DEFAULT_MAX_TOTAL_MIB,
                             IntakeError, IntakeLimits, read_submission)
from .grading.rubric import CHECKS, FRAMEWORK_PARTS, PARTS
from .grading.sandbox import (GRADER_ROOT, Limits, SandboxRun, become_subreaper, build_sandbox,
                              children, kill_leftovers, pick_sandbox_user, run_trusted,
                              temporary_folder)


class GradingError(Exception):
    """The submission could not be graded at all."""


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


def default_parts(notebooks):
    """Every part, with the framework parts whose notebook the submission holds (PyTorch's
    when it holds neither, so that a missing framework notebook costs its points)."""
    chosen = [part for part, notebook in FRAMEWORK_PARTS.items() if notebook in notebooks]
    chosen = chosen or ["PyTorch models"]
    return [part for part in PARTS if part not in FRAMEWORK_PARTS or part in chosen]


def grade(bundle, parts=None, limits=None, intake_limits=None):
    """Grade ``bundle`` (folder or zip) and return the report as a dictionary."""
    started = time.monotonic()
    unknown = [part for part in parts or () if part not in PARTS]
    if unknown:
        raise GradingError(f"unknown parts {unknown}; choose from {list(PARTS)}")
    limits = limits or Limits()
    try:
        sources, notebooks, notes = read_submission(bundle, intake_limits)
    except IntakeError as error:
        raise GradingError(str(error)) from None
    parts = list(parts or default_parts(notebooks))
    selected = [(index, check) for index, check in enumerate(CHECKS) if check.part in parts]
    seed = secrets.randbelow(2**31)

    become_subreaper()
    own_children = children()
    uid = pick_sandbox_user()
    folder = temporary_folder()
    answers, reference, isolation = {}, {}, {}
    try:
        solution = build_sandbox(folder / "reference", *_grader_files())
        # The sandbox user may enter the submission's folder only, never the solution's.
        (folder / "reference").chmod(0o700)
        package = build_sandbox(folder / "submission", sources, notebooks)
        folder.chmod(0o755)
        runner = SandboxRun(folder / "submission", package, uid, limits, spare=own_children)
        for number, part in enumerate(parts):
            checks = [(index, check.probe, check.params) for index, check in selected if check.part == part]
            try:
                reference.update(run_trusted(solution, folder / "reference" / f"part{number}", checks,
                                             seed, limits.timeout))
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                raise GradingError(f"{part}: {error}") from None
            answers.update(runner.run(f"part{number}", checks, seed))
        isolation = dict(runner.isolation)
    finally:
        kill_leftovers(uid, own_children)
        shutil.rmtree(folder, ignore_errors=True)

    report = {"bundle": str(Path(bundle).resolve()), "notes": notes, "isolation": isolation, "parts": []}
    for part in parts:
        entry = {"name": part, "passed": 0, "total": 0, "points": 0, "max_points": 0, "checks": []}
        for index, check in selected:
            if check.part != part:
                continue
            passed, message = judge_check(check, answers[index], reference[index])
            entry["total"] += 1
            entry["max_points"] += check.points
            entry["passed"] += passed
            entry["points"] += check.points if passed else 0
            entry["checks"].append({"name": check.name, "passed": passed, "points": check.points if passed else 0,
                                    "max_points": check.points, "message": message})
        entry["score"] = entry["points"] / entry["max_points"] if entry["max_points"] else 0.0
        report["parts"].append(entry)
    totals = {key: sum(entry[key] for entry in report["parts"])
              for key in ("passed", "total", "points", "max_points")}
    totals["score"] = totals["points"] / totals["max_points"] if totals["max_points"] else 0.0
    report["total"] = totals
    report["elapsed_seconds"] = round(time.monotonic() - started, 1)
    return report


def isolation_summary(report):
    isolation = report["isolation"]
    if not isolation:
        return "isolation: unknown (no part ran)"
    return "; ".join(f"{key}: {value}" for key, value in isolation.items())


def format_report(report):
    """The score table, then every failed check with what differed."""
    lines = [f"Graded {report['bundle']}", f"Sandbox: {isolation_summary(report)}", ""]
    lines += [f"Note: {note}" for note in report["notes"]]
    lines.append(f"{'part':<18}{'checks':>12}{'points':>12}{'score':>9}")
    for entry in report["parts"]:
        lines.append(f"{entry['name']:<18}{entry['passed']:>6}/{entry['total']:<5}"
                     f"{entry['points']:>6}/{entry['max_points']:<5}{entry['score']:>9.1%}")
    total = report["total"]
    lines.append(f"{'total':<18}{total['passed']:>6}/{total['total']:<5}"
                 f"{total['points']:>6}/{total['max_points']:<5}{total['score']:>9.1%}")
    for entry in report["parts"]:
        failed = [check for check in entry["checks"] if not check["passed"]]
        if failed:
            lines += ["", f"{entry['name']}:"]
            lines += [f"  FAILED {check['name']}\n      {check['message']}" for check in failed]
    lines.append(f"\nGraded in {report['elapsed_seconds']} s.")
    return "\n".join(lines)


def gradescope_results(report):
    """The report in Gradescope's autograder format (results.json)."""
    tests = [{"name": f"{entry['name']}: {check['name']}", "score": check["points"],
              "max_score": check["max_points"], "output": check["message"], "visibility": "visible"}
             for entry in report["parts"] for check in entry["checks"]]
    return {"score": report["total"]["points"], "max_score": report["total"]["max_points"],
            "execution_time": report["elapsed_seconds"], "output": isolation_summary(report),
            "tests": tests}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="bundle folder or submission zip")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), metavar="PART",
                        help=f"grade only these parts, out of: {', '.join(PARTS)}")
    parser.add_argument("--timeout", type=int, default=300,
                        help="seconds (wall clock and CPU) allowed for each part (default 300)")
    parser.add_argument("--gradescope", metavar="RESULTS_JSON",
                        help="also write the results in Gradescope's format to this file")
    parser.add_argument("--max-members", type=int, default=DEFAULT_MAX_MEMBERS,
                        help=f"most members a zip may hold (default {DEFAULT_MAX_MEMBERS})")
    parser.add_argument("--max-member-mib", type=int, default=DEFAULT_MAX_MEMBER_MIB,
                        help=f"largest unpacked member in MiB (default {DEFAULT_MAX_MEMBER_MIB})")
    parser.add_argument("--max-total-mib", type=int, default=DEFAULT_MAX_TOTAL_MIB,
                        help=f"largest unpacked zip in MiB (default {DEFAULT_MAX_TOTAL_MIB})")
    args = parser.parse_args(argv)
    intake_limits = IntakeLimits(args.max_members, args.max_member_mib, args.max_total_mib)
    try:
        report = grade(args.bundle, parts=args.parts, limits=Limits(timeout=args.timeout),
                       intake_limits=intake_limits)
    except GradingError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 2
    if args.gradescope:
        Path(args.gradescope).write_text(json.dumps(gradescope_results(report), indent=2))
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
