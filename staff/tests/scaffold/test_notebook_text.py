"""What students read in the notebooks: no words from our tooling, "seed" only for random
seeds, and every task named (function and file) in the section that checks it."""
import io
import re
import tokenize
from pathlib import Path

import nbformat
import pytest

from tools.conventions import NOTEBOOKS
from tools.cells import blank_magics, cell_source, is_question_title
from tools.tasks import Task, task_list

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK_PATHS = [REPO_ROOT / name for name in NOTEBOOKS if (REPO_ROOT / name).is_file()]

# Words of our build and test machinery, which mean nothing to a student.
TOOLING_WORDS = (
    (re.compile(r"\bCI\b"), "CI"),
    (re.compile(r"headless", re.IGNORECASE), "headless"),
    (re.compile(r"smoke", re.IGNORECASE), "smoke"),
)
SEED_WORD = re.compile(r"\bseeds?\b", re.IGNORECASE)


def comments(source):
    """The comment texts of a code cell, IPython magics and shell lines left out."""
    tokens = tokenize.generate_tokens(io.StringIO(blank_magics(source) + "\n").readline)
    return [token.string for token in tokens if token.type == tokenize.COMMENT]


def student_text(path):
    """(where, text) for every markdown cell and every code comment of a notebook."""
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        where = f"{path.name}, cell {index + 1}"
        if cell.cell_type == "markdown":
            yield where, cell.source
        elif cell.cell_type == "code":
            for comment in comments(cell.source):
                yield where, comment


def is_random_seed_use(text, match):
    """A "seed" about random numbers: code (`seed`, 'seed') or "random" in the same sentence."""
    before = text[max(0, match.start() - 8):match.start()]
    after = text[match.end():match.end() + 1]
    quoted = before.endswith(("`", "'", '"', "`'")) and after in ("`", "'", '"')
    sentence_start = max(text.rfind(". ", 0, match.start()), text.rfind("\n\n", 0, match.start()))
    sentence_end = min(position for position in (text.find(". ", match.end()), text.find("\n\n", match.end()),
                                                 len(text)) if position >= 0)
    return quoted or "random" in text[sentence_start + 1:sentence_end].lower()


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.stem)
def test_no_tooling_words_in_student_text(path):
    found = [f"{where}: {label!r} in {text.strip()[:80]!r}"
             for where, text in student_text(path)
             for pattern, label in TOOLING_WORDS if pattern.search(text)]
    assert found == []


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda path: path.stem)
def test_seed_means_a_random_seed(path):
    found = [f"{where}: {text[max(0, match.start() - 40):match.end() + 40]!r}"
             for where, text in student_text(path)
             for match in SEED_WORD.finditer(text) if not is_random_seed_use(text, match)]
    assert found == []


def test_the_checks_catch_what_they_look_for():
    assert comments("x = 1  # used by CI\n%timeit f()\n") == ["# used by CI"]
    text = ("The function prints the accuracy, as in the seeds, and also returns it. "
            "Fix the random seed with `seed`, or with dropout_param's 'seed' key.")
    flagged = [match.group() for match in SEED_WORD.finditer(text) if not is_random_seed_use(text, match)]
    assert flagged == ["seeds"]
    assert TOOLING_WORDS[0][0].search("CIFAR-10 on CI") and not TOOLING_WORDS[0][0].search("CIFAR")


# ---------------------------------------------------------------------------- each task named where it is checked

def _section_headings(cell):
    """(level, title) of a markdown cell's headings, inline questions' titles left out."""
    if cell.get("cell_type") != "markdown":
        return []
    found = []
    for line in cell_source(cell).split("\n"):
        match = re.match(r"^(#+)\s*(.*?)\s*$", line)
        if match and match[2] and not is_question_title(match[2]):
            found.append((len(match[1]), match[2]))
    return found


def _text_from_heading(source, heading):
    """The lines of a markdown cell from the line of ``heading`` up to its next heading."""
    lines, taken = source.split("\n"), []
    for line in lines:
        match = re.match(r"^#+\s*(.*?)\s*$", line)
        if match and match[1] and not is_question_title(match[1]):
            if taken:
                break
            if match[1] == heading:
                taken.append(line)
        elif taken:
            taken.append(line)
    return "\n".join(taken)


def opening_text(cells, heading, called):
    """(text, check) for the section ``heading`` of a notebook's cells: ``check`` is the
    index of the section's first code cell that uses the name ``called`` (None when there
    is none), and ``text`` the markdown a reader meets first, under the heading itself:
    from the heading to the next heading of any level or to that code cell.

    Raises LookupError when no markdown cell has the heading."""
    start = level = None
    for index, cell in enumerate(cells):
        levels = [found for found, title in _section_headings(cell) if title == heading]
        if levels:
            start, level = index, levels[0]
            break
    if start is None:
        raise LookupError(f"no heading {heading!r}")
    end = next((index for index in range(start + 1, len(cells))
                if any(found <= level for found, _ in _section_headings(cells[index]))), len(cells))
    uses = re.compile(rf"\b{re.escape(called)}\b")
    check = next((index for index in range(start, end) if cells[index].get("cell_type") == "code"
                  and uses.search(blank_magics(cell_source(cells[index])))), None)
    text = [_text_from_heading(cell_source(cells[start]), heading)]
    for index in range(start + 1, end if check is None else check):
        if _section_headings(cells[index]):
            break
        if cells[index].get("cell_type") == "markdown":
            text.append(cell_source(cells[index]))
    return "\n".join(text), check


def unnamed(text, task):
    """What ``text`` leaves unnamed of the task: each part of its function ("FullyConnectedNet",
    "__init__") and its file, each expected inside a code span."""
    spans = re.findall(r"`([^`]+)`", text)
    wanted = task.function.split(".") + [task.file]
    return [part for part in wanted
            if not any(re.search(rf"(?<![\w/]){re.escape(part)}(?![\w/])", span) for span in spans)]


FILE_TASKS = [task for task in task_list(REPO_ROOT) if task.function]


@pytest.mark.parametrize("task", FILE_TASKS, ids=lambda task: f"{task.function}-{task.title}".replace(" ", "_"))
def test_each_task_is_named_in_its_own_section_before_its_check(task):
    """The section a task comment sends a student to says, under its own heading and before
    the cell that checks it, which function to write and in which file."""
    cells = nbformat.read(REPO_ROOT / task.notebook, as_version=4).cells
    if task.optional and not any(title == task.section for cell in cells for _, title in _section_headings(cell)):
        pytest.skip(f"an optional task checked by {task.section}")
    class_name, _, function = task.function.rpartition(".")
    text, check = opening_text(cells, task.section, class_name or function)
    assert check is not None, f"no code cell under {task.section!r} uses {class_name or function}"
    assert unnamed(text, task) == [], f"{task.notebook} § {task.section}: {text[:300]!r}"


def test_the_naming_check_reads_only_the_sections_own_opening():
    cells = [nbformat.v4.new_markdown_cell("## Pooling\n\nWhy pool.\n\n### Backward pass\n\n"
                                           "Implement `pool_backward` in `cs231n/layers.py`."),
             nbformat.v4.new_code_cell("dx = pool_backward(dout, cache)"),
             nbformat.v4.new_markdown_cell("## Nets\n\nWrite `Net.__init__` and `loss` of `Net` in `cs231n/net.py`."),
             nbformat.v4.new_markdown_cell("## Inline Question 1\n\nWhy?"),
             nbformat.v4.new_code_cell("model = Net()")]
    text, check = opening_text(cells, "Pooling", "pool_backward")
    assert (text, check) == ("## Pooling\n\nWhy pool.\n", 1)
    backward = Task("pool backward", "cs231n/layers.py", "pool_backward", "X.ipynb", "Pooling")
    assert unnamed(text, backward) == ["pool_backward", "cs231n/layers.py"]
    assert unnamed(opening_text(cells, "Backward pass", "pool_backward")[0], backward) == []
    text, check = opening_text(cells, "Nets", "Net")
    assert check == 4
    assert unnamed(text, Task("init", "cs231n/net.py", "Net.__init__", "X.ipynb", "Nets")) == []
    assert unnamed(text, Task("init", "cs231n/layers.py", "Net.forward", "X.ipynb", "Nets")) == [
        "forward", "cs231n/layers.py"]
    with pytest.raises(LookupError):
        opening_text(cells, "Inline Question 1", "x")
