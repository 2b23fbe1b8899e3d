#!/usr/bin/env bash
# Check the finished assignment and write a2_code_submission.zip and
# a2_inline_submission.pdf for upload. Exits non-zero, naming the problem, when a file
# is missing, a notebook was not run cleanly or an inline question is unanswered.
# Usage: bash collectSubmission.sh [--force]
set -euo pipefail
bundle_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${CS231N_VENV:-$bundle_root/.venv}"
if [ -x "$venv/bin/python" ]; then
    python="$venv/bin/python"
else
    # Colab and hand-made environments: the python on PATH.
    python="$(command -v python3 || command -v python)"
fi
cd "$bundle_root"
exec "$python" -m tools.collect_submission "$@"
