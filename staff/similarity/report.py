"""The report of a class, and the files it writes.

Writes into the output folder: ``pairs.csv`` (the listed pairs, ranked),
``shared_code.csv`` (the versions of a region many submissions share, most holders
first), ``report.html`` (one self-contained page: the counts of submissions compared in
full, with notes and skipped; the histogram of all pairwise scores, as an inline PNG; the
ranked pairs and, for the top ``detail_pairs`` of them, the matching regions side by side
with the matched tokens highlighted; the shared versions; the notes) and
``submission_notes.csv`` (one row per skipped submission and why, and one per note on a
submission compared, such as a file read by function body). Everything that comes from a
submission is data: HTML-escaped in the page, formula-neutralised in the CSVs.
"""
import base64
import csv
import html
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from copydetect import compare_files

from staff.grading import submissions as layouts
from staff.similarity.fingerprint import joined_tokens
from staff.similarity.rules import COPIED_SHARE, Rules, SimilarityError

DEFAULT_DETAIL_PAIRS = 40
NOTES_CSV = "submission_notes.csv"
SHARED_CSV = "shared_code.csv"
# Regions named per pair in pairs.csv, and shown side by side per pair in the report.
LISTED_REGIONS = 5
SHOWN_REGIONS = 8
# A hostile submission can hold megabytes in one region; the report shows this much.
SHOWN_CHARACTERS = 20_000


@dataclass
class Report:
    """A class compared: the submissions read, those skipped (student, where, reason),
    the listed pairs (compare.PairResult) ranked, and every pair's score."""
    students: list
    references: list
    skipped: list
    pairs: list
    scores: np.ndarray
    rules: Rules
    # The most class submissions a fingerprint may be held by and still be rare, the
    # fingerprints held by more, and the versions of a region held by more.
    common_limit: int
    common: frozenset
    shared: list

    @property
    def read(self):
        return self.students + self.references

    @property
    def in_full(self):
        """How many submissions were compared whole, read exactly as laid out."""
        return sum(not submission.notes for submission in self.read)

    @property
    def with_notes(self):
        """How many were compared with notes: read by function body, or in part."""
        return sum(bool(submission.notes) for submission in self.read)

    def counts(self):
        """The report's header counts, in words."""
        return (f"{self.in_full} submission(s) compared in full, {self.with_notes} with notes "
                f"(read by function body, or in part), {len(self.skipped)} skipped")


# ---------------------------------------------------------------------------- CSV

def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for row in rows:
            writer.writerow([layouts.spreadsheet_safe(value) for value in row])


def _percent(value):
    return f"{100 * value:.0f}%"


def write_pairs_csv(report, path):
    rows = []
    for rank, pair in enumerate(report.pairs, 1):
        top = "; ".join(f"{label} ({_percent(max(first, second))})"
                        for label, first, second, _ in pair.regions[:LISTED_REGIONS])
        rows.append([rank, pair.first.entry.student, pair.second.entry.student,
                     "reference" if pair.second.entry.reference else "class",
                     pair.first.entry.names, pair.second.entry.names,
                     f"{pair.first_to_second:.3f}", f"{pair.second_to_first:.3f}",
                     pair.matching, pair.copied, top])
    _write_csv(path, ["rank", "student_a", "student_b", "b_is", "names_a", "names_b",
                      "similarity_a_to_b", "similarity_b_to_a", "matching_regions", "copied_regions",
                      "top_regions"], rows)


def write_shared_csv(report, path):
    _write_csv(path, ["rank", "region", "tokens", "class_submissions", "students", "references"],
               [[rank, version.label, version.tokens, len(version.students), " ".join(version.students),
                 " ".join(version.references)] for rank, version in enumerate(report.shared, 1)])


def write_notes_csv(report, path):
    """One row per skipped submission, and one per note on a submission compared."""
    rows = [(student, where, "skipped", reason) for student, where, reason in report.skipped]
    rows += [(submission.entry.student, submission.entry.where, "compared, with a note", note)
             for submission in report.read for note in submission.notes]
    _write_csv(path, ["student", "where", "outcome", "note"], rows)


# ---------------------------------------------------------------------------- HTML

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.pair { border-top: 2px solid #888; margin-top: 2em; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 0.75em; }
pre { background: #fafafa; border: 1px solid #ddd; padding: 0.5em; overflow-x: auto;
      font-size: 12px; white-space: pre; margin: 0; }
mark { background: #ffd86b; }
.muted { color: #777; }
"""
# The page may show inline styles and data: images, and load nothing else.
_CONTENT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _escape(value):
    return html.escape(str(value), quote=True)


def highlighted(code, tokens, slices):
    """HTML of ``code`` with the copydetect slices (token positions) marked."""
    spans = [(tokens[start][1], tokens[end - 1][2]) for start, end in zip(*np.asarray(slices, dtype=int))
             if 0 <= start < end <= len(tokens)]
    shown, limit = code[:SHOWN_CHARACTERS], min(len(code), SHOWN_CHARACTERS)
    pieces, position = [], 0
    for start, end in sorted(spans):
        start, end = max(start, position), min(end, limit)
        if start >= end:
            continue
        pieces += [_escape(shown[position:start]), "<mark>", _escape(shown[start:end]), "</mark>"]
        position = end
    pieces.append(_escape(shown[position:]))
    if len(code) > SHOWN_CHARACTERS:
        pieces.append(f'\n<span class="muted">... {len(code) - SHOWN_CHARACTERS} more characters</span>')
    return "".join(pieces)


def histogram_png(scores, threshold):
    """A PNG (bytes) of the distribution of all pairwise scores."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3), dpi=100)
    axes.hist(scores, bins=np.linspace(0, 1, 51), color="#4c72b0")
    axes.set_yscale("log")
    axes.axvline(threshold, color="#c44e52", linestyle="--", label=f"threshold {threshold:g}")
    above = int(np.sum(scores >= threshold))
    axes.set_title(f"{len(scores)} pairs; {above} at or above the threshold")
    axes.set_xlabel("similarity (the larger direction)")
    axes.set_ylabel("pairs (log scale)")
    axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def _reference_mark(submission):
    return " (reference match)" if submission.entry.reference else ""


def _pair_detail(pair, number):
    first, second = pair.first, pair.second
    parts = [(f'<section class="pair" id="pair-{number}"><h3>{number}. {_escape(first.entry.student)} '
              f'&harr; {_escape(second.entry.student)}{_reference_mark(second)}</h3>'),
             (f"<p>{_percent(pair.first_to_second)} of {_escape(first.entry.student)}'s code matched in "
              f"{_escape(second.entry.student)}'s; {_percent(pair.second_to_first)} the other way; "
              f"{pair.matching} matching region(s); {pair.copied} region(s) copied whole.</p>")]
    for label, similarity, other_similarity, _ in pair.regions[:SHOWN_REGIONS]:
        region, other = first.regions[label], second.regions[label]
        _, _, (slices, other_slices) = compare_files(region.fingerprint, other.fingerprint)
        parts.append(f"<h4>{_escape(label)} <span class=\"muted\">({_percent(similarity)} / "
                     f"{_percent(other_similarity)})</span></h4><div class=\"sides\">"
                     f"<pre>{highlighted(*joined_tokens(region.parts), slices)}</pre>"
                     f"<pre>{highlighted(*joined_tokens(other.parts), other_slices)}</pre></div>")
    parts.append("</section>")
    return "".join(parts)


def write_html(report, path, detail_pairs, release_name):
    rules = report.rules
    png = base64.b64encode(histogram_png(report.scores, rules.threshold)).decode("ascii")
    rows = []
    for number, pair in enumerate(report.pairs, 1):
        name = (f'<a href="#pair-{number}">{number}</a>' if number <= detail_pairs else str(number))
        top = "<br>".join(f"{_escape(label)} ({_percent(max(first, second))})"
                          for label, first, second, _ in pair.regions[:LISTED_REGIONS])
        rows.append(f"<tr><td>{name}</td><td>{_escape(pair.first.entry.student)}<br>"
                    f"<span class=\"muted\">{_escape(pair.first.entry.names)}</span></td>"
                    f"<td>{_escape(pair.second.entry.student)}"
                    f"{_reference_mark(pair.second)}<br>"
                    f"<span class=\"muted\">{_escape(pair.second.entry.names)}</span></td>"
                    f"<td>{_percent(pair.first_to_second)}</td><td>{_percent(pair.second_to_first)}</td>"
                    f"<td>{pair.matching}</td><td>{pair.copied}</td><td>{top}</td></tr>")
    skipped = "".join(f"<tr><td>{_escape(student)}</td><td>{_escape(where)}</td><td>{_escape(reason)}</td></tr>"
                      for student, where, reason in report.skipped)
    notes = "".join(f"<tr><td>{_escape(submission.entry.student)}</td><td>{_escape(note)}</td></tr>"
                    for submission in report.read for note in submission.notes)
    shared = "".join(f"<tr><td>{_escape(version.label)}</td><td>{version.tokens}</td>"
                     f"<td>{len(version.students)}: {_escape(' '.join(version.students))}</td>"
                     f"<td>{_escape(' '.join(version.references))}</td></tr>" for version in report.shared)
    page = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{_CONTENT_POLICY}">',
        f"<title>Similarity report</title><style>{_STYLE}</style></head><body>",
        "<h1>Similarity report</h1>",
        f"<p>{_escape(report.counts())}.</p>",
        f"<p>{len(report.students)} class submissions compared with each other"
        + (f" and with {len(report.references)} reference(s)" if report.references else "")
        + f"; {len(report.scores)} pairs; {len(report.pairs)} listed: similarity at least "
        f"{_percent(rules.threshold)} with a matching region of at least {rules.min_tokens} tokens, or one "
        f"region copied whole ({_percent(COPIED_SHARE)} of its distinctive code matched, at least "
        f"{rules.copied_tokens} tokens on both sides; code held by more than {report.common_limit} "
        "class submissions is common, not distinctive). "
        f"Starter code from {_escape(release_name)} is excluded. A similarity is the share of one "
        "student's own code (boilerplate excluded) whose fingerprints are found in the other's.</p>",
        f'<img alt="histogram of all pairwise similarity scores" src="data:image/png;base64,{png}">',
        "<h2>Pairs</h2>",
        ("<table><tr><th>#</th><th>A</th><th>B</th><th>A&rarr;B</th><th>B&rarr;A</th>"
         "<th>matching regions</th><th>copied regions</th><th>most similar regions</th></tr>"
         + "".join(rows) + "</table>")
        if rows else "<p>No pair reaches the threshold.</p>",
        "".join(_pair_detail(pair, number) for number, pair in enumerate(report.pairs[:detail_pairs], 1)),
        "<h2>Code many submissions share</h2>",
        f"<p>Versions of a region (the same code up to names, layout and comments, at least "
        f"{rules.copied_tokens} tokens) handed in by more than {report.common_limit} class submissions: "
        "one source many copied, or an answer everyone writes alike. Such a version does not list "
        "its holders' pairs on its own.</p>",
        "<table><tr><th>region</th><th>tokens</th><th>class submissions</th><th>references</th></tr>"
        f"{shared}</table>" if shared else "<p>None.</p>",
        "<h2>Skipped submissions</h2>",
        f"<table><tr><th>student</th><th>where</th><th>reason</th></tr>{skipped}</table>"
        if skipped else "<p>None.</p>",
        "<h2>Notes on the submissions compared</h2>",
        f"<table><tr><th>student</th><th>note</th></tr>{notes}</table>" if notes else "<p>None.</p>",
        "</body></html>\n",
    ]
    Path(path).write_text("\n".join(page), encoding="utf-8")


def write_outputs(report, out_dir, detail_pairs, release_name):
    """Write the report's four files into ``out_dir`` (made if missing); ``release_name``
    says in the page where the starter code came from."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SimilarityError(f"the output {out_dir} exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_pairs_csv(report, out_dir / "pairs.csv")
    write_shared_csv(report, out_dir / SHARED_CSV)
    write_notes_csv(report, out_dir / NOTES_CSV)
    write_html(report, out_dir / "report.html", detail_pairs, release_name)
