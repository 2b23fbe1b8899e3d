"""Measuring the quoted ranges: the notebooks run with their random seeds shifted and at
several thread counts, and each quoted figure's lowest and highest value printed beside
its range."""
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from cs231n.run_figures import recording_figures
from tools.cells import cell_source

from .check import BUNDLE_ROOT, check
from .quotes import QUOTED_FIGURES

_SEED_CALL = re.compile(r"\b(np\.random\.seed|torch\.manual_seed|tf\.keras\.utils\.set_random_seed)\((\d+)\)")


def reseeded(notebook, offset):
    """A copy of notebook with every literal seed of its code cells shifted by offset."""
    copy = nbformat.from_dict(notebook)
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.source = _SEED_CALL.sub(
                lambda match: f"{match.group(1)}({int(match.group(2)) + offset})", cell_source(cell))
    return copy


def execute_reseeded(names, offset, out_dir):
    """Execute the named notebooks, reseeded by offset, into out_dir with the figures they
    record (in this process's environment, so the caller sets the thread count)."""
    import papermill

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            source = Path(scratch) / name
            nbformat.write(reseeded(nbformat.read(BUNDLE_ROOT / name, as_version=4), offset), source)
            with recording_figures(out_dir / name):
                papermill.execute_notebook(str(source), str(out_dir / name), cwd=str(BUNDLE_ROOT),
                                           progress_bar=False)


def _thread_environment(threads):
    environment = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        environment[variable] = str(threads)
    return environment


def measure(out_dir, names, offsets, thread_counts, jobs):
    """Run every (offset, threads) setting, then print each figure's lowest and highest value."""
    settings = [(offset, threads) for threads in thread_counts for offset in offsets]

    def run(setting):
        offset, threads = setting
        target = Path(out_dir) / f"offset{offset}-threads{threads}"
        # Each setting runs in a process of its own (this module as a script, below) whose
        # environment, with the setting's thread count, the notebooks' kernels inherit.
        command = [sys.executable, "-m", "staff.quoted_figures.measure", str(target), str(offset), *names]
        completed = subprocess.run(command, cwd=BUNDLE_ROOT, env=_thread_environment(threads),
                                   capture_output=True, text=True, check=False)
        print(f"seed offset {offset}, {threads} thread(s): "
              + ("done" if completed.returncode == 0 else f"failed\n{completed.stderr[-2000:]}"),
              flush=True)
        return target

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        targets = list(pool.map(run, settings))
    values = {}
    for target in targets:
        for figure, value, _ in check(target)[0]:
            values.setdefault(figure, []).append(value)
    print(f"\n{'figure':<62} {'lowest':>8} {'highest':>8}  quoted range")
    for figure in QUOTED_FIGURES:
        if figure.notebook not in names:
            continue
        seen = values.get(figure, [])
        if not seen:
            print(f"{figure.what:<62} {'-':>8} {'-':>8}  {figure.low:g}-{figure.high:g} (not read)")
            continue
        ok = all(figure.low <= value <= figure.high for value in seen)
        print(f"{figure.what[:62]:<62} {min(seen):8.4g} {max(seen):8.4g}  {figure.low:g}-{figure.high:g}"
              f"{'' if ok else '  OUTSIDE'}")


if __name__ == "__main__":
    # The child of one (offset, threads) setting: OUT_DIR OFFSET NOTEBOOK...
    execute_reseeded(sys.argv[3:], int(sys.argv[2]), sys.argv[1])
