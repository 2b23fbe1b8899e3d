#!/usr/bin/env bash
# Check the finished assignment and write a2_code_submission.zip and
# a2_inline_submission.pdf for upload; see python -m tools.collect, which runs the
# collector in .venv (or in the python on PATH where there is none, as on Colab).
# Usage: bash collectSubmission.sh [--force]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec python3 -m tools.collect "$@"
