"""Confine this process, then replace it with the sandbox worker.

    python -I launcher.py CONFIG_JSON

Trusted code, started by the grader in a new session. As root it enters new mount and
network namespaces, hides the grader's folder (and any private folder above the Python
installation) behind empty in-memory file systems, gives /tmp, /var/tmp and /dev/shm
private ones, keeps only the sandbox and the Python installation visible, and drops to
an unprivileged user. In every case it sets the resource limits, then executes the
worker. What it managed is written to the config's ``report`` file before any
untrusted code runs.
"""
import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1
PRIVATE_TEMPORARY_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


class _Libc:
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
    its own path through /proc/self/fd (the covered path no longer leads to it).
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


def _reachable_by_others(path):
    """True when a user without privileges can reach ``path`` (every folder above it enterable)."""
    parent = os.path.dirname(os.path.realpath(path))
    while parent != os.path.dirname(parent):
        if not _world_traversable(parent):
            return False
        parent = os.path.dirname(parent)
    return True


def _confine_as_root(config, report):
    """Enter private namespaces and decide whether to drop to the sandbox user; return that decision."""
    libc = _Libc()
    try:
        libc.call("unshare", CLONE_NEWNS | CLONE_NEWNET)
        visible = [os.path.realpath(path) for path in config["visible"]]
        hidden = [os.path.realpath(path) for path in config["hidden"]]
        # Folders above the Python installation that others may not enter (such as
        # /root) are hidden too; the installation itself stays reachable.
        for path in visible:
            parent = os.path.dirname(path)
            while parent != os.path.dirname(parent):
                if not _world_traversable(parent):
                    hidden.append(parent)
                parent = os.path.dirname(parent)
        hidden += [path for path in PRIVATE_TEMPORARY_FOLDERS if os.path.isdir(path)]
        _hide_everything_but(libc, hidden, visible)
        report["namespaces"] = "private mount and network namespaces; grader folder hidden"
    except OSError as error:
        report["namespaces"] = f"not available ({error}); the grader's files are protected by permissions only"
        interpreter = os.path.realpath(config["command"][0])
        if not (_reachable_by_others(interpreter) and _reachable_by_others(config["workdir"])):
            report["user"] = ("the grader's own user: without namespaces an unprivileged user "
                              f"cannot reach the Python installation at {interpreter}")
            return False
    report["user"] = f"unprivileged uid {config['uid']}"
    return True


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


def main():
    with open(sys.argv[1]) as handle:
        config = json.load(handle)
    report = {}
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)  # die with the grader
    drop_privileges = config["uid"] is not None and _confine_as_root(config, report)
    if config["uid"] is None:
        report["user"] = "the grader's own user (dropping privileges needs root)"
        report["namespaces"] = "not used (they need root)"
    limits, report["limits"] = _limits(config, drop_privileges)
    # Written while still trusted, into a folder the sandbox user cannot write.
    with open(config["report"], "w") as handle:
        json.dump(report, handle)
    if drop_privileges:
        os.setgroups([])
        os.setgid(config["gid"])
        os.setuid(config["uid"])
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    for kind, value in limits.items():
        resource.setrlimit(kind, (value, value))
    os.chdir(config["workdir"])
    os.execve(config["command"][0], config["command"], config["environment"])


if __name__ == "__main__":
    main()
