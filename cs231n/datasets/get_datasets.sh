#!/usr/bin/env bash
# Download CIFAR-10 into $CIFAR10_DIR (default: cs231n/datasets/cifar-10-batches-py),
# verifying its checksum, unless it is already there. Works from any directory; extra
# arguments go to the Python downloader (see --help), e.g. --archive FILE to use a
# copy of cifar-10-python.tar.gz that you downloaded yourself. Relative paths (FILE,
# --dest DIR, $CIFAR10_DIR) are taken from the directory you run this in.
set -euo pipefail
bundle_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The bundle's environment (tools/setup_env.sh: .venv, or $CS231N_VENV) when it exists.
venv="${CS231N_VENV:-$bundle_root/.venv}"
python="${PYTHON:-python3}"
if [ -x "$venv/bin/python" ]; then python="$venv/bin/python"; fi

# The downloader runs from the bundle root (so that it imports this bundle's cs231n),
# so paths relative to the caller's directory are made absolute first.
absolute() {
    case "$1" in
        /*|"~"*) printf '%s' "$1" ;;
        *) printf '%s/%s' "$PWD" "$1" ;;
    esac
}
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --archive|--dest)
            if [ $# -ge 2 ]; then args+=("$1" "$(absolute "$2")"); shift 2; else args+=("$1"); shift; fi ;;
        --archive=*|--dest=*)
            args+=("${1%%=*}=$(absolute "${1#*=}")"); shift ;;
        *)
            args+=("$1"); shift ;;
    esac
done
if [ -n "${CIFAR10_DIR:-}" ]; then export CIFAR10_DIR="$(absolute "$CIFAR10_DIR")"; fi
cd "$bundle_root"
exec "$python" -m cs231n.datasets.download ${args[@]+"${args[@]}"}
