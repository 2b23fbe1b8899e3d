"""The submission collector on small fake bundles whose notebooks really ran in a kernel."""
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from fake_bundle import SUBMITTED, fake_notebook
from pypdf import PdfReader

from tools import conventions
from tools.cells import is_answer_cell
from tools import collect_submission as collector

REPO_ROOT = Path(__file__).resolve().parents[3]


def edit_notebook(root, name, change):
    path = root / name
    notebook = nbformat.read(path, as_version=4)
    change(notebook)
    nbformat.write(notebook, path)


def assert_nothing_written(root):
    leftovers = sorted(p.name for p in root.iterdir() if p.name.startswith((".a2_", "a2_")))
    assert leftovers == []


@pytest.mark.slow
def test_complete_bundle_gives_zip_and_pdf_in_order(bundle):
    messages = []
    zip_path, pdf_path = collector.collect(bundle, report=messages.append)

    assert zip_path == bundle / "a2_code_submission.zip"
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(archive.namelist())
    assert names == sorted(list(SUBMITTED) + [
        "cs231n/__init__.py", "cs231n/classifiers/cnn.py", "cs231n/classifiers/fc_net.py",
        "cs231n/datasets/download.py",
        "cs231n/im2col_cython.pyx", "cs231n/layers.py", "cs231n/optim.py", "cs231n/solver.py",
    ])

    reader = PdfReader(pdf_path)
    assert len(reader.pages) >= len(SUBMITTED)
    text = "\n".join(page.extract_text() for page in reader.pages)
    positions = [text.find(f"Marker sentence for {Path(name).stem}") for name in SUBMITTED]
    assert -1 not in positions, text[:2000]
    assert positions == sorted(positions)
    assert "BatchNormalization prints 42" in text
    # The plot is an image; the math became vector graphics, so no raw TeX is left.
    assert sum(len(page.images) for page in reader.pages) >= 1
    assert "\\frac" not in text and "\\sum" not in text
    assert "$5" in text  # dollar signs inside code are not math

    assert "All checks passed." in messages
    assert any("a2_inline_submission.pdf" in message and "pages" in message for message in messages)
    assert any("cs231n/layers.py" in message for message in messages)
    assert not list(bundle.glob(".a2_*"))
    umask = os.umask(0)
    os.umask(umask)
    assert zip_path.stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file, not private


def test_missing_file_is_named_and_fails(bundle, capsys):
    (bundle / "cs231n" / "optim.py").unlink()
    (bundle / "Dropout.ipynb").unlink()
    assert collector.main(["--root", str(bundle)]) == 1
    error = capsys.readouterr().err
    assert "cs231n/optim.py" in error and "Dropout.ipynb" in error
    assert_nothing_written(bundle)


def test_missing_file_is_not_forced(bundle):
    (bundle / "cs231n" / "solver.py").unlink()
    with pytest.raises(collector.SubmissionError, match="cs231n/solver.py"):
        collector.collect(bundle, force=True)
    assert_nothing_written(bundle)


def clear_first_code_cell(notebook):
    notebook.cells[1].execution_count = None
    notebook.cells[1].outputs = []


def blank_answer(notebook):
    notebook.cells[-1].source = f"{conventions.ANSWER_PROMPT} {conventions.ANSWER_PLACEHOLDER}"


@pytest.mark.parametrize("name, change, message", [
    ("BatchNormalization.ipynb", clear_first_code_cell,
     r"BatchNormalization\.ipynb, section \"Notebook BatchNormalization\", "
     r"the code cell starting 'value = 6 \* 7': has not been run"),
    ("FullyConnectedNets.ipynb", blank_answer,
     r'FullyConnectedNets\.ipynb, section "Notebook FullyConnectedNets": '
     r'the answer to Inline Question 1 \("Why\?"\) is empty'),
], ids=["unexecuted cell", "unanswered question"])
def test_unready_notebook_is_refused_naming_the_place(bundle, name, change, message):
    edit_notebook(bundle, name, change)
    with pytest.raises(collector.SubmissionError, match=message):
        collector.collect(bundle)
    assert_nothing_written(bundle)


def test_never_executed_notebook_is_reported_once(bundle):
    def clear_all(notebook):
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.execution_count = None
                cell.outputs = []

    edit_notebook(bundle, "PyTorch.ipynb", clear_all)
    problems = collector.notebook_problems(bundle / "PyTorch.ipynb")
    assert problems == ["PyTorch.ipynb: has not been executed (no code cell has run)"]


def test_cells_run_out_of_order_are_named(bundle):
    def rerun_first_cell_last(notebook):
        notebook.cells[1].execution_count = 99

    edit_notebook(bundle, "BatchNormalization.ipynb", rerun_first_cell_last)
    problems = collector.notebook_problems(bundle / "BatchNormalization.ipynb")
    assert len(problems) == 1
    assert problems[0].startswith('BatchNormalization.ipynb, section "Notebook BatchNormalization", '
                                  "the code cell starting 'import matplotlib': ran out of order "
                                  "(execution count 2 after 99 in the code cell starting 'value = 6 * 7')")
    assert "cell 3" not in problems[0]


def test_error_output_is_named(bundle):
    def add_error(notebook):
        notebook.cells[1].outputs.append(nbformat.v4.new_output(
            "error", ename="ValueError", evalue="shapes (2, 3) and (4,) do not match", traceback=[]
        ))

    edit_notebook(bundle, "ConvolutionalNetworks.ipynb", add_error)
    with pytest.raises(collector.SubmissionError) as raised:
        collector.collect(bundle)
    assert ('ConvolutionalNetworks.ipynb, section "Notebook ConvolutionalNetworks", '
            "the code cell starting 'value = 6 * 7': raised") in str(raised.value)
    assert "ValueError: shapes (2, 3) and (4,) do not match" in str(raised.value)
    assert_nothing_written(bundle)


@pytest.mark.slow
def test_force_collects_with_a_warning(bundle):
    edit_notebook(bundle, "FullyConnectedNets.ipynb",
                  lambda notebook: setattr(notebook.cells[-1], "source", conventions.ANSWER_PROMPT))
    messages = []
    zip_path, pdf_path = collector.collect(bundle, force=True, report=messages.append)
    assert zip_path.is_file() and pdf_path.is_file()
    assert messages[0].startswith("WARNING")
    assert 'FullyConnectedNets.ipynb, section "Notebook FullyConnectedNets": the answer to Inline Question 1' in messages[0]
    assert not any("All checks passed" in message for message in messages)


def inject_parameters(source):
    """Insert a code cell like the one papermill injects after the parameters, as if it ran first."""
    def change(notebook):
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.execution_count += 1
        injected = nbformat.v4.new_code_cell(source, execution_count=1,
                                             metadata={"tags": [conventions.INJECTED_PARAMETERS_TAG]})
        notebook.cells.insert(1, injected)
    return change


@pytest.mark.slow
def test_smoke_run_notebook_is_named(bundle):
    edit_notebook(bundle, "Dropout.ipynb", inject_parameters("# Parameters\nSMOKE = True\n"))
    problems = collector.notebook_problems(bundle / "Dropout.ipynb")
    assert problems == [
        "Dropout.ipynb: was run in smoke mode (a cell tagged injected-parameters "
        "sets SMOKE = True); run it again in full"
    ]
    with pytest.raises(collector.SubmissionError, match="Dropout.ipynb: was run in smoke mode"):
        collector.collect(bundle)
    assert_nothing_written(bundle)

    messages = []
    zip_path, pdf_path = collector.collect(bundle, force=True, report=messages.append)
    assert zip_path.is_file() and pdf_path.is_file()
    assert messages[0].startswith("WARNING") and "smoke mode" in messages[0]


@pytest.mark.parametrize("source", ["# Parameters\nSMOKE = False\n", "# Parameters\nSEED = 1\n"])
def test_injected_parameters_without_smoke_pass(bundle, source):
    edit_notebook(bundle, "Dropout.ipynb", inject_parameters(source))
    assert collector.notebook_problems(bundle / "Dropout.ipynb") == []


def test_papermill_error_banners_do_not_count_as_unexecuted_cells(bundle):
    # papermill puts markdown banners, tagged like this, above and at a failed cell.
    def add_banners(notebook):
        for position in (0, 2):
            notebook.cells.insert(position, nbformat.v4.new_markdown_cell(
                '<span style="color:red">An Exception was encountered</span>',
                metadata={"tags": ["papermill-error-cell-tag"]},
            ))

    edit_notebook(bundle, "Dropout.ipynb", add_banners)
    assert collector.notebook_problems(bundle / "Dropout.ipynb") == []


def test_failure_creating_a_temporary_file_leaves_none_behind(bundle, monkeypatch):
    create = collector._temporary_path
    calls = []

    def second_fails(directory, final_name):
        calls.append(final_name)
        if len(calls) == 2:
            raise OSError("no space left on device")
        return create(directory, final_name)

    monkeypatch.setattr(collector, "_temporary_path", second_fails)
    with pytest.raises(OSError, match="no space left"):
        collector.collect(bundle)
    assert len(calls) == 2
    assert_nothing_written(bundle)


@pytest.mark.parametrize("interruption", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_interrupted_collection_leaves_no_final_files(bundle, monkeypatch, interruption):
    def failing_write_pdf(notebook_paths, destination):
        Path(destination).write_bytes(b"%PDF-1.7 half written")
        raise copy.copy(interruption)

    monkeypatch.setattr(collector.submission_pdf, "write_pdf", failing_write_pdf)
    with pytest.raises(type(interruption)):
        collector.collect(bundle)
    assert_nothing_written(bundle)


def test_markdown_math_rendering_leaves_code_and_prices_alone():
    rendered = collector.submission_pdf.render_markdown_math(
        "Cost $5 and $10; `x = $y$` stays; inline $\\mu$ and\n$$\\sigma^2$$"
    )
    assert "Cost $5 and $10;" in rendered
    assert "`x = $y$`" in rendered
    assert rendered.count('class="math-inline"') == 1
    assert rendered.count('class="math-display"') == 1
    broken = collector.submission_pdf.render_markdown_math("$\\frac{a}{$")
    assert "<code>" in broken  # unparsable TeX is shown as source, not dropped


@pytest.mark.slow
def test_shell_wrapper_exits_nonzero_on_missing_file(bundle):
    shutil.copy(REPO_ROOT / "collectSubmission.sh", bundle)
    (bundle / "tools").mkdir()
    for path in (REPO_ROOT / "tools").glob("*.py"):
        shutil.copy(path, bundle / "tools")
    (bundle / "cs231n" / "layers.py").unlink()
    environment = dict(os.environ, CS231N_VENV=sys.prefix)
    result = subprocess.run(["bash", str(bundle / "collectSubmission.sh")], cwd=bundle,
                            env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "cs231n/layers.py" in result.stderr
    assert_nothing_written(bundle)


def test_missing_pdf_toolchain_is_named_with_the_fix(bundle, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ziamath", None)  # makes "import ziamath" fail
    assert collector.main(["--root", str(bundle)]) == 1
    error = capsys.readouterr().err
    assert "ziamath is not installed" in error and "pip install" in error
    assert_nothing_written(bundle)


# ---------------------------------------------------------------------------- framework notebooks

@pytest.fixture
def recorded_pdf(monkeypatch):
    """Replaces the PDF step with one that records which notebooks it was given."""
    rendered = []

    def write_pdf(notebook_paths, destination):
        rendered.extend(Path(path).name for path in notebook_paths)
        Path(destination).write_bytes(b"%PDF-1.7 stand-in")
        return 1

    monkeypatch.setattr(collector.submission_pdf, "write_pdf", write_pdf)
    return rendered


def zipped_notebooks(zip_path):
    with zipfile.ZipFile(zip_path) as archive:
        return [name for name in archive.namelist() if name.endswith(".ipynb")]


@pytest.mark.parametrize("frameworks", [("TensorFlow.ipynb",), ("PyTorch.ipynb", "TensorFlow.ipynb")])
def test_any_framework_notebook_is_packed_in_order(bundle, executed_notebooks, recorded_pdf, frameworks):
    (bundle / "PyTorch.ipynb").unlink()
    for name in frameworks:
        nbformat.write(executed_notebooks[name], bundle / name)
    zip_path, _ = collector.collect(bundle, report=lambda message: None)
    expected = list(conventions.CORE_NOTEBOOKS + frameworks)
    assert zipped_notebooks(zip_path) == expected
    assert recorded_pdf == expected


def test_no_framework_notebook_is_named_as_missing(bundle, capsys):
    (bundle / "PyTorch.ipynb").unlink()
    assert collector.main(["--root", str(bundle), "--force"]) == 1
    error = capsys.readouterr().err
    assert "PyTorch.ipynb or TensorFlow.ipynb (at least one)" in error
    assert_nothing_written(bundle)


def untouched_notebook(name):
    """A framework notebook as the release ships it: nothing run, every answer blank."""
    notebook = fake_notebook(name, with_plot=False)
    for cell in notebook.cells:
        if is_answer_cell(cell):
            cell.source = conventions.BLANK_ANSWER
    return notebook


@pytest.mark.parametrize("chosen, untouched", [("PyTorch.ipynb", "TensorFlow.ipynb"),
                                               ("TensorFlow.ipynb", "PyTorch.ipynb")])
def test_an_untouched_framework_notebook_is_left_out_with_one_line(bundle, executed_notebooks,
                                                                   recorded_pdf, chosen, untouched):
    nbformat.write(executed_notebooks[chosen], bundle / chosen)
    nbformat.write(untouched_notebook(untouched), bundle / untouched)
    messages = []
    zip_path, _ = collector.collect(bundle, report=messages.append)
    expected = list(conventions.CORE_NOTEBOOKS + (chosen,))
    assert zipped_notebooks(zip_path) == expected
    assert recorded_pdf == expected
    left_out = [message for message in messages if untouched in message]
    assert len(left_out) == 1 and left_out[0].startswith(f"Leaving out {untouched}: it is untouched")


def test_untouched_framework_notebooks_only_are_reported(bundle):
    for name in conventions.FRAMEWORK_NOTEBOOKS:
        nbformat.write(untouched_notebook(name), bundle / name)
    with pytest.raises(collector.SubmissionError) as raised:
        collector.collect(bundle, report=lambda message: None)
    message = str(raised.value)
    assert "no framework notebook is started: do the framework part in PyTorch.ipynb or TensorFlow.ipynb" in message
    assert "PyTorch.ipynb" in message.split("started")[1] and "TensorFlow.ipynb: has not been executed" in message


def test_unanswered_question_in_a_framework_notebook_is_named(bundle, executed_notebooks):
    nbformat.write(executed_notebooks["TensorFlow.ipynb"], bundle / "TensorFlow.ipynb")
    edit_notebook(bundle, "TensorFlow.ipynb", lambda notebook: setattr(
        notebook.cells[-1], "source", conventions.BLANK_ANSWER))
    with pytest.raises(collector.SubmissionError,
                       match=r'TensorFlow\.ipynb, section "Notebook TensorFlow": the answer to Inline Question 1'):
        collector.collect(bundle)


# ---------------------------------------------------------------------------- symbolic links

@pytest.fixture
def outside_secret(tmp_path):
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("SECRET CONTENT\n")
    return secret


@pytest.mark.parametrize("link", ["cs231n/x.py", "cs231n/classifiers/fc_net.py", "Dropout.ipynb"])
def test_symlinked_files_are_refused_by_name_even_with_force(bundle, outside_secret, recorded_pdf, capsys, link):
    (bundle / link).unlink(missing_ok=True)
    (bundle / link).symlink_to(outside_secret)
    assert collector.main(["--root", str(bundle), "--force"]) == 1
    error = capsys.readouterr().err
    assert f"{link}: is a symbolic link (to {outside_secret})" in error
    assert "replace the link with the file itself" in error
    assert_nothing_written(bundle)
    assert recorded_pdf == []


def test_symlinked_package_folder_is_not_followed_and_is_named(bundle, outside_secret, recorded_pdf):
    (outside_secret.parent / "helpers.py").write_text("SECRET = 1\n")
    (bundle / "cs231n" / "extra").symlink_to(outside_secret.parent, target_is_directory=True)
    messages = []
    zip_path, _ = collector.collect(bundle, report=messages.append)
    with zipfile.ZipFile(zip_path) as archive:
        assert not any("extra" in name for name in archive.namelist())
        assert b"SECRET" not in b"".join(archive.read(name) for name in archive.namelist())
    assert any(message.startswith("Not packing cs231n/extra: it is a symbolic link to a folder")
               for message in messages)


# ---------------------------------------------------------------------------- clear errors, no tracebacks

def write_raw_notebook(root, name, change):
    """Edit a notebook's JSON directly, bypassing nbformat's checks."""
    path = root / name
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def first_code_cell(document):
    return next(cell for cell in document["cells"] if cell["cell_type"] == "code")


@pytest.mark.parametrize("damage, message", [
    (lambda document: first_code_cell(document).pop("source"),
     r"Dropout\.ipynb: is not a valid notebook \('source' is a required property at cell 2\)"),
    (lambda document: first_code_cell(document).update(execution_count="1"),
     r"Dropout\.ipynb: is not a valid notebook \('1' is not of type 'integer', 'null' at cell 2, execution_count\)"),
])
def test_malformed_notebook_is_one_clear_error_even_with_force(bundle, capsys, recorded_pdf, damage, message):
    write_raw_notebook(bundle, "Dropout.ipynb", damage)
    assert collector.main(["--root", str(bundle), "--force"]) == 1
    error = capsys.readouterr().err
    assert re.search(message, error), error
    assert "not even with --force" in error and "Traceback" not in error
    assert_nothing_written(bundle)


@pytest.mark.parametrize("make_unreadable, message", [
    (lambda path: path.write_text("{ not json"), r"Dropout\.ipynb: cannot be read as a notebook"),
    (lambda path: path.write_bytes(b"\xff\xfe\x00 binary"), r"Dropout\.ipynb: cannot be read as a notebook"),
    (lambda path: (path.unlink(), path.mkdir()), r"Dropout\.ipynb: cannot be read \(Is a directory\)"),
])
def test_unreadable_notebook_with_force_is_one_clear_error(bundle, capsys, recorded_pdf, make_unreadable, message):
    make_unreadable(bundle / "Dropout.ipynb")
    assert collector.main(["--root", str(bundle), "--force"]) == 1
    error = capsys.readouterr().err
    assert re.search(message, error), error
    assert "Traceback" not in error
    assert_nothing_written(bundle)
    assert recorded_pdf == []


def test_folder_without_write_permission_is_one_clear_error(bundle, capsys, monkeypatch, recorded_pdf):
    # The tests may run as root, for whom chmod does not block writing, so the refusal
    # is simulated where the collector first writes.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(collector.tempfile, "mkstemp", refuse)
    assert collector.main(["--root", str(bundle)]) == 1
    error = capsys.readouterr().err
    assert f"cannot write into {bundle} (Permission denied)" in error
    assert "Traceback" not in error
    assert_nothing_written(bundle)


@pytest.mark.slow
def test_sighup_removes_the_temporary_files(bundle):
    # The PDF step hangs up its own process midway, as a closed terminal would.
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from tools import collect_submission as collector\n"
        "def write_pdf(paths, destination):\n"
        "    Path(destination).write_bytes(b'%PDF-1.7 half written')\n"
        "    os.kill(os.getpid(), signal.SIGHUP)\n"
        "    raise AssertionError('SIGHUP did not stop the collector')\n"
        "collector.submission_pdf.write_pdf = write_pdf\n"
        f"sys.exit(collector.main(['--root', {str(bundle)!r}]))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 128 + signal.SIGHUP, result.stderr
    assert "AssertionError" not in result.stderr
    assert not list(bundle.glob(".a2_*")) and not list(bundle.glob("a2_*"))


def test_huge_outputs_keep_the_checks_and_their_messages_small(bundle):
    def add_huge_outputs(notebook):
        cell = notebook.cells[1]
        cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text="x" * 50_000_000))
        cell.outputs.append(nbformat.v4.new_output("error", ename="ValueError", evalue="v" * 5_000_000,
                                                   traceback=[]))

    edit_notebook(bundle, "Dropout.ipynb", add_huge_outputs)
    problems = collector.notebook_problems(bundle / "Dropout.ipynb")
    assert len(problems) == 1
    assert problems[0].startswith('Dropout.ipynb, section "Notebook Dropout", the code cell starting')
    assert "raised ValueError: vvv" in problems[0]
    assert len(problems[0]) < 400
