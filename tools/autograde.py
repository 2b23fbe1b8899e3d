"""Grade a bundle with the project's test suite and print a score per part.

    python -m tools.autograde BUNDLE [--json] [--parts NAME ...] [--tests DIR] [--reference DIR]

BUNDLE is a bundle folder (the solution, a starter release) or a submission zip. The
tests always come from the grader: by default the ``tests/`` folder next to this script,
so a student's zip needs no tests of its own and cannot bring easier ones. The bundle's
``cs231n`` package and notebooks are copied with those tests into a fresh folder, and
pytest runs there in a subprocess whose import path holds only that folder; a guard
plugin drops the import hooks of editable installs and the grading fails if any
``cs231n`` module was loaded from elsewhere. The compiled extension is optional: without
it the fast layers fall back to NumPy.

A part's score is its passed tests over its graded tests. Tests that already pass on the
starter code (the reference solution with every student region stubbed, run the same
way and at the same time) check given scaffolding such as input validation, not student
work, so they are not counted; nor are skipped tests, which are listed. A test file that
fails to import counts every test the starter code collects from it as failed.

The exit status is 0 whenever grading ran, whatever the score, and 2 when it could not.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from .make_release import ReleaseError, release_notebook, stub_regions

GRADER_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "cs231n"
# Part name -> the test files that grade it, in report order.
PARTS = {
    "FC layers": ("test_fc_layers.py", "test_fc_net.py"),
    "optimizers": ("test_optim.py",),
    "solver": ("test_solver.py",),
    "batch norm": ("test_batchnorm.py", "test_spatial_norm.py"),
    "dropout": ("test_dropout.py",),
    "convolution": ("test_conv_layers.py", "test_fast_layers.py", "test_cnn.py"),
    "PyTorch models": ("test_pytorch.py",),
}
# Data and build folders inside the package that grading never needs.
SKIPPED_IN_PACKAGE = ("__pycache__", "build", "cifar-10-batches-py", "*.tar.gz", "*.partial", ".cifar-10-*")

GUARD_PLUGIN = '''
"""Loaded into the grading pytest run: isolates the bundle and records every outcome."""
import json
import os
import sys
from pathlib import Path

GRADING_ROOT = Path(os.environ["AUTOGRADE_ROOT"]).resolve()
# Editable installs add import hooks that map "cs231n" to another checkout; drop them.
sys.meta_path[:] = [
    finder for finder in sys.meta_path
    if "__editable__" not in getattr(finder, "__module__", "")
]
outcomes, collection_errors, messages = {}, {}, {}


def pytest_collectreport(report):
    if report.failed:
        collection_errors[report.nodeid] = str(report.longrepr)[-1500:]


def pytest_runtest_logreport(report):
    if report.failed:
        outcomes[report.nodeid] = "failed"
        lines = [line for line in report.longreprtext.splitlines() if line.strip()]
        messages.setdefault(report.nodeid, lines[-1][-300:] if lines else "")
    elif report.when == "call" and outcomes.get(report.nodeid) != "failed":
        outcomes[report.nodeid] = report.outcome
    elif report.skipped:
        outcomes.setdefault(report.nodeid, "skipped")


def pytest_sessionfinish(session, exitstatus):
    foreign = {}
    for name, module in list(sys.modules.items()):
        location = getattr(module, "__file__", None)
        if name.split(".")[0] == "cs231n" and location:
            if not Path(location).resolve().is_relative_to(GRADING_ROOT):
                foreign[name] = location
    with open(os.environ["AUTOGRADE_RESULTS"], "w") as handle:
        json.dump({"outcomes": outcomes, "collection_errors": collection_errors,
                   "messages": messages, "foreign_modules": foreign}, handle)
'''


class GradingError(Exception):
    """The bundle could not be graded at all (not a bundle, foreign imports, ...)."""


def _bundle_root(folder):
    """The folder holding the ``cs231n`` package: ``folder`` itself or one level below."""
    folder = Path(folder).resolve()
    if (folder / PACKAGE / "__init__.py").is_file():
        return folder
    candidates = [child for child in folder.iterdir() if (child / PACKAGE / "__init__.py").is_file()]
    if len(candidates) == 1:
        return candidates[0]
    raise GradingError(f"no {PACKAGE}/__init__.py found in {folder} (nor one folder below)")


def _extract_zip(archive_path, folder):
    with zipfile.ZipFile(archive_path) as archive:
        for member in archive.namelist():
            target = (Path(folder) / member).resolve()
            if not target.is_relative_to(Path(folder).resolve()):
                raise GradingError(f"{archive_path}: member {member!r} points outside the archive")
        archive.extractall(folder)


def _test_files(tests_dir, parts):
    files = {}
    for part in parts:
        paths = [Path(tests_dir) / name for name in PARTS[part]]
        missing = [path.name for path in paths if not path.is_file()]
        if missing:
            raise GradingError(
                f"the grader's tests for {part!r} are missing: {', '.join(missing)} in {tests_dir}"
            )
        files[part] = paths
    return files


def _start_pytest(root, test_names):
    """Start pytest on ``tests/<name>`` inside ``root``, logging to a file there."""
    environment = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "PYTEST"))
    }
    environment.update(
        PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1", MPLBACKEND="Agg",
        AUTOGRADE_ROOT=str(root), AUTOGRADE_RESULTS=str(root / "autograde_results.json"),
    )
    command = [
        sys.executable, "-m", "pytest", "-p", "_autograde_guard", "-p", "no:cacheprovider",
        "-q", "--no-header", "--tb=line", "-o", "addopts=", "--rootdir", str(root),
        *[f"tests/{name}" for name in test_names],
    ]
    with open(root / "autograde_log.txt", "w") as log:
        return subprocess.Popen(command, cwd=root, env=environment, stdout=log, stderr=subprocess.STDOUT)


def _finish_pytest(process, root, deadline):
    """Wait for a run started by _start_pytest and return the guard plugin's record."""
    try:
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise GradingError("the tests ran past the time limit") from None
    results = root / "autograde_results.json"
    if not results.is_file():
        log = (root / "autograde_log.txt").read_text()[-4000:]
        raise GradingError(f"pytest did not finish (exit {process.returncode}):\n{log}")
    return json.loads(results.read_text())


def _run_in_parallel(roots, test_names, timeout):
    """Run the same tests in each root at once; return the records in the same order."""
    deadline = time.monotonic() + timeout
    processes = [_start_pytest(root, test_names) for root in roots]
    try:
        return [_finish_pytest(process, root, deadline) for process, root in zip(processes, roots)]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def _workspace(folder, bundle_root, tests_dir, stub=False):
    """A grading folder: the bundle's package and notebooks, the tests, the guard plugin.

    The notebooks come along because some tests exercise the code they define. With
    ``stub``, every student region becomes its starter placeholder (the baseline run).
    """
    skipped = shutil.ignore_patterns(*SKIPPED_IN_PACKAGE)
    shutil.copytree(bundle_root / PACKAGE, folder / PACKAGE, ignore=skipped)
    for notebook in sorted(bundle_root.glob("*.ipynb")):
        shutil.copy2(notebook, folder / notebook.name)
    if stub:
        import nbformat

        for path in (folder / PACKAGE).rglob("*.py"):
            path.write_text(stub_regions(path.read_text(), path.relative_to(folder).as_posix()))
        for path in folder.glob("*.ipynb"):
            nbformat.write(release_notebook(nbformat.read(path, as_version=4), path.name), path)
    shutil.copytree(tests_dir, folder / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "_autograde_guard.py").write_text(GUARD_PLUGIN)
    # The tests find the partial CIFAR-10 copy in shared/ two levels above themselves;
    # link it at the same place relative to the copied tests.
    shared = tests_dir.parent.parent / "shared"
    if shared.is_dir() and not (folder.parent / "shared").exists():
        (folder.parent / "shared").symlink_to(shared, target_is_directory=True)
    return folder


def _bundle_source(bundle, workspace):
    """The root of the bundle to grade, extracting it first when it is a zip."""
    bundle = Path(bundle)
    if bundle.is_file() and zipfile.is_zipfile(bundle):
        extracted = workspace / "submission"
        _extract_zip(bundle, extracted)
        source = _bundle_root(extracted)
    elif bundle.is_dir():
        source = _bundle_root(bundle)
    else:
        raise GradingError(f"{bundle} is neither a bundle folder nor a zip file")
    return source


def _file_outcomes(record, file_name):
    return {
        nodeid: outcome for nodeid, outcome in record["outcomes"].items()
        if nodeid.split("::")[0].rsplit("/", 1)[-1] == file_name
    }


def _broken_files(record):
    return {nodeid.rsplit("/", 1)[-1] for nodeid in record["collection_errors"]}


def grade(bundle, parts=None, tests_dir=None, reference=None, timeout=3600):
    """Grade ``bundle`` and return the report as a dictionary (see ``--json``).

    ``reference`` is the solution bundle whose starter version (its package with every
    student region stubbed) sets the baseline: tests that pass on it are not counted.
    """
    parts = list(parts or PARTS)
    unknown = [part for part in parts if part not in PARTS]
    if unknown:
        raise GradingError(f"unknown parts {unknown}; choose from {list(PARTS)}")
    tests_dir = Path(tests_dir or GRADER_ROOT / "tests").resolve()
    reference = _bundle_root(reference or GRADER_ROOT)
    files = _test_files(tests_dir, parts)
    names = [path.name for part in parts for path in files[part]]
    with tempfile.TemporaryDirectory(prefix="autograde-") as workspace:
        workspace = Path(workspace)
        source = _bundle_source(bundle, workspace)
        graded = _workspace(workspace / "grading", source, tests_dir)
        try:
            starter = _workspace(workspace / "baseline", reference, tests_dir, stub=True)
        except ReleaseError as error:
            raise GradingError(f"the reference bundle has no valid starter version: {error}") from None
        record, baseline = _run_in_parallel([graded, starter], names, timeout)
    for run in (record, baseline):
        if run["foreign_modules"]:
            listing = ", ".join(f"{name} from {where}" for name, where in run["foreign_modules"].items())
            raise GradingError(f"the tests imported code from outside the bundle: {listing}")

    broken, broken_in_baseline = _broken_files(record), _broken_files(baseline)
    report = {"bundle": str(Path(bundle).resolve()), "package": str(source / PACKAGE),
              "reference": str(reference), "parts": []}
    for part in parts:
        entry = {"name": part, "passed": 0, "failed": 0, "skipped": 0, "not_graded": 0,
                 "failed_tests": [], "failure_messages": {}, "skipped_tests": [], "broken_files": []}
        for path in files[part]:
            starter_outcomes = _file_outcomes(baseline, path.name)
            given = {nodeid for nodeid, outcome in starter_outcomes.items() if outcome == "passed"}
            entry["not_graded"] += len(given)
            if path.name in broken:
                # The file did not import: every test the starter code collects fails.
                entry["broken_files"].append(path.name)
                graded_count = len(starter_outcomes) - len(given)
                entry["failed"] += graded_count if path.name not in broken_in_baseline else 1
                continue
            for nodeid, outcome in _file_outcomes(record, path.name).items():
                if nodeid in given:
                    continue
                if outcome == "passed":
                    entry["passed"] += 1
                elif outcome == "failed":
                    entry["failed"] += 1
                    entry["failed_tests"].append(nodeid)
                    entry["failure_messages"][nodeid] = record["messages"].get(nodeid, "")
                else:
                    entry["skipped"] += 1
                    entry["skipped_tests"].append(nodeid)
        entry["total"] = entry["passed"] + entry["failed"]
        entry["score"] = entry["passed"] / entry["total"] if entry["total"] else 0.0
        report["parts"].append(entry)
    passed = sum(entry["passed"] for entry in report["parts"])
    total = sum(entry["total"] for entry in report["parts"])
    report["total"] = {"passed": passed, "total": total, "score": passed / total if total else 0.0}
    return report


def format_report(report, failures_shown=5):
    """The human-readable score table, then each part's first failed and skipped tests."""
    lines = [f"Graded {report['bundle']}", f"(package under test: {report['package']})", ""]
    lines.append(f"{'part':<16}{'passed':>8}{'total':>8}{'score':>9}   not counted (pass on starter code)")
    for entry in report["parts"]:
        lines.append(
            f"{entry['name']:<16}{entry['passed']:>8}{entry['total']:>8}{entry['score']:>9.1%}"
            f"   {entry['not_graded']}"
        )
    total = report["total"]
    lines.append(f"{'total':<16}{total['passed']:>8}{total['total']:>8}{total['score']:>9.1%}")
    for entry in report["parts"]:
        notes = [f"  {name}: could not be imported" for name in entry["broken_files"]]
        notes += [
            f"  failed: {nodeid}\n      {entry['failure_messages'][nodeid]}"
            for nodeid in entry["failed_tests"][:failures_shown]
        ]
        hidden = len(entry["failed_tests"]) - failures_shown
        if hidden > 0:
            notes.append(f"  ... and {hidden} more failed")
        notes += [f"  skipped (not counted): {nodeid}" for nodeid in entry["skipped_tests"][:failures_shown]]
        hidden = len(entry["skipped_tests"]) - failures_shown
        if hidden > 0:
            notes.append(f"  ... and {hidden} more skipped")
        if notes:
            lines += ["", f"{entry['name']}:"] + notes
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="bundle folder or submission zip")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), help="grade only these parts")
    parser.add_argument("--tests", help="the tests folder to grade with (default: the grader's tests/)")
    parser.add_argument("--reference",
                        help="the solution bundle that sets the baseline (default: the grader's)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds allowed for the test run")
    args = parser.parse_args(argv)
    try:
        report = grade(args.bundle, parts=args.parts, tests_dir=args.tests,
                       reference=args.reference, timeout=args.timeout)
    except GradingError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
