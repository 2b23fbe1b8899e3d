#!/usr/bin/env bash
# The main command: set up .venv, fetch CIFAR-10 if missing, then execute every
# notebook top to bottom in place. Arguments go to the notebook runner, e.g.
# --smoke for a quick pass, or the names of the notebooks to run.
set -euo pipefail
bundle_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CS231N_VENV:-$bundle_root/.venv}"
bash "$bundle_root/tools/setup_env.sh"
cd "$bundle_root"
"$venv/bin/python" -m cs231n.datasets.download
exec "$venv/bin/python" -m tools.run_notebooks "$@"
