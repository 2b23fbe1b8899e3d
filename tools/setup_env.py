"""Set up the bundle's virtual environment, on Windows, macOS and Linux alike.

    python -m tools.setup_env [--with-tensorflow] [--use-system-torch]

Run from the assignment folder by any Python 3.10-3.13; it needs only the standard
library. It creates the virtual environment ``.venv`` (or the folder CS231N_VENV names)
with the interpreter PYTHON names (by default the one running this), installs
requirements.txt and the cs231n package into it (editable), and records what it
installed in a stamp file, so that a second run does nothing unless requirements.txt,
pyproject.toml, setup.py or the Cython source changed since. A top-level folder with a
requirements.txt of its own (a part of the bundle beyond the assignment) has it
installed too.

Building the package compiles the fast layers' kernels when a C compiler works, and
otherwise setup.py says so in one line and the package installs without them (the fast
layers then run on NumPy). A later run finds them missing and tries the build again, so
installing a compiler and running the set-up again is all it takes.

--with-tensorflow also installs the optional TensorFlow extra (pyproject.toml) for
TensorFlow.ipynb; without it an extra installed earlier is left in place.
--use-system-torch makes a new environment that sees the packages of the interpreter
that creates it (a conda environment's, say) and uses its PyTorch and torchvision instead
of installing the pinned pair; the environment remembers the choice.
"""
import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BUNDLE_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = "requirements.txt"
# The files an install is made from: when one changes, the set-up installs again.
INSTALL_INPUTS = (REQUIREMENTS, "pyproject.toml", "setup.py", os.path.join("cs231n", "im2col_cython.pyx"))
STAMP_NAME = ".cs231n-install-stamp"
TENSORFLOW_STAMP_NAME = ".cs231n-tensorflow-stamp"
# The requirements --use-system-torch takes from the interpreter that made the environment.
SYSTEM_TORCH_PACKAGES = ("torch", "torchvision")
PIP_INSTALL = ("-m", "pip", "install", "--disable-pip-version-check", "--quiet")
MINIMUM_PYTHON = (3, 10)


class SetupError(Exception):
    """A problem the student can fix, said in one message."""


def venv_folder():
    return Path(os.environ.get("CS231N_VENV") or BUNDLE_ROOT / ".venv")


def venv_python(venv):
    """The interpreter of the virtual environment in ``venv``, as venv lays it out here."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def base_python():
    """The interpreter that creates the environment: PYTHON, or the one running this."""
    return os.environ.get("PYTHON") or sys.executable


def sees_system_packages(venv):
    """Whether the environment was made to see its creator's packages (--use-system-torch)."""
    config = venv / "pyvenv.cfg"
    if not config.is_file():
        return False
    setting = re.search(r"^\s*include-system-site-packages\s*=\s*(\w+)", config.read_text(), re.MULTILINE)
    return bool(setting) and setting.group(1).lower() == "true"


def part_requirements():
    """The requirements files of the bundle's other parts: a top-level folder's own
    requirements.txt, for tools beyond the assignment's (a student's copy has none)."""
    return sorted(path.relative_to(BUNDLE_ROOT) for path in BUNDLE_ROOT.glob(f"*/{REQUIREMENTS}"))


def install_digest(system_torch):
    """A digest of everything an install is made from."""
    digest = hashlib.sha256()
    for name in [*INSTALL_INPUTS, *part_requirements()]:
        digest.update((BUNDLE_ROOT / name).read_bytes())
    digest.update(b"system torch" if system_torch else b"pinned torch")
    return digest.hexdigest()


def run(command, problem):
    """Run ``command`` in the bundle folder; a failure raises SetupError(problem)."""
    if subprocess.call([str(part) for part in command], cwd=BUNDLE_ROOT) != 0:
        raise SetupError(problem)


def succeeds(command):
    return subprocess.call([str(part) for part in command], cwd=BUNDLE_ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def check_base_python(python, use_system_torch):
    if not succeeds([python, "-c", f"import sys; sys.exit(sys.version_info < {MINIMUM_PYTHON})"]):
        raise SetupError(f"{python} is missing or older than Python 3.10; set PYTHON to a newer one.")
    if use_system_torch and not succeeds([python, "-c", "import torch, torchvision"]):
        raise SetupError(f"--use-system-torch: {python} cannot import torch and torchvision. Run the set-up "
                         "with the interpreter that has them (or set PYTHON to it).")


def create_venv(venv, use_system_torch):
    python = base_python()
    check_base_python(python, use_system_torch)
    print(f"Creating the virtual environment in {venv}", flush=True)
    command = [python, "-m", "venv", *(["--system-site-packages"] if use_system_torch else []), venv]
    run(command, f"could not create {venv} (on Debian/Ubuntu: apt-get install python3-venv).")


def requirements_without_torch(folder):
    """requirements.txt less PyTorch and torchvision, written into ``folder``."""
    kept = [line for line in (BUNDLE_ROOT / REQUIREMENTS).read_text().splitlines()
            if re.split(r"[\s=<>!~;\[]", line.strip(), maxsplit=1)[0].lower() not in SYSTEM_TORCH_PACKAGES]
    path = Path(folder) / "requirements-without-torch.txt"
    path.write_text("\n".join(kept) + "\n")
    return path


def install(python, venv, system_torch, with_tensorflow):
    print(f"Installing requirements into {venv} (the first time takes a few minutes"
          f"{'' if system_torch else ': PyTorch is large'})", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        requirements = requirements_without_torch(folder) if system_torch else BUNDLE_ROOT / REQUIREMENTS
        files = ["-r", requirements]
        for path in part_requirements():
            files += ["-r", BUNDLE_ROOT / path]
        run([python, *PIP_INSTALL, *files], f"pip could not install the requirements into {venv} (see above).")
    # The package and, when asked for, its TensorFlow extra in one step, so the extension
    # is built once. No build isolation: Cython and setuptools are installed already.
    if with_tensorflow:
        print("Installing the TensorFlow extra too (about 1.4 GB)", flush=True)
    package = ".[tensorflow]" if with_tensorflow else "."
    run([python, *PIP_INSTALL, "--no-build-isolation", "-e", package],
        f"pip could not install the cs231n package into {venv} (see above).")


def build_kernels_if_missing(python):
    """Build the compiled kernels in place when they are missing; without a working C
    compiler setup.py says so in one line, and the fast layers run on NumPy."""
    if not succeeds([python, "-c", "import cs231n.im2col_cython"]):
        run([python, "setup.py", "--quiet", "build_ext", "--inplace"],
            "building the compiled kernels failed (see above); the fast layers run on NumPy meanwhile.")


def set_up(with_tensorflow=False, use_system_torch=False):
    """Make the environment ready and return its interpreter; SetupError says what stops it."""
    venv = venv_folder()
    python = venv_python(venv)
    if not python.exists():
        create_venv(venv, use_system_torch)
    system_torch = sees_system_packages(venv)
    if use_system_torch and not system_torch:
        raise SetupError(f"--use-system-torch: {venv} already exists and does not see the packages of the "
                         "interpreter that made it; remove it (or set CS231N_VENV to a new folder) and run "
                         "the set-up again.")
    wanted = install_digest(system_torch)
    stamp = venv / STAMP_NAME
    tensorflow_stamp = venv / TENSORFLOW_STAMP_NAME
    if stamp.is_file() and stamp.read_text().strip() == wanted:
        print(f"Environment {venv} is up to date.", flush=True)
    else:
        stamp.unlink(missing_ok=True)
        install(python, venv, system_torch, with_tensorflow)
        stamp.write_text(wanted + "\n")
        if with_tensorflow:
            tensorflow_stamp.write_text(wanted + "\n")
        print(f"Environment {venv} is ready.", flush=True)
    build_kernels_if_missing(python)

    if with_tensorflow:
        if (tensorflow_stamp.is_file() and tensorflow_stamp.read_text().strip() == wanted
                and succeeds([python, "-c", "import importlib.util, sys; "
                                            "sys.exit(importlib.util.find_spec('tensorflow') is None)"])):
            print("The TensorFlow extra is installed.", flush=True)
        else:
            print(f"Installing the TensorFlow extra into {venv} (about 1.4 GB, a minute or two)", flush=True)
            tensorflow_stamp.unlink(missing_ok=True)
            run([python, *PIP_INSTALL, "--no-build-isolation", "-e", ".[tensorflow]"],
                f"pip could not install the TensorFlow extra into {venv} (see above).")
            tensorflow_stamp.write_text(wanted + "\n")
            print("The TensorFlow extra is ready.", flush=True)
    return python


def run_in_environment(python, arguments):
    """Run ``python`` with ``arguments`` in the bundle folder; its exit status."""
    try:
        return subprocess.call([str(part) for part in (python, *arguments)], cwd=BUNDLE_ROOT)
    except KeyboardInterrupt:
        return 130


def add_setup_options(parser):
    parser.add_argument("--with-tensorflow", action="store_true",
                        help="also install the optional TensorFlow extra, for TensorFlow.ipynb")
    parser.add_argument("--use-system-torch", action="store_true",
                        help="use the PyTorch and torchvision of the interpreter that creates the "
                             "environment instead of installing the pinned pair")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.setup_env", description=__doc__.split("\n\n")[0])
    add_setup_options(parser)
    args = parser.parse_args(argv)
    try:
        set_up(args.with_tensorflow, args.use_system_torch)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
