#!/usr/bin/env bash
# Create the bundle's virtual environment (.venv, or $CS231N_VENV) and install
# requirements.txt plus the cs231n package (editable, which compiles the Cython
# extension). A second run reuses the environment and reinstalls only when
# requirements.txt, pyproject.toml, setup.py or the Cython source changed.
# --with-tensorflow also installs the optional TensorFlow extra (pyproject.toml) for
# TensorFlow.ipynb; without it an extra installed earlier is left in place.
set -euo pipefail
with_tensorflow=0
for arg in "$@"; do
    case "$arg" in
        --with-tensorflow) with_tensorflow=1 ;;
        *) echo "usage: bash tools/setup_env.sh [--with-tensorflow]" >&2; exit 2 ;;
    esac
done
bundle_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CS231N_VENV:-$bundle_root/.venv}"
base_python="${PYTHON:-python3}"
cd "$bundle_root"

if ! "$base_python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "error: $base_python is missing or older than Python 3.10; set PYTHON to a newer one." >&2
    exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
    echo "Creating the virtual environment in $venv"
    "$base_python" -m venv "$venv" || {
        echo "error: could not create $venv (on Debian/Ubuntu: apt-get install python3-venv)." >&2
        exit 1
    }
fi

stamp="$venv/.cs231n-install-stamp"
wanted="$("$base_python" -c 'import hashlib, sys
digest = hashlib.sha256()
for name in sys.argv[1:]:
    digest.update(open(name, "rb").read())
print(digest.hexdigest())' requirements.txt pyproject.toml setup.py cs231n/im2col_cython.pyx)"
tensorflow_stamp="$venv/.cs231n-tensorflow-stamp"
tensorflow_ready() {
    [ "$(cat "$tensorflow_stamp" 2>/dev/null)" = "$wanted" ] \
        && "$venv/bin/python" -c 'import importlib.util, sys
sys.exit(importlib.util.find_spec("tensorflow") is None)' 2>/dev/null
}
# Reinstalling also rebuilds the extension, should its compiled file have gone missing.
if [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] \
    && "$venv/bin/python" -c 'import cs231n.im2col_cython' 2>/dev/null; then
    echo "Environment $venv is up to date."
else
    echo "Installing requirements into $venv (the first time takes a few minutes: PyTorch is large)"
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r requirements.txt
    # The package and, when asked for, its TensorFlow extra in one step, so the extension
    # is built once. No build isolation: Cython and setuptools are installed already.
    package="."
    if [ "$with_tensorflow" = 1 ]; then
        package=".[tensorflow]"
        echo "Installing the TensorFlow extra too (about 1.4 GB)"
    fi
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet --no-build-isolation -e "$package"
    echo "$wanted" > "$stamp"
    if [ "$with_tensorflow" = 1 ]; then
        echo "$wanted" > "$tensorflow_stamp"
    fi
    echo "Environment $venv is ready."
fi

if [ "$with_tensorflow" = 1 ]; then
    if tensorflow_ready; then
        echo "The TensorFlow extra is installed."
    else
        echo "Installing the TensorFlow extra into $venv (about 1.4 GB, a minute or two)"
        rm -f "$tensorflow_stamp"
        "$venv/bin/python" -m pip install --disable-pip-version-check --quiet --no-build-isolation -e ".[tensorflow]"
        echo "$wanted" > "$tensorflow_stamp"
        echo "The TensorFlow extra is ready."
    fi
fi
