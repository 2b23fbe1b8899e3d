#!/usr/bin/env bash
# The test command: set up .venv if needed, then run pytest; see python -m tools.run_tests,
# which does the work. Arguments go to pytest, e.g. tests/test_optim.py -x; --slow runs
# the slow tests too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-python3}" -m tools.run_tests "$@"
