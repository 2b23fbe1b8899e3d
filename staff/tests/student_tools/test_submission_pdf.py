"""The submission PDF route: math that keeps its size, only the bundle's own files, capped outputs."""
import base64
import html
import re
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader
from weasyprint import HTML
from weasyprint.formatting_structure import boxes

from tools.conventions import NOTEBOOKS
from tools.submission_pdf import (MATH_FONT_SIZE, MAX_OUTPUT_BYTES, MAX_OUTPUT_TEXT_CHARS,
                                  WIDGET_MIME_TYPE, _MARKDOWN_MATH, bundle_url_fetcher,
                                  printable_outputs, render_markdown_math, write_pdf)

REPO_ROOT = Path(__file__).resolve().parents[3]
NOTEBOOK_PATHS = [REPO_ROOT / name for name in NOTEBOOKS if (REPO_ROOT / name).is_file()]
# The body text's line height in the PDF, in px (WeasyPrint lays out at 96 px per inch).
LINE_HEIGHT_PX = 10.5 * 96 / 72 * 1.4

# A 1x1 PNG.
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def display_formulas():
    """(notebook, cell number, TeX) of every display formula in the notebooks' markdown."""
    formulas = []
    for path in NOTEBOOK_PATHS:
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "markdown":
                continue
            for match in _MARKDOWN_MATH.finditer(cell.source):
                tex = match.group("display") or match.group("display_bracket")
                if tex is not None:
                    formulas.append((path.name, index + 1, tex))
    return formulas


def laid_out_math_heights(markdown):
    """Height in px of every display-math image of `markdown` as WeasyPrint lays it out."""
    document = HTML(string=f"<html><body>{render_markdown_math(markdown)}</body></html>").render()
    return [box.height for page in document.pages for box in page._page_box.descendants()
            if isinstance(box, boxes.ReplacedBox) and "math-display" in (box.element.get("class") or "")]


def test_the_notebooks_have_display_formulas():
    assert len(display_formulas()) >= 5


def test_every_display_formula_is_at_most_a_few_lines_tall():
    formulas = display_formulas()
    markdown = "\n\n".join(f"$${tex}$$" for _, _, tex in formulas)
    heights = laid_out_math_heights(markdown)
    assert len(heights) == len(formulas), "a display formula failed to render"
    too_tall = []
    for (name, cell, tex), height in zip(formulas, heights):
        lines = tex.count(r"\\") + 1  # an aligned block may hold several lines
        if height > 4 * LINE_HEIGHT_PX * lines:
            too_tall.append(f"{name}, cell {cell}: {height:.0f} px for {tex[:60]!r}")
    assert too_tall == []


def test_brackets_around_a_sum_keep_the_height_of_the_sum():
    bracketed, = laid_out_math_heights(r"$$\frac{1}{\sigma}\left(g_i - \frac{1}{N}\sum_j g_j\right)$$")
    bare, = laid_out_math_heights(r"$$\frac{1}{\sigma} g_i - \frac{1}{N}\sum_j g_j$$")
    assert bare <= bracketed < 2 * bare
    assert bracketed < 6 * MATH_FONT_SIZE


def notebook_with(cells, path):
    notebook = nbformat.v4.new_notebook(cells=cells)
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_files_outside_the_bundle_are_neither_shown_nor_attached(tmp_path):
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(PIXEL_PNG)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "inside.png").write_bytes(PIXEL_PNG)
    (bundle / "link.png").symlink_to(secret)
    notes = tmp_path / "outside" / "notes.txt"
    notes.write_text("private notes\n")
    markdown = (
        f'<img src="{secret.as_uri()}"> <img src="file:///etc/passwd"> <img src="link.png">\n\n'
        f'<a rel="attachment" href="{notes.as_uri()}">notes</a> '
        f'<a rel="attachment" href="file:///etc/passwd">passwd</a> '
        f'<a rel="attachment" href="inside.png">inside</a>\n\n'
        '<img src="inside.png">'
    )
    path = notebook_with([nbformat.v4.new_markdown_cell(markdown)], bundle / "Hostile.ipynb")
    pdf = tmp_path / "out.pdf"
    write_pdf([path], pdf)
    reader = PdfReader(pdf)
    assert reader.attachments == {}
    assert sum(len(page.images) for page in reader.pages) == 1  # inside.png, nothing else


def test_the_fetcher_serves_data_uris_and_bundle_files_only(tmp_path):
    (tmp_path / "inside.txt").write_text("ok")
    fetcher = bundle_url_fetcher(tmp_path)
    assert fetcher((tmp_path / "inside.txt").as_uri()).read() == b"ok"
    assert fetcher("data:text/plain;base64,b2s=").read() == b"ok"
    for url in ("file:///etc/passwd", (tmp_path.parent / "elsewhere.txt").as_uri(),
                (tmp_path / ".." / tmp_path.name / ".." / "x").as_uri(), "https://example.com/x.png"):
        with pytest.raises(ValueError):
            fetcher(url)


@pytest.mark.slow
def test_huge_text_output_is_cut_with_a_note(tmp_path):
    cell = nbformat.v4.new_code_cell("print('x' * 5_000_000)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="0123456789\n" * 500_000)]
    path = notebook_with([cell], tmp_path / "Huge.ipynb")
    pdf = tmp_path / "out.pdf"
    pages = write_pdf([path], pdf)
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert f"first {MAX_OUTPUT_TEXT_CHARS:,} of this output's 5,500,000 characters" in text
    # All 5.5 million characters would take over a thousand pages.
    assert pages < 40


def test_printable_outputs_drop_widgets_and_replace_oversized_rich_outputs():
    widget = {"output_type": "display_data", "metadata": {},
              "data": {WIDGET_MIME_TYPE: {"model_id": "1"}, "text/plain": "Training:   0%"}}
    final_state = {"output_type": "display_data", "metadata": {},
                   "data": {"text/plain": "Training: 100%|##########| 40/40"}}
    huge_html = {"output_type": "execute_result", "metadata": {}, "execution_count": 1,
                 "data": {"text/html": "<p>" + "a" * MAX_OUTPUT_BYTES + "</p>", "text/plain": "<HTML>"}}
    small_image = {"output_type": "display_data", "metadata": {},
                   "data": {"image/png": base64.b64encode(PIXEL_PNG).decode(), "text/plain": "<Figure>"}}
    shown = printable_outputs([widget, final_state, huge_html, small_image])
    assert [output["data"] for output in shown[:1]] == [final_state["data"]]
    assert list(shown[1]["data"]) == ["text/plain"]
    assert "text/html output of" in shown[1]["data"]["text/plain"]
    assert "image/png" in shown[2]["data"]


def test_the_caps_are_documented_in_the_module():
    import tools.submission_pdf as module

    doc = html.unescape(module.__doc__)
    assert "MAX_OUTPUT_TEXT_CHARS" in doc and "MAX_OUTPUT_BYTES" in doc
    assert re.search(r"data:", doc)


def filler_notebook(questions):
    """Pages of prose, with each inline question placed after a different amount of it, so
    that some questions would start near the foot of a page."""
    cells = [nbformat.v4.new_markdown_cell("# Grading layout")]
    for number in range(1, questions + 1):
        cells += [nbformat.v4.new_markdown_cell(f"Filler paragraph {number}.{line} " + "lorem ipsum " * 40)
                  for line in range(number + 4)]
        cells.append(nbformat.v4.new_markdown_cell(
            f"## Inline Question {number}\n\nQuestion text {number}: why does this hold?"))
        cells.append(nbformat.v4.new_markdown_cell(
            f"**Your Answer:** answer text {number}. " + "because " * 60 + f"end of answer {number}.",
            metadata={"tags": ["inline-answer"]}))
    return nbformat.v4.new_notebook(cells=cells)


@pytest.mark.slow
def test_questions_stay_with_their_answers_and_every_page_names_its_notebook(tmp_path):
    path = tmp_path / "Layout.ipynb"
    nbformat.write(filler_notebook(questions=12), path)
    write_pdf([path], tmp_path / "out.pdf", tmp_path)
    pages = [page.extract_text() for page in PdfReader(tmp_path / "out.pdf").pages]
    assert len(pages) >= 4
    assert all("Layout.ipynb" in text for text in pages)
    for number in range(1, 13):
        holding = [index for index, text in enumerate(pages) if f"Question text {number}:" in text]
        assert len(holding) == 1, number
        page = pages[holding[0]]
        # Titled with the notebook's name, and its whole answer on the same page.
        assert f"Layout — Inline Question {number}" in page
        assert f"end of answer {number}." in page, f"question {number}'s answer runs onto another page"
