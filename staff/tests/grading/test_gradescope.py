"""The Gradescope autograder zip (python -m staff.grading.gradescope): built, unpacked into an
/autograder-shaped folder and run with this bundle's environment (setup.sh is not run)
on the solution, a starter release, a broken zip, an upload without the expected files
and a grader that cannot start; results.json holds Gradescope's fields only, and
students read no staff-side text."""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from staff.grading.autograde import staff_failure_report
from staff.grading.gradescope import GRADING_VENV, PYTHON_VERSIONS, main
from staff.grading.report import GRADESCOPE_RESULT_FIELDS, GRADESCOPE_TEST_FIELDS
from staff.grading.rubric import CHECKS, CORE_PARTS, FRAMEWORK_POINTS, PARTS
from tools.conventions import EXTENDABLE_FILES, NOTEBOOKS, STUDENT_FILES

REPO_ROOT = Path(__file__).resolve().parents[3]
VENV = Path(sys.prefix)
HIDDEN = ("optimizers",)
GRADED = ("FC layers", "optimizers")  # a short run that still holds extra-credit checks
REQUIRED_TOTAL = (sum(check.points for check in CHECKS if check.part in CORE_PARTS and not check.extra)
                  + FRAMEWORK_POINTS)
# What every test of ours carries (a subset of Gradescope's test fields).
TEST_FIELDS = {"name", "number", "score", "max_score", "status", "output", "visibility", "tags"}
# Words of the staff report that students must never read.
STAFF_WORDS = re.compile(r"seed|namespace|uid|privilege|permission|isolation|sandbox", re.IGNORECASE)


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


def check_schema(results, hidden=HIDDEN, required_total=None):
    """Gradescope's fields only, every test numbered, tagged and shown as asked, and no
    staff-side text in what students read."""
    assert set(results) <= GRADESCOPE_RESULT_FIELDS, set(results) - GRADESCOPE_RESULT_FIELDS
    assert results["stdout_visibility"] == "hidden"
    assert results["tests"], results
    assert not STAFF_WORDS.search(results["output"]), results["output"]
    for test in results["tests"]:
        assert TEST_FIELDS <= set(test) <= GRADESCOPE_TEST_FIELDS, test
        assert test["status"] in ("passed", "failed"), test
        assert not STAFF_WORDS.search(test["output"]), test
        assert isinstance(test["number"], str) and isinstance(test["tags"], list)
        assert isinstance(test["output"], str) and test["output"]
        part = next((tag for tag in test["tags"] if tag in PARTS), None)
        assert test["visibility"] == ("after_due_date" if part in hidden else "visible"), test
    assert sum(test["score"] for test in results["tests"]) == results["score"]
    if required_total is not None:
        assert sum(test["max_score"] for test in results["tests"]) == required_total
    assert len({test["number"] for test in results["tests"]}) == len(results["tests"])


def copy_solution(folder):
    for name in ("cs231n/__init__.py",) + STUDENT_FILES + EXTENDABLE_FILES + NOTEBOOKS:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, target)


@pytest.mark.slow
def test_the_zip_holds_the_scripts_at_its_root_and_the_grader_without_the_rest(autograder):
    archive, _ = autograder
    with zipfile.ZipFile(archive) as opened:
        infos = {info.filename: info for info in opened.infolist()}
    for name in ("setup.sh", "run_autograder", "staff/grading/autograde.py", "staff/grading/sandbox.py",
                 "tools/setup_env.sh", "tools/conventions.py", "requirements.txt", "setup.py",
                 "pyproject.toml", "cs231n/im2col_cython.pyx") + STUDENT_FILES + NOTEBOOKS:
        assert name in infos, name
    for name in ("run_autograder", "setup.sh"):
        assert infos[name].external_attr >> 16 & 0o111, f"{name} is not executable"
    for name in infos:
        first = name.split("/")[0]
        assert first not in (".git", ".venv", "benchmarks", "build", ".pytest_cache"), name
        assert "__pycache__" not in name and not name.endswith((".so", ".pyc", ".zip")), name


@pytest.mark.slow
def test_setup_script_is_valid_bash_and_installs_the_grading_environment_only(tmp_path):
    default, without = tmp_path / "default.zip", tmp_path / "without.zip"
    assert main([str(default)]) == 0
    assert main([str(without), "--without-tensorflow"]) == 0
    # The release ships TensorFlow.ipynb, so the default package grades it.
    for archive, flag in ((default, True), (without, False)):
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
        assert f"with_tensorflow={int(flag)}" in setup
        assert ("grades TensorFlow.ipynb too" in setup) == flag
        # The grading requirements, in an environment outside the closed grader folder;
        # nothing of the student's tooling.
        assert "staff/grading/requirements.txt" in setup and 'chmod 700 "$source_dir"' in setup
        assert f'venv="${{CS231N_VENV:-{GRADING_VENV}}}"' in setup and GRADING_VENV in run
        assert "download.pytorch.org/whl/cpu" in setup
        for tooling in ("setup_env.sh", "libpango", "jupyter", "weasyprint"):
            assert tooling not in setup, tooling
        assert {name.rsplit("/", 3)[-3:] == ["staff", "grading", "requirements.txt"]
                for name in re.findall(r"[\w/]*requirements\.txt", setup)} == {True}
        assert "hidden_parts=()" in run


def test_the_grading_requirements_pin_the_frameworks_as_the_bundle_does():
    def pins(path):
        return {line.split("==")[0]: line for line in path.read_text().splitlines()
                if line.startswith(("torch==", "torchvision=="))}

    grading = REPO_ROOT / "staff" / "grading" / "requirements.txt"
    assert pins(grading) == pins(REPO_ROOT / "requirements.txt") and len(pins(grading)) == 2
    requirements = [line.lower() for line in grading.read_text().splitlines() if line and not line.startswith("#")]
    for tooling in ("jupyter", "papermill", "weasyprint", "nbconvert", "copydetect", "pytest"):
        assert not any(line.startswith(tooling) for line in requirements), tooling


@pytest.mark.slow
def test_the_solution_scores_full_marks(autograder):
    _, root = autograder
    process, results = run_autograder(root, copy_solution, parts=GRADED)
    check_schema(results)
    # The run's output, hidden from students, is the staff report.
    assert "Sandbox: " in process.stdout and "Random seed: " in process.stdout
    tests = results["tests"]
    assert {tag for test in tests for tag in test["tags"] if tag in PARTS} == set(GRADED)
    assert all(test["score"] == test["max_score"] for test in tests if "extra credit" not in test["tags"])
    extra = [test for test in tests if "extra credit" in test["tags"]]
    assert extra and all(test["max_score"] == 0 and test["score"] > 0 for test in extra)
    required = sum(check.points for check in CHECKS if check.part in GRADED and not check.extra)
    assert sum(test["max_score"] for test in tests) == required
    assert results["score"] == required + sum(test["score"] for test in extra)
    assert all(test["status"] == "passed" and "PASSED" in test["output"] and "extra credit" in test["name"]
               for test in extra)
    assert tests[0]["number"] == "1.1" and tests[0]["tags"] == ["FC layers"]
    assert any(test["number"].startswith("2.") and test["visibility"] == "after_due_date" for test in tests)
    assert "  FC layers: " in results["output"] and "  optimizers: " not in results["output"]


@pytest.mark.slow
def test_a_starter_release_scores_zero_with_valid_results(autograder, starter):
    _, root = autograder

    def zipped_release(folder):  # uploaded as the zip collectSubmission.sh makes
        with zipfile.ZipFile(folder / "a2_code_submission.zip", "w") as archive:
            for name in ("cs231n/__init__.py",) + STUDENT_FILES + NOTEBOOKS:
                archive.write(starter / name, name)

    _, results = run_autograder(root, zipped_release)
    check_schema(results, required_total=REQUIRED_TOTAL)
    assert results["score"] == 0
    graded_parts = {tag for test in results["tests"] for tag in test["tags"]}
    assert set(CORE_PARTS) <= graded_parts
    assert any("not implemented" in test["output"].lower() for test in results["tests"])


@pytest.mark.slow
def test_a_broken_zip_gets_score_zero_and_says_why(autograder):
    _, root = autograder

    def broken(folder):
        (folder / "a2_code_submission.zip").write_bytes(b"PK\x03\x04" + b"\x00garbage" * 200)

    process, results = run_autograder(root, broken)
    check_schema(results, required_total=REQUIRED_TOTAL)
    assert results["score"] == 0
    [test] = results["tests"]
    assert test["name"] == "submission" and test["number"] == "0"
    assert "a2_code_submission.zip" in test["output"] and "not a readable zip archive" in test["output"]
    assert "Traceback" not in process.stdout + process.stderr


@pytest.mark.slow
def test_a_tensorflow_only_submission_gets_full_marks_from_the_default_package(autograder, starter):
    pytest.importorskip("tensorflow", reason="the TensorFlow extra is not installed (CI installs it)")
    _, root = autograder

    def tensorflow_only(folder):  # PyTorch.ipynb as released: untouched, not chosen
        copy_solution(folder)
        shutil.copy2(starter / "PyTorch.ipynb", folder / "PyTorch.ipynb")

    process, results = run_autograder(root, tensorflow_only)
    check_schema(results, required_total=REQUIRED_TOTAL)
    tests = results["tests"]
    counted = [test for test in tests if "extra credit" not in test["tags"]]
    assert all(test["score"] == test["max_score"] for test in counted), [t for t in counted if t["score"] != t["max_score"]]
    assert sum(test["score"] for test in counted) == REQUIRED_TOTAL
    assert any("TensorFlow models" in test["tags"] and test["max_score"] > 0 for test in tests)
    [pytorch] = [test for test in tests if "PyTorch models" in test["tags"]]
    assert pytorch["max_score"] == 0 and "not chosen" in pytorch["name"]
    print(f"\nTensorFlow-only submission: {results['score']} points, "
          f"{sum(test['score'] for test in counted)}/{REQUIRED_TOTAL} required\n{results['output']}")


@pytest.mark.slow
def test_an_upload_without_the_expected_files_is_told_what_to_upload(autograder):
    _, root = autograder

    def loose_files(folder):  # the files dragged in without their folders
        for name in STUDENT_FILES + NOTEBOOKS:
            shutil.copy2(REPO_ROOT / name, folder / Path(name).name)

    _, results = run_autograder(root, loose_files)
    check_schema(results, required_total=REQUIRED_TOTAL)
    [test] = results["tests"]
    assert results["score"] == 0 and test["status"] == "failed"
    assert "Upload a2_code_submission.zip" in test["output"] and "collectSubmission.sh" in test["output"]
    assert "layers.py" in test["output"]  # what was uploaded instead


@pytest.mark.slow
def test_a_grader_that_cannot_start_still_writes_results(autograder, tmp_path):
    _, root = autograder
    _, results = run_autograder(root, copy_solution, venv=tmp_path / "no-such-venv")
    check_schema(results, required_total=REQUIRED_TOTAL)
    [test] = results["tests"]
    assert results["score"] == 0 and test["max_score"] == REQUIRED_TOTAL
    assert "failed on the staff side" in test["output"] and "not a problem with your submission" in test["output"]


def test_staff_failures_tell_students_only_that_it_is_the_staffs_problem():
    report = staff_failure_report("submission.zip", "the grader's folder /opt/a2 can be read by other users")
    results = report.to_gradescope()
    [test] = results["tests"]
    assert "failed on the staff side" in test["output"] and "/opt/a2" not in json.dumps(results)
    assert report.staff.error.startswith("the grader's folder")
