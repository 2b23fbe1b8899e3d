"""Check the finished assignment and pack it for upload.

Run from the assignment folder (``bash collectSubmission.sh`` calls this)::

    python -m tools.collect_submission [--force] [--root DIR]

It checks that every required file exists (the student files, the four core notebooks
and at least one of the framework notebooks, PyTorch or TensorFlow), that every
notebook was run top to bottom without an error, for real rather than in the runner's
smoke mode, and that every inline question has an answer. A framework notebook that is
untouched while the other one is chosen (tools/conventions.py, framework_chosen) is left out,
with one line saying so. A check that printed FAILED (its error over its bound) is listed
as a warning, by notebook and section: partial work may be submitted. Then it writes

* ``a2_code_submission.zip``: the notebooks and the package's ``.py``/``.pyx`` files;
* ``a2_inline_submission.pdf``: the notebooks in order, with plots, and math rendered
  to vector graphics (ziamath, pure Python) and laid out by WeasyPrint, so no TeX is needed.

Only regular files inside the assignment folder are packed: a notebook or source file
that is a symbolic link is refused (named, with the fix), and linked folders inside
the package are not followed (named too).

Both are written under temporary names and renamed only once both are complete, so an
interrupted run (Ctrl-C, SIGTERM, SIGHUP) never leaves a half-written file under a final
name. Every error ends in a message and a non-zero exit status.
"""
import argparse
import os
import re
import signal
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from .conventions import (CODE_ZIP_NAME, CORE_NOTEBOOKS, FRAMEWORK_NOTEBOOKS, INJECTED_PARAMETERS_TAG,
                          NOTEBOOKS, SMOKE_PARAMETER, STUDENT_FILES, SUBMISSION_PDF_NAME, is_excluded)
from .cells import (answer_is_filled, cell_source, describe_place, framework_chosen, is_answer_cell,
                    question_of)
from . import submission_pdf
from .submission_pdf import PDF_MODULES
from .tasks import failed_check_lines

_SMOKE_ON = re.compile(rf"^\s*{SMOKE_PARAMETER}\s*=\s*True\b", re.MULTILINE)
PACKAGE_DIR = "cs231n"
CODE_SUFFIXES = (".py", ".pyx")
# Error messages quote a cell's error text up to this length: an exception message can
# be megabytes long.
MAX_QUOTED_ERROR = 200


class SubmissionError(Exception):
    """The bundle is not ready to submit; the message lists every problem found."""


def check_toolchain():
    """Raise SubmissionError naming whatever the PDF toolchain lacks, with the fix."""
    problems = []
    for module in PDF_MODULES:
        try:
            __import__(module)
        except ImportError:
            problems.append(f"the Python package {module} is not installed")
        except OSError as error:  # WeasyPrint loads Pango when imported
            problems.append(f"{module} cannot load a system library ({error})")
    if problems:
        raise SubmissionError(
            "the PDF toolchain is incomplete:\n" + "\n".join(f"  {problem}" for problem in problems)
            + "\nInstall it with: pip install -r requirements.txt (on Colab: pip install weasyprint ziamath);"
            "\non a bare Debian/Ubuntu also: apt-get install libpango-1.0-0 libpangoft2-1.0-0"
        )


def submitted_notebooks(root):
    """The notebooks of ``root`` that go into the submission, in NOTEBOOKS order.

    Every core notebook and whichever framework notebooks exist (links included, so
    that symlink_problems can name them).
    """
    root = Path(root)
    return [name for name in NOTEBOOKS
            if name in CORE_NOTEBOOKS or os.path.lexists(root / name)]


def untouched_frameworks(notebooks):
    """The framework notebooks to leave out of a submission: the untouched ones (see
    tools/conventions.py, framework_chosen), as long as another framework notebook is chosen.

    ``notebooks`` maps each notebook name to its read notebook. When no framework notebook
    is chosen, none is left out, so that their problems are reported.
    """
    present = [name for name in FRAMEWORK_NOTEBOOKS if name in notebooks]
    untouched = [name for name in present if not framework_chosen(notebooks[name])]
    return untouched if len(untouched) < len(present) else []


def missing_files(root):
    """The required files (paths relative to ``root``) that do not exist.

    A framework notebook is missing only when none of them exists; the entry then
    names them all.
    """
    root = Path(root)
    missing = [name for name in STUDENT_FILES + CORE_NOTEBOOKS if not os.path.lexists(root / name)]
    if not any(os.path.lexists(root / name) for name in FRAMEWORK_NOTEBOOKS):
        missing.append(" or ".join(FRAMEWORK_NOTEBOOKS) + " (at least one)")
    return missing


def _walk_package(root):
    """(source files, linked folders) under the package, relative to ``root``, sorted.

    Folders that are symbolic links are not entered; excluded names (caches, builds,
    the dataset) are skipped.
    """
    files, linked_folders = [], []
    for folder, subfolders, names in os.walk(root / PACKAGE_DIR):
        here = Path(folder)
        for name in list(subfolders):
            relative = (here / name).relative_to(root)
            if is_excluded(PurePosixPath(relative.as_posix())):
                subfolders.remove(name)
            elif (here / name).is_symlink():
                linked_folders.append(relative)
        for name in names:
            relative = (here / name).relative_to(root)
            if relative.suffix in CODE_SUFFIXES and not is_excluded(PurePosixPath(relative.as_posix())):
                files.append(relative)
    return sorted(files), sorted(linked_folders)


def code_files(root):
    """The package's source files, relative to ``root``, in a stable order."""
    return _walk_package(Path(root))[0]


def linked_package_folders(root):
    """Folders inside the package that are symbolic links: the collector does not follow them."""
    return _walk_package(Path(root))[1]


def symlink_problems(root):
    """One line for each file that would be packed but is a symbolic link."""
    root = Path(root)
    candidates = [Path(name) for name in submitted_notebooks(root)] + code_files(root)
    return [
        f"{name.as_posix()}: is a symbolic link (to {os.readlink(root / name)}); the submission "
        f"takes only regular files inside the assignment folder: replace the link with the file itself"
        for name in candidates if (root / name).is_symlink()
    ]


def _code_cell_label(cell):
    """A code cell as a reader finds it: by its first line."""
    first_line = next((line.strip() for line in cell_source(cell).splitlines() if line.strip()), "")
    if len(first_line) > 50:
        first_line = first_line[:47] + "..."
    return f"the code cell starting {first_line!r}"


def _quoted(text):
    text = str(text)
    return text if len(text) <= MAX_QUOTED_ERROR else text[:MAX_QUOTED_ERROR] + "..."


def read_notebook(path):
    """Read and validate one notebook; SubmissionError naming it if it cannot be packed.

    A file that is not readable, not JSON, or not in the notebook format (a code cell
    without source, an execution count that is not a number...) cannot be graded or
    rendered, so even --force does not pack it.
    """
    import nbformat

    path = Path(path)
    validation = {}
    try:
        with open(path, encoding="utf-8") as f:
            notebook = nbformat.read(f, as_version=4, capture_validation_error=validation)
    except OSError as error:
        raise SubmissionError(f"{path.name}: cannot be read ({error.strerror or error})") from None
    except Exception as error:  # nbformat raises many kinds for a file that is not a notebook
        raise SubmissionError(f"{path.name}: cannot be read as a notebook ({_quoted(error)})") from None
    if "ValidationError" in validation:
        error = validation["ValidationError"]
        parts = list(error.absolute_path)
        if len(parts) >= 2 and parts[0] == "cells" and isinstance(parts[1], int):
            parts[:2] = [f"cell {parts[1] + 1}"]  # numbered from 1, as in every other message
        where = ", ".join(str(part) for part in parts)
        raise SubmissionError(
            f"{path.name}: is not a valid notebook ({_quoted(error.message)}"
            f"{' at ' + where if where else ''}); open it in Jupyter and save it again"
        )
    return notebook


def is_smoke_parameters_cell(cell):
    """True for a cell papermill injected that turns the notebook's smoke mode on."""
    tags = cell.get("metadata", {}).get("tags", [])
    return (cell.get("cell_type") == "code" and INJECTED_PARAMETERS_TAG in tags
            and _SMOKE_ON.search(cell_source(cell)) is not None)


def notebook_problems(path, notebook=None):
    """List what keeps one notebook from being submitted, each naming the notebook and cell.

    A notebook passes when every non-empty code cell has run, the execution counts rise
    from top to bottom (one clean "Restart and Run All"), no output is an error, it was
    not run in the headless runner's smoke mode, and every inline-answer cell has been
    filled in. Only code cells count as run or not, so the markdown banners papermill
    adds around a failed cell (tagged papermill-error-cell-tag) are not reported; the
    error output of the failed cell is. ``notebook`` is the already read notebook, if
    any; a file that cannot be read is reported as one problem.
    """
    path = Path(path)
    if notebook is None:
        try:
            notebook = read_notebook(path)
        except SubmissionError as error:
            return [str(error)]

    problems = []
    cells = notebook.cells
    code_cells = [
        (index, cell)
        for index, cell in enumerate(cells)
        if cell.cell_type == "code" and cell_source(cell).strip()
    ]
    if code_cells and all(cell.get("execution_count") is None for _, cell in code_cells):
        problems.append(f"{path.name}: has not been executed (no code cell has run)")
    else:
        last_count, last_label = 0, None
        for index, cell in code_cells:
            label = f"{describe_place(path.name, cells, index)}, {_code_cell_label(cell)}"
            count = cell.get("execution_count")
            if count is None:
                problems.append(f"{label}: has not been run")
            elif count <= last_count:
                problems.append(
                    f"{label}: ran out of order (execution count {count} after "
                    f"{last_count} in {last_label}); restart the kernel and run all cells"
                )
            if count is not None:
                last_count, last_label = max(last_count, count), _code_cell_label(cell)
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    problems.append(
                        f"{label}: raised {_quoted(output.get('ename', 'an error'))}: "
                        f"{_quoted(output.get('evalue', ''))}".rstrip(": ")
                    )
    for index, cell in enumerate(cells):
        if is_smoke_parameters_cell(cell):
            problems.append(
                f"{path.name}: was run in smoke mode (a cell tagged {INJECTED_PARAMETERS_TAG} "
                f"sets {SMOKE_PARAMETER} = True); run it again in full"
            )
        if is_answer_cell(cell) and not answer_is_filled(cell_source(cell)):
            problems.append(f"{describe_place(path.name, cells, index)}: the answer to "
                            f"{question_of(cells, index)} is empty")
    return problems


def write_zip(root, destination, notebooks=None):
    """Write the notebooks and package sources of ``root`` to the zip file ``destination``.

    ``notebooks`` defaults to those submitted_notebooks finds.
    """
    root = Path(root)
    notebooks = submitted_notebooks(root) if notebooks is None else notebooks
    members = [Path(name) for name in notebooks] + code_files(root)
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            archive.write(root / member, member.as_posix())
    return [member.as_posix() for member in members]


def _temporary_path(directory, final_name):
    handle, name = tempfile.mkstemp(prefix=f".{final_name}.", suffix=".tmp", dir=directory)
    os.close(handle)
    # mkstemp makes the file private; give it the permissions a plain new file would get.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def collect(root=".", force=False, report=print):
    """Check the bundle in ``root`` and write the zip and the PDF next to it.

    Returns the paths of the two files. Raises SubmissionError listing every problem;
    with ``force`` the notebook problems become warnings (missing, linked or unreadable
    files never do).
    """
    root = Path(root).resolve()
    missing = missing_files(root)
    if missing:
        raise SubmissionError("required files are missing:\n" + "\n".join(f"  {name}" for name in missing))
    linked = symlink_problems(root)
    if linked:
        raise SubmissionError("symbolic links are not submitted:\n" + "\n".join(f"  {line}" for line in linked))
    for folder in linked_package_folders(root):
        report(f"Not packing {folder.as_posix()}: it is a symbolic link to a folder "
               f"({os.readlink(root / folder)}), which the collector does not follow.")

    notebooks = submitted_notebooks(root)
    read = {}
    unreadable = []
    for name in notebooks:
        try:
            read[name] = read_notebook(root / name)
        except SubmissionError as error:
            unreadable.append(str(error))
    if unreadable:
        raise SubmissionError(
            "these notebooks cannot be packed (not even with --force):\n"
            + "\n".join(f"  {line}" for line in unreadable)
        )
    left_out = untouched_frameworks(read)
    for name in left_out:
        chosen = " and ".join(other for other in FRAMEWORK_NOTEBOOKS if other in read and other not in left_out)
        report(f"Leaving out {name}: it is untouched (no code cell has run, no answer is written), "
               f"so your framework part is {chosen}.")
    notebooks = [name for name in notebooks if name not in left_out]
    failed = [line for name in notebooks for line in failed_check_lines(name, read[name].cells)]
    if failed:
        report("WARNING: these checks failed (you may still submit: partial work counts, but "
               "check that you meant to):\n" + "\n".join(f"  {line}" for line in failed))
    problems = [problem for name in notebooks for problem in notebook_problems(root / name, read[name])]
    if not any(name in notebooks and framework_chosen(read[name]) for name in FRAMEWORK_NOTEBOOKS):
        problems.insert(0, f"no framework notebook is started: do the framework part in "
                           f"{' or '.join(FRAMEWORK_NOTEBOOKS)}")
    if problems:
        listing = "\n".join(f"  {problem}" for problem in problems)
        if not force:
            raise SubmissionError(
                "the notebooks are not ready:\n" + listing
                + "\nFix these (or pass --force to submit anyway, at your own risk)."
            )
        report("WARNING: collecting anyway (--force) despite:\n" + listing)

    if not problems:
        report("All checks passed.")
    report(f"Packing {', '.join(notebooks)}.")
    report("Writing the zip and the PDF (the PDF takes a minute)...")
    zip_path, pdf_path = root / CODE_ZIP_NAME, root / SUBMISSION_PDF_NAME
    temporaries = []
    try:
        # Created inside the try, so a failure creating the second removes the first.
        try:
            zip_temporary = _temporary_path(root, CODE_ZIP_NAME)
            temporaries.append(zip_temporary)
            pdf_temporary = _temporary_path(root, SUBMISSION_PDF_NAME)
            temporaries.append(pdf_temporary)
        except PermissionError as error:
            raise SubmissionError(
                f"cannot write into {root} ({error.strerror}): make the folder writable, or "
                f"copy the assignment to a folder you can write to"
            ) from None
        members = write_zip(root, zip_temporary, notebooks)
        page_count = submission_pdf.write_pdf([root / name for name in notebooks], pdf_temporary)
        os.replace(zip_temporary, zip_path)
        os.replace(pdf_temporary, pdf_path)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)

    report(f"Wrote {CODE_ZIP_NAME} with {len(members)} files:")
    for member in members:
        report(f"  {member}")
    report(f"Wrote {SUBMISSION_PDF_NAME} ({page_count} pages).")
    report("Upload both files to the grading site.")
    return zip_path, pdf_path


def _exit_on_signal(signal_number, frame):
    # Turn SIGTERM and SIGHUP (a closed terminal) into an exception, so that collect()
    # removes its temporary files on the way out.
    raise SystemExit(128 + signal_number)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="the assignment folder (default: current folder)")
    parser.add_argument(
        "--force", action="store_true",
        help="write the files even if notebooks are unexecuted, failing, smoke-run or unanswered",
    )
    args = parser.parse_args(argv)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_on_signal)
    try:
        check_toolchain()
        collect(args.root, force=args.force)
    except (SubmissionError, OSError) as error:
        print(f"ERROR: {error}", file=sys.stderr)
        print("Nothing was written.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted. Nothing was written.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
