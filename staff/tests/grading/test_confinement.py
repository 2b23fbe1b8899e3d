"""The grader keeps the solution from the submission wherever it runs: as root with mount
namespaces, as root without CAP_SYS_ADMIN (with and without user namespaces, the second
being Docker's default), and as a user without root; from a checkout in a folder only
its owner may enter, with the Python installation below such a folder too.

A hostile submission walks the file system from /, opens every file it can (and the
grader's processes' folders through /proc), and puts whatever it finds of the grader
into its exception messages, its output and files of its own. The grader's copy under
test carries a canary in its solution and its rubric: it must appear nowhere, nor any
line of the solution's student regions, nor a reference value file; and what students
read holds no word of the sandbox or the seed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from staff.grading import confinement
from staff.grading.report import Report
from tools.conventions import STUDENT_FILES
from tools.regions import marker_regions

REPO_ROOT = Path(__file__).resolve().parents[3]
IS_ROOT = os.geteuid() == 0
UNPRIVILEGED = 65534  # nobody
SETPRIV = shutil.which("setpriv")
WITHOUT_UNSHARE = [sys.executable, str(Path(__file__).with_name("without_unshare.py"))]
WITHOUT_SYS_ADMIN = [SETPRIV or "setpriv", "--bounding-set", "-sys_admin", "--"]
AS_NOBODY = [SETPRIV or "setpriv", "--reuid", str(UNPRIVILEGED), "--regid", str(UNPRIVILEGED), "--clear-groups", "--"]
# What students read must not mention the machinery.
STAFF_WORDS = re.compile(r"seed|namespace|uid\b|privilege|permission|isolation|sandbox|--seed", re.IGNORECASE)
# The grader's files a copy needs; the rest (environments, version control, benchmarks) stays.
LEFT_BEHIND = shutil.ignore_patterns(".git", ".venv", "benchmarks", "__pycache__", ".pytest_cache", "build",
                                     "*.egg-info", "cifar-10-batches-py")

HOSTILE = '''
import builtins as _builtins
import os as _os

def _hostile_walk(grader, canary):
    """Everything of the grader this process can read: (files opened, findings)."""
    found, opened = [], 0
    own = _os.path.dirname(_os.getcwd())  # this run's folder: its own values are fine

    def look(path):
        nonlocal opened
        try:
            with open(path, "rb") as handle:
                data = handle.read(1 << 16)
        except OSError:
            return
        opened += 1
        text = data.decode("utf-8", "replace")
        reference = _os.path.basename(path).startswith("values-") and not path.startswith(own)
        if canary in text or path.startswith(grader + _os.sep) or reference:
            found.append(path + ": " + text[:200])

    skipped = ("/proc", "/sys", "/dev", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/boot", "/etc", "/snap")
    for top, folders, files in _os.walk("/"):
        folders[:] = [name for name in folders if _os.path.join(top, name) not in skipped
                      and name not in ("site-packages", "dist-packages", "node_modules")]
        for name in files:
            if opened < 40000:
                look(_os.path.join(top, name))
    for pid in _os.listdir("/proc"):
        if pid.isdigit():
            for way in ("cwd", "root" + grader):
                look(f"/proc/{pid}/{way}/cs231n/layers.py")
                look(f"/proc/{pid}/{way}/staff/grading/rubric.py")
    return opened, found

if not hasattr(_builtins, "_hostile_result"):
    _builtins._hostile_result = _hostile_walk(@GRADER@, @CANARY_REVERSED@[::-1])
    _opened, _found = _builtins._hostile_result
    _words = ("FOUND " + " | ".join(_found)) if _found else f"WALKED {_opened} files, found nothing"
    print(_words)
    print(_words, file=__import__("sys").stderr)
    for _place in (_os.getcwd(), _os.environ.get("HOME", "."), "/tmp", "/var/tmp", "/dev/shm"):
        try:
            with open(_os.path.join(_place, f"hostile-@TOKEN@-{_os.getpid()}"), "w") as _handle:
                _handle.write(_words)
        except OSError:
            pass
_opened, _found = _builtins._hostile_result
raise ValueError(("FOUND " + " | ".join(_found))[:280] if _found else f"WALKED {_opened} files, found nothing")
'''


def solution_lines():
    """The distinctive lines of the solution's student regions (long enough not to be
    common code)."""
    lines = set()
    for name in STUDENT_FILES:
        text = (REPO_ROOT / name).read_text().split("\n")
        for start, end in marker_regions(text, name):
            lines.update(line.strip() for line in text[start + 1 : end] if len(line.strip()) >= 30)
    return lines


def grader_copy(folder, canary):
    """A copy of the grader in ``folder`` (whose parents only root may enter), with
    ``canary`` in its solution's first student region and in its rubric."""
    root = folder / "grader"
    shutil.copytree(REPO_ROOT, root, ignore=LEFT_BEHIND, symlinks=False)
    for extension in (REPO_ROOT / "cs231n").glob("*.so"):  # the compiled kernels, when built
        shutil.copy2(extension, root / "cs231n" / extension.name)
    layers = root / "cs231n" / "layers.py"
    lines = layers.read_text().split("\n")
    start, _ = marker_regions(lines, "layers.py")[0]
    lines.insert(start + 1, lines[start][: len(lines[start]) - len(lines[start].lstrip())] + f"# {canary}")
    layers.write_text("\n".join(lines))
    rubric = root / "staff" / "grading" / "rubric.py"
    rubric.write_text(f"# {canary}\n" + rubric.read_text())
    return root


def hostile_submission(starter, folder, grader, canary, token):
    root = folder / "submission"
    for name in ("cs231n/__init__.py",) + STUDENT_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(starter / name, root / name)
    # The canary is written backwards, so that this file does not hold it.
    code = HOSTILE.replace("@GRADER@", repr(str(grader))).replace("@CANARY_REVERSED@", repr(canary[::-1]))
    optim = root / "cs231n" / "optim.py"
    optim.write_text(code.replace("@TOKEN@", token) + optim.read_text())
    return root


def left_behind(token):
    """What the submission managed to leave in the machine's shared temporary folders."""
    return {str(path): path.read_text(errors="replace")
            for folder in ("/tmp", "/var/tmp", "/dev/shm") for path in Path(folder).glob(f"hostile-{token}-*")}


@pytest.fixture
def private():
    """A folder only its owner may enter, in /tmp (which everyone may enter), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="cs231n-private-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def grade_hostile(private, starter, prefix, as_nobody=False):
    """Grade the hostile submission with a grader copy in ``private`` under ``prefix`` (a
    command that confines the grader itself); return (process, outputs by name, what
    the submission left in shared folders, the canary)."""
    canary, token = f"canary-{uuid.uuid4().hex}", uuid.uuid4().hex[:12]
    grader = grader_copy(private, canary)
    submission = hostile_submission(starter, private, grader, canary, token)
    out = private / "out"
    out.mkdir()
    python, environment = sys.executable, {key: value for key, value in os.environ.items()
                                           if not key.startswith(("PYTHON", "CS231N"))}
    if as_nobody:
        # A grader without root: its own files, and a Python it can run (the mirror a
        # root grader makes for its sandbox users, since this one lies below /root).
        interpreter = confinement.sandbox_interpreter(UNPRIVILEGED)
        python = interpreter.executable
        environment.update(interpreter.environment, HOME=str(private))
        for path in [private, *private.rglob("*")]:
            os.chown(path, UNPRIVILEGED, UNPRIVILEGED, follow_symlinks=False)
    command = prefix + [python, "-m", "staff.grading.autograde", str(submission), "--parts", "optimizers",
                        "--output", str(out / "report.json"), "--gradescope", str(out / "results.json"),
                        "--gradescope-hidden"]
    process = subprocess.run(command, cwd=grader, env=environment, capture_output=True, text=True, timeout=600)
    outputs = {"stdout (staff report)": process.stdout, "stderr": process.stderr}
    for name in ("report.json", "results.json"):
        if (out / name).is_file():
            outputs[name] = (out / name).read_text()
    if "report.json" in outputs:
        outputs["feedback"] = Report.from_json(json.loads(outputs["report.json"])).to_text()
    leftovers = left_behind(token)
    for path in leftovers:
        Path(path).unlink()
    return process, outputs, leftovers, canary


def assert_nothing_leaked(process, outputs, leftovers, canary):
    assert process.returncode == 0, process.stdout + process.stderr
    report = json.loads(outputs["report.json"])
    [part] = report["parts"]
    messages = {check["message"] for check in part["checks"]}
    # The probe ran (and opened files), and found nothing of the grader.
    walked = [re.match(r"ValueError: WALKED (\d+) files, found nothing", message) for message in messages]
    assert all(walked), messages
    assert int(walked[0].group(1)) > 0
    forbidden = solution_lines() | {canary, "FOUND /"}  # a finding starts with its path
    for name, text in list(outputs.items()) + list(leftovers.items()):
        for line in forbidden:
            assert line not in text, f"{line!r} in {name}"
    # Students read their checks; staff read the machinery.
    results = json.loads(outputs["results.json"])
    for text in [outputs["feedback"], results["output"]] + [test["output"] for test in results["tests"]]:
        assert not STAFF_WORDS.search(text), text
    assert "Sandbox: " in process.stdout and "Random seed: " in process.stdout
    assert report["staff"]["isolation"]["user"] and isinstance(report["staff"]["seed"], int)
    # What the submission wrote in shared folders went with it.
    assert leftovers == {}, leftovers
    print(f"\nthe probe: {next(iter(messages))}")
    print(f"staff see: {Report.from_json(report).isolation_summary()}")
    return report["staff"]["isolation"]


def needs(condition, reason):
    if not condition:
        pytest.skip(reason)


@pytest.mark.slow
def test_with_mount_namespaces(private, starter):
    needs(IS_ROOT and confinement.mount_namespaces_work(), "needs root with CAP_SYS_ADMIN")
    isolation = assert_nothing_leaked(*grade_hostile(private, starter, []))
    assert "hidden by the mount namespace" in isolation["files"]
    assert isolation["user"].startswith("unprivileged uid")


@pytest.mark.slow
def test_as_root_without_cap_sys_admin(private, starter):
    needs(IS_ROOT and SETPRIV, "needs root and setpriv")
    isolation = assert_nothing_leaked(*grade_hostile(private, starter, WITHOUT_SYS_ADMIN))
    assert "mount namespaces not available as root" in isolation["namespaces"]
    assert "kept out by permissions" in isolation["files"]


@pytest.mark.slow
def test_as_root_without_cap_sys_admin_nor_unshare_as_in_docker(private, starter):
    needs(IS_ROOT and SETPRIV, "needs root and setpriv")
    isolation = assert_nothing_leaked(*grade_hostile(private, starter, WITHOUT_UNSHARE + WITHOUT_SYS_ADMIN))
    assert "user namespaces not available" in isolation["namespaces"]
    assert "kept out by permissions" in isolation["files"]
    assert "not isolated" in isolation["network"]


@pytest.mark.slow
def test_as_a_user_without_root(private, starter):
    needs(IS_ROOT and SETPRIV, "needs root (to become another user) and setpriv")
    isolation = assert_nothing_leaked(*grade_hostile(private, starter, AS_NOBODY, as_nobody=True))
    assert "privileges could not be dropped" in isolation["user"]
    assert "hidden by the mount namespace" in isolation["files"]


def test_a_user_without_root_nor_user_namespaces_gets_one_error_and_grades_no_one(private, starter):
    needs(IS_ROOT and SETPRIV, "needs root (to become another user) and setpriv")
    process, outputs, leftovers, canary = grade_hostile(private, starter, WITHOUT_UNSHARE + AS_NOBODY,
                                                        as_nobody=True)
    assert process.returncode == 3, process.stdout + process.stderr
    assert "--unconfined" in process.stderr and "not root" in process.stderr
    assert leftovers == {}  # nothing of the submission ran
    results = json.loads(outputs["results.json"])
    assert "failed on the staff side" in results["tests"][0]["output"]


def test_a_grader_folder_others_can_read_is_refused_where_only_permissions_protect_it(private):
    needs(IS_ROOT and SETPRIV, "needs root and setpriv")
    grader = grader_copy(private, "canary-unused")
    private.chmod(0o755)
    process = subprocess.run(WITHOUT_SYS_ADMIN + [sys.executable, "-c", "from staff.grading import autograde; "
                                                  "autograde.preflight()"],
                             cwd=grader, capture_output=True, text=True, timeout=300)
    assert process.returncode != 0
    assert f"chmod 700 {grader}" in process.stderr and "can be read by other users" in process.stderr
    private.chmod(0o700)
    closed = subprocess.run(WITHOUT_SYS_ADMIN + [sys.executable, "-c", "from staff.grading import autograde; "
                                                 "autograde.preflight()"],
                            cwd=grader, capture_output=True, text=True, timeout=300)
    assert closed.returncode == 0, closed.stderr


def test_a_user_can_reach_only_what_every_folder_on_the_way_lets_it(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    (closed / "file").write_text("x")
    (tmp_path / "open").mkdir(mode=0o755)
    (tmp_path / "open" / "file").write_text("x")
    (tmp_path / "open" / "file").chmod(0o644)
    owner = os.stat(tmp_path).st_uid
    other = owner + 1
    assert confinement.can_reach(closed / "file", owner, owner, want_read=True)
    assert not confinement.can_reach(closed / "file", other, other, want_read=True)
    tmp_path.chmod(0o711)
    try:
        parents_open = all(os.stat(parent).st_mode & 0o001 for parent in tmp_path.parents)
        assert confinement.can_reach(tmp_path / "open" / "file", other, other, want_read=True) == parents_open
    finally:
        tmp_path.chmod(0o700)


def test_a_solution_installed_into_the_environment_is_refused(tmp_path, monkeypatch):
    packages = tmp_path / "site-packages"
    (packages / "cs231n").mkdir(parents=True)
    monkeypatch.setattr(confinement, "_python_folders", lambda: (tmp_path / "lib", [packages]))
    with pytest.raises(confinement.ConfinementError, match="pip install -e"):
        confinement.plan(None, REPO_ROOT, unconfined=True)
    (packages / "cs231n").rmdir()
    assert confinement.plan(None, REPO_ROOT, unconfined=True).executable == sys.executable


def fake_installation(folder):
    """A standard library and a package folder, standing in for an environment to mirror."""
    library, packages = folder / "lib" / "python3", folder / "site-packages"
    library.mkdir(parents=True)
    (library / "os.py").write_text("")
    packages.mkdir()
    (packages / "module.py").write_text("VALUE = 1\n")
    return library, [packages]


@pytest.fixture
def mirrors(tmp_path, monkeypatch):
    """A mirror folder of the test's own; the mirrors this process holds are let go after."""
    folder = tmp_path / "mirrors"
    monkeypatch.setattr(confinement, "MIRROR_FOLDER", folder)
    monkeypatch.setattr(confinement, "_MIRRORS_IN_USE", [])
    yield folder
    let_go()


def let_go():
    """What a grader's exit does to the mirror it used."""
    for marker in confinement._MIRRORS_IN_USE:
        marker.close()
    confinement._MIRRORS_IN_USE.clear()


def mirror_of(installation):
    return Path(confinement._mirror(*installation).folders[0])


def test_a_mirror_is_reused_until_its_installation_is_gone_then_removed(mirrors, tmp_path):
    first = fake_installation(tmp_path / "first")
    mirror = mirror_of(first)
    mirrored = next(mirror.glob("venv/lib/python*/site-packages/module.py"))
    assert mirrored.read_text() == "VALUE = 1\n"
    assert mirror_of(first) == mirror and next(mirror.glob("venv/lib/python*/site-packages/module.py")) == mirrored
    let_go()
    shutil.rmtree(tmp_path / "first")
    second = mirror_of(fake_installation(tmp_path / "second"))
    # The deleted installation's mirror went with it; the live one stays.
    assert sorted(mirrors.iterdir()) == [second]


def test_a_changed_installation_gets_a_new_mirror_and_the_old_one_goes_once_no_grader_uses_it(mirrors, tmp_path):
    installation = fake_installation(tmp_path / "environment")
    old = mirror_of(installation)
    packages = installation[1][0]
    (packages / "added.py").write_text("")  # an install changes the package folder
    os.utime(packages, ns=(0, os.stat(packages).st_mtime_ns + 10**9))
    new = mirror_of(installation)
    assert new != old and old.is_dir()  # this process still holds the old one
    let_go()
    assert mirror_of(installation) == new
    assert sorted(mirrors.iterdir()) == [new]


def test_unfinished_mirrors_are_removed_once_their_builder_has_died(mirrors, tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    mirrors.mkdir()
    dead = mirrors / f"0123456789abcdef{confinement.PARTIAL_INFIX}{finished.stdout.strip()}"
    alive = mirrors / f"fedcba9876543210{confinement.PARTIAL_INFIX}{os.getpid()}"
    for folder in (dead, alive):
        (folder / "base").mkdir(parents=True)
    mirror = mirror_of(fake_installation(tmp_path / "environment"))
    assert sorted(mirrors.iterdir()) == sorted([mirror, alive])
