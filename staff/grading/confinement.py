"""What the sandbox can rely on here, decided once per grader process before any grading.

The launcher (staff/grading/launcher.py) takes the strongest confinement the machine
allows. Mount namespaces made as root hide the grader's files whatever their
permissions; everywhere else (root without CAP_SYS_ADMIN, as in Docker's default
capabilities or a chroot) the submission runs as an unprivileged user that file
permissions alone must keep out. This module makes that hold before the first
submission is graded:

* the sandbox's user must be able to run Python: when the grader's interpreter, its
  standard library or its packages sit below a folder other users may not enter (a
  home folder such as /root, a checkout in a private folder), the sandbox gets a mirror
  of them made of hard links (no copy of the data where the file system allows it)
  in a folder only root may write;
* the sandbox's user must not be able to read the grader's folder: when it could, the
  grader stops with one error saying how to close it, instead of grading anyone;
* a grader that is not root has no other user to run submissions as, so only user
  namespaces can hide its files from them: where the kernel refuses those, it stops with
  one error too, unless staff accept running submissions unconfined (``--unconfined``,
  for code they trust, such as their own).
"""
import fcntl
import hashlib
import os
import shutil
import stat
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from .launcher import CLONE_NEWNET, CLONE_NEWNS, Libc, enter_user_namespaces
from .sandbox import SandboxUnavailable

# Mirrors of the grader's Python for sandbox users, one folder per installation. A mirror
# outlives its grader (building one links tens of thousands of files), and the next grader
# removes it once the installation it mirrors is gone or has changed: its hard links would
# otherwise keep a deleted environment's gigabytes on disk.
MIRROR_FOLDER = Path("/tmp/cs231n-grader-python")
# In a mirror: the paths it was made from, one per line, and the file that marks it complete,
# on which each grader using the mirror holds a shared lock (removing it takes an exclusive one).
SOURCES_FILE = "sources"
COMPLETE_FILE = "complete"
# Unfinished mirrors are named after the process building them.
PARTIAL_INFIX = ".partial-"
# The open files whose locks keep this process's mirror in place for as long as it runs.
_MIRRORS_IN_USE = []
# Files a package installer leaves that point at the grader's own checkout.
EDITABLE_PREFIX = "__editable__"


class ConfinementError(SandboxUnavailable):
    """The sandbox cannot be made safe here; the message tells staff what to change."""


@dataclass
class Interpreter:
    """The Python the sandbox runs: its executable, the folders it needs to see, and any
    environment it needs (the mirror's shared library folder)."""
    executable: str
    folders: list
    environment: dict = field(default_factory=dict)


def _in_child(action):
    """True when ``action`` succeeds in a forked child (which changes nothing here)."""
    pid = os.fork()
    if pid == 0:
        try:
            action()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _user_namespace_with_a_mount():
    """What the launcher does without root (its own code), and a file system mounted in
    the namespace, which some kernels refuse even where they allow the namespace."""
    libc = Libc()
    enter_user_namespaces(libc)
    libc.mount("tmpfs", "/tmp", "tmpfs", 0, "size=1m")


_PROBED = {}


def _probe(name, action):
    if name not in _PROBED:
        _PROBED[name] = sys.platform.startswith("linux") and _in_child(action)
    return _PROBED[name]


def mount_namespaces_work():
    """True when this (root) process may make mount and network namespaces."""
    return _probe("mount", lambda: Libc().call("unshare", CLONE_NEWNS | CLONE_NEWNET))


def user_namespaces_work():
    """True when this process may make the user namespace the launcher makes without root."""
    return _probe("user", _user_namespace_with_a_mount)


def can_reach(path, uid, gid, want_read=False):
    """True when a process of ``uid``/``gid`` (no other groups) can walk to ``path`` (every
    folder on the way enterable) and, with ``want_read``, read it (list it, for a folder)."""
    path = os.path.realpath(path)
    parts = Path(path).parts
    for depth in range(1, len(parts) + 1):
        current = os.path.join(*parts[:depth])
        try:
            status = os.stat(current)
        except OSError:
            return False
        last = depth == len(parts)
        if last and not want_read:
            return True
        if status.st_uid == uid:
            bits = status.st_mode >> 6
        elif status.st_gid == gid:
            bits = status.st_mode >> 3
        else:
            bits = status.st_mode
        needed = 0o4 if last else 0o1
        if not bits & needed:
            return False
    return True


def _python_folders():
    """The folders the interpreter needs: its base installation's library folder and the
    environment's packages."""
    library = Path(sysconfig.get_paths()["stdlib"]).resolve()
    packages = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    return library, sorted(packages)


def _executable():
    return Path(getattr(sys, "_base_executable", sys.executable)).resolve()


def sandbox_interpreter(uid):
    """The interpreter a sandbox process of ``uid`` runs: the grader's own when that user
    can reach it, else a mirror of it (built on first use)."""
    library, packages = _python_folders()
    wanted = [_executable(), library / "os.py"] + [folder for folder in packages]
    if all(can_reach(path, uid, uid, want_read=True) for path in wanted):
        return Interpreter(sys.executable, [sys.prefix, sys.base_prefix])
    return _mirror(library, packages)


def _checked_folder(folder):
    """``folder``, created if needed, refused unless it is root's own and closed to writers."""
    folder.mkdir(mode=0o755, exist_ok=True)
    status = os.lstat(folder)
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.geteuid() or status.st_mode & 0o022:
        raise ConfinementError(f"{folder} is not a folder that only this grader's user may write; "
                               "remove it so that the grader can keep its Python mirror there")
    folder.chmod(0o755)
    return folder


def _link_or_copy(origin, destination):
    """A hard link, or a copy where the two lie on different file systems."""
    try:
        os.link(origin, destination)
    except OSError:
        shutil.copy2(origin, destination)


def _link_tree(source, target, skip=lambda name: False):
    """Recreate ``source`` at ``target``: folders made afresh (0755), files hard-linked
    (copied where linking is impossible), links copied as links."""
    target.mkdir(mode=0o755, parents=True, exist_ok=True)
    for folder, subfolders, files in os.walk(source):
        relative = Path(folder).relative_to(source)
        for name in subfolders:
            origin = Path(folder) / name
            destination = target / relative / name
            if origin.is_symlink():
                os.symlink(os.readlink(origin), destination)
            else:
                destination.mkdir(mode=0o755)
        subfolders[:] = [name for name in subfolders if not (Path(folder) / name).is_symlink()]
        for name in files:
            if skip(name):
                continue
            origin, destination = Path(folder) / name, target / relative / name
            if origin.is_symlink():
                os.symlink(os.readlink(origin), destination)
                continue
            _link_or_copy(origin, destination)


def _digest(paths):
    """The name of the mirror of ``paths`` as they are now (their modification times)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0" + str(os.stat(path).st_mtime_ns).encode() + b"\0")
    return digest.hexdigest()[:16]


def _is_current(mirror):
    """True when every path ``mirror`` was made from exists unchanged."""
    try:
        return _digest((mirror / SOURCES_FILE).read_text().splitlines()) == mirror.name
    except OSError:
        return False


def _is_running(pid):
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to another user
        pass
    return True


def _remove(entry):
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


def _remove_stale_mirrors(folder):
    """Remove from ``folder`` the mirrors of installations that are gone or have changed,
    unless a grader still uses them, and the unfinished mirrors of builders that died."""
    for entry in folder.iterdir():
        _, _, builder = entry.name.partition(PARTIAL_INFIX)
        if builder:
            if not (builder.isdigit() and _is_running(int(builder))):
                _remove(entry)
            continue
        if _is_current(entry):
            continue
        try:
            with open(entry / COMPLETE_FILE) as marker:
                fcntl.flock(marker, fcntl.LOCK_EX | fcntl.LOCK_NB)
                _remove(entry)
        except BlockingIOError:  # a grader started before its installation changed still runs
            continue
        except OSError:  # not a complete mirror: nothing can be using it
            _remove(entry)


def _use(mirror):
    """Hold ``mirror`` in place for as long as this process runs."""
    marker = open(mirror / COMPLETE_FILE)
    fcntl.flock(marker, fcntl.LOCK_SH)
    _MIRRORS_IN_USE.append(marker)


def _build_mirror(root, sources):
    """Make the mirror of ``sources`` (the interpreter, its standard library and its package
    folders) at ``root``, hard-linked and laid out as a virtual environment."""
    executable, library, *packages = sources
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    partial = root.with_name(f"{root.name}{PARTIAL_INFIX}{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    base = partial / "base"
    (base / "bin").mkdir(mode=0o755, parents=True)
    _link_or_copy(executable, base / "bin" / version)
    base_library = executable.parent.parent / "lib"
    for shared in base_library.glob("libpython*.so*"):
        (base / "lib").mkdir(mode=0o755, exist_ok=True)
        os.symlink(os.readlink(shared), base / "lib" / shared.name) if shared.is_symlink() \
            else _link_or_copy(shared, base / "lib" / shared.name)
    _link_tree(library, base / "lib" / version)
    site = partial / "venv" / "lib" / version / "site-packages"
    for folder in packages:
        _link_tree(folder, site, skip=lambda name: name.startswith(EDITABLE_PREFIX))
    (partial / "venv" / "bin").mkdir(mode=0o755)
    os.symlink(f"../../base/bin/{version}", partial / "venv" / "bin" / "python")
    (partial / "venv" / "pyvenv.cfg").write_text(
        f"home = {root / 'base' / 'bin'}\ninclude-system-site-packages = false\n"
        f"version = {sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}\n")
    # Where the grader's environment lies is none of the submission's business.
    (partial / SOURCES_FILE).write_text("".join(f"{path}\n" for path in sources))
    (partial / SOURCES_FILE).chmod(0o600)
    (partial / COMPLETE_FILE).write_text("")
    for path in (partial, partial / "venv", partial / "base"):
        path.chmod(0o755)
    try:
        os.rename(partial, root)
    except OSError:  # another grader finished the same mirror first
        shutil.rmtree(partial, ignore_errors=True)


def _mirror(library, packages):
    """The sandbox's interpreter from a mirror of this one, its standard library and its
    packages, in a folder other users can reach but not write; made unless a current one
    exists, after removing the stale mirrors beside it."""
    sources = [_executable(), library] + packages
    folder = _checked_folder(MIRROR_FOLDER)
    root = folder / _digest(sources)
    _remove_stale_mirrors(folder)
    if not (root / COMPLETE_FILE).is_file():
        _build_mirror(root, sources)
    _use(root)
    return Interpreter(str(root / "venv" / "bin" / "python"), [str(root)],
                       {"LD_LIBRARY_PATH": str(root / "base" / "lib")})


def check_grader_is_closed(grader_root, uid):
    """Raise ConfinementError when a sandbox process of ``uid`` could read the grader's
    folder, which only permissions protect on this machine."""
    if can_reach(grader_root, uid, uid, want_read=False) and any(
            can_reach(grader_root / name, uid, uid, want_read=True) for name in ("cs231n/layers.py", "staff")):
        raise ConfinementError(
            f"the grader's folder {grader_root} can be read by other users, and this machine does not "
            "let the grader hide it (no mount namespaces: CAP_SYS_ADMIN is missing, as with Docker's "
            f"default capabilities). Close it before grading: chmod 700 {grader_root}")


def check_solution_not_installed(grader_root):
    """Raise ConfinementError when the package is installed into the environment's
    packages (``pip install .``) rather than linked to the grader's folder: the sandbox
    must see the environment, so it would see the solution there."""
    for folder in _python_folders()[1]:
        installed = folder / "cs231n"
        if installed.is_dir() and installed.resolve() != (Path(grader_root) / "cs231n").resolve():
            raise ConfinementError(
                f"the solution's package is installed in {installed}, which every sandbox can read; "
                f"uninstall it (pip uninstall cs231n) and install it linked to {grader_root} instead "
                "(pip install -e .)")


def plan(uid, grader_root, unconfined=False):
    """The interpreter for sandboxes of ``uid`` (None: not root), after checking that
    permissions alone keep them out of ``grader_root`` where namespaces are unavailable,
    and that a grader without root can make user namespaces (unless ``unconfined``).
    Raises ConfinementError, before anything is graded, when they would not."""
    check_solution_not_installed(grader_root)
    if uid is None:
        if not unconfined and not user_namespaces_work():
            raise ConfinementError(
                "this grader is not root, so it cannot run submissions as another user, and this "
                "machine refuses it user namespaces, so it cannot hide its files from them either: a "
                "submission could read the solution and everything this user can read. Grade as root "
                "(for example in a container), or pass --unconfined to grade code you trust anyway")
        return Interpreter(sys.executable, [sys.prefix, sys.base_prefix])
    if mount_namespaces_work():
        return Interpreter(sys.executable, [sys.prefix, sys.base_prefix])
    check_grader_is_closed(Path(grader_root), uid)
    return sandbox_interpreter(uid)
