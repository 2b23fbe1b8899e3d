"""Confine this process, then replace it with the sandbox worker.

    python -I launcher.py CONFIG_JSON

Trusted code, started by the grader in a new session. It takes the strongest confinement
this machine allows, writes what it obtained to the config's ``report`` file (staff
output only) before any untrusted code runs, sets the resource limits and executes the
worker:

* As root with the privilege to make mount namespaces (CAP_SYS_ADMIN): private mount and
  network namespaces hide the grader's folder (and any private folder above the Python
  installation) behind empty in-memory file systems, give /tmp, /var/tmp and /dev/shm
  private ones, keep only the sandbox and the Python installation visible; then the
  process drops to the sandbox's unprivileged user.
* As root without it (Docker's default capabilities, a chroot): it drops to the sandbox's
  user at once, so file permissions keep it out of the grader's files (the grader made
  sure of that before grading, staff/grading/confinement.py); then, as that user, it
  tries a user namespace for a private network, mount and process namespace, as below.
* Not root: the same user namespace as this user, which is then the only thing that
  keeps the submission out of the grader's files; without it, only the limits apply.

In a user namespace the process keeps its own user id (mapped to itself, never to
root), covers the hidden folders and the temporary folders as above, and becomes the
first process of a new process namespace with its own /proc, so that it cannot reach
the grader's processes (nor, through them, the grader's files).
"""
import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWUSER = 0x00020000, 0x40000000, 0x20000000, 0x10000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 2, 4, 8, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 38, 1, 4
PRIVATE_TEMPORARY_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


class Libc:
    """libc's calls the confinement needs, raising OSError with the call's name."""

    def __init__(self):
        self.libc = ctypes.CDLL(None, use_errno=True)

    def call(self, name, *args):
        if getattr(self.libc, name)(*args) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"{name}: {os.strerror(error)}")

    def mount(self, source, target, fstype, flags, data=None):
        encode = lambda value: value.encode() if isinstance(value, str) else value  # noqa: E731
        self.call("mount", encode(source), encode(target), encode(fstype),
                  ctypes.c_ulong(flags), encode(data))


def _world_traversable(path):
    return bool(os.stat(path).st_mode & 0o001)


def _outermost(paths):
    paths = sorted(set(paths), key=len)
    kept = []
    for path in paths:
        if not any(path == parent or path.startswith(parent + os.sep) for parent in kept):
            kept.append(path)
    return kept


def _hide_everything_but(libc, hidden, visible):
    """Cover ``hidden`` folders with empty tmpfs mounts, keeping ``visible`` folders reachable.

    Each visible folder is held open while the others are covered, then bound back at
    its own path through /proc/self/fd (the covered path no longer leads to it). A
    hidden folder this process cannot reach is already out of its reach and is skipped.
    """
    libc.mount("none", "/", None, MS_REC | MS_PRIVATE)
    held = [(os.open(path, os.O_RDONLY | os.O_DIRECTORY), path) for path in visible]
    for path in _outermost(hidden):
        if os.path.isdir(path):
            libc.mount("tmpfs", path, "tmpfs", 0, "mode=0755,size=64m")
    for descriptor, path in held:
        os.makedirs(path, mode=0o755, exist_ok=True)
        libc.mount(f"/proc/self/fd/{descriptor}", path, None, MS_BIND | MS_REC)
        os.close(descriptor)


def _root_namespaces(libc, config):
    """Private mount and network namespaces made as root (needs CAP_SYS_ADMIN)."""
    libc.call("unshare", CLONE_NEWNS | CLONE_NEWNET)
    visible = [os.path.realpath(path) for path in config["visible"]]
    hidden = [os.path.realpath(path) for path in config["hidden"]]
    # Folders above the Python installation that others may not enter (such as /root)
    # are hidden too; the installation itself stays reachable.
    for path in visible:
        parent = os.path.dirname(path)
        while parent != os.path.dirname(parent):
            if not _world_traversable(parent):
                hidden.append(parent)
            parent = os.path.dirname(parent)
    hidden += [path for path in PRIVATE_TEMPORARY_FOLDERS if os.path.isdir(path)]
    _hide_everything_but(libc, hidden, visible)


def enter_user_namespaces(libc):
    """User, mount, network and process namespaces made as this (unprivileged) user, who
    keeps its own user id inside (mapped to itself, never to root)."""
    uid, gid = os.getuid(), os.getgid()
    libc.call("unshare", CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)


def _user_namespaces(libc, config):
    """enter_user_namespaces, then the hidden folders covered. The caller forks so that
    the worker is the first process of the new process namespace."""
    enter_user_namespaces(libc)
    visible = [os.path.realpath(path) for path in config["visible"]]
    hidden = [os.path.realpath(path) for path in config["hidden"]]
    hidden += [path for path in PRIVATE_TEMPORARY_FOLDERS if os.path.isdir(path)]
    _hide_everything_but(libc, hidden, visible)


def _become_first_process(libc, report):
    """Fork into the new process namespace: the child returns and goes on to run the
    worker with a /proc of its own; this process waits and exits with its status."""
    child = os.fork()
    if child:
        _, status = os.waitpid(child, 0)
        os._exit(os.waitstatus_to_exitcode(status) % 256)
    libc.libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    try:
        libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        report["processes"] = "a process namespace of its own with its own /proc"
    except OSError as error:
        report["processes"] = f"the machine's /proc stays visible ({error})"


def _limits(config, own_user):
    limits = {
        resource.RLIMIT_CPU: config["cpu_seconds"],
        resource.RLIMIT_AS: config["memory_bytes"],
        resource.RLIMIT_FSIZE: config["file_bytes"],
        resource.RLIMIT_CORE: 0,
    }
    if own_user:
        # Counted per user, so only meaningful for the sandbox's own user.
        limits[resource.RLIMIT_NPROC] = config["processes"]
    text = (f"CPU {config['cpu_seconds']} s, memory {config['memory_bytes'] >> 20} MiB, "
            f"file size {config['file_bytes'] >> 20} MiB"
            + (f", {config['processes']} processes" if own_user else ""))
    return limits, text


def _drop_privileges(libc, config):
    os.setgroups([])
    os.setgid(config["gid"])
    os.setuid(config["uid"])
    libc.libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # a change of user clears it
    # Leaving root made this process undumpable, which gives its /proc files to root; the
    # user namespace's maps are written there by this process, as the sandbox's user.
    libc.libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)


def main():
    with open(sys.argv[1]) as handle:
        config = json.load(handle)
    # Opened while still root: the report's folder is closed to the sandbox's user. The
    # descriptor is not inherited by the worker (close-on-exec).
    report_handle = open(config["report"], "w")
    report = {}
    libc = Libc()
    libc.libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # die with the grader
    as_root = config["uid"] is not None
    in_root_namespaces = False
    if as_root:
        try:
            _root_namespaces(libc, config)
            in_root_namespaces = True
            report["namespaces"] = ("private mount and network namespaces made as root: the grader's "
                                    "folders hidden, private temporary folders, no network")
        except OSError as error:
            report["namespaces"] = f"mount namespaces not available as root ({error})"
        _drop_privileges(libc, config)
        report["user"] = f"unprivileged uid {config['uid']}"
        report["files"] = ("hidden by the mount namespace" if in_root_namespaces else
                           "kept out by permissions: the grader's folder is closed to the sandbox's user")
    else:
        report["user"] = "the grader's own user: privileges could not be dropped (that needs root)"
        report["files"] = "the submission can read what the grader's user can read"
    in_user_namespaces = False
    if not in_root_namespaces:
        try:
            _user_namespaces(libc, config)
            in_user_namespaces = True
            report["namespaces"] = report.get("namespaces", "") + (
                "; " if as_root else "") + ("user, mount, network and process namespaces: the grader's "
                                            "folders hidden, private temporary folders, no network")
            if not as_root:
                report["files"] = "the grader's folders are hidden by the mount namespace"
        except OSError as error:
            report["namespaces"] = report.get("namespaces", "") + ("; " if as_root else "") + (
                f"user namespaces not available ({error})")
            report["network"] = "not isolated: the submission can reach the network"
    if in_user_namespaces:
        _become_first_process(libc, report)
    limits, report["limits"] = _limits(config, as_root)
    # Written while still trusted, through the descriptor opened as root.
    with report_handle:
        json.dump(report, report_handle)
    libc.libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for kind, value in limits.items():
        resource.setrlimit(kind, (value, value))
    os.chdir(config["workdir"])
    os.execve(config["command"][0], config["command"], config["environment"])


if __name__ == "__main__":
    main()
