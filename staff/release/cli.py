"""Build the student starter bundle from this solution bundle.

Student code regions become raising placeholders, solution-only blocks and cells go,
answers are blanked and outputs cleared; the student guide (docs/student_guide.md)
becomes the README; staff material stays out; symbolic links are skipped, each named.
Exit status: 0 on success, 1 when the release could not be built (the message says why
and where).
"""
import argparse
import sys
from pathlib import Path

from staff.release.build import make_release
from staff.release.files import ReleaseError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m staff.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", help="folder for the starter bundle (new or empty)")
    parser.add_argument("--source", default=Path(__file__).resolve().parents[2],
                        help="the solution bundle (default: the one holding this script)")
    args = parser.parse_args(argv)
    try:
        changed, skipped_links = make_release(args.source, args.out_dir)
    except ReleaseError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    print(f"Wrote the starter bundle to {args.out_dir}; stubbed or cleared:")
    for name in changed:
        print(f"  {name}")
    for name in skipped_links:
        print(f"Skipped the symbolic link {name}: a release holds only the bundle's own files.")
    return 0
