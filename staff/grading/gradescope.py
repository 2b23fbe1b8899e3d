"""Build the Gradescope autograder zip of this solution bundle.

    python -m staff.grading.gradescope OUT.zip [--without-tensorflow] [--hidden PART ...] [--source DIR]

Upload OUT.zip as the assignment's autograder (an Ubuntu 22.04 or 24.04 base image: the
grader needs Python 3.10-3.13). Gradescope unpacks the zip into /autograder/source, so
its root holds:

* ``setup.sh`` (staff/grading/gradescope_files/setup.sh): run once while Gradescope
  builds the image; installs what is missing of python3-venv, Python's headers and a C
  compiler with apt-get, then the grading requirements only (staff/grading/requirements.txt: no
  Jupyter, PDF or similarity tooling; PyTorch's CPU-only wheels where their index can be
  reached) into GRADING_VENV, outside the grader's folder, which it closes to other
  users; and the TensorFlow extra when the release ships TensorFlow.ipynb (unless
  ``--without-tensorflow``), so that every framework a student may choose is graded.
* ``run_autograder`` (staff/grading/gradescope_files/run_autograder): run for each
  submission; passes the folder /autograder/submission to ``python -m
  staff.grading.autograde``, whose intake (staff/grading/intake.py) finds what to grade in
  it (``a2_code_submission.zip`` or the files in their folders; an upload with neither is
  told what to upload), and always leaves /autograder/results/results.json
  (Report.to_gradescope, staff/grading/report.py) with the fields of Gradescope's
  specification only: one test per check, numbered "part.check", tagged with its part
  ("extra credit" for an extra-credit check, whose name and output say whether it
  passed). The tests of the parts named by ``--hidden`` are shown to students after the
  due date; the others at once. The run's output, hidden from students, is the staff
  report (the sandbox's confinement, the seed). Its paths follow AUTOGRADER_ROOT
  (default /autograder) and CS231N_VENV (default GRADING_VENV); GRADING_PARTS
  (comma-separated) grades only some parts.
* the grader itself: the bundle's files, staff/ included, without what is never part of
  a bundle (tools/conventions.py's is_excluded: environments, build products, datasets,
  caches, submission files), version control and the benchmarks. Symbolic links are
  left out.

Exit status: 0 when the zip was written, 2 for a bad command line.
"""
import argparse
import shlex
import stat
import sys
import zipfile
from pathlib import Path, PurePosixPath

from staff.release import is_released
from tools.conventions import is_excluded

from .rubric import PARTS, REQUIRED_TOTAL

BUNDLE_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).resolve().parent / "gradescope_files"
SETUP_SCRIPT = "setup.sh"
RUN_SCRIPT = "run_autograder"
# Top-level paths of the bundle the grader does not need.
LEFT_OUT = (".git", "benchmarks")
# Tool caches, at any depth, that tools/conventions.py does not know of.
CACHES = (".tox", ".coverage")
# Where setup.sh puts the grading environment: outside the grader's folder, which it
# closes to other users, so that a sandboxed submission can run Python but not read the
# grader (staff/grading/confinement.py).
GRADING_VENV = "/opt/cs231n-grader/venv"
TENSORFLOW_NOTEBOOK = "TensorFlow.ipynb"
# The Python versions the pinned environment installs on (requirements.txt).
PYTHON_VERSIONS = ("3.10", "3.13")
# Zip entries carry a fixed date, so that the same tree gives the same zip.
ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def grader_paths(source=BUNDLE_ROOT, skip=()):
    """The files of ``source`` the autograder zip holds, as sorted relative POSIX paths
    (``skip``: absolute paths left out too, such as the zip being written)."""
    source = Path(source)
    skip = {Path(path).resolve() for path in skip}
    found = []

    def visit(folder):
        for path in sorted(folder.iterdir()):
            relative = PurePosixPath(path.relative_to(source).as_posix())
            if (path.is_symlink() or is_excluded(relative) or relative.parts[0] in LEFT_OUT
                    or any(part in CACHES for part in relative.parts)
                    or path.resolve() in skip):
                continue
            if relative.as_posix() in (SETUP_SCRIPT, RUN_SCRIPT):
                continue  # the zip's own scripts take these names
            if path.is_dir():
                visit(path)
            elif path.is_file():
                found.append(relative.as_posix())

    visit(source)
    return found


def _bash_words(words):
    return " ".join(shlex.quote(word) for word in words)


def setup_script(with_tensorflow):
    """The text of setup.sh."""
    note = ("\n# This package grades TensorFlow.ipynb too: the TensorFlow extra is installed." if with_tensorflow
            else "\n# This package was built --without-tensorflow: TensorFlow.ipynb is not gradable on it.")
    text = (TEMPLATES / SETUP_SCRIPT).read_text().replace("@TENSORFLOW_NOTE@", note)
    return text.replace("@WITH_TENSORFLOW@", "1" if with_tensorflow else "0").replace("@DEFAULT_VENV@", GRADING_VENV)


def run_script(hidden=()):
    """The text of run_autograder, showing the tests of the ``hidden`` parts after the due date."""
    text = (TEMPLATES / RUN_SCRIPT).read_text().replace("@DEFAULT_VENV@", GRADING_VENV)
    return text.replace("@HIDDEN_PARTS@", _bash_words(hidden)).replace("@MAX_SCORE@", str(REQUIRED_TOTAL))


def release_ships_tensorflow(source=BUNDLE_ROOT):
    """True when the release built from ``source`` ships TensorFlow.ipynb, which a student
    may then choose and the package must then be able to grade."""
    return (Path(source) / TENSORFLOW_NOTEBOOK).is_file() and is_released(PurePosixPath(TENSORFLOW_NOTEBOOK))


def _add(archive, name, data, mode):
    info = zipfile.ZipInfo(name, ZIP_DATE)
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_autograder(out_zip, with_tensorflow=None, hidden=(), source=BUNDLE_ROOT):
    """Write the autograder zip to ``out_zip``; return the names it holds. Without
    ``with_tensorflow`` (None) the package grades TensorFlow.ipynb when the release
    ships it."""
    if with_tensorflow is None:
        with_tensorflow = release_ships_tensorflow(source)
    unknown = [part for part in hidden if part not in PARTS]
    if unknown:
        raise ValueError(f"unknown parts {unknown}; choose from {list(PARTS)}")
    source, out_zip = Path(source), Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    names = [SETUP_SCRIPT, RUN_SCRIPT]
    partial = out_zip.with_name(out_zip.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        _add(archive, SETUP_SCRIPT, setup_script(with_tensorflow), 0o755)
        _add(archive, RUN_SCRIPT, run_script(tuple(hidden)), 0o755)
        for relative in grader_paths(source, skip=(out_zip, partial)):
            path = source / relative
            mode = 0o755 if path.stat().st_mode & stat.S_IXUSR else 0o644
            _add(archive, relative, path.read_bytes(), mode)
            names.append(relative)
    partial.replace(out_zip)
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m staff.grading.gradescope",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("out", metavar="OUT.zip", help="where to write the autograder zip")
    parser.add_argument("--without-tensorflow", action="store_true",
                        help="leave TensorFlow out of the grader's image (by default it is installed "
                             "when the release ships TensorFlow.ipynb, so that students who chose it "
                             "are graded)")
    parser.add_argument("--hidden", nargs="+", choices=list(PARTS), metavar="PART", default=[],
                        help=f"show these parts' tests only after the due date, out of: {', '.join(PARTS)}")
    parser.add_argument("--source", default=str(BUNDLE_ROOT),
                        help="the solution bundle to build from (default: this one)")
    args = parser.parse_args(argv)
    with_tensorflow = release_ships_tensorflow(args.source) and not args.without_tensorflow
    names = build_autograder(args.out, with_tensorflow, args.hidden, args.source)
    print(f"Wrote {args.out}: setup.sh, run_autograder and {len(names) - 2} grader files "
          f"(Python {PYTHON_VERSIONS[0]}-{PYTHON_VERSIONS[1]} on the image; "
          + ("grades PyTorch.ipynb and TensorFlow.ipynb" if with_tensorflow
             else "grades PyTorch.ipynb only: TensorFlow.ipynb is not gradable on it")
          + (f"; shown after the due date: {', '.join(args.hidden)}" if args.hidden else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
