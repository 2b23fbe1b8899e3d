#!/usr/bin/env bash
# The test command: set up .venv as the main command does, then run the test suite.
# Arguments go to pytest, e.g. tests/test_data_utils.py or -k downloader.
set -euo pipefail
bundle_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CS231N_VENV:-$bundle_root/.venv}"
bash "$bundle_root/tools/setup_env.sh"
cd "$bundle_root"
exec "$venv/bin/python" -m pytest "$@"
