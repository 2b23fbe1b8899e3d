#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image. It installs
# what grading needs and nothing of the student's tooling (staff/grading/requirements.txt)
# into its own environment, @DEFAULT_VENV@ (or $CS231N_VENV), outside the grader's
# folder, then closes that folder (/autograder/source) to every user but root: a
# submission runs as an unprivileged user and, where the container gives no mount
# namespaces (Docker's default capabilities), permissions are what keep it out of the
# solution.
#
# Needs Python 3.10-3.13 (the versions the pinned torch==2.14.1 and torchvision==0.29.1
# install on): Ubuntu 22.04's python3 is 3.10, Ubuntu 24.04's is 3.12. What is missing
# of python3-venv, Python's headers and a C compiler (for the compiled fast layers) is
# installed with apt-get. On a grader without a GPU, PyTorch comes from its CPU-only
# index where that index can be reached (without the 4 GB of CUDA libraries the default
# wheel brings), else from PyPI; one line says which build was installed.@TENSORFLOW_NOTE@
# Written by python -m staff.grading.gradescope; edit
# staff/grading/gradescope_files/setup.sh instead.
set -euo pipefail
source_dir="${AUTOGRADER_ROOT:-/autograder}/source"
venv="${CS231N_VENV:-@DEFAULT_VENV@}"
with_tensorflow=@WITH_TENSORFLOW@
requirements="$source_dir/staff/grading/requirements.txt"
cpu_index="https://download.pytorch.org/whl/cpu"
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
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
fi

mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --disable-pip-version-check --quiet)
torch_pins=($(grep -E '^torch(vision)?==' "$requirements"))
if command -v nvidia-smi >/dev/null 2>&1; then
    echo "This grader has an NVIDIA GPU: PyTorch's default wheels"
elif ! "${pip[@]}" --index-url "$cpu_index" "${torch_pins[@]}" 2>/dev/null; then
    echo "PyTorch's CPU-only index $cpu_index could not be used: its default wheels"
fi
"${pip[@]}" -r "$requirements"
# Says which build was installed, whichever way pip found it.
"$venv/bin/python" -c 'import torch
print("PyTorch", torch.__version__, "with CUDA " + torch.version.cuda if torch.version.cuda else "CPU-only")'
cd "$source_dir"
package="."
if [ "$with_tensorflow" = 1 ]; then
    package=".[tensorflow]"
    echo "Installing the TensorFlow extra, to grade TensorFlow.ipynb"
fi
# The package in place, for its compiled fast layers (without a compiler it still
# installs, and the fast layers use NumPy). No build isolation: Cython is installed.
"${pip[@]}" --no-build-isolation -e "$package"
chmod 700 "$source_dir"
"$venv/bin/python" -c 'import torch, staff.grading.autograde
staff.grading.autograde.preflight()
print("grader ready: torch", torch.__version__)'
if [ "$with_tensorflow" = 1 ]; then
    "$venv/bin/python" -c 'import tensorflow; print("grader ready: tensorflow", tensorflow.__version__)'
fi
du -sh "$venv" | sed 's/^/grading environment: /'
