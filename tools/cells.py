"""Reading notebook cells by the folder's conventions (tools/conventions.py): a cell's
source, which cells are answers or solution-only, where a cell sits as a reader finds it
(section heading, inline question), and whether a framework notebook was worked in.
"""
import re

from tools.conventions import ANSWER_PLACEHOLDER, ANSWER_PROMPT, ANSWER_TAG, SOLUTION_ONLY_TAG


def cell_source(cell):
    """A notebook cell's source as one string (nbformat stores a string or a list of lines)."""
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def blank_magics(source):
    """``source`` with its IPython magic and shell lines (``%...``, ``!...``) blanked.

    What is left parses as Python, with every line number unchanged.
    """
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.split("\n"))


def is_solution_only_cell(cell):
    """True for a notebook cell tagged SOLUTION_ONLY_TAG."""
    return SOLUTION_ONLY_TAG in cell.get("metadata", {}).get("tags", [])


# ---------------------------------------------------------------------------- where a cell is

# Messages that point into a notebook name it by what Jupyter shows (the section heading,
# the question), never by a cell index a student cannot see.
_QUESTION_TITLE = re.compile(r"^Inline Question\b", re.IGNORECASE)


def _headings(cell):
    if cell.get("cell_type") != "markdown":
        return []
    return [line.lstrip("#").strip() for line in cell_source(cell).split("\n")
            if line.startswith("#") and line.lstrip("#").strip()]


def is_question_title(heading):
    """True for the title of an inline question ("Inline Question 2"), markdown hashes stripped."""
    return _QUESTION_TITLE.match(heading) is not None


def section_of(cells, index):
    """The heading of the section cell ``index`` sits in: the nearest markdown heading at
    or above it that is not an inline question's title; None above the first heading."""
    for cell in reversed(cells[: index + 1]):
        titles = [title for title in _headings(cell) if not is_question_title(title)]
        if titles:
            return titles[-1]
    return None


def question_of(cells, index):
    """For the answer cell ``index``, its question as a reader finds it: the question's
    title and first words, e.g. 'Inline Question 2 ("Which network seemed more ...")'."""
    for cell in reversed(cells[:index]):
        if cell.get("cell_type") != "markdown" or is_answer_cell(cell):
            continue
        lines = [line.strip() for line in cell_source(cell).split("\n") if line.strip()]
        title = next((line.lstrip("#").strip() for line in lines if line.startswith("#")), "the question")
        text = next((line for line in lines if not line.startswith("#")), "")
        words = text.split()
        opening = " ".join(words[:8]) + (" ..." if len(words) > 8 else "")
        return f'{title} ("{opening}")' if opening else title
    return "the question"


def describe_place(notebook_name, cells, index):
    """'NAME, section "HEADING"' for cell ``index``, or just NAME above every heading."""
    section = section_of(cells, index)
    return f'{notebook_name}, section "{section}"' if section else notebook_name


def is_answer_cell(cell):
    """True for an inline-answer cell: a markdown cell tagged ANSWER_TAG or starting with the prompt."""
    if cell.get("cell_type") != "markdown":
        return False
    tags = cell.get("metadata", {}).get("tags", [])
    return ANSWER_TAG in tags or cell_source(cell).lstrip().startswith(ANSWER_PROMPT)


def answer_is_filled(source):
    """True when an answer cell holds more than the prompt and the placeholder."""
    text = source.replace(ANSWER_PROMPT, "").replace(ANSWER_PLACEHOLDER, "")
    return bool(text.strip())


def framework_chosen(notebook):
    """True when the student worked in this framework notebook (a parsed nbformat dict):
    one of its code cells has run (an execution count or outputs), or one of its inline
    answers is written. Students do the framework part in either framework or both; an
    untouched notebook means that framework was not chosen."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and (cell.get("execution_count") or cell.get("outputs")):
            return True
        if is_answer_cell(cell) and answer_is_filled(cell_source(cell)):
            return True
    return False
