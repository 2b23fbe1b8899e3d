"""Moved to ``python -m staff.release`` (staff/release.py), with the other staff tools.

This alias keeps the old command working for the 2026.1 cycle and goes with the next one.
"""
import sys

from staff.release import ReleaseError, main, make_release  # noqa: F401 (the old names)

if __name__ == "__main__":
    print("note: tools.make_release has moved; run python -m staff.release", file=sys.stderr)
    sys.exit(main())
