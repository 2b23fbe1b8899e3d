"""The submission PDF: notebooks to HTML (nbconvert), TeX math to SVG (ziamath), HTML to PDF (WeasyPrint).

What goes into the PDF is limited to the notebooks themselves:

- Resources are fetched only from ``data:`` URIs and from files inside the bundle folder;
  anything else (``file:///etc/passwd``, a symlink pointing out of the bundle, http) is
  refused and left out, and no ``<a rel="attachment">`` is ever embedded.
- Every output is capped: text beyond ``MAX_OUTPUT_TEXT_CHARS`` characters and rich
  outputs (images, HTML) beyond ``MAX_OUTPUT_BYTES`` bytes are cut with a note saying how
  much the notebook holds, so a runaway output cannot stall the PDF step. The notebooks
  in the zip keep everything.
- Widget outputs (e.g. progress bars) are drawn only by a live Jupyter frontend; the PDF
  leaves them out.
"""
import base64
import html
import logging
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .conventions import ANSWER_TAG
from .cells import is_answer_cell, is_question_title

# The modules this PDF is made with; the collector checks them before it starts.
PDF_MODULES = ("nbformat", "nbconvert", "ziamath", "weasyprint")

MATH_FONT_SIZE = 15  # px, matches the body text of the PDF

# Per output of a code cell. Ten pages of 8 pt text is far more than any answer needs.
MAX_OUTPUT_TEXT_CHARS = 20_000
# A large plot is a few hundred kB as PNG; anything beyond this is not meant for reading.
MAX_OUTPUT_BYTES = 2_000_000

WIDGET_MIME_TYPE = "application/vnd.jupyter.widget-view+json"

# Layout for a grader reading page after page: every page names its notebook in a running
# header; a heading stays with what follows it; an inline question stays on one page with
# its answer where both fit; a code cell's input stays with the start of its output, and
# its prompt with its code; no paragraph leaves one line alone at a page's foot or head.
PAGE_CSS = """
@page { size: A4; margin: 18mm 14mm 16mm;
        @top-left { content: string(notebook); font-size: 8pt; color: #666; }
        @bottom-right { content: counter(page); font-size: 9pt; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 10.5pt; line-height: 1.4; }
.notebook { break-before: page; }
.notebook:first-child { break-before: auto; }
.notebook-name { font-size: 9pt; color: #555; border-bottom: 1px solid #999; margin-bottom: 8pt;
                 string-set: notebook content(); }
h1, h2, h3, h4, h5, h6 { break-after: avoid; break-inside: avoid; }
p, li { orphans: 3; widows: 3; }
.question-and-answer { break-inside: avoid; }
.prompt { break-after: avoid; }
.output_area { orphans: 3; widows: 3; }
a.anchor-link { display: none; }
.jp-Cell { margin-bottom: 6pt; }
.jp-CodeCell .jp-InputArea { background: #f5f5f5; border: 1px solid #ddd; padding: 2pt 4pt; }
pre { font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; white-space: pre-wrap;
      overflow-wrap: anywhere; margin: 0; }
.jp-OutputArea pre { color: #222; }
.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"] pre { color: #8a3b00; }
img { max-width: 100%; }
img.math-display { display: block; margin: 4pt auto; }
table { border-collapse: collapse; font-size: 8.5pt; }
td, th { border: 1px solid #ccc; padding: 1pt 4pt; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; }
"""

# Markdown code (fences, inline spans) is matched first so that dollar signs inside it
# are left alone; then display and inline math. An inline "$" must hug its content, and
# a closing "$" followed by a digit is a price, not math.
_MARKDOWN_MATH = re.compile(
    r"(?P<code>```.*?```|~~~.*?~~~|`[^`\n]*`)"
    r"|\$\$(?P<display>.+?)\$\$"
    r"|\\\[(?P<display_bracket>.+?)\\\]"
    r"|(?<![\\$])\$(?=\S)(?P<inline>[^$\n]+?)(?<![\s\\])\$(?!\d)"
    r"|\\\((?P<inline_paren>.+?)\\\)",
    re.DOTALL,
)


# Large operators whose limits go above and below in display style.
_LARGE_OPERATORS = re.compile(
    r"\\(sum|prod|coprod|bigcup|bigcap|bigvee|bigwedge|bigsqcup|bigodot|bigoplus|bigotimes|biguplus)"
    r"(?![A-Za-z])(?!\s*\\(?:no)?limits)"
)


def _display_tex(tex):
    """TeX for display style with every large operator's limits placement made explicit.

    ziamath (0.13) sizes a ``\\left( ... \\right)`` pair around a ``\\sum_j`` whose limits
    are left implicit as if the sum were about a thousand pixels tall, which turns a
    one-line formula into a bracket as tall as a page. Spelled ``\\sum\\limits_j`` (what
    display style means anyway) it is laid out correctly.
    """
    return _LARGE_OPERATORS.sub(lambda match: match.group(0) + r"\limits", tex)


def _math_image(tex, display):
    """Render one TeX expression as an ``<img>`` holding an SVG, or as code if it fails."""
    import ziamath

    source = _display_tex(tex.strip()) if display else tex.strip()
    try:
        svg = ziamath.Latex(source, size=MATH_FONT_SIZE, inline=not display).svg()
    except Exception:  # TeX that ziamath cannot parse is still shown, as source
        return f"<code>{html.escape(tex)}</code>"
    # The viewBox is "x y width height" with the baseline at y = 0; shifting the image
    # down by its depth below the baseline lines inline math up with the text.
    view_box = re.search(r'viewBox="([^"]+)"', svg).group(1).split()
    depth = float(view_box[1]) + float(view_box[3])
    data = base64.b64encode(svg.encode()).decode()
    css_class = "math-display" if display else "math-inline"
    style = "" if display else f' style="vertical-align: {-depth:.2f}px"'
    return f'<img class="{css_class}"{style} alt="{html.escape(tex)}" src="data:image/svg+xml;base64,{data}">'


def render_markdown_math(source):
    """Replace the TeX math in a markdown cell by images, leaving code untouched."""

    def replace(match):
        if match.group("code") is not None:
            return match.group("code")
        display = match.group("display") or match.group("display_bracket")
        if display is not None:
            return "\n\n" + _math_image(display, display=True) + "\n\n"
        return _math_image(match.group("inline") or match.group("inline_paren"), display=False)

    return _MARKDOWN_MATH.sub(replace, source)


def _capped_text(text):
    if len(text) <= MAX_OUTPUT_TEXT_CHARS:
        return text
    return (f"{text[:MAX_OUTPUT_TEXT_CHARS]}\n[The PDF shows the first {MAX_OUTPUT_TEXT_CHARS:,} of this "
            f"output's {len(text):,} characters; the notebook holds all of it.]")


def _joined(value):
    return "".join(value) if isinstance(value, list) else value


def printable_outputs(outputs):
    """A code cell's outputs (dicts in nbformat's layout) as the PDF shows them.

    Widgets are left out, text is capped at MAX_OUTPUT_TEXT_CHARS characters and a rich
    output with a representation over MAX_OUTPUT_BYTES becomes a one-line note.
    """
    printable = []
    for output in outputs:
        if output.get("output_type") == "stream":
            output["text"] = _capped_text(_joined(output.get("text", "")))
        elif output.get("output_type") == "error":
            output["traceback"] = _capped_text("\n".join(output.get("traceback", []))).split("\n")
        elif "data" in output:
            data = output["data"]
            if WIDGET_MIME_TYPE in data:
                continue
            oversized = [mime_type for mime_type, content in data.items()
                         if mime_type != "text/plain" and len(_joined(content)) > MAX_OUTPUT_BYTES]
            if oversized:
                size = len(_joined(data[oversized[0]]))
                output["data"] = {"text/plain": (
                    f"[A {oversized[0]} output of {size:,} bytes is too large for the PDF and is "
                    f"left out; the notebook holds it.]")}
            elif "text/plain" in data:
                data["text/plain"] = _capped_text(_joined(data["text/plain"]))
        printable.append(output)
    return printable


# The PDF's own tag for the markdown cell of an inline question (the cell before an answer).
QUESTION_TAG = "inline-question"
_HEADING_LINE = re.compile(r"^(#+)[ \t]*(.+)$", re.MULTILINE)
# nbconvert's basic template gives each cell a <div class="cell ... celltag_TAG">; a question's
# cell and its answer's cell are siblings, so wrapping the two keeps them together.
def _cell_start(tag):
    return r'<div class="cell [^"]*celltag_' + re.escape(tag) + r'\b[^"]*"[^>]*>'


_QUESTION_THEN_ANSWER = re.compile(
    "(" + _cell_start(QUESTION_TAG) + ".*?)(?=" + _cell_start(ANSWER_TAG) + ")"
    "(" + _cell_start(ANSWER_TAG) + r'.*?)(?=<div class="cell |\Z)',
    re.DOTALL)


def _titled_questions(source, stem):
    """Markdown with each inline question's title prefixed by the notebook's name, so that a
    grader matching pages to questions finds "Dropout — Inline Question 1"."""
    return _HEADING_LINE.sub(
        lambda match: f"{match[1]} {stem} — {match[2]}" if is_question_title(match[2]) else match[0],
        source)


def _paired(body):
    """The notebook's HTML with each question cell and its answer cell in one unbreakable block."""
    return _QUESTION_THEN_ANSWER.sub(r'<div class="question-and-answer">\1\2</div>', body)


def notebook_html(path):
    """The body of one notebook as HTML, with its math already rendered."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    stem = Path(path).stem
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            cell.source = render_markdown_math(_titled_questions(cell.source, stem))
            tags = cell.metadata.setdefault("tags", [])
            if is_answer_cell(cell) and ANSWER_TAG not in tags:
                tags.append(ANSWER_TAG)  # an untagged answer cell is paired with its question too
            if index + 1 < len(notebook.cells) and is_answer_cell(notebook.cells[index + 1]):
                tags.append(QUESTION_TAG)
        elif cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(output) for output in printable_outputs(cell.outputs)]
    exporter = HTMLExporter(template_name="basic")
    exporter.log.setLevel(logging.ERROR)  # plots carry no alt text; nothing to act on
    body, _ = exporter.from_notebook_node(notebook)
    name = html.escape(Path(path).name)
    return f'<section class="notebook"><div class="notebook-name">{name}</div>{_paired(body)}</section>'


def bundle_url_fetcher(bundle_root):
    """A WeasyPrint URL fetcher that serves ``data:`` URIs and files inside ``bundle_root`` only.

    A refused URL raises ValueError, which WeasyPrint reports as a failed resource and
    leaves out of the PDF.
    """
    from weasyprint.urls import URLFetcher

    root = Path(bundle_root).resolve()

    class BundleURLFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            scheme = urlsplit(url).scheme.lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                # Resolving follows symlinks, so a link inside the bundle that points out is refused too.
                path = Path(unquote(urlsplit(url).path)).resolve()
                if path.is_relative_to(root) and path.is_file():
                    return super().fetch(path.as_uri(), headers)
            raise ValueError(f"the submission PDF only uses data: URIs and files of the bundle, not {url}")

    return BundleURLFetcher(allowed_protocols=("data", "file"))


def _without_attachments(document):
    """The HTML with every ``rel="attachment"`` link made an ordinary link (nothing is embedded)."""
    return re.sub(r'\brel\s*=\s*(["\']?)attachment\1', 'rel="nofollow"', document, flags=re.IGNORECASE)


def render_document(notebook_paths, bundle_root=None):
    """Lay the notebooks out as one WeasyPrint document (not yet written)."""
    from pygments.formatters import HtmlFormatter
    from weasyprint import HTML

    # WeasyPrint warns about optional font libraries on every font; only errors matter here.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    bundle_root = Path(bundle_root if bundle_root is not None else Path(notebook_paths[0]).parent)
    highlight_css = HtmlFormatter(style="default").get_style_defs(".highlight")
    sections = "\n".join(notebook_html(path) for path in notebook_paths)
    document = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<style>{PAGE_CSS}\n{highlight_css}</style></head><body>{sections}</body></html>"
    )
    return HTML(string=_without_attachments(document), base_url=str(bundle_root.resolve()),
                url_fetcher=bundle_url_fetcher(bundle_root)).render()


def write_pdf(notebook_paths, destination, bundle_root=None):
    """Print the notebooks, in the given order, into one PDF at ``destination``; return its page count.

    Only files inside ``bundle_root`` (default: the first notebook's folder) may be
    embedded; see the module docstring.
    """
    rendered = render_document(notebook_paths, bundle_root)
    rendered.write_pdf(destination)
    return len(rendered.pages)
