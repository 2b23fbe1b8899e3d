"""``python -m staff.release``: build the starter bundle (cli.py)."""
import sys

from staff.release.cli import main

sys.exit(main())
