#!/usr/bin/env bash
# The main command: set up .venv, fetch CIFAR-10 if missing, then execute every
# notebook top to bottom in place. --with-tensorflow installs the optional TensorFlow
# extra first, so that TensorFlow.ipynb runs too (the runner skips it while TensorFlow
# is missing). Other arguments go to the notebook runner, e.g. --smoke for a quick
# pass, or the names of the notebooks to run.
set -euo pipefail
bundle_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CS231N_VENV:-$bundle_root/.venv}"
setup_args=()
runner_args=()
for arg in "$@"; do
    if [ "$arg" = "--with-tensorflow" ]; then
        setup_args+=("$arg")
    else
        runner_args+=("$arg")
    fi
done
# The ${name[@]+...} form keeps bash 3.2 (macOS) from failing on an empty array under set -u.
bash "$bundle_root/tools/setup_env.sh" ${setup_args[@]+"${setup_args[@]}"}
cd "$bundle_root"
"$venv/bin/python" -m cs231n.datasets.download
exec "$venv/bin/python" -m tools.run_notebooks ${runner_args[@]+"${runner_args[@]}"}
