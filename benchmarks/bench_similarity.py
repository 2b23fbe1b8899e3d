"""Time the similarity report (staff/similarity/) on a synthetic class.

Usage::

    python benchmarks/bench_similarity.py [--submissions N] [--copies N] [--jobs N]
        [--seed S] [--keep DIR]

Builds N synthetic submissions (default 300) from the starter release: every student
region gets, at random, the solution's code, one of a few differently written honest
answers (ALTERNATIVE_ANSWERS), freshly generated code of its own, or stays unattempted.
``--copies`` of the students (default 2) are planted: a disguised copy of another
student (every local name renamed, the code reformatted, comments and strings changed;
see ``disguise``). Then runs the report over the class and prints the pairs listed (and
how many for a region copied whole), the versions of a region many students share, the
time, the pairs per second, the peak memory of the main process and of the largest
worker, and whether the planted copies ranked first. ``--keep DIR`` writes the class and
the report there (DIR/class, DIR/report) instead of into a temporary folder.

The class is built by staff/similarity/synthetic.py, which the similarity tests build
their submissions with too.
"""
import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from staff.release import make_release
from staff.similarity.report import DEFAULT_DETAIL_PAIRS, write_outputs
from staff.similarity.run import analyse
from staff.similarity.synthetic import make_class, read_bundle

REPO_ROOT = Path(__file__).resolve().parent.parent


def _peak_mib(who):
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(who).ru_maxrss / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=300, help="class size (default 300)")
    parser.add_argument("--copies", type=int, default=2, help="planted disguised copies (default 2)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=231)
    parser.add_argument("--keep", type=Path, help="write the class and the report here")
    args = parser.parse_args(argv)
    if args.submissions < 2 or not 0 <= args.copies < args.submissions:
        parser.error("need at least 2 submissions and fewer copies than submissions")

    work = Path(tempfile.mkdtemp(prefix="bench-similarity-"))
    root = args.keep or work
    try:
        release = work / "release"
        make_release(REPO_ROOT, release)
        started = time.perf_counter()
        planted = make_class(root / "class", release, read_bundle(REPO_ROOT), args.submissions,
                             args.copies, args.seed)
        print(f"generated {args.submissions} submissions in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        started = time.perf_counter()
        report = analyse(root / "class", release, jobs=args.jobs)
        write_outputs(report, root / "report", DEFAULT_DETAIL_PAIRS, str(release))
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)

    pairs = len(report.scores)
    top = {frozenset((pair.first.entry.student, pair.second.entry.student)) for pair in report.pairs[: len(planted)]}
    print(f"submissions: {args.submissions} ({len(report.skipped)} skipped), jobs: {args.jobs}")
    print(f"pairs compared: {pairs}, listed: {len(report.pairs)} ({sum(pair.copied > 0 for pair in report.pairs)} "
          f"with a region copied whole); versions of a region shared by more than {report.common_limit} "
          f"submissions: {len(report.shared)}")
    print(f"time (read, fingerprint, compare, write): {elapsed:.1f} s, {pairs / elapsed:.0f} pairs/s")
    print(f"peak memory: main process {_peak_mib(resource.RUSAGE_SELF):.0f} MiB, "
          f"largest worker {_peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB")
    print("planted copies ranked first:", all(frozenset(pair) in top for pair in planted))
    if args.keep:
        print(f"class in {root / 'class'}, report in {root / 'report'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
