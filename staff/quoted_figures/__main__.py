"""The command line: python -m staff.quoted_figures check DIR | measure OUT_DIR [...]."""
import argparse
import sys

from . import __doc__ as PACKAGE_DOC
from .check import check
from .measure import measure
from .quotes import QUOTED_FIGURES


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m staff.quoted_figures", description=PACKAGE_DOC,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser("check", help="compare an executed run with the ranges")
    check_parser.add_argument("executed_dir")
    measure_parser = commands.add_parser("measure", help="run several seeds and thread counts")
    measure_parser.add_argument("out_dir")
    measure_parser.add_argument("notebooks", nargs="*")
    measure_parser.add_argument("--offsets", default="0,1,2")
    measure_parser.add_argument("--threads", default="1,2")
    measure_parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)

    if args.command == "measure":
        names = args.notebooks or sorted({figure.notebook for figure in QUOTED_FIGURES})
        measure(args.out_dir, names, [int(value) for value in args.offsets.split(",")],
                [int(value) for value in args.threads.split(",")], args.jobs)
        return 0
    rows, problems = check(args.executed_dir)
    for figure, value, ok in rows:
        print(f"{'ok ' if ok else 'BAD'} {figure.notebook:<26} {figure.what[:58]:<58} "
              f"{value:9.4g}  quoted {figure.low:g}-{figure.high:g}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(f"{len(rows)} quoted figures read, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
