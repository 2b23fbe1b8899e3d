"""Grade a submission against the rubric and print a score per part.

    python -m staff.grading.autograde BUNDLE|ZIP [--json] [--output REPORT_JSON] [--parts NAME ...]
                                      [--timeout S] [--check-timeout S] [--reference-timeout S]
                                      [--total-timeout S] [--seed N] [--gradescope RESULTS_JSON]
                                      [--gradescope-hidden [PART ...]] [--max-members N]
                                      [--max-member-mib M] [--max-total-mib M] [--unconfined]

The submission's code only computes; this process judges. Only the student files
(tools/conventions.py) and the notebooks are taken from the submission
(staff/grading/intake.py, which also finds what to read in an upload) and laid over the
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

grade() returns a Report (staff/grading/report.py). Students read its checks, messages
and totals (``Report.to_text``, Gradescope's outputs); the confinement obtained, the
random seed and how to replay the run are staff fields (the JSON's ``staff``,
``Report.to_staff_text``, which this command prints).

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
from dataclasses import dataclass
from pathlib import Path

from tools.cells import framework_chosen
from tools.conventions import EXTENDABLE_FILES, NOTEBOOKS, STUDENT_FILES

from . import confinement
from .cli import add_grading_arguments, limits_of
from .intake import (DEFAULT_MAX_MEMBER_MIB, DEFAULT_MAX_MEMBERS, DEFAULT_MAX_TOTAL_MIB, IntakeError, IntakeLimits,
                     read_submission)
from .report import NOT_WORKED_IN, STAFF_FAILURE, CheckResult, PartResult, Report, Status, Total, staff_fields
from .rubric import (CHECKS, CORE_PARTS, FRAMEWORK_MODULES, FRAMEWORK_PARTS, PARTS, REQUIRED_TOTAL,
                     add_notes_and_pointers, extra_points, required_points)
from .sandbox import (DEFAULT_REFERENCE_TIMEOUT, DEFAULT_TOTAL_TIMEOUT, GRADER_ROOT, NOT_RUN, SANDBOX_UIDS, Limits,
                      SandboxRun, SandboxUnavailable, become_subreaper, build_sandbox, children, kill_leftovers,
                      open_to_the_sandbox, remove_files_of, reserve_sandbox_user, run_trusted, temporary_folder)


class GradingError(Exception):
    """The submission could not be graded at all."""


# What decides a grade besides the submission: the rubric, the probes, the worker that
# runs them and the reference solution's student files. A change to any of them changes
# this version, and with it every grade (staff.grading.grade_all regrades on a new version).
RUBRIC_SOURCES = tuple(Path(__file__).resolve().parent / name for name in ("rubric.py", "probes.py", "worker.py"))
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


def random_seed():
    """A new seed for a grading run's random inputs."""
    return secrets.randbelow(2**31)


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


# ----------------------------------------------------------------------------- grading one submission

@dataclass
class _Run:
    """The settings of one grading run."""
    seed: int
    limits: Limits
    started: float
    total_timeout: int
    reference_timeout: int
    reference_cache: dict
    unconfined: bool

    @property
    def deadline(self):
        return self.started + self.total_timeout

    @property
    def out_of_time(self):
        """The message of a check left unrun when the total budget ran out."""
        return f"the submission's total time budget of {self.total_timeout} s ran out"


def grade(bundle, parts=None, limits=None, intake_limits=None, seed=None,
          reference_timeout=DEFAULT_REFERENCE_TIMEOUT, total_timeout=DEFAULT_TOTAL_TIMEOUT,
          reference_cache=None, unconfined=False):
    """Grade ``bundle`` (an upload: a folder or a zip) and return its Report.

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
    run = _Run(random_seed() if seed is None else seed, limits or Limits(), time.monotonic(), total_timeout,
               reference_timeout, {} if reference_cache is None else reference_cache, unconfined)
    unknown = [part for part in parts or () if part not in PARTS]
    if unknown:
        raise GradingError(f"unknown parts {unknown}; choose from {list(PARTS)}")
    try:
        sources, notebooks, notes = read_submission(bundle, intake_limits)
    except IntakeError as error:
        raise GradingError(str(error)) from None
    chosen = chosen_frameworks(notebooks)
    results = planned_parts(parts, chosen)
    answers, references, isolation = _run_in_the_sandbox(results, sources, notebooks, run)
    for part in results:
        if part.status is Status.GRADED:
            part.checks = _judged_checks(part.name, answers, references)
    add_notes_and_pointers(results, answers)
    return Report.of_parts(results, notes, chosen, staff_fields(bundle, run.seed, isolation),
                           round(time.monotonic() - run.started, 1))


def planned_parts(parts, chosen):
    """The parts a grading lists, unjudged: ``parts`` when given, else every part; graded
    when asked for, or a core part, or a framework the student ``chosen``; not gradable
    here when this grader lacks their framework."""
    listed = list(parts) if parts else list(PARTS)
    to_grade = list(parts) if parts else list(CORE_PARTS) + chosen
    planned = []
    for name in listed:
        if name in to_grade:
            reason = not_gradable_reason(name)
            status = Status.NOT_GRADABLE if reason else Status.GRADED
        else:
            status, reason = Status.NOT_CHOSEN, NOT_WORKED_IN
        planned.append(PartResult(name, name in FRAMEWORK_PARTS, status, reason, name not in FRAMEWORK_PARTS,
                                  required_points(name), extra_points(name)))
    return planned


def _run_in_the_sandbox(parts, sources, notebooks, run):
    """(answers, references, isolation): the submission's (values, error) and the
    solution's values by index in CHECKS for the parts to grade, and the confinement the
    sandbox obtained. Every process the submission left behind is killed and its files
    removed."""
    become_subreaper()
    own_children = children()
    folder = temporary_folder()
    try:
        with reserve_sandbox_user() as uid:
            try:
                return _run_parts(parts, sources, notebooks, run, folder, uid, own_children)
            finally:
                kill_leftovers(uid, own_children)
                if uid is not None:
                    remove_files_of(uid)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_parts(parts, sources, notebooks, run, folder, uid, own_children):
    graded = [part for part in parts if part.status is Status.GRADED]
    # The sandbox user may enter the submission's folder only, never the solution's.
    solution = (_build_reference_sandbox(folder) if any(
        reference_key(run.seed, part.name) not in run.reference_cache for part in graded) else None)
    package = build_sandbox(folder / "submission", sources, notebooks)
    open_to_the_sandbox(folder, uid)
    interpreter = confinement.plan(uid, GRADER_ROOT, run.unconfined)
    runner = SandboxRun(folder / "submission", package, uid, run.limits, interpreter, spare=own_children)
    answers, references = {}, {}
    for number, part in enumerate(parts):
        if part.status is Status.GRADED:
            _run_part(part, f"part{number}", runner, solution, folder, run, answers, references)
    return answers, references, dict(runner.isolation)


def _run_part(part, run_name, runner, solution, folder, run, answers, references):
    """Run ``part``'s checks on the solution (unless cached) and on the submission, into
    ``references`` and ``answers``; make the part not gradable here when the solution's
    run or the sandbox fails (this grader's problem)."""
    checks = _part_checks(part.name)
    if time.monotonic() >= run.deadline:
        answers.update((index, (None, f"{NOT_RUN}{run.out_of_time}")) for index, _, _ in checks)
        return
    key = reference_key(run.seed, part.name)
    if key not in run.reference_cache:
        run.reference_cache[key] = _run_reference(solution, folder / "reference" / run_name, part.name, run.seed,
                                                  run.reference_timeout)
    kind, values = run.reference_cache[key]
    try:
        if kind != "values":
            raise RuntimeError(values)
        answers.update(runner.run(run_name, checks, run.seed, run.deadline, run.out_of_time))
    except RuntimeError as error:
        part.status = Status.NOT_GRADABLE
        part.reason = f"{error} (a problem of this grader's installation, not of the submission)"
        return
    references.update((index, values[index]) for index, _, _ in checks)


def _judged_checks(part, answers, references):
    """The CheckResults of ``part``, in rubric order."""
    results = []
    for index, check in enumerate(CHECKS):
        if check.part == part:
            passed, message = judge_check(check, answers[index], references.get(index))
            results.append(CheckResult(check.name, passed, check.extra, check.points if passed else 0,
                                       check.points, message))
    return results


# ----------------------------------------------------------------------------- results without grading

def _empty_total():
    return Total(0, 0, 0, REQUIRED_TOTAL, 0, sum(extra_points(part) for part in CORE_PARTS))


def ungradable_report(bundle, reason, seed=None):
    """The result of a submission that could not be graded: score 0, and why."""
    return Report.not_graded(Status.UNGRADABLE, reason, _empty_total(), staff_fields(bundle, seed))


def staff_failure_report(bundle, error, seed=None):
    """The result when the grader itself could not grade (its sandbox could not be made
    safe or could not start): score 0 for now, status ``incomplete``; the student reads
    only that it is the staff's problem, staff read ``error``."""
    return Report.not_graded(Status.INCOMPLETE, STAFF_FAILURE, _empty_total(),
                             staff_fields(bundle, seed, error=str(error)))


def sandbox_user_for_checks():
    """A sandbox user id for checking what such a user can reach (None when not root)."""
    return SANDBOX_UIDS.start if os.geteuid() == 0 else None


def preflight(unconfined=False):
    """Raise SandboxUnavailable, before any submission is graded, when this grader cannot
    confine submissions here (staff/grading/confinement.py says what to change; without
    root, ``unconfined`` accepts running them unconfined); build what the sandbox needs
    once (the interpreter mirror) otherwise."""
    confinement.plan(sandbox_user_for_checks(), GRADER_ROOT, unconfined)


# ----------------------------------------------------------------------------- the command

def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m staff.grading.autograde", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="bundle folder or submission zip, or an upload folder holding one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--output", metavar="REPORT_JSON", help="also write the JSON report to this file")
    add_grading_arguments(parser, "grade only these parts",
                          "the random inputs' seed, to replay a grading run exactly", "the submission")
    parser.add_argument("--gradescope", metavar="RESULTS_JSON",
                        help="also write the results in Gradescope's format to this file")
    parser.add_argument("--gradescope-hidden", nargs="*", choices=list(PARTS), metavar="PART",
                        help="with --gradescope: show the tests of these parts to students only after "
                             "the due date")
    parser.add_argument("--max-members", type=int, default=DEFAULT_MAX_MEMBERS,
                        help=f"most members a zip may hold (default {DEFAULT_MAX_MEMBERS})")
    parser.add_argument("--max-member-mib", type=int, default=DEFAULT_MAX_MEMBER_MIB,
                        help=f"largest unpacked member in MiB (default {DEFAULT_MAX_MEMBER_MIB})")
    parser.add_argument("--max-total-mib", type=int, default=DEFAULT_MAX_TOTAL_MIB,
                        help=f"largest unpacked zip in MiB (default {DEFAULT_MAX_TOTAL_MIB})")
    args = parser.parse_args(argv)
    intake_limits = IntakeLimits(args.max_members, args.max_member_mib, args.max_total_mib)
    try:
        preflight(args.unconfined)
        report = grade(args.bundle, parts=args.parts, limits=limits_of(args), intake_limits=intake_limits,
                       seed=args.seed, reference_timeout=args.reference_timeout,
                       total_timeout=args.total_timeout, unconfined=args.unconfined)
    except GradingError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return _finish(args, ungradable_report(args.bundle, str(error), args.seed), 2)
    except SandboxUnavailable as error:
        print(f"ERROR (staff side, nothing was graded): {error}", file=sys.stderr)
        return _finish(args, staff_failure_report(args.bundle, error, args.seed), 3)
    if report.status is Status.INCOMPLETE:
        print("WARNING: some parts are not gradable on this grader (staff configuration): "
              + "; ".join(part.reason for part in report.parts if part.status is Status.NOT_GRADABLE),
              file=sys.stderr)
    return _finish(args, report, 0)


def _finish(args, report, status):
    """Write the results asked for, print the staff report (or the JSON), return ``status``."""
    if args.output:
        Path(args.output).write_text(json.dumps(report.to_json(), indent=2))
    if args.gradescope:
        Path(args.gradescope).write_text(json.dumps(report.to_gradescope(args.gradescope_hidden or ()), indent=2))
    print(json.dumps(report.to_json(), indent=2) if args.json else report.to_staff_text())
    return status


if __name__ == "__main__":
    sys.exit(main())
