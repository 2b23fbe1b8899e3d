"""The Gradescope autograder zip (python -m staff.gradescope): built, unpacked into an
/autograder-shaped folder and run with this bundle's environment (setup.sh is not run)
on the solution, a starter release, a broken zip and a grader that cannot start."""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from staff import release
from staff.autograde import gradescope_results, ungradable_report
from staff.gradescope import PYTHON_VERSIONS, build_autograder, main
from staff.grading.rubric import CHECKS, CORE_PARTS, FRAMEWORK_POINTS, PARTS
from tools.bundle import NOTEBOOKS, STUDENT_FILES

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
HIDDEN = ("optimizers",)
GRADED = ("FC layers", "optimizers")  # a short run that still holds extra-credit checks
REQUIRED_TOTAL = (sum(check.points for check in CHECKS if check.part in CORE_PARTS and not check.extra)
                  + FRAMEWORK_POINTS)
TEST_FIELDS = {"name", "number", "score", "max_score", "output", "visibility", "tags"}


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """(zip, folder): the autograder zip with HIDDEN parts, unpacked the way Gradescope
    does: the zip into source/, run_autograder copied beside it."""
    folder = tmp_path_factory.mktemp("gradescope")
    archive = folder / "autograder.zip"
    assert main([str(archive), "--hidden", *HIDDEN]) == 0
    root = folder / "autograder"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(root / "source")
        for info in opened.infolist():  # extractall drops the modes
            mode = info.external_attr >> 16 & 0o777
            if mode:
                (root / "source" / info.filename).chmod(mode)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    return archive, root


def run_autograder(root, fill_submission, parts=None, venv=VENV):
    """Run run_autograder on a fresh submission folder; return (process, results.json)."""
    for name in ("submission", "results"):
        shutil.rmtree(root / name, ignore_errors=True)
        (root / name).mkdir()
    fill_submission(root / "submission")
    environment = {key: value for key, value in os.environ.items() if key != "GRADING_PARTS"}
    environment.update(AUTOGRADER_ROOT=str(root), CS231N_VENV=str(venv))
    if parts:
        environment["GRADING_PARTS"] = ",".join(parts)
    process = subprocess.run([str(root / "run_autograder")], cwd=root, env=environment,
                             capture_output=True, text=True, timeout=240)
    assert process.returncode == 0, process.stdout + process.stderr
    return process, json.loads((root / "results" / "results.json").read_text())


def check_schema(results, hidden=HIDDEN):
    assert results["stdout_visibility"] == "hidden"
    assert results["tests"], results
    for test in results["tests"]:
        assert TEST_FIELDS <= set(test), test
        assert isinstance(test["number"], str) and isinstance(test["tags"], list)
        assert isinstance(test["output"], str) and test["output"]
        part = next((tag for tag in test["tags"] if tag in PARTS), None)
        assert test["visibility"] == ("after_due_date" if part in hidden else "visible"), test
    assert sum(test["score"] for test in results["tests"]) == results["score"]
    assert sum(test["max_score"] for test in results["tests"]) == results["max_score"]
    assert len({test["number"] for test in results["tests"]}) == len(results["tests"])


def copy_solution(folder):
    for name in ("cs231n/__init__.py",) + STUDENT_FILES + NOTEBOOKS:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)


def test_the_zip_holds_the_scripts_at_its_root_and_the_grader_without_the_rest(autograder):
    archive, _ = autograder
    with zipfile.ZipFile(archive) as opened:
        infos = {info.filename: info for info in opened.infolist()}
    for name in ("setup.sh", "run_autograder", "staff/autograde.py", "staff/grading/sandbox.py",
                 "tools/setup_env.sh", "tools/bundle.py", "requirements.txt", "setup.py",
                 "pyproject.toml", "cs231n/im2col_cython.pyx") + STUDENT_FILES + NOTEBOOKS:
        assert name in infos, name
    for name in ("run_autograder", "setup.sh"):
        assert infos[name].external_attr >> 16 & 0o111, f"{name} is not executable"
    for name in infos:
        first = name.split("/")[0]
        assert first not in (".git", ".venv", "benchmarks", "build", ".pytest_cache"), name
        assert "__pycache__" not in name and not name.endswith((".so", ".pyc", ".zip")), name


def test_setup_script_is_valid_bash_and_names_the_python_it_needs(tmp_path):
    plain, with_tensorflow = tmp_path / "plain.zip", tmp_path / "tensorflow.zip"
    build_autograder(plain)
    build_autograder(with_tensorflow, with_tensorflow=True)
    for archive, flag in ((plain, False), (with_tensorflow, True)):
        with zipfile.ZipFile(archive) as opened:
            setup = opened.read("setup.sh").decode()
            run = opened.read("run_autograder").decode()
        for name, text in (("setup.sh", setup), ("run_autograder", run)):
            script = tmp_path / name
            script.write_text(text)
            checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
            assert checked.returncode == 0, checked.stderr
            assert not re.search(r"@[A-Z_]+@", text), f"{name} has a placeholder left"
        assert "Python 3.10-3.13" in setup and PYTHON_VERSIONS == ("3.10", "3.13")
        assert "(3, 10) <= sys.version_info[:2] <= (3, 13)" in setup
        for package in ("venv", "libpango-1.0-0", "libpangoft2-1.0-0", "apt-get install"):
            assert package in setup
        assert "bash tools/setup_env.sh" in setup
        assert ("setup_env_args=(--with-tensorflow)" in setup) == flag
        assert "hidden_parts=()" in run


def test_the_solution_scores_full_marks(autograder):
    _, root = autograder
    _, results = run_autograder(root, copy_solution, parts=GRADED)
    check_schema(results)
    tests = results["tests"]
    assert {tag for test in tests for tag in test["tags"] if tag in PARTS} == set(GRADED)
    assert all(test["score"] == test["max_score"] for test in tests if "extra credit" not in test["tags"])
    extra = [test for test in tests if "extra credit" in test["tags"]]
    assert extra and all(test["max_score"] == 0 and test["score"] > 0 for test in extra)
    required = sum(check.points for check in CHECKS if check.part in GRADED and not check.extra)
    assert results["max_score"] == required
    assert results["score"] == required + sum(test["score"] for test in extra)
    assert tests[0]["number"] == "1.1" and tests[0]["tags"] == ["FC layers"]
    assert any(test["number"].startswith("2.") and test["visibility"] == "after_due_date" for test in tests)
    assert "  FC layers: " in results["output"] and "  optimizers: " not in results["output"]


def test_a_starter_release_scores_zero_with_valid_results(autograder, tmp_path):
    _, root = autograder
    starter = tmp_path / "starter"
    release.make_release(REPO_ROOT, starter)

    def zipped_release(folder):  # uploaded as the zip collectSubmission.sh makes
        with zipfile.ZipFile(folder / "a2_code_submission.zip", "w") as archive:
            for name in ("cs231n/__init__.py",) + STUDENT_FILES + NOTEBOOKS:
                archive.write(starter / name, name)

    _, results = run_autograder(root, zipped_release)
    check_schema(results)
    assert results["score"] == 0 and results["max_score"] == REQUIRED_TOTAL
    graded_parts = {tag for test in results["tests"] for tag in test["tags"]}
    assert set(CORE_PARTS) <= graded_parts
    assert any("not implemented" in test["output"].lower() for test in results["tests"])


def test_a_broken_zip_gets_score_zero_and_says_why(autograder):
    _, root = autograder

    def broken(folder):
        (folder / "a2_code_submission.zip").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 200)

    process, results = run_autograder(root, broken)
    check_schema(results)
    assert results["score"] == 0 and results["max_score"] == REQUIRED_TOTAL
    [test] = results["tests"]
    assert test["name"] == "submission" and test["number"] == "0"
    assert "a2_code_submission.zip" in test["output"] and "not a readable zip archive" in test["output"]
    assert "Traceback" not in process.stdout + process.stderr


def test_a_grader_that_cannot_start_still_writes_results(autograder, tmp_path):
    _, root = autograder
    _, results = run_autograder(root, copy_solution, venv=tmp_path / "no-such-venv")
    check_schema(results)
    [test] = results["tests"]
    assert results["score"] == 0 and test["max_score"] == REQUIRED_TOTAL == results["max_score"]
    assert "failed on the staff side" in test["output"] and "not a problem with your submission" in test["output"]


def test_the_results_format_stays_as_before_unless_asked():
    report = ungradable_report("submission.zip", "no cs231n/__init__.py")
    legacy, tagged = gradescope_results(report), gradescope_results(report, ["FC layers"])
    assert all(set(test) == {"name", "score", "max_score", "output", "visibility"} for test in legacy["tests"])
    assert all(TEST_FIELDS <= set(test) for test in tagged["tests"])
    assert legacy["stdout_visibility"] == tagged["stdout_visibility"] == "hidden"
