"""Similarity report across a class's submissions, the starter code excluded.

SUBMISSIONS is a folder with one subfolder (a bundle, or a zip inside) or one zip per
student, or Gradescope's "export submissions" folder. Each student's own code is
compared, function by function, with every other student's and with each reference
(``--reference``: earlier terms' submission folders, or past solutions); renamed
variables, reformatting and reworded comments hide nothing. DIR receives pairs.csv (the
listed pairs, ranked), shared_code.csv (code many submissions share), report.html (the
pairs side by side, the scores' histogram, the notes) and submission_notes.csv (the
submissions skipped, and how each was read).

Exit status: 0 when the report was written, 1 when the input is unusable (the message
says why).
"""
import argparse
import os
import sys
from pathlib import Path

from staff.similarity.report import DEFAULT_DETAIL_PAIRS, NOTES_CSV, SHARED_CSV, write_outputs
from staff.similarity.rules import (COMMON_FLOOR, DEFAULT_COMMON_SHARE, DEFAULT_COPIED_TOKENS, DEFAULT_MIN_TOKENS,
                                    DEFAULT_THRESHOLD, Rules, SimilarityError)
from staff.similarity.run import analyse


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m staff.similarity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", help="the class's submissions (the layouts above)")
    parser.add_argument("--out", required=True,
                        help=f"folder for pairs.csv, {SHARED_CSV}, report.html and {NOTES_CSV}")
    parser.add_argument("--release", help="the starter release folder (default: built from this repository)")
    parser.add_argument("--reference", nargs="+", default=[], metavar="PAST",
                        help="earlier terms' submission folders, or bundles or zips of known solutions")
    parser.add_argument("--min-tokens", type=int, default=DEFAULT_MIN_TOKENS,
                        help="smallest matching region of a pair listed above the threshold "
                             f"(default {DEFAULT_MIN_TOKENS})")
    parser.add_argument("--copied-tokens", type=int, default=DEFAULT_COPIED_TOKENS,
                        help="distinctive tokens a region copied whole must match on both sides to list "
                             f"its pair on its own (default {DEFAULT_COPIED_TOKENS})")
    parser.add_argument("--common-share", type=float, default=DEFAULT_COMMON_SHARE,
                        help="a fingerprint held by more than this share of the class's submissions "
                             f"(and more than {COMMON_FLOOR}) is common: it counts in the scores, not "
                             f"towards a region copied whole (default {DEFAULT_COMMON_SHARE})")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: one per CPU)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"similarity from which a pair is listed (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--detail-pairs", type=int, default=DEFAULT_DETAIL_PAIRS,
                        help=f"pairs shown side by side in the report (default {DEFAULT_DETAIL_PAIRS})")
    args = parser.parse_args(argv)
    try:
        rules = Rules(args.threshold, args.min_tokens, args.copied_tokens, args.common_share)
        report = analyse(args.submissions, args.release, args.reference, rules, max(1, args.jobs))
        write_outputs(report, args.out, args.detail_pairs, args.release or "a release built from this repository")
    except SimilarityError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    print(f"{len(report.pairs)} pair(s) listed of {len(report.scores)}; {len(report.shared)} version(s) "
          f"of a region shared by more than {report.common_limit} submissions; {report.counts()}; "
          f"wrote {Path(args.out) / 'report.html'}")
    return 0

