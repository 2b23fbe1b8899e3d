"""Starter release and autograder: a small fixture bundle, then the real bundle end to end."""
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from staff import release
from staff.release.readme import TASKS_PLACEHOLDER
from tools import conventions
from tools.regions import marker_regions

REPO_ROOT = Path(__file__).resolve().parents[3]
START, END = conventions.START_MARKER, conventions.END_MARKER

# Built from the marker constants so that this file holds no marker lines of its own.
OPS_SOURCE = f'''"""Tiny operations for the fixture bundle."""


def double(x):
    """Twice the input.

    More detail that the message leaves out.
    """
    if x is None:
        raise ValueError("double needs a number, got None")
    result = None
    {START}
    result = 2 * x
    {END}
    return result


class Counter:
    def step(self, amount):
        """Add amount, then square the total."""
        {START}
        self.total = getattr(self, "total", 0) + amount
        {END}
        {START}
        self.total = self.total ** 2
        {END}
        return self.total
'''

OPTIM_TEST = '''
import pytest
from cs231n.ops import Counter, double


def test_double():
    assert double(21) == 42


def test_counter():
    assert Counter().step(3) == 9


def test_double_rejects_none():
    with pytest.raises(ValueError):
        double(None)
'''

DROPOUT_TEST = '''
from cs231n.ops import double


def test_double_negative():
    assert double(-1) == -2
'''


def write_fixture_solution(root):
    """A miniature solution bundle: package, notebook, tests and files to leave out."""
    files = {
        "cs231n/__init__.py": "",
        "cs231n/ops.py": OPS_SOURCE,
        "cs231n/helpers.py": "def given():\n    return 'untouched'\n",
        "tests/test_optim.py": OPTIM_TEST,
        "tests/test_dropout.py": DROPOUT_TEST,
        "README.md": "# Fixture\n",
        ".venv/bin/python": "not copied",
        ".git/HEAD": "not copied",
        "cs231n/__pycache__/ops.cpython-311.pyc": "not copied",
        "cs231n/im2col_cython.c": "not copied",
        "cs231n/fast.cpython-311-x86_64-linux-gnu.so": "not copied",
        "cs231n/datasets/cifar-10-batches-py/data_batch_1": "not copied",
        "a2_code_submission.zip": "not copied",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Mini\n\n## Train a tiny model"),
        nbformat.v4.new_code_cell(
            f"%matplotlib inline\nmodel = None\n{START}\nmodel = 'trained'\n{END}\nprint(model)",
            execution_count=1,
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="trained\n")],
        ),
        nbformat.v4.new_code_cell(
            f"def helper():\n    \"\"\"Return seven.\"\"\"\n    {START}\n    return 7\n    {END}"
        ),
        nbformat.v4.new_markdown_cell("## Inline Question 1\n\nWhy?"),
        nbformat.v4.new_markdown_cell("**Your Answer:** because.", metadata={"tags": [conventions.ANSWER_TAG]}),
    ])
    nbformat.write(notebook, root / "Mini.ipynb")
    return root


@pytest.fixture
def fixture_solution(tmp_path):
    return write_fixture_solution(tmp_path / "solution")


def region_bodies(text):
    lines = text.split("\n")
    return ["\n".join(lines[start + 1 : end]) for start, end in marker_regions(lines, "test")]


def test_release_stubs_regions_and_copies_the_rest(fixture_solution, tmp_path):
    out = tmp_path / "release"
    changed, skipped_links = release.make_release(fixture_solution, out)
    assert changed == ["Mini.ipynb", "cs231n/ops.py"] and skipped_links == []

    ops = (out / "cs231n" / "ops.py").read_text()
    bodies = region_bodies(ops)
    assert len(bodies) == 3 and all(body.strip().startswith("raise NotImplementedError(") for body in bodies)
    assert "2 * x" not in ops and "** 2" not in ops
    assert 'raise ValueError("double needs a number, got None")' in ops  # outside the markers

    namespace = {}
    exec(compile(ops, "ops.py", "exec"), namespace)
    with pytest.raises(NotImplementedError) as raised:
        namespace["double"](3)
    message = str(raised.value)
    assert message.startswith("cs231n/ops.py, double: not implemented yet.")
    assert "More detail" not in message and "marker lines" in message
    with pytest.raises(NotImplementedError, match=r"Counter\.step \(part 1 of 2\)"):
        namespace["Counter"]().step(1)

    kept = ["cs231n/__init__.py", "cs231n/helpers.py", "tests/test_optim.py", "tests/test_dropout.py",
            "README.md"]
    for name in kept:
        assert (out / name).read_bytes() == (fixture_solution / name).read_bytes()
    copied = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file())
    assert copied == sorted(kept + ["Mini.ipynb", "cs231n/ops.py"])


def test_release_notebook_is_stubbed_blanked_and_cleared(fixture_solution, tmp_path):
    out = tmp_path / "release"
    release.make_release(fixture_solution, out)
    cells = nbformat.read(out / "Mini.ipynb", as_version=4).cells
    code_cells = [cell for cell in cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code_cells)
    assert cells[4].source == conventions.BLANK_ANSWER
    assert cells[4].metadata["tags"] == [conventions.ANSWER_TAG]
    assert cells[1].source.startswith("%matplotlib inline\nmodel = None\n" + START)
    assert "'trained'" not in cells[1].source
    # Placeholders name the section a student sees, never a cell number.
    assert 'Mini.ipynb, section \\"Train a tiny model\\": not implemented yet.' in (
        cells[1].source.replace('"\n    "', "")
    )
    assert 'Mini.ipynb, section \\"Train a tiny model\\", helper: not implemented yet.' in (
        cells[2].source.replace('"\n    "', ""))
    assert "cell 2" not in cells[1].source and "cell 3" not in cells[2].source
    assert "return 7" not in cells[2].source


def test_release_drops_cells_papermill_added(fixture_solution, tmp_path):
    # As left by a smoke run in place that failed at the helper cell.
    path = fixture_solution / "Mini.ipynb"
    notebook = nbformat.read(path, as_version=4)
    injected = nbformat.v4.new_code_cell("# Parameters\nSMOKE = True\n", execution_count=1,
                                         metadata={"tags": ["injected-parameters"]})

    def banner():
        return nbformat.v4.new_markdown_cell('<span style="color:red">An Exception was encountered</span>',
                                             metadata={"tags": ["papermill-error-cell-tag"]})

    notebook.cells[1:1] = [banner(), injected]
    notebook.cells.insert(4, banner())
    nbformat.write(notebook, path)

    out = tmp_path / "release"
    release.make_release(fixture_solution, out)
    cells = nbformat.read(out / "Mini.ipynb", as_version=4).cells
    assert not any("SMOKE" in cell.source or "Exception was encountered" in cell.source for cell in cells)
    assert [cell.cell_type for cell in cells] == ["markdown", "code", "code", "markdown", "markdown"]
    assert 'Mini.ipynb, section \\"Train a tiny model\\", helper: not implemented yet.' in (
        cells[2].source.replace('"\n    "', ""))


def test_solution_only_cells_are_dropped_from_the_release(fixture_solution, tmp_path):
    path = fixture_solution / "Mini.ipynb"
    notebook = nbformat.read(path, as_version=4)
    tagged = {"tags": [conventions.SOLUTION_ONLY_TAG]}
    notebook.cells.insert(2, nbformat.v4.new_markdown_cell("Our run reached 53.1% here.", metadata=tagged))
    notebook.cells.append(nbformat.v4.new_code_cell("print('the recipe we chose')", metadata=tagged))
    nbformat.write(notebook, path)
    out = tmp_path / "release"
    release.make_release(fixture_solution, out)
    released = nbformat.read(out / "Mini.ipynb", as_version=4).cells
    assert not any("53.1%" in cell.source or "recipe we chose" in cell.source for cell in released)
    assert len(released) == len(notebook.cells) - 2


def test_release_rejects_unbalanced_markers_and_builds_nothing(fixture_solution, tmp_path):
    broken = OPS_SOURCE.replace(f"    {END}\n    return result", "    return result", 1)
    (fixture_solution / "cs231n" / "ops.py").write_text(broken)
    out = tmp_path / "release"
    expected = r"cs231n/ops\.py, line 20: START marker inside the region opened on line 12"
    with pytest.raises(release.ReleaseError, match=expected):
        release.make_release(fixture_solution, out)
    assert not out.exists()


def test_release_refuses_a_nonempty_or_inner_folder(fixture_solution, tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    with pytest.raises(release.ReleaseError, match="not empty"):
        release.make_release(fixture_solution, occupied)
    with pytest.raises(release.ReleaseError, match="must be outside"):
        release.make_release(fixture_solution, fixture_solution / "release")


# ---------------------------------------------------------------------------------
# The real bundle
# ---------------------------------------------------------------------------------


@pytest.fixture
def cifar_environment(partial_cifar, monkeypatch):
    monkeypatch.setenv("CIFAR10_DIR", str(partial_cifar))


@pytest.mark.slow
def test_real_release_imports_cleanly_and_keeps_only_placeholders(real_release):
    script = (
        "import importlib, pkgutil, cs231n\n"
        "names = [m.name for m in pkgutil.walk_packages(cs231n.__path__, 'cs231n.')]\n"
        # Importing torchvision after TensorFlow crashes the process (tensorflow-cpu 2.21,
        # torchvision 0.29), so the TensorFlow modules come last.
        "names.sort(key=lambda name: name.startswith('cs231n.tf_'))\n"
        # TensorFlow is an optional extra; without it the tf_* modules say so when imported.
        "import importlib.util\n"
        "if importlib.util.find_spec('tensorflow') is None:\n"
        "    names = [name for name in names if not name.startswith('cs231n.tf_')]\n"
        "modules = [importlib.import_module(name) for name in names]\n"
        "print(cs231n.__file__, len(modules))\n"
    )
    environment = dict(os.environ, PYTHONPATH=str(real_release))
    result = subprocess.run([sys.executable, "-c", script], cwd=real_release, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(real_release / "cs231n" / "__init__.py"))

    sources = {path: path.read_text() for path in (real_release / "cs231n").rglob("*.py")}
    for path in real_release.glob("*.ipynb"):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells, start=1):
            if cell.cell_type == "code":
                sources[f"{path.name}, cell {index}"] = cell.source
    stubbed = set()
    for where, text in sources.items():
        for body in region_bodies(text):
            stubbed.add(Path(str(where).split(",")[0]).name)
            is_placeholder = body.strip().startswith("raise NotImplementedError(") and body.count("\n") <= 6
            assert is_placeholder, (where, body)
    assert {"layers.py", "fc_net.py", "cnn.py", "optim.py", "PyTorch.ipynb"} <= stubbed


@pytest.mark.slow
def test_real_release_notebooks_stop_at_the_first_stub(real_release, cifar_environment, tmp_path):
    import importlib.util

    names = list(conventions.NOTEBOOKS)
    if importlib.util.find_spec("tensorflow") is None:
        names.remove("TensorFlow.ipynb")
    for name in names:
        notebook = nbformat.read(real_release / name, as_version=4)
        assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
        answers = [cell for cell in notebook.cells if conventions.ANSWER_TAG in cell.metadata.get("tags", [])]
        assert all(cell.source == conventions.BLANK_ANSWER for cell in answers)
        with pytest.raises(papermill.PapermillExecutionError) as raised:
            papermill.execute_notebook(
                str(real_release / name), str(tmp_path / name), parameters=conventions.smoke_parameters(),
                cwd=str(real_release), kernel_name="python3", progress_bar=False,
            )
        assert raised.value.ename == "NotImplementedError", (name, raised.value.ename, raised.value.evalue)
        assert "not implemented yet" in raised.value.evalue


# ---------------------------------------------------------------------------------
# Conventions, hostile input and what the release must never hold
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("line", [
    "    #*****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****",
    "    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)****",
    "    # start of your code",
    "    # *****SOLUTION ONLY*****",
])
def test_near_miss_markers_stop_the_release(fixture_solution, tmp_path, line):
    (fixture_solution / "cs231n" / "ops.py").write_text(OPS_SOURCE + f"\n\ndef extra():\n{line}\n    return 1\n")
    with pytest.raises(release.ReleaseError, match=r"cs231n/ops\.py, line \d+: not an exact marker line"):
        release.make_release(fixture_solution, tmp_path / "release")
    assert not (tmp_path / "release").exists()


def test_solution_only_blocks_vanish_from_the_release(fixture_solution, tmp_path):
    source = OPS_SOURCE + (
        f"\n\n{conventions.SOLUTION_ONLY_START}\ndef _shared_core(x):\n    return 3 * x\n{conventions.SOLUTION_ONLY_END}\n")
    (fixture_solution / "cs231n" / "ops.py").write_text(source)
    release.make_release(fixture_solution, tmp_path / "release")
    text = (tmp_path / "release" / "cs231n" / "ops.py").read_text()
    assert "_shared_core" not in text and "SOLUTION ONLY" not in text and "3 * x" not in text


def test_an_untagged_answer_cell_is_blanked_too(fixture_solution, tmp_path):
    path = fixture_solution / "Mini.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_markdown_cell("**Your Answer:** the secret derivation"))
    nbformat.write(notebook, path)
    release.make_release(fixture_solution, tmp_path / "release")
    cells = nbformat.read(tmp_path / "release" / "Mini.ipynb", as_version=4).cells
    assert cells[-1].source == conventions.BLANK_ANSWER


def test_symlinks_are_skipped_and_named(fixture_solution, tmp_path):
    (fixture_solution / "cs231n" / "passwd.py").symlink_to("/etc/passwd")
    changed, skipped = release.make_release(fixture_solution, tmp_path / "release")
    assert skipped == ["cs231n/passwd.py"]
    assert not (tmp_path / "release" / "cs231n" / "passwd.py").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda root: (root / "cs231n" / "ops.py").write_bytes(b"x = '\xff\xfe'\n"), "not valid UTF-8"),
    (lambda root: (root / "Mini.ipynb").write_text("{not json"), "not a readable notebook"),
])
def test_unreadable_sources_give_one_clear_line(fixture_solution, tmp_path, capsys, damage, message):
    damage(fixture_solution)
    assert release.main([str(tmp_path / "release"), "--source", str(fixture_solution)]) == 1
    assert message in capsys.readouterr().err


def test_a_file_as_destination_gives_one_clear_line(fixture_solution, tmp_path):
    target = tmp_path / "taken"
    target.write_text("mine")
    result = subprocess.run([sys.executable, "-m", "staff.release", str(target),
                             "--source", str(fixture_solution)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "is not a folder" in result.stderr and "Traceback" not in result.stderr
    assert target.read_text() == "mine"


def _normalized(line):
    return " ".join(line.split())


def _student_sources(root):
    """(where, text) of every package file and notebook code cell of a bundle."""
    for path in sorted((root / "cs231n").rglob("*.py")):
        yield path.relative_to(root).as_posix(), path.read_text()
    for path in sorted(root.glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            if cell.cell_type == "code":
                yield f"{path.name}, cell {index}", cell.source


def solution_lines(root):
    """Non-trivial lines that appear only inside the solution's marker regions."""
    inside, outside = {}, set()
    for where, text in _student_sources(root):
        lines = text.split("\n")
        regions = marker_regions(lines, where)
        regions += marker_regions(lines, where, conventions.SOLUTION_ONLY_START, conventions.SOLUTION_ONLY_END)
        covered = {index for start, end in regions for index in range(start + 1, end)}
        for index, line in enumerate(lines):
            normalized = _normalized(line)
            if index in covered:
                inside.setdefault(normalized, where)
            else:
                outside.add(normalized)
    # Short lines (such as "out = x" or "return out") and the opening line of a call
    # (such as "model = FullyConnectedNet(") say nothing about a solution.
    return {line: where for line, where in inside.items()
            if len(line) >= 20 and not line.endswith(("(", "[", "{", ",")) and line not in outside}


def test_the_release_holds_no_solution_line(real_release):
    secret = solution_lines(REPO_ROOT)
    assert len(secret) > 100
    leaks = []
    for path in sorted(real_release.rglob("*")):
        if not path.is_file() or path.suffix not in (".py", ".ipynb", ".md", ".txt", ".sh", ".pyx", ".toml"):
            continue
        if path.suffix == ".ipynb":
            notebook = nbformat.read(path, as_version=4)
            lines = [line for cell in notebook.cells for line in cell.source.split("\n")]
        else:
            lines = path.read_text().split("\n")
        for line in lines:
            if _normalized(line) in secret:
                leaks.append(f"{path.relative_to(real_release)}: {line.strip()} (from {secret[_normalized(line)]})")
    assert leaks == []


# Words of the staff side: its folder, its tools and their dependencies.
STAFF_SIDE_WORDS = re.compile(r"\bstaff\b|copydetect|pyyaml|\byaml\b|autograder?\b|gradescope|similarity report|"
                         r"quoted_figures|grade_all", re.IGNORECASE)


def test_the_release_names_no_staff_path_tool_or_dependency(real_release):
    named = []
    for path in sorted(real_release.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".pyx", ".md", ".txt", ".toml", ".sh", ".ipynb", ".cfg", ""):
            text = path.read_text(errors="replace")
            named += [f"{path.relative_to(real_release)}: {match.group()!r}" for match in STAFF_SIDE_WORDS.finditer(text)]
    assert named == []


def test_release_leaves_out_staff_material(real_release):
    for name in release.NOT_RELEASED:
        assert not (real_release / name).exists(), name
    assert not any(path.name in ("release.py", "autograde.py", "rubric.py")
                   for path in real_release.rglob("*.py"))
    assert (real_release / "tools" / "collect_submission.py").is_file()
    assert (real_release / "tests").is_dir()


def test_a_new_staff_file_stays_out_of_the_release(tmp_path):
    """The rule is the folder, not a list of its files: a file added under staff/ later
    (at any depth) is left out without anyone naming it."""
    source = tmp_path / "bundle"
    (source / "staff" / "newtool" / "deep").mkdir(parents=True)
    (source / "staff" / "newtool" / "deep" / "grade_more.py").write_text("SECRET = 1\n")
    (source / "staff" / "notes.md").write_text("staff notes\n")
    (source / "tools").mkdir()
    (source / "tools" / "helper.py").write_text("VALUE = 2\n")
    release.make_release(source, tmp_path / "out")
    shipped = sorted(path.relative_to(tmp_path / "out").as_posix()
                     for path in (tmp_path / "out").rglob("*") if path.is_file())
    assert shipped == ["tools/helper.py"]


def test_task_comments_name_sections_that_exist():
    headings = {}
    for path in REPO_ROOT.glob("*.ipynb"):
        cells = nbformat.read(path, as_version=4).cells
        headings[path.name] = {line.lstrip("#").strip() for cell in cells if cell.cell_type == "markdown"
                               for line in cell.source.split("\n") if line.startswith("#")}

    references = 0
    for name in conventions.STUDENT_FILES:
        for notebook, section in re.findall(r"Checked in (\w+\.ipynb) under the heading: (.+)$",
                                             (REPO_ROOT / name).read_text(), re.MULTILINE):
            references += 1
            assert section in headings[notebook], (name, notebook, section)
    assert references > 20


def test_gitignore_mirrors_the_excluded_names():
    ignored = {line.strip() for line in (REPO_ROOT / ".gitignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for pattern in conventions.EXCLUDED_NAMES:
        if pattern == ".git":
            continue
        assert any(entry.rstrip("/").split("/")[-1] == pattern for entry in ignored), pattern


# ---------------------------------------------------------------------------- the student README

STAFF_WORDS = ("autograde", "rubric", "make_release", "staff", "gradescope", "benchmark",
               "solution", "solved", ".ci")


def test_the_release_readme_is_the_students_not_the_staff_readme(real_release):
    text = (real_release / "README.md").read_text()
    assert text != (REPO_ROOT / "README.md").read_text()
    assert TASKS_PLACEHOLDER not in text
    lowered = text.lower()
    assert [word for word in STAFF_WORDS if word in lowered] == []


def test_every_path_and_command_the_release_readme_names_exists_there(real_release):
    text = (real_release / "README.md").read_text()
    named = set(re.findall(r"`(?:bash |!bash )?([\w./-]+\.(?:py|ipynb|sh|txt))`", text))
    named |= set(re.findall(r"`bash ([\w./-]+\.sh)", text))
    assert {"tools/setup_env.sh", "tools/run_tests.sh", "collectSubmission.sh",
            "cs231n/datasets/get_datasets.sh", "cs231n/layers.py"} <= named
    assert sorted(name for name in named if not (real_release / name).is_file()) == []


def test_the_release_readme_lists_every_task_where_its_comment_says_it_is_checked(real_release):
    text = (real_release / "README.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`cs231n/" in line]
    titles = []
    for name in conventions.STUDENT_FILES:
        titles += re.findall(r"# ---- (?:Task|Extra task \(not in the original assignment\)): (.+?) -+$",
                             (REPO_ROOT / name).read_text(), re.MULTILINE)
    assert len(titles) > 30 and len(rows) == len(titles)
    for title in titles:
        assert any(row.startswith(f"| {title}") for row in rows), title
    # Every notebook task cell's section is listed too, and extra tasks are marked optional.
    assert "| the code cell(s) with marker lines | `FullyConnectedNets.ipynb` |" in text
    assert "| AdaGrad (optional) | `cs231n/optim.py`, `adagrad` | tests/test_optim.py |" in text
