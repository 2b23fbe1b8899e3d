#!/usr/bin/env bash
# Create the bundle's virtual environment (.venv, or $CS231N_VENV) and install
# requirements.txt plus the cs231n package (editable, which compiles the Cython
# extension). A second run reuses the environment and reinstalls only when
# requirements.txt, pyproject.toml, setup.py or the Cython source changed.
set -euo pipefail
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
# Reinstalling also rebuilds the extension, should its compiled file have gone missing.
if [ "$(cat "$stamp" 2>/dev/null)" = "$wanted" ] \
    && "$venv/bin/python" -c 'import cs231n.im2col_cython' 2>/dev/null; then
    echo "Environment $venv is up to date."
    exit 0
fi
echo "Installing requirements into $venv (the first time takes a few minutes: PyTorch is large)"
rm -f "$stamp"
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet -r requirements.txt
# No build isolation: Cython and setuptools come from requirements.txt, already installed.
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet --no-build-isolation -e .
echo "$wanted" > "$stamp"
echo "Environment $venv is ready."
