"""Moved to ``python -m staff.autograde`` (staff/autograde.py), with the other staff tools.

This alias keeps the old command working for the 2026.1 cycle and goes with the next one.
"""
import sys

from staff.autograde import grade, main  # noqa: F401 (the old names)

if __name__ == "__main__":
    print("note: tools.autograde has moved; run python -m staff.autograde", file=sys.stderr)
    sys.exit(main())
