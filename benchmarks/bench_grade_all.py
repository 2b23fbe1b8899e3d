"""Time batch grading (staff/grading/grade_all.py): submissions per minute at --jobs 1 and 2.

Usage::

    python benchmarks/bench_grade_all.py [--submissions N] [--jobs N ...] [--parts PART ...]
        [--with-notebooks] [--keep DIR]

Builds N submissions (default 20): copies of the solution's student files, half as
bundle folders and half as ``a2_code_submission.zip`` in a folder each, plus the
starter release and a broken zip among them (counted in N). The copies carry the
release's untouched framework notebooks, so the six core parts are graded, as for a
student who did not do the framework part; ``--with-notebooks`` gives them the
solution's notebooks, so PyTorch and TensorFlow are graded too (much slower: the
frameworks' imports dominate). Then grades the whole folder once per ``--jobs`` value
(default 1 and 2) into a fresh output folder, with one fixed seed, and prints the wall
time (including the reference solution's one run per seed), the submissions per
minute, the CPU time per submission (every process of the batch) with the rate that
allows on idle cores, the statuses and the CSV's first rows.
"""
import argparse
import csv
import os
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from staff.grading import grade_all
from staff.release import make_release
from tools.conventions import EXTENDABLE_FILES, FRAMEWORK_NOTEBOOKS, STUDENT_FILES

REPO_ROOT = Path(__file__).resolve().parent.parent


def bundle_copy(source, notebooks_from, root):
    for name in STUDENT_FILES + EXTENDABLE_FILES:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((source / name).read_bytes())
    (root / "cs231n" / "__init__.py").write_text("")
    for name in FRAMEWORK_NOTEBOOKS:
        if (notebooks_from / name).is_file():
            (root / name).write_bytes((notebooks_from / name).read_bytes())
    return root


def zip_of(folder, archive_path):
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())


def build(folder, count, with_notebooks):
    release = folder / "release"
    make_release(REPO_ROOT, release)
    submissions = folder / "submissions"
    notebooks = REPO_ROOT if with_notebooks else release
    staging = folder / "staging"
    for number in range(max(count - 2, 0)):
        name = f"student{number:03d}"
        if number % 2:
            bundle_copy(REPO_ROOT, notebooks, submissions / name)
        else:
            zip_of(bundle_copy(REPO_ROOT, notebooks, staging / name), submissions / name / "a2_code_submission.zip")
    if count >= 1:
        zip_of(bundle_copy(release, release, staging / "starter"), submissions / "starter.zip")
    if count >= 2:
        (submissions / "broken.zip").write_bytes(b"PK\x03\x04" + os.urandom(4000))
    return submissions


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--parts", nargs="+", help="grade only these parts")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--with-notebooks", action="store_true",
                        help="give the copies the solution's framework notebooks (grades PyTorch and TensorFlow)")
    parser.add_argument("--keep", help="build the submissions and outputs here instead of a temporary folder")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-grade-all-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        submissions = build(folder, args.submissions, args.with_notebooks)
        print(f"{args.submissions} submissions ({max(args.submissions - 2, 0)} solution copies, a release, "
              f"a broken zip) on {os.cpu_count()} cores; seed {args.seed}")
        for jobs in args.jobs:
            out = folder / f"out-jobs{jobs}"
            shutil.rmtree(out, ignore_errors=True)
            started, cpu = time.monotonic(), _children_cpu()
            summary = grade_all.grade_all(submissions, out, jobs=jobs, parts=args.parts, seed=args.seed,
                                          progress=False, log=lambda text: None)
            elapsed, cpu = time.monotonic() - started, _children_cpu() - cpu
            print(f"--jobs {jobs}: {summary['graded']} graded in {elapsed:.1f} s = "
                  f"{60 * summary['graded'] / elapsed:.1f} submissions per minute; statuses {summary['counts']}; "
                  f"CPU {cpu / summary['graded']:.2f} s per submission (all processes), so at most "
                  f"{60 * min(jobs, os.cpu_count()) * summary['graded'] / cpu:.0f} per minute on {min(jobs, os.cpu_count())} "
                  f"idle cores")
            print(f"  load average during the run: {os.getloadavg()[0]:.1f} (other jobs on this machine slow it)")
        with open(out / "grades.csv", newline="") as handle:
            rows = list(csv.reader(handle))
        print("grades.csv, first rows:")
        for row in rows[:4]:
            print("  " + ",".join(row))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
