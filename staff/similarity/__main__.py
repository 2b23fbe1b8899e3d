"""``python -m staff.similarity``: the similarity report's command (cli.py)."""
import sys

from staff.similarity.cli import main

sys.exit(main())
