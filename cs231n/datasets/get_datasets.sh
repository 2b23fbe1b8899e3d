#!/usr/bin/env bash
# Download CIFAR-10 into $CIFAR10_DIR (default: cs231n/datasets/cifar-10-batches-py),
# verifying its checksum, unless it is already there. Works from any directory; extra
# arguments go to the Python downloader (see --help), e.g. --archive FILE to use a
# copy of cifar-10-python.tar.gz that you downloaded yourself.
set -euo pipefail
bundle_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${PYTHON:-python3}"
if [ -x "$bundle_root/.venv/bin/python" ]; then python="$bundle_root/.venv/bin/python"; fi
cd "$bundle_root"
exec "$python" -m cs231n.datasets.download "$@"
