#!/usr/bin/env bash
# The main command: set up .venv, fetch CIFAR-10 if missing, run every notebook; see
# python -m tools.run_all, which does the work. Arguments go to it, e.g. --smoke, the
# names of notebooks to run, --with-tensorflow.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-python3}" -m tools.run_all "$@"
