"""The command-line flags that grading one submission (staff/grading/autograde.py) and a
class (staff/grading/grade_all.py) share: the parts, the random seed, the budgets and
--unconfined, with the seed checked as it is read."""
import argparse

from .rubric import PARTS
from .sandbox import (DEFAULT_CHECK_TIMEOUT, DEFAULT_PART_TIMEOUT, DEFAULT_REFERENCE_TIMEOUT, DEFAULT_TOTAL_TIMEOUT,
                      Limits)

# A seed is handed to NumPy's generators, which take up to 64 bits; signed for JSON readers.
SEED_LIMIT = 2**63


def seed_value(text):
    """A --seed argument: an integer in [0, SEED_LIMIT)."""
    seed = int(text)
    if not 0 <= seed < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**63 - 1, not {seed}")
    return seed


def add_grading_arguments(parser, parts_help, seed_help, whose):
    """Add the shared flags to ``parser``; ``whose`` names what --unconfined lets run
    ("the submission", "submissions")."""
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), metavar="PART",
                        help=f"{parts_help}, out of: {', '.join(PARTS)}")
    parser.add_argument("--seed", type=seed_value, help=seed_help)
    parser.add_argument("--timeout", type=int, default=DEFAULT_PART_TIMEOUT,
                        help="wall-clock budget in seconds of each part of a submission, and each "
                             f"sandboxed process's CPU limit (default {DEFAULT_PART_TIMEOUT})")
    parser.add_argument("--check-timeout", type=int, default=DEFAULT_CHECK_TIMEOUT,
                        help=f"seconds one check of a submission may run (default {DEFAULT_CHECK_TIMEOUT})")
    parser.add_argument("--reference-timeout", type=int, default=DEFAULT_REFERENCE_TIMEOUT,
                        help=f"seconds the solution's run of one part may take "
                             f"(default {DEFAULT_REFERENCE_TIMEOUT})")
    parser.add_argument("--total-timeout", type=int, default=DEFAULT_TOTAL_TIMEOUT,
                        help=f"seconds for a whole submission, after which unfinished checks fail "
                             f"(default {DEFAULT_TOTAL_TIMEOUT})")
    parser.add_argument("--unconfined", action="store_true",
                        help=f"without root and without user namespaces, grade anyway: {whose} can "
                             "then read whatever this user can (only for code you trust)")


def limits_of(args):
    """The sandbox's limits the flags ask for."""
    return Limits(timeout=args.timeout, check_timeout=args.check_timeout)
