"""The autograder: full marks for the solution, zero for the release, exact losses for
broken functions, original-style answers graded right, and every known attack scored
no higher than the honest work it stands for."""
import hashlib
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from staff import autograde
from tools import bundle
from staff import release
from staff.grading.rubric import CHECKS, FRAMEWORK_PARTS, PARTS

REPO_ROOT = Path(__file__).resolve().parents[2]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    out = tmp_path_factory.mktemp("starter") / "assignment2"
    release.make_release(REPO_ROOT, out)
    return out


def submission_from(starter, tmp_path, edits):
    """A copy of the starter's student files with ``edits`` applied: {file: function(text) -> text}."""
    root = tmp_path / "submission"
    for name in bundle.STUDENT_FILES + ("PyTorch.ipynb",):
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((starter / name).read_bytes())
    (root / "cs231n" / "__init__.py").write_text("")
    for name, edit in edits.items():
        path = root / name
        path.write_text(edit(path.read_text()))
    return root


def fill_region(text, function, bodies):
    """Put ``bodies`` (unindented code, one per region) into the regions of ``function``."""
    bodies = [bodies] if isinstance(bodies, str) else bodies
    lines = text.split("\n")
    header = next(index for index, line in enumerate(lines) if line.lstrip().startswith(f"def {function}("))
    regions = [(s, e) for s, e in bundle.marker_regions(lines, "test") if s > header][: len(bodies)]
    for (start, end), body in reversed(list(zip(regions, bodies))):
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        lines[start + 1 : end] = [indent + line if line else line for line in body.strip("\n").split("\n")]
    return "\n".join(lines)


def scores(report):
    return {part["name"]: (part["points"], part["max_points"]) for part in report["parts"]}


def full_points(part):
    return sum(check.points for check in CHECKS if check.part == part)


def tree_digest(root):
    digest = hashlib.sha256()
    for folder in ("tools", "cs231n", "tests"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".so", ".c"):
                digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_solution_scores_full_marks_on_every_part_and_the_release_zero(starter):
    started = time.monotonic()
    solution = autograde.grade(REPO_ROOT)
    print(f"\nGraded the solution's full rubric in {time.monotonic() - started:.1f} s; "
          f"sandbox: {autograde.isolation_summary(solution)}")
    assert [part["name"] for part in solution["parts"]] == list(PARTS)
    failed = [(part["name"], check["name"], check["message"]) for part in solution["parts"]
              for check in part["checks"] if not check["passed"]]
    assert failed == []
    assert solution["total"]["score"] == 1.0

    starter_report = autograde.grade(starter)
    assert scores(starter_report) == {part: (0, full_points(part)) for part in PARTS}


def test_solution_regions_pasted_into_the_release_grade_full_marks(starter, tmp_path):
    def paste_all(name):
        def edit(text):
            solution_lines = (REPO_ROOT / name).read_text().split("\n")
            bodies = [solution_lines[s + 1 : e] for s, e in bundle.marker_regions(solution_lines, name)]
            lines = text.split("\n")
            for (start, end), body in reversed(list(zip(bundle.marker_regions(lines, name), bodies))):
                lines[start + 1 : end] = body
            return "\n".join(lines)
        return edit

    python_files = [name for name in bundle.STUDENT_FILES if name.endswith(".py")]
    root = submission_from(starter, tmp_path, {name: paste_all(name) for name in python_files})
    report = autograde.grade(root, parts=[part for part in PARTS if part not in FRAMEWORK_PARTS])
    assert report["total"]["score"] == 1.0, [c for p in report["parts"] for c in p["checks"] if not c["passed"]]


def test_one_broken_function_loses_exactly_its_checks(tmp_path):
    root = tmp_path / "bundle"
    for name in bundle.STUDENT_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes((REPO_ROOT / name).read_bytes())
    (root / "cs231n" / "__init__.py").write_text("")
    optim = root / "cs231n" / "optim.py"
    optim.write_text(optim.read_text().replace('decay * config["cache"] + (1 - decay) * dw**2',
                                               'decay * config["cache"] + (1 - decay) * dw'))
    report = autograde.grade(root, parts=["optimizers"])
    failed = [check["name"] for check in report["parts"][0]["checks"] if not check["passed"]]
    assert failed and all(name.startswith("rmsprop") for name in failed)
    assert len(failed) == sum(1 for check in CHECKS if check.name.startswith("rmsprop"))


ORIGINAL_STYLE_ANSWERS = {
    ("cs231n/layers.py", "affine_forward"): "out = x.reshape(x.shape[0], -1).dot(w) + b",
    ("cs231n/layers.py", "affine_backward"): (
        "dx = dout.dot(w.T).reshape(x.shape)\n"
        "dw = x.reshape(x.shape[0], -1).T.dot(dout)\n"
        "db = np.sum(dout, axis=0)"),
    ("cs231n/layers.py", "relu_forward"): "out = x * (x > 0)",
    ("cs231n/layers.py", "relu_backward"): "dx = dout.copy()\ndx[x <= 0] = 0",
    ("cs231n/layers.py", "dropout_forward"): ["mask = (np.random.rand(*x.shape) < p) / p\nout = x * mask",
                                              "out = x"],
    ("cs231n/layers.py", "dropout_backward"): "dx = dout * mask",
    ("cs231n/optim.py", "sgd_momentum"): (
        "v = config['momentum'] * v - config['learning_rate'] * dw\nnext_w = w + v"),
}


def test_answers_written_for_the_original_skeleton_grade_correctly(starter, tmp_path):
    edits = {}
    for (name, function), body in ORIGINAL_STYLE_ANSWERS.items():
        previous = edits.get(name, lambda text: text)
        edits[name] = lambda text, previous=previous, function=function, body=body: fill_region(
            previous(text), function, body)
    root = submission_from(starter, tmp_path, edits)
    report = autograde.grade(root, parts=["FC layers", "optimizers", "dropout"])
    checks = {check["name"]: check for part in report["parts"] for check in part["checks"]}
    for name in ("affine_forward: (2, 4, 5, 6) input to 3 outputs",
                 "affine_backward: dx, dw, db for a (10, 2, 3) input",
                 "relu_forward and relu_backward on a (10, 10) input",
                 "sgd_momentum: one step from a config holding velocity",
                 "sgd_momentum: five steps from an empty config",
                 "dropout_forward/backward with keep probability p = 0.25",
                 "dropout_forward: the same seed gives the same mask"):
        assert checks[name]["passed"], (name, checks[name]["message"])


def test_layers_without_private_helpers_still_let_the_scaffold_import(starter, tmp_path):
    """A layers.py holding nothing but the assignment's public functions breaks no other module."""
    import ast

    package = tmp_path / "package"
    for path in (starter / "cs231n").rglob("*.py"):
        target = package / path.relative_to(starter)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    tree = ast.parse((starter / "cs231n" / "layers.py").read_text())
    public = [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]
    assert "affine_forward" in public and "spatial_groupnorm_backward" in public
    (package / "cs231n" / "layers.py").write_text("".join(
        f"def {name}(*args, **kwargs):\n    raise NotImplementedError\n\n\n" for name in public))
    script = ("import cs231n.fast_layers, cs231n.layer_utils, cs231n.classifiers.fc_net, "
              "cs231n.classifiers.cnn, cs231n.solver; print(cs231n.fast_layers.__file__)")
    result = subprocess.run([sys.executable, "-c", script], cwd=package, capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(package)), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(package))


# ----------------------------------------------------------------------------- attacks

ATTACKS = {
    "atexit rewrites the result files": (
        "import atexit, glob, json, os\n"
        "def _forge():\n"
        "    for path in glob.glob(os.path.join(os.getcwd(), '..', 'out', '*')):\n"
        "        os.remove(path)\n"
        "    for index in range(200):\n"
        "        json.dump({}, open(os.path.join(os.getcwd(), '..', 'out', f'values-{index}.json'), 'w'))\n"
        "atexit.register(_forge)\n"),
    "the probes are patched to return their inputs": (
        "import sys\n"
        "probes = sys.modules.get('probes')\n"
        "if probes is not None:\n"
        "    probes.update_rule = lambda cs, rng, **kw: {'weights': 0}\n"),
    "pytest.skip inside a stub": "import pytest\npytest.skip('nothing to see', allow_module_level=True)\n",
    "pytest.exit at import": "import pytest\npytest.exit('done', returncode=0)\n",
    "sys.exit(0) at import": "import sys\nsys.exit(0)\n",
    "os._exit(0) at import": "import os\nos._exit(0)\n",
    "reading the grader's solution through /proc and its folder": (
        "import os\n"
        f"for _path in [f'/proc/{{os.getppid()}}/cwd/cs231n/optim.py', {str(REPO_ROOT / 'cs231n' / 'optim.py')!r}]:\n"
        "    try:\n"
        "        exec(open(_path).read())\n"
        "        break\n"
        "    except Exception:\n"
        "        pass\n"),
    "rewriting the grader and planting tests": (
        f"for _path in [{str(REPO_ROOT / 'tools' / 'autograde.py')!r}, {str(REPO_ROOT / 'tests' / 'test_planted.py')!r}]:\n"
        "    try:\n"
        "        open(_path, 'w').write('# planted')\n"
        "    except Exception:\n"
        "        pass\n"),
    "a forked daemon": (
        "import subprocess\n"
        "subprocess.Popen(['sleep', '987'], start_new_session=True)\n"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_attacks_score_no_more_than_the_honest_work(attack, starter, tmp_path):
    if attack.startswith("reading") and not IS_ROOT:
        pytest.skip("hiding the grader's folder needs root; the report says so")
    before = tree_digest(REPO_ROOT)
    root = submission_from(starter, tmp_path, {"cs231n/optim.py": lambda text: ATTACKS[attack] + text})
    report = autograde.grade(root, parts=["optimizers"])
    part = report["parts"][0]
    assert (part["points"], part["max_points"]) == (0, full_points("optimizers"))
    assert part["total"] == sum(1 for check in CHECKS if check.part == "optimizers")
    assert tree_digest(REPO_ROOT) == before
    assert not (REPO_ROOT / "tests" / "test_planted.py").exists()
    leftovers = subprocess.run(["pgrep", "-f", "sleep 987"], capture_output=True, text=True).stdout.split()
    assert leftovers == []


def test_the_report_states_the_isolation_in_force(starter):
    report = autograde.grade(starter, parts=["optimizers"])
    summary = autograde.isolation_summary(report)
    assert "limits: CPU" in summary
    if IS_ROOT:
        assert "unprivileged uid" in summary


# ----------------------------------------------------------------------------- hostile archives

def run_cli(*arguments):
    return subprocess.run([sys.executable, "-m", "staff.autograde", *map(str, arguments)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_zip_bomb_is_refused_quickly_without_unpacking(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cs231n/__init__.py", "")
        with archive.open("cs231n/layers.py", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 24)
            for _ in range(64):  # 1 GiB of zeros
                member.write(block)
    assert bomb.stat().st_size < 4 << 20
    started = time.monotonic()
    result = run_cli(bomb)
    assert result.returncode == 2
    assert "over the limit" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


@pytest.mark.parametrize("members, message", [
    ({"cs231n/__init__.py": "", "cs231n/optim.py": "x", "cs231n/optim.py/inner": "y"}, "both a file and a folder"),
    ({"cs231n/__init__.py": "", "../evil.py": "x"}, "outside the archive"),
    ({"/etc/cs231n/__init__.py": ""}, "absolute"),
    ({"readme.txt": "no package"}, "no cs231n/__init__.py"),
])
def test_hostile_archives_give_a_clear_error_and_exit_2(tmp_path, members, message):
    archive_path = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    result = run_cli(archive_path)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and "Traceback" not in result.stderr


def test_corrupt_zip_gives_a_clear_error_and_exit_2(tmp_path):
    corrupt = tmp_path / "submission.zip"
    corrupt.write_bytes(b"PK\x03\x04" + os.urandom(2000))
    result = run_cli(corrupt)
    assert result.returncode == 2
    assert "not a readable zip archive" in result.stderr and "Traceback" not in result.stderr


def test_symlinked_member_is_refused(tmp_path):
    archive_path = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("cs231n/__init__.py", "")
        link = zipfile.ZipInfo("cs231n/layers.py")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")
    result = run_cli(archive_path)
    assert result.returncode == 2 and "symbolic link" in result.stderr


def test_gradescope_results_and_json_report(tmp_path, starter):
    results = tmp_path / "results.json"
    result = run_cli(starter, "--parts", "optimizers", "--json", "--gradescope", results)
    assert result.returncode == 0, result.stderr
    import json

    report, gradescope = json.loads(result.stdout), json.loads(results.read_text())
    assert set(report["parts"][0]) >= {"name", "passed", "total", "score"}
    assert set(report["total"]) >= {"passed", "total", "score"}
    assert gradescope["score"] == 0 and gradescope["max_score"] == full_points("optimizers")
    assert all(set(test) == {"name", "score", "max_score", "output", "visibility"} for test in gradescope["tests"])
    assert "not implemented yet" in gradescope["tests"][0]["output"]


def test_without_root_the_limits_still_apply_and_the_report_says_so(monkeypatch):
    monkeypatch.setattr(autograde, "pick_sandbox_user", lambda: None)
    report = autograde.grade(REPO_ROOT, parts=["optimizers"])
    assert report["total"]["score"] == 1.0
    summary = autograde.isolation_summary(report)
    assert "dropping privileges needs root" in summary and "limits: CPU 300 s" in summary


def test_the_framework_part_follows_the_notebooks_submitted():
    core = [part for part in PARTS if part not in ("PyTorch models", "TensorFlow models")]
    assert autograde.default_parts({"PyTorch.ipynb": b""}) == core + ["PyTorch models"]
    assert autograde.default_parts({"TensorFlow.ipynb": b""}) == core + ["TensorFlow models"]
    assert autograde.default_parts({"PyTorch.ipynb": b"", "TensorFlow.ipynb": b""}) == list(PARTS)
    # Neither notebook: the PyTorch part is graded, and its checks fail for the missing notebook.
    assert autograde.default_parts({}) == core + ["PyTorch models"]
