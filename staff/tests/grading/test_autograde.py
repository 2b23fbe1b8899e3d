"""The autograder: full marks for the solution, zero for the release, exact losses for
broken functions, original-style answers graded right, every known attack scored no
higher than the honest work it stands for, one required total whatever framework was
chosen, tolerances that pass rounding noise, bounded time, a result for every
submission, graders that run side by side, and runs replayed by their seed."""
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tools import conventions
from tools import cells
from tools.regions import marker_regions
from staff.grading import autograde, sandbox
from staff.grading.report import GRADESCOPE_RESULT_FIELDS, GRADESCOPE_TEST_FIELDS, Status
from staff.grading.rubric import (CHECKS, CORE_PARTS, FRAMEWORK_PARTS, FRAMEWORK_POINTS, GRADIENT_KEY, PARTS,
                                  gradient_scale)

REPO_ROOT = Path(__file__).resolve().parents[3]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def fill_region(text, function, bodies):
    """Put ``bodies`` (unindented code, one per region) into the regions of ``function``."""
    bodies = [bodies] if isinstance(bodies, str) else bodies
    lines = text.split("\n")
    header = next(index for index, line in enumerate(lines) if line.lstrip().startswith(f"def {function}("))
    regions = [(s, e) for s, e in marker_regions(lines, "test") if s > header][: len(bodies)]
    for (start, end), body in reversed(list(zip(regions, bodies))):
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        lines[start + 1 : end] = [indent + line if line else line for line in body.strip("\n").split("\n")]
    return "\n".join(lines)


def scores(report):
    return {part.name: (part.points, part.max_points) for part in report.parts}


def required_points(part):
    return sum(check.points for check in CHECKS if check.part == part and not check.extra)


REQUIRED_TOTAL = sum(required_points(part) for part in CORE_PARTS) + FRAMEWORK_POINTS
# The TensorFlow part needs the optional extra on the grader; without it, it is not gradable here.
HAVE_TENSORFLOW = autograde.installed("tensorflow")
GRADABLE_HERE = [part for part in PARTS if HAVE_TENSORFLOW or part != "TensorFlow models"]


def tree_digest(root):
    digest = hashlib.sha256()
    for folder in ("tools", "cs231n", "tests"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".so", ".c"):
                digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_solution_scores_full_marks_on_every_part_and_the_release_zero(starter):
    started = time.monotonic()
    solution = autograde.grade(REPO_ROOT)
    print(f"\nGraded the solution's full rubric in {time.monotonic() - started:.1f} s; "
          f"sandbox: {solution.isolation_summary()}")
    assert [part.name for part in solution.parts] == list(PARTS)
    failed = [(part.name, check.name, check.message) for part in solution.parts
              if part.name in GRADABLE_HERE for check in part.checks if not check.passed]
    assert failed == []
    # Both frameworks chosen: both graded and shown, one counted. On a grader without
    # TensorFlow its part is not gradable here, a staff matter that makes the report
    # incomplete, while PyTorch's full marks still count.
    assert solution.total.score == 1.0
    assert solution.status is (Status.GRADED if HAVE_TENSORFLOW else Status.INCOMPLETE)
    tensorflow = next(part for part in solution.parts if part.name == "TensorFlow models")
    assert (tensorflow.status == Status.NOT_GRADABLE) == (not HAVE_TENSORFLOW)
    assert solution.frameworks_chosen == list(FRAMEWORK_PARTS)
    assert [part.counted for part in solution.parts if part.framework] == [True, False]
    assert solution.total.max_points == REQUIRED_TOTAL
    extra = sum(check.points for check in CHECKS if check.extra)
    assert (solution.total.extra_points, solution.total.extra_max_points) == (extra, extra)

    # The release's framework notebooks are untouched: neither is graded, and the counted
    # framework part scores 0 with that reason.
    starter_report = autograde.grade(starter)
    assert scores(starter_report) == {part: (0, required_points(part)) for part in PARTS}
    assert starter_report.total.max_points == REQUIRED_TOTAL
    frameworks = [part for part in starter_report.parts if part.framework]
    assert [part.status for part in frameworks] == [Status.NOT_CHOSEN] * 2
    assert frameworks[0].counted and "no framework notebook was worked in" in frameworks[0].reason


@pytest.mark.slow
def test_solution_regions_pasted_into_the_release_grade_full_marks(starter, release_copy):
    def paste_all(name):
        def edit(text):
            solution_lines = (REPO_ROOT / name).read_text().split("\n")
            bodies = [solution_lines[s + 1 : e] for s, e in marker_regions(solution_lines, name)]
            lines = text.split("\n")
            for (start, end), body in reversed(list(zip(marker_regions(lines, name), bodies))):
                lines[start + 1 : end] = body
            return "\n".join(lines)
        return edit

    python_files = [name for name in conventions.STUDENT_FILES if name.endswith(".py")
                    and marker_regions((starter / name).read_text().split("\n"), name)]
    root = release_copy({name: paste_all(name) for name in python_files})
    # The solution keeps its sandwich helper where the original invites students to put
    # theirs, in layer_utils.py (solution-only there, so the release does not give it away).
    for name in conventions.EXTENDABLE_FILES:
        (root / name).write_bytes((REPO_ROOT / name).read_bytes())
    report = autograde.grade(root, parts=[part for part in PARTS if part not in FRAMEWORK_PARTS])
    assert report.total.score == 1.0, [c for p in report.parts for c in p.checks if not c.passed]


def test_one_broken_function_loses_exactly_its_checks(solution_copy):
    root = solution_copy({"cs231n/optim.py": lambda text: text.replace(
        'decay * config["cache"] + (1 - decay) * dw**2', 'decay * config["cache"] + (1 - decay) * dw')})
    report = autograde.grade(root, parts=["optimizers"])
    failed = [check.name for check in report.parts[0].checks if not check.passed]
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


@pytest.mark.slow
def test_answers_written_for_the_original_skeleton_grade_correctly(release_copy):
    edits = {}
    for (name, function), body in ORIGINAL_STYLE_ANSWERS.items():
        previous = edits.get(name, lambda text: text)
        edits[name] = lambda text, previous=previous, function=function, body=body: fill_region(
            previous(text), function, body)
    root = release_copy(edits)
    report = autograde.grade(root, parts=["FC layers", "optimizers", "dropout"])
    checks = {check.name: check for part in report.parts for check in part.checks}
    for name in ("affine_forward: (2, 4, 5, 6) input to 3 outputs",
                 "affine_backward: dx, dw, db for a (10, 2, 3) input",
                 "relu_forward and relu_backward on a (10, 10) input",
                 "sgd_momentum: one step from a config holding velocity",
                 "sgd_momentum: five steps from an empty config",
                 "dropout_forward/backward with keep probability p = 0.25",
                 "dropout_forward: the same seed gives the same mask"):
        assert checks[name].passed, (name, checks[name].message)


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
@pytest.mark.slow
def test_attacks_score_no_more_than_the_honest_work(attack, release_copy):
    if attack.startswith("reading") and not IS_ROOT:
        pytest.skip("hiding the grader's folder needs root; the report says so")
    before = tree_digest(REPO_ROOT)
    root = release_copy({"cs231n/optim.py": lambda text: ATTACKS[attack] + text})
    report = autograde.grade(root, parts=["optimizers"])
    part = report.parts[0]
    assert (part.points, part.max_points) == (0, required_points("optimizers"))
    assert part.total == sum(1 for check in CHECKS if check.part == "optimizers")
    assert tree_digest(REPO_ROOT) == before
    assert not (REPO_ROOT / "tests" / "test_planted.py").exists()
    assert processes_running("sleep 987") == []


def processes_running(command_line):
    """The ids of processes whose command line is ``command_line``, read from /proc (a
    minimal image has no pgrep)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip() == \
                    command_line.encode():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_the_report_states_the_isolation_in_force(starter):
    report = autograde.grade(starter, parts=["optimizers"])
    summary = report.isolation_summary()
    assert "limits: CPU" in summary
    if IS_ROOT:
        assert "unprivileged uid" in summary


# ----------------------------------------------------------------------------- hostile archives

def run_cli(*arguments):
    return subprocess.run([sys.executable, "-m", "staff.grading.autograde", *map(str, arguments)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
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
    assert gradescope["score"] == 0
    assert set(gradescope) <= GRADESCOPE_RESULT_FIELDS
    assert all(set(test) <= GRADESCOPE_TEST_FIELDS for test in gradescope["tests"])
    assert "not implemented yet" in gradescope["tests"][0]["output"]
    # The tests add up to the total; extra credit is shown, outside the maximum.
    assert sum(test["max_score"] for test in gradescope["tests"]) == required_points("optimizers")
    assert any(test["output"].startswith("extra credit, FAILED") for test in gradescope["tests"])
    for words in ("Required total: 0/", "extra credit: 0/", "optimizers: 0/"):
        assert words in gradescope["output"]
    # The seed and the sandbox are staff fields: in the JSON report's "staff", not in
    # anything a student reads.
    assert isinstance(report["staff"]["seed"], int) and report["staff"]["isolation"]
    assert "seed" not in gradescope["output"].lower() and "sandbox" not in gradescope["output"].lower()


@contextlib.contextmanager
def no_sandbox_user():
    yield None


def test_without_root_the_limits_still_apply_and_the_report_says_so(monkeypatch):
    monkeypatch.setattr(autograde, "reserve_sandbox_user", no_sandbox_user)
    report = autograde.grade(REPO_ROOT, parts=["optimizers"])
    assert report.total.score == 1.0
    summary = report.isolation_summary()
    assert "privileges could not be dropped" in summary and "limits: CPU 300 s" in summary


def test_a_framework_counts_as_chosen_once_worked_in(starter):
    untouched = json.loads((starter / "PyTorch.ipynb").read_text())
    assert not cells.framework_chosen(untouched)
    code = next(cell for cell in untouched["cells"] if cell["cell_type"] == "code")
    code["execution_count"] = 1
    assert cells.framework_chosen(untouched)
    code["execution_count"] = None
    answer = next(cell for cell in untouched["cells"] if cells.is_answer_cell(cell))
    answer["source"] = conventions.ANSWER_PROMPT + " Batch norm before the ReLU."
    assert cells.framework_chosen(untouched)

    release_notebooks = {name: (starter / name).read_bytes() for name in conventions.FRAMEWORK_NOTEBOOKS}
    solution_notebooks = {name: (REPO_ROOT / name).read_bytes() for name in conventions.FRAMEWORK_NOTEBOOKS}
    assert autograde.chosen_frameworks(release_notebooks) == []
    assert autograde.chosen_frameworks(solution_notebooks) == list(FRAMEWORK_PARTS)
    assert autograde.chosen_frameworks({"TensorFlow.ipynb": b"{not json"}) == ["TensorFlow models"]


def solution_with_notebooks(solution_copy, starter, worked_in):
    """The solution's student files with the solution's notebook for each framework in
    ``worked_in`` and the release's untouched one for the others."""
    root = solution_copy({})
    for part, name in FRAMEWORK_PARTS.items():
        (root / name).write_bytes(((REPO_ROOT if part in worked_in else starter) / name).read_bytes())
    return root


@pytest.mark.slow
def test_one_required_total_whichever_framework_was_chosen(solution_copy, starter):
    report = autograde.grade(solution_with_notebooks(solution_copy, starter, ["PyTorch models"]))
    assert report.frameworks_chosen == ["PyTorch models"]
    assert (report.total.points, report.total.max_points) == (REQUIRED_TOTAL, REQUIRED_TOTAL)
    tensorflow = next(part for part in report.parts if part.name == "TensorFlow models")
    assert tensorflow.status == Status.NOT_CHOSEN and not tensorflow.counted


@pytest.mark.slow
def test_tensorflow_chosen_on_a_grader_without_it_is_not_the_students_failure(solution_copy, starter,
                                                                               monkeypatch):
    monkeypatch.setattr(autograde, "installed", lambda module: module != "tensorflow")
    report = autograde.grade(solution_with_notebooks(solution_copy, starter, ["TensorFlow models"]))
    assert report.status is Status.INCOMPLETE
    tensorflow = next(part for part in report.parts if part.name == "TensorFlow models")
    assert tensorflow.status == Status.NOT_GRADABLE and tensorflow.counted
    assert "not installed on this grader" in tensorflow.reason and "staff" in tensorflow.reason
    # Everything else is graded, out of the same total.
    assert report.total.max_points == REQUIRED_TOTAL
    assert report.total.points == REQUIRED_TOTAL - FRAMEWORK_POINTS
    assert all(part.score == 1.0 for part in report.parts if part.name in CORE_PARTS)


# ----------------------------------------------------------------------------- tolerances

@pytest.fixture(scope="module")
def reference_values(tmp_path_factory):
    """The solution's values for every check, run part by part as the grader runs them."""
    folder = tmp_path_factory.mktemp("reference")
    package = sandbox.build_sandbox(folder / "package", *autograde._grader_files(), as_released=False)
    values = {}
    for number, part in enumerate(GRADABLE_HERE):
        checks = [(index, check.probe, check.params) for index, check in enumerate(CHECKS) if check.part == part]
        values.update(sandbox.run_trusted(package, folder / f"part{number}", checks, 1234, 600))
    return values


# Rounding noise of float64 arithmetic is a few units of this, relative to the magnitude
# of the quantity computed.
FLOAT64_EPSILON = float(np.finfo(np.float64).eps)


def perturbed(values, relative, rng):
    """A copy of one probe result with every float entry off by up to ``relative`` (both
    signs), and, as float64 rounding leaves them, mathematically zero entries replaced by
    noise of epsilon times the scale: of the call's gradients for a gradient, else of the array."""
    gradients = gradient_scale(values)
    copy = {}
    for key, value in values.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size == 0:
            copy[key] = value  # shapes, counts and other exact values
            continue
        array = value
        scale = gradients if GRADIENT_KEY.fullmatch(key) else float(np.max(np.abs(array)))
        if relative is None:
            noisy = array * (1 + 4 * FLOAT64_EPSILON * rng.uniform(-1, 1, array.shape))
            zero = np.abs(array) <= 64 * FLOAT64_EPSILON * scale
            copy[key] = np.where(zero, FLOAT64_EPSILON * scale * rng.uniform(-1, 1, array.shape), noisy)
        else:
            copy[key] = array * (1 + relative * rng.choice([-1.0, 1.0], array.shape))
    return copy


# Judges that test properties rather than compare values: initialization statistics and
# shapes or counts.
PROPERTY_PROBES = {"fc_net_initialization", "convnet_initialization", "torch_sequential_model",
                   "torch_challenge_model", "tf_three_layer_init", "tf_challenge_model"}


@pytest.mark.slow
def test_rounding_noise_passes_every_check_and_a_real_error_fails(reference_values):
    rng = np.random.default_rng(0)
    noisy_failures, missed_errors = [], []
    for index, check in enumerate(CHECKS):
        if check.part not in GRADABLE_HERE:
            continue
        reference = reference_values[index]
        passed, message = autograde.judge_check(check, (perturbed(reference, None, rng), None), reference)
        if not passed:
            noisy_failures.append((check.name, message))
        if check.probe not in PROPERTY_PROBES:
            passed, _ = autograde.judge_check(check, (perturbed(reference, 1e-3, rng), None), reference)
            if passed:
                missed_errors.append(check.name)
    assert noisy_failures == []
    assert missed_errors == []


def test_a_bias_gradient_that_is_mathematically_zero_passes_on_rounding_noise():
    """The case that failed correct code: the bias before batch norm has gradient 0, and
    both answers hold only rounding noise of the other gradients' scale."""
    check = next(check for check in CHECKS if check.name == "FullyConnectedNet with batchnorm: loss and gradients")
    reference = {"loss": np.array(2.3), "grad_W1": np.array([[0.4, -0.2]]), "grad_b1": np.array([-1.5e-18, 3e-18])}
    submitted = dict(reference, grad_b1=np.array([1.7e-18, -2e-18]))
    assert autograde.judge_check(check, (submitted, None), reference) == (True, "passed")
    wrong = dict(reference, grad_b1=np.array([1e-3, 0.0]))
    passed, message = autograde.judge_check(check, (wrong, None), reference)
    assert not passed and message.startswith("grad_b1: max relative error")


def test_a_backward_check_does_not_depend_on_a_broken_forward(solution_copy):
    root = solution_copy({"cs231n/layers.py": lambda text: text.replace(
        "    cache = (x, w, b)\n    return out, cache", "    raise ValueError('broken forward')", 1)})
    (root / "cs231n" / "layers.py").write_text((root / "cs231n" / "layers.py").read_text().replace(
        "        cache = (x_hat, centered, std, gamma)", "        raise ValueError('broken batchnorm')", 1))
    report = autograde.grade(root, parts=["FC layers", "batch norm"])
    checks = {check.name: check for part in report.parts for check in part.checks}
    assert not checks["affine_forward: (2, 4, 5, 6) input to 3 outputs"].passed
    assert checks["affine_backward: dx, dw, db for a (10, 2, 3) input"].passed
    message = checks["batchnorm_backward: dx, dgamma, dbeta"].message
    assert "batchnorm_forward failed first" in message and "broken batchnorm" in message


# ----------------------------------------------------------------------------- time and results

@pytest.mark.slow
def test_an_infinite_loop_times_out_alone_and_the_part_goes_on(solution_copy):
    root = solution_copy({"cs231n/layers.py": lambda text: fill_region(
        text, "affine_forward", "while True:\n    pass")})
    check_timeout = 5
    looping = [check for check in CHECKS if check.part == "FC layers"
               and (check.probe == "affine_forward" or check.probe == "fc_net_loss")]
    started = time.monotonic()
    report = autograde.grade(root, parts=["FC layers"], limits=sandbox.Limits(check_timeout=check_timeout))
    elapsed = time.monotonic() - started
    part = report.parts[0]
    failed = {check.name: check.message for check in part.checks if not check.passed}
    # The composites that ran the looping affine_forward also point at its own check.
    assert set(failed) == {check.name for check in looping}
    assert all(message.startswith(f"timed out after {check_timeout} s") for message in failed.values())
    assert part.total == sum(1 for check in CHECKS if check.part == "FC layers")
    # Each looping check costs its timeout once (no retries), plus a generous allowance
    # for the reference run and the relaunches.
    assert elapsed < len(looping) * check_timeout + 120


def test_the_total_budget_fails_what_it_leaves_unfinished(tmp_path):
    report = autograde.grade(REPO_ROOT, parts=["optimizers", "solver"], total_timeout=0)
    messages = {check.message for part in report.parts for check in part.checks}
    assert messages == {"not run: the submission's total time budget of 0 s ran out"}


@pytest.mark.parametrize("kind", ["unreadable zip", "folder without cs231n"])
def test_an_ungradable_submission_still_writes_its_result(tmp_path, kind):
    if kind == "unreadable zip":
        submission = tmp_path / "submission.zip"
        submission.write_bytes(b"PK\x03\x04" + os.urandom(2000))
    else:
        submission = tmp_path / "folder"
        (submission / "notes").mkdir(parents=True)
    output, results = tmp_path / "report.json", tmp_path / "results.json"
    result = run_cli(submission, "--json", "--output", output, "--gradescope", results)
    assert result.returncode == 2
    for report in (json.loads(result.stdout), json.loads(output.read_text())):
        assert report["status"] == "ungradable" and report["reason"]
        assert report["total"]["points"] == 0 and report["total"]["max_points"] == REQUIRED_TOTAL
    gradescope = json.loads(results.read_text())
    assert gradescope["score"] == 0 and sum(test["max_score"] for test in gradescope["tests"]) == REQUIRED_TOTAL
    assert "ungradable" in gradescope["tests"][-1]["output"]


@pytest.mark.slow
def test_two_graders_at_once_both_give_full_marks(tmp_path):
    outputs = [tmp_path / f"report{number}.json" for number in range(2)]
    graders = [subprocess.Popen([sys.executable, "-m", "staff.grading.autograde", str(REPO_ROOT), "--parts",
                                 "FC layers", "optimizers", "--output", str(output)],
                                cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
               for output in outputs]
    for grader in graders:
        _, errors = grader.communicate(timeout=600)
        assert grader.returncode == 0, errors.decode()
    reports = [json.loads(output.read_text()) for output in outputs]
    assert [report["total"]["score"] for report in reports] == [1.0, 1.0]
    if IS_ROOT:
        users = {report["staff"]["isolation"]["user"] for report in reports}
        assert len(users) == 2, users


def test_the_same_seed_replays_the_same_messages(solution_copy):
    root = solution_copy({"cs231n/optim.py": lambda text: text.replace(
        'decay * config["cache"] + (1 - decay) * dw**2', 'decay * config["cache"] + (1 - decay) * dw')})

    def messages(seed):
        report = autograde.grade(root, parts=["optimizers"], seed=seed)
        assert report.staff.seed == seed
        return [check.message for check in report.parts[0].checks]

    first = messages(2026)
    assert any(message != "passed" for message in first)
    assert messages(2026) == first
    # Another seed draws other inputs, so the differences reported differ.
    assert messages(7) != first
