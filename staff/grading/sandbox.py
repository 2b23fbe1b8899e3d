"""Run probes on a submission's code in a confined process and read back its values.

The sandbox folder holds the grader's own copy of the package with only the student
files taken from the submission, the notebooks the probes need, the probes and the
worker. staff/grading/launcher.py confines the process (user, namespaces, limits) before
staff/grading/worker.py imports any submitted code. Results come back as .npz files
(loaded without pickle) and JSON; an unanswered check is reported with the reason.
"""
import contextlib
import ctypes
import fcntl
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath

import numpy as np

from tools.conventions import EXTENDABLE_FILES, STUDENT_FILES, is_excluded

GRADER_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PR_SET_CHILD_SUBREAPER = 36
# Sandbox users are picked from this range of user ids that no account uses.
SANDBOX_UIDS = range(61000, 61500)
# One lock file per sandbox uid; a grader holds the lock of its uid for its whole run, so
# that graders running at once on one machine never share a uid (nor kill each other's
# workers, since each kills only the processes of its own uid).
UID_LOCK_FOLDER = Path("/tmp/cs231n-grader-uids")
MAX_RESULT_BYTES = 64 << 20
# How the message of a check that was never started begins (a budget ran out first).
NOT_RUN = "not run: "
POLL_SECONDS = 0.1
# The budgets of a grading run, in seconds: each part of the submission (and each
# sandboxed process's CPU), one check, the whole submission, and the solution's own run
# of one part. The last is far above what the solution needs (seconds), and separate from
# the submission's budgets so that a tight part budget never makes the grader fail itself.
DEFAULT_PART_TIMEOUT = 300
DEFAULT_CHECK_TIMEOUT = 60
DEFAULT_TOTAL_TIMEOUT = 20 * 60
DEFAULT_REFERENCE_TIMEOUT = 600


class Limits:
    """Resource limits of the sandboxed runs of one part of the rubric.

    ``timeout`` is the part's wall-clock budget (and each process's CPU limit),
    ``check_timeout`` the most one check may run before it fails and the part goes on
    with its other checks in a fresh process.
    """

    def __init__(self, timeout=DEFAULT_PART_TIMEOUT, check_timeout=DEFAULT_CHECK_TIMEOUT, memory_mib=8192,
                 file_mib=64, processes=64):
        self.timeout = timeout
        self.check_timeout = check_timeout
        self.memory_bytes = memory_mib << 20
        self.file_bytes = file_mib << 20
        self.processes = processes


class SandboxUnavailable(RuntimeError):
    """The sandbox could not run at all here: a problem of the grader, not of the submission."""


def _lock_folder():
    """The shared folder of uid locks, refused when someone else could tamper with it."""
    UID_LOCK_FOLDER.mkdir(mode=0o700, exist_ok=True)
    status = os.lstat(UID_LOCK_FOLDER)
    if not os.path.isdir(UID_LOCK_FOLDER) or os.path.islink(UID_LOCK_FOLDER) or status.st_uid != os.geteuid():
        raise SandboxUnavailable(f"{UID_LOCK_FOLDER} is not a folder of this grader's user; "
                                 "remove it so that the uid locks can be kept there")
    return UID_LOCK_FOLDER


@contextlib.contextmanager
def reserve_sandbox_user():
    """Yield a user id that no account uses, no process runs as, and no other grader holds
    (its lock is kept until the block ends), or None when not root."""
    if os.geteuid() != 0:
        yield None
        return
    folder = _lock_folder()
    accounts = {entry.pw_uid for entry in pwd.getpwall()}
    for uid in SANDBOX_UIDS:
        if uid in accounts:
            continue
        handle = open(folder / f"{uid}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        # Locked but with processes: left by a grader that died; not ours to kill.
        if uid in set(_process_owners()):
            handle.close()
            continue
        try:
            yield uid
        finally:
            handle.close()  # releases the lock
        return
    raise SandboxUnavailable(f"no free sandbox user id in {SANDBOX_UIDS.start}-{SANDBOX_UIDS.stop - 1}")


def _process_owners():
    owners = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                owners[int(entry)] = os.stat(f"/proc/{entry}").st_uid
            except OSError:
                continue
    return owners.values()


def _processes_of(uid=None, parent=None):
    """Process ids owned by ``uid`` or whose parent is ``parent``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if uid is not None and os.stat(f"/proc/{entry}").st_uid == uid:
                found.append(int(entry))
            elif parent is not None:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent:
                    found.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


def children():
    """The process ids whose parent is this process."""
    return set(_processes_of(parent=os.getpid()))


def kill_leftovers(uid, spare=()):
    """Kill every process of the sandbox: its user's when we dropped privileges, and any
    orphan that this process adopted as subreaper, except the children in ``spare`` (this
    process's own from before grading). Returns how many were killed."""
    killed = 0
    for _ in range(50):
        targets = children() - set(spare)
        if uid is not None:
            targets |= set(_processes_of(uid=uid))
        targets.discard(os.getpid())
        if not targets:
            break
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        for pid in targets:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        time.sleep(0.05)
    return killed


# The machine's shared temporary folders, where a sandbox user without a private /tmp
# can leave files behind.
SHARED_TEMPORARY_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


def remove_files_of(uid):
    """Remove what the sandbox user ``uid`` left in the shared temporary folders, so that
    the next submission graded as that user finds nothing of this one. Returns how many
    entries were removed."""
    removed = 0
    for folder in SHARED_TEMPORARY_FOLDERS:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed += 1
            except OSError:
                continue
    return removed


def become_subreaper():
    """Adopt orphaned descendants, so that a daemon a submission forks stays findable."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def build_sandbox(folder, student_sources, notebooks, as_released=True):
    """Lay the submission's student files and notebooks over the grader's package.

    ``student_sources`` maps each student file (relative path) to its bytes; a student
    file the submission lacks is left out, so the checks that import it fail, and an
    extendable scaffold file it lacks stays as released.
    ``notebooks`` maps notebook names to bytes. With ``as_released`` the scaffold modules
    are the release's (their solution-only blocks dropped), which is what the student's
    code was written against; the reference solution's sandbox keeps them whole.
    """
    from staff.release import drop_solution_only

    package = folder / "pkg"
    def not_part_of_a_bundle(directory, names):
        # What is never part of a bundle (datasets, caches, build folders) stays behind, but
        # the compiled kernels come along: the fast layers use them when they are there.
        return [name for name in names if is_excluded(PurePosixPath(name))
                and not name.endswith(".so")]

    shutil.copytree(GRADER_ROOT / "cs231n", package / "cs231n", ignore=not_part_of_a_bundle,
                    symlinks=False)
    if as_released:
        for path in (package / "cs231n").rglob("*.py"):
            path.write_text(drop_solution_only(path.read_text(), str(path.relative_to(package))))
    for relative in STUDENT_FILES + EXTENDABLE_FILES:
        content = student_sources.get(relative)
        if relative in STUDENT_FILES:
            (package / relative).unlink(missing_ok=True)
        if content is not None:
            (package / relative).write_bytes(content)
    for name, content in notebooks.items():
        (package / name).write_bytes(content)
    shutil.copy2(HERE / "worker.py", package / "worker.py")
    shutil.copy2(HERE / "probes.py", package / "probes.py")
    # The notebook loader with the cell readers and conventions it imports (cell source,
    # magic blanking).
    (package / "tools").mkdir()
    for name in ("__init__.py", "conventions.py", "cells.py", "notebook_defs.py"):
        shutil.copy2(GRADER_ROOT / "tools" / name, package / "tools" / name)
    for path in package.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    folder.chmod(0o755)
    package.chmod(0o755)
    return package


def open_to_the_sandbox(folder, uid):
    """Let the sandbox user (and no other) enter ``folder``: root's, group ``uid``, 0750.
    Parallel graders' sandbox users never see each other's submissions."""
    if uid is None:
        folder.chmod(0o700)
        return
    os.chown(folder, 0, uid)
    folder.chmod(0o750)


class SandboxRun:
    """Confined worker processes over one part's checks: a check that crashes, exits or runs
    past its timeout fails alone, and the others go on in a fresh process."""

    def __init__(self, folder, package, uid, limits, interpreter, spare=()):
        self.folder, self.package, self.uid, self.limits = folder, package, uid, limits
        self.interpreter = interpreter  # confinement.Interpreter: what the sandbox runs
        self.spare = set(spare)  # the grader's own children, which are not the sandbox's
        self.isolation = {}

    def _prepare(self, name):
        run = self.folder / name
        for sub in ("out", "home", "meta"):
            (run / sub).mkdir(parents=True)
        if self.uid is not None:
            for sub in ("out", "home"):
                os.chown(run / sub, self.uid, self.uid)
        (run / "meta").chmod(0o700)
        run.chmod(0o755)
        return run

    def _launch(self, run, spec_path):
        environment = {
            "PATH": "/usr/bin:/bin", "HOME": str(run / "home"), "TMPDIR": str(run / "home"),
            "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            **self.interpreter.environment,
        }
        # Without root, the grader's user's home folder is hidden too (where user
        # namespaces allow it): the submission runs as that user.
        hidden = [str(GRADER_ROOT)] + ([] if self.uid is not None else [str(Path.home())])
        config = {
            "uid": self.uid, "gid": self.uid,
            "cpu_seconds": int(self.limits.timeout), "memory_bytes": self.limits.memory_bytes,
            "file_bytes": self.limits.file_bytes, "processes": self.limits.processes,
            "hidden": hidden,
            "visible": [str(self.folder), *self.interpreter.folders],
            "report": str(run / "meta" / "isolation.json"),
            "workdir": str(run / "home"),
            "command": [self.interpreter.executable, "-I", str(self.package / "worker.py"), str(spec_path),
                        str(run / "out")],
            "environment": environment,
        }
        config_path = run / "meta" / "launcher.json"
        config_path.write_text(json.dumps(config))
        log = open(run / "meta" / "log.txt", "wb")
        process = subprocess.Popen([sys.executable, "-I", str(HERE / "launcher.py"), str(config_path)],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, close_fds=True)
        log.close()
        return process

    def run(self, name, checks, seed, deadline, deadline_reason):
        """Run ``checks`` ((index, probe, params) triples) within the part's budget and before
        ``deadline`` (a time.monotonic() value; ``deadline_reason`` says whose budget it is);
        return {index: (values, error)}.

        A process that ends before the launcher wrote its isolation report (which happens
        before any submitted code runs, in a folder the sandbox cannot write as root)
        failed for a reason of the grader's: it is retried once, then SandboxUnavailable is
        raised. Every other early end is the submission's: the check it was running fails.
        """
        part_end = time.monotonic() + self.limits.timeout
        if part_end < deadline:
            end, end_reason = part_end, f"the part's time budget of {self.limits.timeout} s ran out"
        else:
            end, end_reason = deadline, deadline_reason
        results, pending, launches, retried = {}, list(checks), 0, False
        while pending:
            if time.monotonic() >= end:
                results.update((index, (None, f"{NOT_RUN}{end_reason}")) for index, _, _ in pending)
                break
            launches += 1
            run = self._prepare(f"{name}-{launches}")
            spec_path = run / "spec.json"
            # A backward check's forward pass gets a quarter of the check's time before the
            # documented cache stands in for its own (staff/grading/probes.py).
            spec_path.write_text(json.dumps({"seed": seed, "forward_seconds": self.limits.check_timeout / 4,
                                             "checks": [{"index": index, "probe": probe, "params": params}
                                                        for index, probe, params in pending]}))
            spec_path.chmod(0o644)
            process = self._launch(run, spec_path)
            stopped, launched = self._watch(process, run, [index for index, _, _ in pending], end, end_reason)
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
            kill_leftovers(self.uid, self.spare)
            self.isolation = launched or self.isolation
            for index, _, _ in pending:
                answer = _read_answer(run / "out", index)
                if answer is not None:
                    results[index] = answer
            unanswered = [check for check in pending if check[0] not in results]
            if not unanswered:
                break
            first = unanswered[0][0]
            if stopped is None and launched is None:
                if retried:
                    raise SandboxUnavailable("the sandbox launcher failed twice before running any check: "
                                             + _death_reason(process.returncode, self.limits, run))
                retried = True
                pending = unanswered
                continue
            results[first] = (None, stopped or _death_reason(process.returncode, self.limits, run))
            pending = unanswered[1:]
        return results

    def _watch(self, process, run, order, end, end_reason):
        """Wait for the worker; return (why it was stopped, or None when it ended by itself;
        the launcher's isolation report, or None when it never wrote one).

        The report is read as soon as it appears, before the submission's code (which runs
        only once the worker has imported its libraries) could remove it without root.
        The running check is the first in ``order`` without an answer; its time is counted
        from when this process saw it start (the worker's clock is not trusted).
        """
        out, running, since, launched = run / "out", None, time.monotonic(), None
        while True:
            launched = launched or _read_json(run / "meta" / "isolation.json")
            try:
                process.wait(timeout=POLL_SECONDS)
                return None, launched or _read_json(run / "meta" / "isolation.json")
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            current = next((index for index in order if not _answered(out, index)), None)
            if current != running:
                running, since = current, now
            if now >= end:
                return f"timed out: {end_reason} during this check", launched
            if now - since >= self.limits.check_timeout:
                return f"timed out after {self.limits.check_timeout} s", launched


def run_trusted(package, run_dir, checks, seed, timeout):
    """Run probes on the grader's own package, unconfined, in a process of its own.

    The reference values come from a separate process too, so that the frameworks the
    probes load (PyTorch, TensorFlow) never share the grader's process. Returns
    {index: values}; raises RuntimeError naming the check when the reference fails.
    """
    (run_dir / "out").mkdir(parents=True)
    spec_path = run_dir / "spec.json"
    spec_path.write_text(json.dumps({"seed": seed, "checks": [
        {"index": index, "probe": probe, "params": params} for index, probe, params in checks]}))
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    environment.update(MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1",
                       OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with open(run_dir / "log.txt", "wb") as log:
        completed = subprocess.run(
            [sys.executable, "-I", str(package / "worker.py"), str(spec_path), str(run_dir / "out")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=environment,
            timeout=timeout, cwd=run_dir)
    values = {}
    for index, probe, _ in checks:
        answer = _read_answer(run_dir / "out", index)
        if answer is None or answer[1] is not None:
            reason = answer[1] if answer else f"no answer (exit status {completed.returncode})"
            raise RuntimeError(f"the reference solution failed probe {probe}: {reason}")
        values[index] = answer[0]
    return values


def _answered(out, index):
    return (out / f"error-{index}.json").exists() or (out / f"values-{index}.npz").exists()


def _death_reason(returncode, limits, run):
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        hint = {"SIGXCPU": f" (the CPU time limit of {limits.timeout} s)",
                "SIGKILL": " (killed, e.g. out of memory)", "SIGSEGV": " (a crash in compiled code)"}
        return f"the submission's process died with {name}{hint.get(name, '')} during this check"
    log = (run / "meta" / "log.txt").read_bytes()[-600:].decode("utf-8", "replace").strip()
    last = log.splitlines()[-1] if log else ""
    return (f"the submission's process ended (exit status {returncode}) during this check"
            + (f"; its last output: {last[:200]}" if last else ""))


def _read_json(path):
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return None
        value = json.loads(path.read_text())
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


def _read_answer(out, index):
    """(values, None) or (None, error message) for one check, or None when unanswered."""
    error = _read_json(out / f"error-{index}.json")
    if error is not None:
        return None, str(error.get("error", "the call raised an error"))[:600]
    others = _read_json(out / f"values-{index}.json")
    arrays_path = out / f"values-{index}.npz"
    if others is None or not arrays_path.is_file() or arrays_path.is_symlink():
        return None
    try:
        if arrays_path.stat().st_size > MAX_RESULT_BYTES:
            return None, "the returned values are too large"
        with np.load(arrays_path, allow_pickle=False) as archive:
            values = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        return None, f"the returned values could not be read ({error})"
    for key, value in others.items():
        values.setdefault(key, value)
    return values, None


def temporary_folder():
    """A fresh folder for one grading run, removed by the caller."""
    return Path(tempfile.mkdtemp(prefix="autograde-"))
