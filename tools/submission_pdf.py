"""The submission PDF: notebooks to HTML (nbconvert), TeX math to SVG (ziamath), HTML to PDF (WeasyPrint)."""
import base64
import html
import logging
import re
from pathlib import Path

MATH_FONT_SIZE = 15  # px, matches the body text of the PDF

PAGE_CSS = """
@page { size: A4; margin: 16mm 14mm; @bottom-right { content: counter(page); font-size: 9pt; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 10.5pt; line-height: 1.4; }
.notebook { break-before: page; }
.notebook:first-child { break-before: auto; }
.notebook-name { font-size: 9pt; color: #555; border-bottom: 1px solid #999; margin-bottom: 8pt; }
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


def _math_image(tex, display):
    """Render one TeX expression as an ``<img>`` holding an SVG, or as code if it fails."""
    import ziamath

    try:
        svg = ziamath.Latex(tex.strip(), size=MATH_FONT_SIZE, inline=not display).svg()
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


def notebook_html(path):
    """The body of one notebook as HTML, with its math already rendered."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = render_markdown_math(cell.source)
    exporter = HTMLExporter(template_name="basic")
    exporter.log.setLevel(logging.ERROR)  # plots carry no alt text; nothing to act on
    body, _ = exporter.from_notebook_node(notebook)
    name = html.escape(Path(path).name)
    return f'<section class="notebook"><div class="notebook-name">{name}</div>{body}</section>'


def write_pdf(notebook_paths, destination):
    """Print the notebooks, in the given order, into one PDF at ``destination``; return its page count."""
    from pygments.formatters import HtmlFormatter
    from weasyprint import HTML

    # WeasyPrint warns about optional font libraries on every font; only errors matter here.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    highlight_css = HtmlFormatter(style="default").get_style_defs(".highlight")
    sections = "\n".join(notebook_html(path) for path in notebook_paths)
    document = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<style>{PAGE_CSS}\n{highlight_css}</style></head><body>{sections}</body></html>"
    )
    rendered = HTML(string=document, base_url=str(Path(notebook_paths[0]).parent)).render()
    rendered.write_pdf(destination)
    return len(rendered.pages)
