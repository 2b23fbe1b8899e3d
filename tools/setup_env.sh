#!/usr/bin/env bash
# Create or update the bundle's virtual environment: python -m tools.setup_env does the
# work (its docstring says how), run by $PYTHON (by default python3), which also creates
# the environment. Arguments: [--with-tensorflow] [--use-system-torch].
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec "${PYTHON:-python3}" -m tools.setup_env "$@"
