#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image: it installs
# the grader's pinned environment (requirements.txt) on Gradescope's Ubuntu image.
#
# Needs Python 3.10-3.13 (the versions the pinned torch==2.14.1 and torchvision==0.29.1
# install on): Ubuntu 22.04's python3 is 3.10, Ubuntu 24.04's is 3.12. What is missing
# of python3-venv, Python's headers and a C compiler (the Cython extension) and the Pango
# libraries (WeasyPrint) is installed with apt-get; then tools/setup_env.sh@SETUP_ENV_NOTE@
# creates /autograder/source/.venv (or $CS231N_VENV) and installs everything into it.
# Written by python -m staff.gradescope; edit staff/gradescope_files/setup.sh instead.
set -euo pipefail
source_dir="${AUTOGRADER_ROOT:-/autograder}/source"
setup_env_args=(@SETUP_ENV_ARGS@)
export DEBIAN_FRONTEND=noninteractive

supported() {
    "$1" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null
}
find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && supported "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}
apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        apt-get update -qq
        apt_updated=1
    fi
    echo "Installing with apt-get: $*"
    apt-get install -y -qq --no-install-recommends "$@"
}

python="$(find_python || true)"
if [ -z "$python" ]; then
    apt_install python3
    python="$(find_python || true)"
fi
if [ -z "$python" ]; then
    echo "error: the grader needs Python 3.10-3.13, and this image has $(python3 -V 2>&1 || echo 'no python3')." >&2
    echo "Choose an Ubuntu 22.04 or 24.04 base image in the autograder's settings, or set PYTHON." >&2
    exit 1
fi
version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
echo "Using $python (Python $version)"
# The image's default python3 has the unversioned package names; another one, versioned.
suffix="$version"
if [ "$(command -v python3 || true)" = "$python" ]; then
    suffix="3"
fi
missing=()
"$python" -c 'import ensurepip, venv' 2>/dev/null || missing+=("python$suffix-venv")
"$python" -c 'import os, sys, sysconfig
sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || missing+=("python$suffix-dev")
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
libraries="$(ldconfig -p 2>/dev/null || true)"
grep -q 'libpango-1\.0\.so\.0' <<<"$libraries" || missing+=(libpango-1.0-0)
grep -q 'libpangoft2-1\.0\.so\.0' <<<"$libraries" || missing+=(libpangoft2-1.0-0)
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
fi

cd "$source_dir"
PYTHON="$python" bash tools/setup_env.sh "${setup_env_args[@]}"
venv="${CS231N_VENV:-$source_dir/.venv}"
"$venv/bin/python" -c 'import cs231n.im2col_cython, torch, staff.autograde; print("grader ready: torch", torch.__version__)'
