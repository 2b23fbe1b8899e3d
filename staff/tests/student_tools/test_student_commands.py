"""The student's commands as Python entry points, on a machine without a C compiler and
without bash.

Each test sets up a copy of the bundle's tracked files with ``python -m tools.setup_env``
in a shell whose PATH holds only ``python3``: no compiler, no bash, no other tool. As in
test_release_readme_commands.py, the base interpreter is a stand-in
(base_python_stand_in.py) whose environments see the test environment's packages, so
that pip installs only the copy's cs231n and downloads nothing. The tests that build an
environment (tens of seconds each on two cores) are marked slow.
"""
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import setup_env

REPO_ROOT = Path(__file__).resolve().parents[3]
STAND_IN = Path(__file__).resolve().parents[1] / "base_python_stand_in.py"
FALLBACK_LINE = "no working C compiler"
# What the fallback line must tell a student: what happens, and how to get a compiler.
FALLBACK_WORDS = ("run on NumPy", "times slower", "Microsoft C++ Build Tools", "xcode-select --install",
                  "apt-get install build-essential python3-dev", "run the set-up again")


def tracked_files():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True, capture_output=True).stdout
    return [name for name in listed.decode().split("\0") if name and (REPO_ROOT / name).is_file()]


@pytest.fixture(scope="module")
def bin_with_python_only(tmp_path_factory):
    """A PATH folder holding only ``python3``: the stand-in base interpreter."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("the test environment has no pip, which sets up the bundle's environment")
    folder = tmp_path_factory.mktemp("bin")
    python = folder / "python3"
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(STAND_IN))} "$@"\n')
    python.chmod(0o755)
    return folder


def copy_of_bundle(folder):
    for name in tracked_files():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, folder / name)
    return folder


def environment(bin_folder, **variables):
    """A student's shell without the test environment: PATH is ``bin_folder`` alone."""
    kept = {name: value for name, value in os.environ.items()
            if not name.startswith(("PIP_", "PYTEST_")) and name not in (
                "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CS231N_VENV", "CC", "PATH")}
    return dict(kept, PATH=str(bin_folder), PYTHON=str(bin_folder / "python3"), PIP_NO_INDEX="1",
                PIP_DISABLE_PIP_VERSION_CHECK="1", **variables)


def run(root, command, env, timeout=900):
    result = subprocess.run(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=timeout, check=False)
    result.explained = f"{command} exited {result.returncode}; its output ends:\n{result.stdout[-5000:]}"
    return result


def kernels_built(root):
    python = setup_env.venv_python(root / ".venv")
    probe = "import cs231n.fast_layers as f; print(f.compiled_kernels_available())"
    return subprocess.run([str(python), "-c", probe], cwd=root, capture_output=True, text=True,
                          check=True).stdout.strip() == "True"


def expect_one_fallback_line(result):
    lines = [line for line in result.stdout.splitlines() if FALLBACK_LINE in line]
    assert len(lines) == 1, result.explained
    missing = [words for words in FALLBACK_WORDS if words not in lines[0]]
    assert missing == [], f"the fallback line lacks {missing}: {lines[0]}"
    # The OpenMP probe speaks only where a compiler builds.
    assert "OpenMP" not in result.stdout, result.explained


@pytest.fixture(scope="module")
def bundle_without_compiler(tmp_path_factory, bin_with_python_only):
    """A copy of the bundle set up where PATH holds no compiler (nor bash); and that
    first set-up's output."""
    root = copy_of_bundle(tmp_path_factory.mktemp("no-compiler") / "assignment2")
    env = environment(bin_with_python_only)
    first = run(root, ["python3", "-m", "tools.setup_env"], env)
    return root, env, first


@pytest.mark.slow
def test_setup_without_a_compiler_installs_on_numpy_and_builds_once_one_is_there(bundle_without_compiler):
    root, env, first = bundle_without_compiler
    assert first.returncode == 0, first.explained
    assert f"Environment {root / '.venv'} is ready." in first.stdout, first.explained
    expect_one_fallback_line(first)
    assert not kernels_built(root)

    # A second run installs nothing, and says again why the layers run on NumPy.
    again = run(root, ["python3", "-m", "tools.setup_env"], env)
    assert again.returncode == 0 and "is up to date." in again.stdout, again.explained
    assert "Installing" not in again.stdout, again.explained
    expect_one_fallback_line(again)

    # The fast layers' tests and the checks of the tasks they serve pass on NumPy.
    tests = run(root, [str(setup_env.venv_python(root / ".venv")), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                       "staff/tests/scaffold/test_fast_layers.py", "tests/test_conv_layers.py", "tests/test_cnn.py"], env)
    assert tests.returncode == 0 and " passed" in tests.stdout, tests.explained

    # With a compiler on the PATH again, the next set-up builds the kernels.
    with_compiler = environment(Path(env["PATH"]))
    with_compiler["PATH"] = os.pathsep.join([env["PATH"], os.environ["PATH"]])
    built = run(root, ["python3", "-m", "tools.setup_env"], with_compiler)
    assert built.returncode == 0 and FALLBACK_LINE not in built.stdout, built.explained
    assert kernels_built(root)


@pytest.mark.slow
def test_a_compiler_that_always_fails_is_no_compiler(tmp_path, bin_with_python_only):
    root = copy_of_bundle(tmp_path / "assignment2")
    env = environment(bin_with_python_only, CC="/bin/false")
    env["PATH"] = os.pathsep.join([env["PATH"], os.environ["PATH"]])  # the real compiler, overridden by CC
    result = run(root, ["python3", "-m", "tools.setup_env"], env)
    assert result.returncode == 0, result.explained
    expect_one_fallback_line(result)
    assert "/bin/false could not compile" in result.stdout, result.explained
    assert not kernels_built(root)
    # pip install -e . on its own succeeds too (it shows the build's line only with -v).
    pip = run(root, [str(setup_env.venv_python(root / ".venv")), "-m", "pip", "install", "-v",
                     "--no-build-isolation", "--no-deps", "-e", "."], env)
    assert pip.returncode == 0 and FALLBACK_LINE in pip.stdout, pip.explained
    assert not kernels_built(root)


@pytest.mark.slow
def test_every_entry_point_runs_without_bash(bundle_without_compiler, partial_cifar):
    root, env, first = bundle_without_compiler
    assert first.returncode == 0, first.explained
    assert shutil.which("bash", path=env["PATH"]) is None
    env = dict(env, CIFAR10_DIR=str(partial_cifar))

    tests = run(root, ["python3", "-m", "tools.run_tests", "tests/test_optim.py", "-q"], env)
    assert tests.returncode == 0 and "is up to date." in tests.stdout, tests.explained
    assert " passed" in tests.stdout and "staff/tests" not in tests.stdout, tests.explained

    notebooks = run(root, ["python3", "-m", "tools.run_all", "--smoke", "Dropout.ipynb"], env)
    assert notebooks.returncode == 0, notebooks.explained
    assert "CIFAR-10 is already in" in notebooks.stdout and "Dropout.ipynb: ok in" in notebooks.stdout, \
        notebooks.explained

    # The collector runs in .venv and refuses what is not ready (a smoke run, notebooks not run).
    collected = run(root, ["python3", "-m", "tools.collect"], env)
    assert collected.returncode == 1, collected.explained
    assert "Dropout.ipynb: was run in smoke mode" in collected.stdout, collected.explained

    progress = run(root, [str(setup_env.venv_python(root / ".venv")), "-m", "tools.progress"], env)
    assert progress.returncode in (0, 1) and "Traceback" not in progress.stdout, progress.explained


def test_use_system_torch_installs_every_requirement_but_pytorch_and_torchvision(tmp_path):
    kept = setup_env.requirements_without_torch(tmp_path).read_text().splitlines()
    every = (REPO_ROOT / setup_env.REQUIREMENTS).read_text().splitlines()
    removed = [line for line in every if line not in kept]
    assert [line.split("==")[0] for line in removed] == ["torch", "torchvision"]
