"""Every command the release's README names works there, as the README says it does.

The commands are read from the README itself (its code blocks, and inline code that
starts with a shell command or is a notebook's ``!`` line), so a command added to the
README later is run here too; one this file has no check for fails the tests, naming it.
They run in the README's order, in the release folder, in a shell like a student's
(the test environment's bin is not on PATH), on two bundles:

* the stubbed release, as students get it;
* a completed bundle: the release with the solution's student files and the solution's
  notebook code and answers put back, as a student who did every task has it.

The README's Windows PowerShell commands run in their POSIX form (``.venv/bin/python``
for ``.venv\\Scripts\\python``). Setting up the release's own environment
(``tools/setup_env.sh``) would download
PyTorch and the rest. Instead, its base interpreter (PYTHON) is a stand-in
(base_python_stand_in.py) that makes the new ``.venv`` see the test environment's
packages, so that pip finds requirements.txt satisfied and installs only the release's
cs231n (compiling its extension), with PIP_NO_INDEX set so that nothing is downloaded.
The test environment itself must come out unchanged; the tests check that it does.
"""
import functools
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from staff import release
from staff.release.stubs import PAPERMILL_CELL_TAGS
from tools import cells, conventions

REPO_ROOT = Path(__file__).resolve().parents[3]
STAND_IN = Path(__file__).resolve().parents[1] / "base_python_stand_in.py"
HAVE_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None
# The smoke run of all six solution notebooks takes about ten minutes on two cores
# (.ci/run runs every notebook of the solution bundle); the completed bundle's run here
# runs its quickest notebook, enough to show that run_all.sh works in the release's
# environment and that collectSubmission.sh tells smoke-run notebooks apart. The
# stubbed release's run is cheap (every notebook stops at its first task) and runs them all.
COMPLETED_SMOKE_NOTEBOOKS = ("Dropout.ipynb",)
# Words that start a shell command when an inline code span of the README starts with one.
COMMAND_WORDS = {"bash", "sh", "source", ".", "python", "python3", "pip", "pip3", "jupyter", "cd",
                 "export", "conda", "make"}


# ---------------------------------------------------------------------------- the README's commands

def posix_form(command):
    """A Windows PowerShell command of the README as it runs here: the environment's
    interpreter where venv puts it on Linux, and the Python launcher ``py`` as python3."""
    command = command.replace("\\", "/").replace(".venv/Scripts/python", ".venv/bin/python")
    return re.sub(r"^py ", "python3 ", command)


def readme_commands(text):
    """The shell commands ``text`` names, in order, each once: every line of its code
    blocks (comments dropped; a PowerShell block's in their POSIX form), and every inline
    code span that starts with a command word, with a program on PATH, or with ``!`` or
    ``%`` (a line for a notebook cell)."""
    commands = []
    for match in re.finditer(r"^```(?P<language>[\w-]*)\n(?P<block>.*?)^```|`(?P<span>[^`\n]+)`", text,
                             re.MULTILINE | re.DOTALL):
        if match["block"] is not None:
            lines = [re.sub(r"(^|\s+)#.*$", "", line).strip() for line in match["block"].splitlines()]
            commands += [posix_form(line) if match["language"] == "powershell" else line for line in lines]
            continue
        span = match["span"].strip()
        words = [word for word in span.split() if not re.fullmatch(r"\w+=\S*", word)]  # VAR=value first
        if words and (span.startswith(("!", "%")) or words[0] in COMMAND_WORDS
                      or (len(span.split()) > 1 and shutil.which(words[0]))):
            commands.append(span)
    return list(dict.fromkeys(command for command in commands if command))


def first_listed_tasks(text):
    """{notebook: how the NotImplementedError of the first task the README lists for it
    names that task}: 'cs231n/layers.py, affine_forward' or 'PyTorch.ipynb, section "..."'."""
    tasks = {}
    tables = re.findall(r"^\*\*(\w+\.ipynb)\*\*\n\n\|.*\n\|[- |]*\n(\|.*)$", text, re.MULTILINE)
    for notebook, row in tables:
        _, where, heading = [column.strip() for column in row.strip().strip("|").split("|")]
        if where == f"`{notebook}`":
            tasks[notebook] = f'{notebook}, section "{heading}"'
        else:
            tasks[notebook] = where.replace("`", "")
    return tasks


# ---------------------------------------------------------------------------- the two bundles

def complete(root):
    """Turn the release in ``root`` into the bundle of a student who did every task: the
    solution's student files (with its helper layer in layer_utils.py, where the original
    invites students to put theirs), and in every notebook the solution's code cells and
    answers, with nothing run yet."""
    for name in conventions.STUDENT_FILES + conventions.EXTENDABLE_FILES:
        shutil.copyfile(REPO_ROOT / name, root / name)
    for name in conventions.NOTEBOOKS:
        # The release keeps every cell but the solution-only ones and those papermill
        # added, in order, so the remaining solution cells pair up with the release's.
        solved = [cell for cell in nbformat.read(REPO_ROOT / name, as_version=4).cells
                  if not cells.is_solution_only_cell(cell)
                  and not PAPERMILL_CELL_TAGS & set(cell.metadata.get("tags", []))]
        notebook = nbformat.read(root / name, as_version=4)
        assert [cell.cell_type for cell in notebook.cells] == [cell.cell_type for cell in solved], name
        for cell, solution in zip(notebook.cells, solved):
            if cell.cell_type == "code" or cells.is_answer_cell(cell):
                cell.source = solution.source
        nbformat.write(notebook, root / name)
    return root


@pytest.fixture(scope="module")
def stubbed(real_release):
    """The release as students get it."""
    return real_release


@pytest.fixture(scope="module")
def completed(tmp_path_factory):
    root = tmp_path_factory.mktemp("completed") / "assignment2"
    release.make_release(REPO_ROOT, root)
    return complete(root)


# ---------------------------------------------------------------------------- a student's shell

@pytest.fixture(scope="module")
def student_environment(tmp_path_factory, partial_cifar):
    """The environment variables of the commands: a student's shell, with PYTHON set to
    the stand-in interpreter, CIFAR10_DIR to the partial copy and pip kept offline."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if importlib.util.find_spec("pip") is None:
        pytest.skip("the test environment has no pip, which sets up the release's environment")
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) to build the release's Cython extension")
    if shutil.which("bash") is None:
        pytest.skip("no bash to run the README's commands")
    folder = tmp_path_factory.mktemp("stand-in")
    python = folder / "python3"
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(STAND_IN))} "$@"\n')
    python.chmod(0o755)

    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("PIP_", "PYTEST_"))
                   and name not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CS231N_VENV")}
    if sys.prefix != sys.base_prefix:  # the test environment is a venv: keep its programs out
        test_bin = os.path.join(sys.prefix, "bin")
        environment["PATH"] = os.pathsep.join(
            entry for entry in environment.get("PATH", "").split(os.pathsep)
            if entry and os.path.realpath(entry) != os.path.realpath(test_bin))
    environment.update(PYTHON=str(python), CIFAR10_DIR=str(partial_cifar), PIP_NO_INDEX="1",
                       PIP_DISABLE_PIP_VERSION_CHECK="1",
                       COLUMNS="400")  # so that pytest's summary lines keep their messages
    return environment


class Shell:
    """Runs commands in one bundle, and remembers what earlier commands left behind."""

    def __init__(self, root, kind, environment):
        self.root, self.kind, self.environment = root, kind, environment
        self.venv = root / ".venv"
        self.smoke_run = []  # the notebooks run_all.sh ran in smoke mode
        self.readme = (root / "README.md").read_text()

    @property
    def completed(self):
        return self.kind == "completed"

    def run(self, command, timeout=600, **variables):
        result = subprocess.run(["bash", "-c", command], check=False, cwd=self.root,
                                env=dict(self.environment, **variables), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=timeout)
        result.command = command
        return result

    def python(self, code):
        """What ``code`` prints when run by the release's environment's interpreter."""
        result = self.run(f"{shlex.quote(str(self.venv / 'bin' / 'python'))} -c {shlex.quote(code)}")
        assert result.returncode == 0, result.stdout
        return result.stdout.strip()


def explain(result):
    """An assertion message: the command, its exit status and the end of its output."""
    return f"`{result.command}` exited {result.returncode}; its output ends:\n{result.stdout[-6000:]}"


# ---------------------------------------------------------------------------- one check per command

def check_setup_env(shell, command="bash tools/setup_env.sh"):
    fresh = not shell.venv.exists()
    first = shell.run(command)
    assert first.returncode == 0, explain(first)
    if fresh:
        assert f"Creating the virtual environment in {shell.venv}" in first.stdout, explain(first)
        assert f"Environment {shell.venv} is ready." in first.stdout, explain(first)
    # "does nothing more when run again"
    again = shell.run(command)
    assert again.returncode == 0 and f"Environment {shell.venv} is up to date." in again.stdout, explain(again)
    assert "Installing" not in again.stdout, explain(again)
    # The environment's cs231n is the release's, with its compiled fast layers.
    paths = shell.python("import cs231n, cs231n.im2col_cython; print(cs231n.__file__); "
                         "print(cs231n.im2col_cython.__file__)").splitlines()
    assert [Path(path).parent for path in paths] == [shell.root / "cs231n"] * 2


def check_setup_env_with_tensorflow(shell):
    if not HAVE_TENSORFLOW:
        print("    not run: TensorFlow is not installed in the test environment, so this would "
              "download about 1.4 GB (the rest of the README's commands run without it)")
        return
    first = shell.run("bash tools/setup_env.sh --with-tensorflow")
    assert first.returncode == 0, explain(first)
    assert re.search(r"The TensorFlow extra is (ready|installed)\.", first.stdout), explain(first)
    again = shell.run("bash tools/setup_env.sh --with-tensorflow")
    assert again.returncode == 0, explain(again)
    assert "is up to date." in again.stdout and "The TensorFlow extra is installed." in again.stdout, explain(again)
    assert "Installing" not in again.stdout, explain(again)
    assert shell.python("import cs231n.im2col_cython, importlib.util; "
                        "print(importlib.util.find_spec('tensorflow') is not None)") == "True"


def failed_lines(result):
    return [line for line in result.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]


def expect_tests_to_stop_at_tasks(result, must_name):
    """The stubbed release: tests fail, each with the NotImplementedError of a task."""
    assert result.returncode == 1, explain(result)
    failed = failed_lines(result)
    assert failed, explain(result)
    # A test fails with the NotImplementedError of a task, or (a test that checks a
    # notebook cell's effect) with a message naming the notebook section to write.
    other = [line for line in failed
             if not re.search(r"NotImplementedError: .*: not implemented yet|section \".+\"", line)]
    assert other == [], "tests failed for another reason than a task still to do:\n" + "\n".join(other)
    assert any(f"NotImplementedError: {name}" in line for line in failed for name in must_name), explain(result)


def expect_tests_to_pass(result):
    assert result.returncode == 0, explain(result)
    assert re.search(r"^=+ \d+ passed", result.stdout, re.MULTILINE) and failed_lines(result) == [], explain(result)


def check_run_tests(shell, command="bash tools/run_tests.sh"):
    result = shell.run(command)
    assert "is up to date." in result.stdout, explain(result)  # "set up if needed"
    if shell.completed:
        expect_tests_to_pass(result)
    else:
        expect_tests_to_stop_at_tasks(result, ["cs231n/layers.py, affine_forward", "cs231n/optim.py, "])


def check_run_tests_of_optim(shell):
    result = shell.run("bash tools/run_tests.sh tests/test_optim.py -x")
    if shell.completed:
        expect_tests_to_pass(result)
    else:
        expect_tests_to_stop_at_tasks(result, ["cs231n/optim.py, "])
        assert len(failed_lines(result)) == 1, explain(result)  # -x: the first failure ends the run


def check_progress(shell):
    result = shell.run(".venv/bin/python -m tools.progress")
    if shell.completed:
        assert result.returncode == 0 and re.search(r"required tasks: \d+ done, 0 failing", result.stdout), \
            explain(result)
    else:
        assert "next: affine forward in cs231n/layers.py (affine_forward)" in result.stdout, explain(result)


def check_get_datasets(shell):
    datasets = shell.root / "cs231n" / "datasets"
    before = sorted(path.name for path in datasets.iterdir())
    result = shell.run("bash cs231n/datasets/get_datasets.sh")
    assert result.returncode == 0, explain(result)
    # The downloader names the folder with its links resolved (CI reaches the data through one).
    data_folder = Path(shell.environment["CIFAR10_DIR"]).resolve()
    assert f"CIFAR-10 is already in {data_folder}" in result.stdout, explain(result)
    assert sorted(path.name for path in datasets.iterdir()) == before  # nothing downloaded or unpacked


def check_run_all(shell, command="bash tools/run_all.sh"):
    notebooks = list(COMPLETED_SMOKE_NOTEBOOKS) if shell.completed else []
    result = shell.run(" ".join([command, "--smoke", *notebooks]))
    assert "is up to date." in result.stdout and "CIFAR-10 is already in" in result.stdout, explain(result)
    ran = notebooks or [name for name in conventions.NOTEBOOKS if HAVE_TENSORFLOW or name != "TensorFlow.ipynb"]
    if shell.completed:
        assert result.returncode == 0, explain(result)
        for name in ran:
            assert re.search(rf"\] {re.escape(name)}: ok in", result.stdout), explain(result)
            cells = [cell for cell in nbformat.read(shell.root / name, as_version=4).cells
                     if cell.cell_type == "code" and cell.source.strip()]
            assert all(cell.execution_count for cell in cells), name
    else:
        # Each notebook stops at the first task the README lists for it.
        assert result.returncode == 1, explain(result)
        first_tasks = first_listed_tasks(shell.readme)
        for name in ran:
            expected = f"    {name}: cell "
            line = next((line for line in result.stdout.splitlines() if line.startswith(expected)), "")
            assert f"NotImplementedError: {first_tasks[name]}" in line, explain(result)
            assert "not implemented yet" in line, explain(result)
        if not HAVE_TENSORFLOW:
            assert "TensorFlow.ipynb: skipped, it needs tensorflow" in result.stdout, explain(result)
    shell.smoke_run = ran


def submission_files(shell):
    return {name: (shell.root / name).stat().st_mtime_ns for name in (conventions.CODE_ZIP_NAME, conventions.SUBMISSION_PDF_NAME)
            if (shell.root / name).exists()}


def expect_refusal(shell, command, **variables):
    """collectSubmission.sh names what is not ready, notebook and section, and writes nothing."""
    before = submission_files(shell)
    result = shell.run(command, **variables)
    assert result.returncode == 1, explain(result)
    assert "the notebooks are not ready" in result.stdout and "Nothing was written." in result.stdout, explain(result)
    assert submission_files(shell) == before
    for name in conventions.CORE_NOTEBOOKS:
        if name in shell.smoke_run and shell.completed:
            assert f"  {name}: was run in smoke mode" in result.stdout, explain(result)
        elif name in shell.smoke_run:
            assert re.search(rf'^  {re.escape(name)}, section ".+", .*: raised NotImplementedError',
                             result.stdout, re.MULTILINE), explain(result)
        else:
            assert f"  {name}: has not been executed" in result.stdout, explain(result)
    if not shell.completed:
        assert re.search(r'^  \w+\.ipynb, section ".+": the answer to Inline Question \d+ \(".+"\) is empty',
                         result.stdout, re.MULTILINE), explain(result)
    return result


def check_collect_submission(shell, command="bash collectSubmission.sh"):
    expect_refusal(shell, command)
    if not shell.completed:
        return
    # After a smoke run the notebooks are not ready by design ("run it again in full");
    # --force, which the refusal offers, shows that the completed bundle packs.
    result = shell.run(f"{command} --force")
    assert result.returncode == 0 and "WARNING: collecting anyway (--force)" in result.stdout, explain(result)
    with zipfile.ZipFile(shell.root / conventions.CODE_ZIP_NAME) as archive:
        members = set(archive.namelist())
    assert set(conventions.NOTEBOOKS) | set(conventions.STUDENT_FILES) <= members
    from pypdf import PdfReader

    assert len(PdfReader(shell.root / conventions.SUBMISSION_PDF_NAME).pages) >= len(conventions.NOTEBOOKS)
    assert f"Wrote {conventions.SUBMISSION_PDF_NAME} (" in result.stdout, explain(result)


def check_use_system_torch(shell):
    # PYTHON (the stand-in) has PyTorch: a new environment made to see its packages uses
    # that PyTorch, installs the rest, and remembers the choice (a second run is up to date).
    venv = shell.root / "venv-with-system-torch"
    try:
        for run in ("first", "second"):
            result = shell.run("python -m tools.setup_env --use-system-torch", CS231N_VENV=str(venv))
            assert result.returncode == 0, explain(result)
            done = f"Environment {venv} is ready." if run == "first" else f"Environment {venv} is up to date."
            assert done in result.stdout and "PyTorch is large" not in result.stdout, explain(result)
        assert re.search(r"^include-system-site-packages = true$", (venv / "pyvenv.cfg").read_text(), re.MULTILINE)
        torch_file = shell.run(f"{venv / 'bin' / 'python'} -c 'import torch; print(torch.__file__)'")
        assert torch_file.returncode == 0 and venv not in Path(torch_file.stdout.strip()).parents, explain(torch_file)
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def check_colab_collect_submission(shell):
    # Colab has no .venv: collectSubmission.sh then uses the python on PATH, here the
    # release environment's (which has what Colab has).
    expect_refusal(shell, "bash collectSubmission.sh", CS231N_VENV=str(shell.root / "no-venv-on-colab"),
                   PATH=f"{shell.venv / 'bin'}{os.pathsep}{shell.environment['PATH']}")


def check_colab_pip_install(shell):
    # The shell part of the Colab line, by the pip of the notebook's interpreter: the
    # packages are already there, so pip only checks that they are.
    result = shell.run("source .venv/bin/activate && pip install -q weasyprint ziamath")
    assert result.returncode == 0, explain(result)
    shell.python("import weasyprint, ziamath")


def check_activate(shell):
    result = shell.run("source .venv/bin/activate && echo \"$VIRTUAL_ENV\" && command -v python "
                       "&& python -c 'import cs231n; print(cs231n.__file__)'")
    assert result.returncode == 0, explain(result)
    assert result.stdout.split() == [str(shell.venv), str(shell.venv / "bin" / "python"),
                                     str(shell.root / "cs231n" / "__init__.py")]


def check_jupyter_lab(shell):
    # The version instead of a server; and the kernel the notebooks get is the venv's.
    result = shell.run("source .venv/bin/activate && command -v jupyter && jupyter lab --version && python -c "
                       "'from jupyter_client.manager import KernelManager; "
                       "print(KernelManager(kernel_name=\"python3\").format_kernel_cmd()[0])'")
    assert result.returncode == 0, explain(result)
    jupyter, version, kernel = result.stdout.split()
    assert jupyter == str(shell.venv / "bin" / "jupyter")
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version), result.stdout
    assert Path(kernel) == shell.venv / "bin" / "python"


CHECKS = {
    "bash tools/setup_env.sh": check_setup_env,
    "bash tools/run_tests.sh": check_run_tests,
    # The PowerShell block's commands, in their POSIX form (posix_form).
    "python3 -m tools.setup_env": functools.partial(check_setup_env, command="python3 -m tools.setup_env"),
    ".venv/bin/python -m tools.run_tests": functools.partial(check_run_tests,
                                                            command=".venv/bin/python -m tools.run_tests"),
    ".venv/bin/python -m tools.run_all": functools.partial(check_run_all, command=".venv/bin/python -m tools.run_all"),
    ".venv/bin/python -m tools.collect": functools.partial(check_collect_submission,
                                                          command=".venv/bin/python -m tools.collect"),
    "python -m tools.setup_env --use-system-torch": check_use_system_torch,
    ".venv/bin/python -m tools.progress": check_progress,
    "bash cs231n/datasets/get_datasets.sh": check_get_datasets,
    "bash tools/run_all.sh": check_run_all,
    "source .venv/bin/activate": check_activate,
    "jupyter lab": check_jupyter_lab,
    "bash tools/setup_env.sh --with-tensorflow": check_setup_env_with_tensorflow,
    "bash tools/run_tests.sh tests/test_optim.py -x": check_run_tests_of_optim,
    "bash collectSubmission.sh": check_collect_submission,
    "!pip install -q weasyprint ziamath": check_colab_pip_install,
    "!bash collectSubmission.sh": check_colab_collect_submission,
}


# ---------------------------------------------------------------------------- the test environment

def installed_state():
    """What pip could change in the test environment: its site-packages' top-level names,
    the content of its top-level files (.pth files, editable finders) and of every
    .dist-info folder (versions, RECORD, where an editable install points)."""
    site = Path(sysconfig.get_path("purelib"))
    state = {}
    for entry in sorted(site.iterdir()):
        if entry.name == "__pycache__":
            continue
        digest = hashlib.sha256()
        files = sorted(entry.iterdir()) if entry.name.endswith(".dist-info") else [entry] if entry.is_file() else []
        for path in files:
            if path.is_file():
                digest.update(path.name.encode() + path.read_bytes())
        state[entry.name] = digest.hexdigest()
    return state


def cs231n_imported_from(tmp_path):
    """Where the test environment imports cs231n from (run outside any bundle)."""
    return subprocess.run([sys.executable, "-c", "import cs231n, cs231n.im2col_cython; print(cs231n.__file__)"],
                          check=False, cwd=tmp_path, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def unchanged_test_environment(tmp_path):
    before, imported = installed_state(), cs231n_imported_from(tmp_path)
    yield
    after = installed_state()
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    assert changed == [], f"the README's commands changed the test environment: {changed}"
    assert cs231n_imported_from(tmp_path) == imported


# ---------------------------------------------------------------------------- the tests

def test_every_command_the_readme_names_has_a_check(stubbed):
    commands = readme_commands((stubbed / "README.md").read_text())
    unknown = [command for command in commands if command not in CHECKS]
    assert unknown == [], (f"the README names {unknown}, which this test does not know how to run: "
                           f"add a check for each to CHECKS in {Path(__file__).name}")
    stale = [command for command in CHECKS if command not in commands]
    assert stale == [], f"CHECKS holds {stale}, which the README no longer names"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["stubbed", "completed"])
def test_every_command_the_readme_names_works_in_the_bundle(kind, request, student_environment,
                                                            unchanged_test_environment):
    shell = Shell(request.getfixturevalue(kind), kind, student_environment)
    for command in readme_commands(shell.readme):
        check = CHECKS.get(command)
        if check is None:
            pytest.fail(f"the README names `{command}`, which this test does not know how to run")
        started = time.monotonic()
        check(shell)
        print(f"[{kind}] {command}: as promised ({time.monotonic() - started:.0f} s)")
