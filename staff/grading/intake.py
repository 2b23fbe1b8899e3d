"""Take the student files and notebooks out of a submission, and nothing else.

A submission is a bundle folder or a zip (``a2_code_submission.zip``), or an upload
folder holding one of them (locate_submission: what Gradescope, batch grading and the
similarity report hand over). Only the files a
student edits (tools/conventions.py's STUDENT_FILES, and EXTENDABLE_FILES where the
submission has them) and the notebooks are read; the rest of the package always comes
from the grader. A zip is checked whole before anything is
read: no absolute or parent-relative names, no links, no name that is both a file and a
folder, no duplicate, at most ``max_members`` members, each at most ``max_member_bytes``
and all together at most ``max_total_bytes`` uncompressed; the members read are counted
again while they decompress, since a zip's declared sizes can lie. Nothing is extracted
to disk.
"""
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tools.conventions import CODE_ZIP_NAME, EXTENDABLE_FILES, NOTEBOOKS, STUDENT_FILES

DEFAULT_MAX_MEMBERS = 2000
DEFAULT_MAX_MEMBER_MIB = 32
DEFAULT_MAX_TOTAL_MIB = 256
PACKAGE_MARKER = "cs231n/__init__.py"
# How many folders down the package may sit in an upload (a repository downloaded as a
# zip nests it as REPO-main/assignments/assignment2/cs231n); the shallowest one counts.
PACKAGE_DEPTH = 3
WANTED = STUDENT_FILES + EXTENDABLE_FILES + NOTEBOOKS


class IntakeError(Exception):
    """The submission cannot be read; the message names the file and the problem."""


class IntakeLimits:
    def __init__(self, max_members=DEFAULT_MAX_MEMBERS, max_member_mib=DEFAULT_MAX_MEMBER_MIB,
                 max_total_mib=DEFAULT_MAX_TOTAL_MIB):
        self.max_members = max_members
        self.max_member_bytes = max_member_mib << 20
        self.max_total_bytes = max_total_mib << 20


def _package_root(folder):
    """The shallowest folder, ``folder`` itself or at most PACKAGE_DEPTH folders down, that
    holds the package; among several as deep, the one holding most of the files graded
    (another assignment's copy beside this one's holds fewer), then the first by name.
    None when there is none. Symbolic links are not followed."""
    level = [folder]
    for _ in range(PACKAGE_DEPTH + 1):
        found = [candidate for candidate in level if (candidate / PACKAGE_MARKER).is_file()]
        if found:
            # max keeps the first of equals, and ``found`` is in name order.
            return max(found, key=lambda root: sum((root / name).is_file() for name in WANTED))
        level = [child for candidate in level for child in sorted(candidate.iterdir())
                 if child.is_dir() and not child.is_symlink()]
    return None


def locate_submission(path):
    """What to grade in an upload: ``path`` itself when it is a zip or a folder holding the
    package (at its top or a few folders down); else, in a folder, its CODE_ZIP_NAME, or its
    only zip. Raises IntakeError saying what to upload when there is none of these."""
    path = Path(path)
    if path.is_symlink():
        raise IntakeError(f"{path.name} is a symbolic link, which is not followed")
    if path.is_file():
        return path
    if not path.is_dir():
        raise IntakeError(f"{path} is neither a bundle folder nor a zip file")
    if _package_root(path) is not None:
        return path
    named = path / CODE_ZIP_NAME
    if named.is_file() and not named.is_symlink():
        return named
    zips = sorted(child for child in path.iterdir()
                  if child.suffix.lower() == ".zip" and child.is_file() and not child.is_symlink())
    if len(zips) == 1:
        return zips[0]
    names = sorted(child.name for child in path.iterdir())
    held = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "") or "nothing"
    problem = (f"several zips and none named {CODE_ZIP_NAME}" if zips
               else f"neither {CODE_ZIP_NAME} nor the assignment's folders")
    raise IntakeError(f"the upload holds {problem} (it holds: {held}). Upload {CODE_ZIP_NAME} as it is: "
                      "collectSubmission.sh writes it in your assignment folder, with the files in their "
                      "folders (cs231n/layers.py, ...), which is how they are graded.")


def read_submission(path, limits=None):
    """(student files, notebooks, notes): bytes by relative path, bytes by name, and
    remarks for the report (files missing, links skipped). ``path`` is an upload:
    locate_submission finds what to read in it."""
    limits = limits or IntakeLimits()
    target = locate_submission(path)
    return _read_folder(target, limits) if target.is_dir() else _read_zip(target, limits)


def _split(found, notes):
    sources = {name: data for name, data in found.items() if name in STUDENT_FILES + EXTENDABLE_FILES}
    notebooks = {name: data for name, data in found.items() if name in NOTEBOOKS}
    missing = [name for name in STUDENT_FILES if name not in sources]
    if missing:
        notes.append("missing student files (their checks fail): " + ", ".join(missing))
    return sources, notebooks, notes


def _read_folder(folder, limits):
    root = _package_root(folder)
    found, notes = {}, []
    for name in WANTED:
        target = root / name
        if target.is_symlink():
            notes.append(f"{name} is a symbolic link and was not read")
            continue
        if not target.is_file():
            continue
        size = target.stat().st_size
        if size > limits.max_member_bytes:
            raise IntakeError(f"{name} is {size} bytes, over the limit of {limits.max_member_bytes}")
        found[name] = target.read_bytes()
    return _split(found, notes)


def _check_member_name(name):
    posix = PurePosixPath(name)
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or "\\" in name:
        raise IntakeError(f"member {name!r} has an absolute or non-portable path")
    if any(part == ".." for part in posix.parts):
        raise IntakeError(f"member {name!r} points outside the archive ('..')")


def _read_zip(path, limits):
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise IntakeError(f"{path} is not a readable zip archive ({error})") from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise IntakeError(f"{path} holds {len(members)} members, over the limit of {limits.max_members}")
        files, folders, total = {}, set(), 0
        for member in members:
            _check_member_name(member.filename)
            mode = member.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise IntakeError(f"member {member.filename!r} is a symbolic link")
            name = member.filename.rstrip("/")
            if member.is_dir():
                folders.add(name)
                continue
            if name in files:
                raise IntakeError(f"member {name!r} appears twice")
            if member.file_size > limits.max_member_bytes:
                raise IntakeError(f"member {name!r} unpacks to {member.file_size} bytes, over the "
                                  f"limit of {limits.max_member_bytes}")
            total += member.file_size
            if total > limits.max_total_bytes:
                raise IntakeError(f"{path} unpacks to more than {limits.max_total_bytes} bytes")
            files[name] = member
            folders.update(str(parent) for parent in PurePosixPath(name).parents if str(parent) != ".")
        clashes = sorted(set(files) & folders)
        if clashes:
            raise IntakeError(f"{clashes[0]!r} is both a file and a folder in {path}")
        prefixes = [name[: -len(PACKAGE_MARKER)] for name in files if name.endswith(PACKAGE_MARKER)]
        prefixes = [prefix for prefix in prefixes if prefix in ("", *(f"{p}/" for p in folders))
                    and prefix.count("/") <= PACKAGE_DEPTH]
        # The shallowest, then the one holding most of the files graded, then by name.
        prefixes.sort(key=lambda prefix: (prefix.count("/"), -sum(prefix + name in files for name in WANTED),
                                          prefix))
        if not prefixes:
            raise IntakeError(f"{path.name} holds no {PACKAGE_MARKER} (nor {PACKAGE_DEPTH} folders down): make "
                              "the zip with collectSubmission.sh, which keeps the files in their folders")
        prefix = prefixes[0]
        found = {}
        for name in WANTED:
            member = files.get(prefix + name)
            if member is not None:
                found[name] = _read_member(archive, member, limits, path)
        return _split(found, [])


def _read_member(archive, member, limits, path):
    chunks, size = [], 0
    try:
        with archive.open(member) as stream:
            while True:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                size += len(chunk)
                if size > limits.max_member_bytes:
                    raise IntakeError(f"member {member.filename!r} unpacks to more than "
                                      f"{limits.max_member_bytes} bytes")
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as error:
        raise IntakeError(f"member {member.filename!r} of {path} cannot be read ({error})") from None
    return b"".join(chunks)
