"""Check the finished assignment and pack it for upload.

Run from the assignment folder (``bash collectSubmission.sh`` calls this)::

    python -m tools.collect_submission [--force] [--root DIR]

It checks that every required file exists, that every notebook was run top to bottom
without an error, for real rather than in the runner's smoke mode, and that every
inline question has an answer. Then it writes

* ``a2_code_submission.zip``: the five notebooks and the package's ``.py``/``.pyx`` files;
* ``a2_inline_submission.pdf``: the five notebooks in order, with plots, and math rendered
  to vector graphics (ziamath, pure Python) and laid out by WeasyPrint, so no TeX is needed.

Both are written under temporary names and renamed only once both are complete, so an
interrupted run never leaves a half-written file under a final name.
"""
import argparse
import os
import re
import signal
import sys
import tempfile
import zipfile
from pathlib import Path

from .bundle import ANSWER_TAG, INJECTED_PARAMETERS_TAG, NOTEBOOKS
from .submission_pdf import render_markdown_math, write_pdf  # noqa: F401 (re-exported for tests)

REQUIRED_CODE = (
    "cs231n/layers.py",
    "cs231n/classifiers/fc_net.py",
    "cs231n/classifiers/cnn.py",
    "cs231n/optim.py",
    "cs231n/solver.py",
)
ZIP_NAME = "a2_code_submission.zip"
PDF_NAME = "a2_inline_submission.pdf"
ANSWER_PROMPT = "**Your Answer:**"
ANSWER_PLACEHOLDER = "*Write your answer here.*"
_SMOKE_ON = re.compile(r"^\s*SMOKE\s*=\s*True\b", re.MULTILINE)
PACKAGE_DIR = "cs231n"
CODE_SUFFIXES = (".py", ".pyx")
# Folders inside the package that never belong in the archive (the data itself lives
# in cs231n/datasets/cifar-10-batches-py; the code beside it is kept).
SKIPPED_DIRS = {"__pycache__", "build", ".ipynb_checkpoints", "cifar-10-batches-py"}

class SubmissionError(Exception):
    """The bundle is not ready to submit; the message lists every problem found."""


def check_toolchain():
    """Raise SubmissionError naming whatever the PDF toolchain lacks, with the fix."""
    problems = []
    for module in ("nbformat", "nbconvert", "ziamath", "weasyprint"):
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


def missing_files(root):
    """Return the required files (paths relative to ``root``) that do not exist."""
    root = Path(root)
    return [name for name in REQUIRED_CODE + NOTEBOOKS if not (root / name).is_file()]


def _cell_label(index, cell):
    first_line = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    if len(first_line) > 50:
        first_line = first_line[:47] + "..."
    return f"cell {index} ({first_line!r})" if first_line else f"cell {index}"


def answer_is_filled(source):
    """True when an inline-answer cell holds more than the prompt and the placeholder."""
    text = source.replace(ANSWER_PROMPT, "").replace(ANSWER_PLACEHOLDER, "")
    return bool(text.strip())


def is_answer_cell(cell):
    """Inline-answer cells are tagged; untagged cells that start with the prompt count too."""
    if cell.cell_type != "markdown":
        return False
    tags = cell.get("metadata", {}).get("tags", [])
    return ANSWER_TAG in tags or cell.source.lstrip().startswith(ANSWER_PROMPT)


def is_smoke_parameters_cell(cell):
    """True for a cell papermill injected that turns the notebook's smoke mode on."""
    tags = cell.get("metadata", {}).get("tags", [])
    return (cell.cell_type == "code" and INJECTED_PARAMETERS_TAG in tags
            and _SMOKE_ON.search(cell.source) is not None)


def notebook_problems(path):
    """List what keeps one notebook from being submitted, each naming the notebook and cell.

    A notebook passes when every non-empty code cell has run, the execution counts rise
    from top to bottom (one clean "Restart and Run All"), no output is an error, it was
    not run in the headless runner's smoke mode, and every inline-answer cell has been
    filled in. Only code cells count as run or not, so the markdown banners papermill
    adds around a failed cell (tagged papermill-error-cell-tag) are not reported; the
    error output of the failed cell is.
    """
    import nbformat

    path = Path(path)
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # any parse failure means the file cannot be graded
        return [f"{path.name}: cannot be read as a notebook ({error})"]

    problems = []
    code_cells = [
        (index, cell)
        for index, cell in enumerate(notebook.cells, start=1)
        if cell.cell_type == "code" and cell.source.strip()
    ]
    if code_cells and all(cell.get("execution_count") is None for _, cell in code_cells):
        problems.append(f"{path.name}: has not been executed (no code cell has run)")
    else:
        last_count, last_label = 0, None
        for index, cell in code_cells:
            label = f"{path.name}, {_cell_label(index, cell)}"
            count = cell.get("execution_count")
            if count is None:
                problems.append(f"{label}: has not been run")
            elif count <= last_count:
                problems.append(
                    f"{label}: ran out of order (execution count {count} after "
                    f"{last_count} in {last_label}); restart the kernel and run all cells"
                )
            if count is not None:
                last_count, last_label = max(last_count, count), f"cell {index}"
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    problems.append(
                        f"{label}: raised {output.get('ename', 'an error')}: "
                        f"{output.get('evalue', '')}".rstrip(": ")
                    )
    for index, cell in enumerate(notebook.cells, start=1):
        if is_smoke_parameters_cell(cell):
            problems.append(
                f"{path.name}, cell {index}: was run in smoke mode (a cell tagged "
                f"{INJECTED_PARAMETERS_TAG} sets SMOKE = True); run it again in full"
            )
        if is_answer_cell(cell) and not answer_is_filled(cell.source):
            problems.append(f"{path.name}, cell {index}: inline question answer is empty")
    return problems


def code_files(root):
    """The package's source files, relative to ``root``, in a stable order."""
    root = Path(root)
    files = []
    for path in sorted((root / PACKAGE_DIR).rglob("*")):
        relative = path.relative_to(root)
        if path.suffix in CODE_SUFFIXES and path.is_file() and not SKIPPED_DIRS & set(relative.parts):
            files.append(relative)
    return files


def write_zip(root, destination):
    """Write the notebooks and package sources of ``root`` to the zip file ``destination``."""
    root = Path(root)
    members = [Path(name) for name in NOTEBOOKS] + code_files(root)
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
    with ``force`` the notebook problems become warnings (missing files never do).
    """
    root = Path(root).resolve()
    missing = missing_files(root)
    if missing:
        raise SubmissionError("required files are missing:\n" + "\n".join(f"  {name}" for name in missing))

    problems = [problem for name in NOTEBOOKS for problem in notebook_problems(root / name)]
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
    report("Writing the zip and the PDF (the PDF takes a minute)...")
    zip_path, pdf_path = root / ZIP_NAME, root / PDF_NAME
    temporaries = []
    try:
        # Created inside the try, so a failure creating the second removes the first.
        zip_temporary = _temporary_path(root, ZIP_NAME)
        temporaries.append(zip_temporary)
        pdf_temporary = _temporary_path(root, PDF_NAME)
        temporaries.append(pdf_temporary)
        members = write_zip(root, zip_temporary)
        page_count = write_pdf([root / name for name in NOTEBOOKS], pdf_temporary)
        os.replace(zip_temporary, zip_path)
        os.replace(pdf_temporary, pdf_path)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)

    report(f"Wrote {ZIP_NAME} with {len(members)} files:")
    for member in members:
        report(f"  {member}")
    report(f"Wrote {PDF_NAME} ({page_count} pages).")
    report("Upload both files to the grading site.")
    return zip_path, pdf_path


def _exit_on_terminate(signal_number, frame):
    # Turn SIGTERM into an exception so that collect() removes its temporary files.
    raise SystemExit(128 + signal_number)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="the assignment folder (default: current folder)")
    parser.add_argument(
        "--force", action="store_true",
        help="write the files even if notebooks are unexecuted, failing, smoke-run or unanswered",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    try:
        check_toolchain()
        collect(args.root, force=args.force)
    except SubmissionError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        print("Nothing was written.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
