"""Execute the assignment notebooks headlessly, in order, with papermill.

Usage: ``python -m tools.run_notebooks [--smoke] [--output-dir DIR] [NOTEBOOK ...]``

By default the assignment notebooks run in place, top to bottom, in full. ``--smoke``
sets ``SMOKE = True`` through each notebook's cell tagged ``parameters`` (papermill's
convention): every cell still runs, on a fraction of the work. A notebook that needs an
optional package which is not installed (TensorFlow.ipynb without TensorFlow) is skipped
with a line saying so and how to install it. A failing notebook is reported with its
failing cell, the others still run, and the exit status is non-zero. So is a check that
printed FAILED (its error over its bound): the notebook goes on, and the summary lists
every failed check by notebook and section. The figures a notebook records by name
(cs231n/run_figures.py) are kept in the executed notebook's metadata.
"""
import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError

from cs231n.run_figures import recording_figures

from .conventions import INJECTED_PARAMETERS_TAG, NOTEBOOKS, smoke_parameters
from .tasks import failed_check_lines

BUNDLE_ROOT = Path(__file__).resolve().parent.parent

# Notebooks that need an optional package: notebook name -> (module, how to install it).
OPTIONAL_REQUIREMENTS = {
    "TensorFlow.ipynb": ("tensorflow", "pip install -e '.[tensorflow]', "
                                       "or bash tools/run_all.sh --with-tensorflow"),
}


def format_duration(seconds):
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def describe_failure(exc):
    """One line naming the failing cell, from papermill's execution error."""
    if isinstance(exc, PapermillExecutionError):
        first_line = exc.source.strip().splitlines()[0] if exc.source.strip() else ""
        return (f"cell {exc.cell_index + 1} (execution count {exc.exec_count}, "
                f"starting {first_line!r}): {exc.ename}: {exc.evalue}")
    return f"{type(exc).__name__}: {exc}"


def without_injected_parameters(path):
    """The notebook at path minus any parameters cell that papermill injected earlier.

    A smoke run in place leaves papermill's `SMOKE = True` cell behind; dropping it makes
    every run start from the notebook's own parameters cell.
    """
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [cell for cell in notebook.cells
                      if INJECTED_PARAMETERS_TAG not in cell.metadata.get("tags", [])]
    return notebook


def missing_requirement(path):
    """Why the notebook at path cannot run in this environment, or None when it can.

    The kernel runs in this same environment, so a module this interpreter cannot find
    is missing for the notebook too.
    """
    requirement = OPTIONAL_REQUIREMENTS.get(Path(path).name)
    if requirement is None:
        return None
    module, install = requirement
    if importlib.util.find_spec(module) is not None:
        return None
    return f"needs {module}, which is not installed (install it with: {install})"


def saved_failed_checks(name, output):
    """The failed checks of an executed notebook, one line each; none when it was not written."""
    if not Path(output).is_file():
        return []
    return failed_check_lines(name, nbformat.read(output, as_version=4).cells)


def run_notebook(path, output, smoke, cell_timeout):
    """Execute one notebook; returns None on success or a description of the failure."""
    parameters = smoke_parameters(smoke)
    try:
        with recording_figures(output):
            papermill.execute_notebook(
                without_injected_parameters(path), str(output), parameters=parameters,
                cwd=str(path.parent),
                kernel_name="python3", progress_bar=True, execution_timeout=cell_timeout,
            )
    except Exception as exc:  # a failure in one notebook must not hide the others
        return describe_failure(exc)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: the assignment notebooks that exist)")
    parser.add_argument("--smoke", action="store_true",
                        help="quick run: SMOKE = True in every notebook's parameters cell")
    parser.add_argument("--output-dir", type=Path,
                        help="write executed copies here instead of running in place")
    parser.add_argument("--cell-timeout", type=int, default=None,
                        help="seconds one cell may run before it counts as failed (default: no limit)")
    args = parser.parse_args(argv)

    notebooks = args.notebooks or [BUNDLE_ROOT / name for name in NOTEBOOKS
                                   if (BUNDLE_ROOT / name).exists()]
    missing = [str(path) for path in notebooks if not Path(path).is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.output_dir:
        args.output_dir.mkdir(parents=True, exist_ok=True)

    mode = "smoke" if args.smoke else "full"
    results, skipped, checks = [], [], []
    for index, path in enumerate(notebooks, start=1):
        path = Path(path).resolve()
        output = (args.output_dir.resolve() / path.name) if args.output_dir else path
        missing = missing_requirement(path)
        if missing:
            print(f"[{index}/{len(notebooks)}] {path.name}: skipped, it {missing}", flush=True)
            skipped.append((path.name, missing))
            continue
        print(f"[{index}/{len(notebooks)}] {path.name} ({mode} mode)", flush=True)
        start = time.perf_counter()
        failure = run_notebook(path, output, args.smoke, args.cell_timeout)
        elapsed = time.perf_counter() - start
        status = "ok" if failure is None else "FAILED"
        print(f"[{index}/{len(notebooks)}] {path.name}: {status} in {format_duration(elapsed)}", flush=True)
        if failure:
            print(f"    {path.name}: {failure}", file=sys.stderr, flush=True)
        results.append((path.name, output, elapsed, failure))
        checks += saved_failed_checks(path.name, output)

    print("\nSummary")
    for name, output, elapsed, failure in results:
        print(f"  {'ok    ' if failure is None else 'FAILED'} {format_duration(elapsed):>7}  {output}")
    for name, missing in skipped:
        print(f"  skipped {name}: it {missing}")
    total = sum(elapsed for _, _, elapsed, _ in results)
    failed = [name for name, _, _, failure in results if failure]
    if results:
        location = os.path.commonpath([str(output.parent) for _, output, _, _ in results])
        print(f"  total {format_duration(total)}; the executed notebooks are in {location}")
    if checks:
        print(f"\n{len(checks)} failed check(s); the notebooks went on past them:")
        for line in checks:
            print(f"  {line}")
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed or checks else 0


if __name__ == "__main__":
    sys.exit(main())
