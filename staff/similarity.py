"""Similarity report across a class's submissions, the starter code excluded.

    python -m staff.similarity SUBMISSIONS --out DIR [--release RELEASE]
        [--reference PAST ...] [--min-tokens N] [--copied-tokens N] [--common-share F]
        [--jobs N] [--threshold T] [--detail-pairs N]

SUBMISSIONS is one of
* a folder with one subfolder per student, each holding ``a2_code_submission.zip`` (or
  one other zip) or a bundle folder;
* a flat folder of ``.zip`` files, one per student (the student id is the file's stem);
* Gradescope's "export submissions" folder: ``submission_metadata.yml`` at the top and
  one folder per submission; the metadata (read with ``yaml.safe_load`` when PyYAML is
  installed) only adds the students' names and emails to the report.

Only the students' own code is compared, read as students hand it in (tools/regions.py,
submitted_regions): in each student file (tools/conventions.py, STUDENT_FILES), the code
between the START/END markers where they are exact; where they were deleted or edited,
or sit among the original assignment's comment banners (past public solutions keep
those), the body of each task function less the release's own lines, with a note. In
notebooks, the marked code of each code cell. A region is one function
(``cs231n/layers.py, affine_forward``, its parts together) or one notebook section and
function (``PyTorch.ipynb, section "Part II. Barebones PyTorch"``), compared with the
region of the same label in the other submission; the functions a student added
(helpers) are one more region per file. The starter release's code (the ``--release``
folder, or a release built from this repository into a temporary folder) is
boilerplate: its fingerprints never count as a match.

Matching works on tokens (pygments): comments, docstrings and whitespace are dropped,
string literals become one placeholder, and every name except attributes (``x.shape``),
builtins and ``self`` becomes another, so renaming variables, reformatting and rewording
comments or strings hide nothing. copydetect's winnowing picks the fingerprints: k-grams
of NOISE_TOKENS tokens, so any copied run of GUARANTEE_TOKENS tokens is caught.

The similarity of A to B is the share of A's fingerprinted tokens (boilerplate excluded)
that are matched in B's regions of the same labels; both directions are reported. A pair
is listed when either direction reaches ``--threshold`` and at least one matching region
(one whose similarity reaches the threshold) has ``--min-tokens`` tokens or more on both
sides, or when one region was copied whole: a single copied function lists its pair
whatever the rest, and is named first. Copied whole is judged on the region's
distinctive code only, as MOSS and copydetect do: a fingerprint held by more than
``--common-share`` of the class's submissions (and by more than COMMON_FLOOR) is common,
the formulaic code many students write alike (a one-line affine layer, ``np.maximum(0,
x)``, an optimiser's update rule). A region is copied whole when its distinctive code
matches for ``--copied-tokens`` tokens or more on both sides, and for COPIED_SHARE of one
side's distinctive code. Common fingerprints still count in the scores. Where many
submissions hand in the same code (one version of a region, at least ``--copied-tokens``
tokens, held by more submissions than a fingerprint may be and still be rare: everyone
copied one source), the report lists that version once, with its holders, instead of
every pair among them. ``--reference PAST ...`` (earlier terms' submission folders, or
single past solutions: a zip, a bundle folder, or one nested one folder down) are
compared with every submission, never among themselves, and their matches are labelled
as reference matches; only the class's submissions count towards a common fingerprint.

Writes into DIR: ``pairs.csv`` (the listed pairs, ranked), ``shared_code.csv`` (the
versions of a region many submissions share, most holders first), ``report.html`` (one
self-contained page: the counts of submissions compared in full, with notes and
skipped; the histogram of all pairwise scores; the ranked pairs and, for the top
``--detail-pairs`` of them, the matching regions side by side with the matched tokens
highlighted; the shared versions; the notes) and ``submission_notes.csv`` (one row per skipped submission
and why, also one line each on stderr, and one per note on a submission compared, such
as a file read by function body). Everything that comes from a submission is data:
HTML-escaped in the report, formula-neutralised in the CSVs, never imported or
executed, and never used as a path.

Exit status: 0 when the report was written, 1 when the input is unusable (the message
says why).
"""
import argparse
import base64
import csv
import html
import io
import json
import multiprocessing
import os
import sys
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import get_token_coverage, hashed_kgrams
from pygments.lexers import PythonLexer
from pygments.token import Comment, Name, String, Text
from tqdm import tqdm

from staff.grading import submissions as layouts
from staff.grading.intake import (
    PACKAGE_MARKER,
    IntakeError,
    IntakeLimits,
    read_submission,
)
from staff.release import ReleaseError, make_release
from tools.cells import cell_source
from tools.regions import notebook_regions, submitted_regions

REPO_ROOT = Path(__file__).resolve().parents[1]

# Fingerprints are k-grams of this many normalised tokens; winnowing keeps enough of them
# that every shared run of GUARANTEE_TOKENS tokens is found.
NOISE_TOKENS = 10
GUARANTEE_TOKENS = 14
WINDOW = GUARANTEE_TOKENS - NOISE_TOKENS + 1

DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_TOKENS = 20
# A region lists its pair alone when this share of one side's distinctive code is matched
# (and --copied-tokens tokens of it on both sides): a function copied whole, in a pair
# whose other answers differ.
COPIED_SHARE = 0.8
# About five lines: longer than the formulaic rules two students of a small class may
# write alike (rmsprop's update is 55 tokens), shorter than a copied loss, layer or
# training loop (90 tokens and more).
DEFAULT_COPIED_TOKENS = 60
# Measured on the benchmark's class of 40, where about ten students hand in the solution's
# version of each region: 5% or 10% (a limit of three or four) lists only the planted
# copies, 15% (six) lists 23 pairs, no limit 660 of 780. The smaller share keeps a margin.
DEFAULT_COMMON_SHARE = 0.05
# A fingerprint held by this many submissions is never common, whatever the class's size:
# a small group that copied one function together stays visible.
COMMON_FLOOR = 3
DEFAULT_DETAIL_PAIRS = 40
NOTES_CSV = "submission_notes.csv"
SHARED_CSV = "shared_code.csv"
# Regions named per pair in pairs.csv, and shown side by side per pair in the report.
LISTED_REGIONS = 5
SHOWN_REGIONS = 8
# A hostile submission can hold megabytes in one region; the report shows this much.
SHOWN_CHARACTERS = 20_000

# The normalised token stream: every name a student could rename becomes NAME_PLACEHOLDER,
# every string literal STRING_PLACEHOLDER; other tokens keep their text.
NAME_PLACEHOLDER = "V"
STRING_PLACEHOLDER = "S"
_KEPT_NAMES = (Name.Builtin, Name.Exception, Name.Namespace, Name.Decorator)
_LEXER = PythonLexer()
# copydetect hashes k-grams of characters; each token becomes one character from a range
# that no placeholder uses, so a k-gram is k tokens.
_SYMBOL_BASE, _SYMBOL_RANGE = 0x20000, 0xC0000


class SimilarityError(Exception):
    """The input cannot be used; the message names the path and the problem."""


@dataclass(frozen=True)
class Rules:
    """When a pair is listed, and when a fingerprint is common (see the module docstring)."""
    threshold: float = DEFAULT_THRESHOLD
    min_tokens: int = DEFAULT_MIN_TOKENS
    copied_tokens: int = DEFAULT_COPIED_TOKENS
    common_share: float = DEFAULT_COMMON_SHARE

    def check(self):
        if not 0 < self.threshold <= 1:
            raise SimilarityError(f"the threshold must be in (0, 1], not {self.threshold}")
        if not 0 < self.common_share <= 1:
            raise SimilarityError(f"--common-share must be in (0, 1], not {self.common_share}")
        for name, value in (("--min-tokens", self.min_tokens), ("--copied-tokens", self.copied_tokens)):
            if value < 1:
                raise SimilarityError(f"{name} must be at least 1, not {value}")

    def common_limit(self, class_size):
        """The most class submissions a fingerprint may be held by and still be rare."""
        return max(COMMON_FLOOR, int(self.common_share * class_size))


# ---------------------------------------------------------------------------- tokens

def normalised_tokens(code):
    """[(token, start, end)] of ``code``: the tokens compared, with their character span.

    Comments, docstrings and whitespace are dropped; a run of string pieces (implicit
    concatenation, f-string text) is one STRING_PLACEHOLDER; names become
    NAME_PLACEHOLDER unless they follow a dot (attributes such as ``x.shape``, which a
    student cannot rename) or are builtins, exceptions, ``self`` or import names.
    """
    tokens, in_string = [], False
    for start, kind, text in _LEXER.get_tokens_unprocessed(code):
        end = start + len(text)
        if kind in Comment or kind in Text or kind in String.Doc:
            continue
        if kind in String:
            if in_string:
                tokens[-1] = (STRING_PLACEHOLDER, tokens[-1][1], end)
            else:
                tokens.append((STRING_PLACEHOLDER, start, end))
            in_string = True
            continue
        in_string = False
        if kind in Name and not any(kind in kept for kept in _KEPT_NAMES) \
                and not (tokens and tokens[-1][0] == "."):
            text = NAME_PLACEHOLDER
        tokens.append((text, start, end))
    return tokens


@cache
def _symbol(token):
    if token in (NAME_PLACEHOLDER, STRING_PLACEHOLDER):
        return token
    # crc32, not hash(): the same token must map to the same symbol in every process.
    return chr(_SYMBOL_BASE + zlib.crc32(token.encode("utf-8")) % _SYMBOL_RANGE)


def token_symbols(tokens):
    """The tokens as one string of one character each, the document copydetect fingerprints."""
    return "".join(_symbol(token) for token, _, _ in tokens)


def boilerplate_hashes(codes):
    """Every k-gram hash of the given pieces of starter code, as a set.

    All k-grams, not only the winnowed ones, so that no fingerprint a student's region
    shares with the starter code survives, whichever positions winnowing picked there.
    copydetect's hashes use Python's hash(), which differs between interpreters: the set
    is only valid in this process and in processes forked from it.
    """
    found = set()
    for code in codes:
        found.update(hashed_kgrams(token_symbols(normalised_tokens(code)), NOISE_TOKENS).tolist())
    return found


def joined_tokens(parts):
    """(code, tokens) of a region's parts joined by newlines: each part's normalised
    tokens in turn, their character spans counted in the joined code."""
    tokens, offset = [], 0
    for part in parts:
        tokens += [(token, start + offset, end + offset) for token, start, end in normalised_tokens(part)]
        offset += len(part) + 1
    return "\n".join(parts), tokens


def fingerprint_region(label, parts, boilerplate):
    """copydetect's CodeFingerprint of a region's normalised tokens, boilerplate removed,
    and its token count. The parts of a region (a function's marked regions) are
    fingerprinted one by one: a k-gram across two parts is neither the starter code's
    nor the student's, and would make two untouched functions match."""
    kept, symbols = {}, ""
    for part in parts:
        part_symbols = token_symbols(normalised_tokens(part))
        fingerprint = CodeFingerprint(label, NOISE_TOKENS, WINDOW, filter=False, fp=io.StringIO(part_symbols))
        # Removed here rather than by CodeFingerprint's boilerplate argument: that one
        # matches with np.intersect1d(assume_unique=True) on the winnowed hashes, which
        # repeat when a k-gram repeats, and so also drops repeated fingerprints that are
        # not boilerplate.
        for value, places in fingerprint.hash_idx.items():
            if value not in boilerplate:
                kept.setdefault(value, []).extend(place + len(symbols) for place in places)
        symbols += part_symbols
    fingerprint.hashes = set(kept)
    fingerprint.hash_idx = kept
    fingerprint.raw_code = fingerprint.filtered_code = symbols
    fingerprint.token_coverage = get_token_coverage(kept, NOISE_TOKENS, len(symbols))
    return fingerprint, len(symbols)


# ---------------------------------------------------------------------------- regions

@dataclass
class Fingerprinted:
    """A compared region: its parts' code, its token count and its fingerprints."""
    label: str
    parts: list
    tokens: int
    fingerprint: CodeFingerprint


def submission_regions(sources, notebooks, templates):
    """({label: [code of each part]}, notes) of one submission: every student file read as handed in
    (tools/regions.py, submitted_regions; ``templates`` holds the release's copy of each
    file) and every notebook's marked cells.

    A function's parts are joined into one region labelled by the function (and a
    notebook's by its section and function), so that a file read by its marker lines and
    one read by function bodies are compared function by function.
    """
    found, notes = [], []
    for name in sorted(sources):
        regions, file_notes = submitted_regions(sources[name].decode("utf-8", errors="replace"),
                                                name, templates.get(name))
        found += regions
        notes += file_notes
    for name in sorted(notebooks):
        try:
            regions, cell_notes = notebook_regions(name, notebooks[name])
        except ValueError as error:
            notes.append(f"{error}; not compared")
            continue
        found += regions
        notes += cell_notes
    joined = {}
    for region in found:
        joined.setdefault(region.owner, []).append(region.code)
    return joined, notes


def release_code(release):
    """(pieces of starter code, {student file: its text}) of a release folder: its student
    files, and its notebooks' code cells."""
    try:
        sources, notebooks, _ = read_submission(release)
    except IntakeError as error:
        raise SimilarityError(f"the release {release} cannot be read: {error}") from None
    templates = {name: data.decode("utf-8", errors="replace") for name, data in sources.items()}
    codes = list(templates.values())
    for name, data in notebooks.items():
        try:
            cells = json.loads(data.decode("utf-8"))["cells"]
        except (ValueError, KeyError, TypeError) as error:
            raise SimilarityError(f"the release notebook {name} cannot be read ({error})") from None
        codes += [cell_source(cell) for cell in cells if cell.get("cell_type") == "code"]
    if not codes:
        raise SimilarityError(f"the release {release} holds no student files nor notebooks")
    return codes, templates


# ---------------------------------------------------------------------------- submissions

@dataclass
class Entry:
    """One submission to read: who (as named by its folder or file), where, and from
    which corpus (the class, or a reference)."""
    student: str
    path: Path
    where: str
    names: str = ""
    reference: bool = False


@dataclass
class Submission:
    entry: Entry
    regions: dict
    coverage: int
    notes: list = field(default_factory=list)


def discover(root, reference=False, prefix=""):
    """(entries, skipped) of a folder of submissions, in any of the accepted layouts
    (staff/grading/submissions.py); ``prefix`` names the corpus of a reference folder."""
    root = Path(root)
    if not root.is_dir():
        raise SimilarityError(f"{root} is not a folder of submissions")
    if (root / PACKAGE_MARKER).is_file():
        raise SimilarityError(f"{root} is a single bundle; give the folder that holds one "
                              "submission per student")
    found, notes = layouts.discover(root)
    skipped = [(prefix + name, prefix + name, reason) for name, reason in notes]
    entries = []
    for item in found:
        student, where = prefix + item["id"], prefix + item["source"]
        names = " ".join(filter(None, [item["name"], f"<{item['email']}>" if item["email"] else None]))
        if item["path"] is None:
            skipped.append((student, where, item["problem"]))
        else:
            entries.append(Entry(student, Path(item["path"]), where, names, reference))
    return entries, skipped


def _is_one_submission(path):
    """True for a zip, a bundle folder, or a folder whose only bundle is one folder down
    and that holds no zip (a past solution as downloaded: ``2023/assignment2/cs231n/``)."""
    if path.is_file() or (path / PACKAGE_MARKER).is_file():
        return True
    if not path.is_dir():
        return False
    children = [child for child in path.iterdir() if not child.is_symlink()]
    bundles = [child for child in children if child.is_dir() and (child / PACKAGE_MARKER).is_file()]
    return len(bundles) == 1 and not any(child.suffix.lower() == ".zip" for child in children)


def reference_entries(paths):
    """(entries, skipped) of the --reference corpora: folders of past submissions, or
    single past solutions (a zip, a bundle folder, or a bundle folder one level down)."""
    entries, skipped = [], []
    for path in map(Path, paths):
        if _is_one_submission(path):
            entries.append(Entry(f"{path.name}", path, str(path), reference=True))
        elif path.is_dir():
            found, missed = discover(path, reference=True, prefix=f"{path.name}/")
            entries += found
            skipped += missed
        else:
            raise SimilarityError(f"the reference {path} is neither a folder nor a zip file")
    return entries, skipped


def _unique_students(entries):
    """Distinct student ids: a later duplicate (``alice.zip`` beside ``alice/``) gets a suffix."""
    seen = Counter()
    for entry in entries:
        seen[entry.student] += 1
        if seen[entry.student] > 1:
            entry.student = f"{entry.student} ({seen[entry.student]})"
    return entries


# ---------------------------------------------------------------------------- workers

# What the worker processes need, set by _share in each (inherited through fork).
_SHARED = {}


def _share(state):
    _SHARED.update(state)


def _pool(jobs, state):
    """A fork pool sharing ``state``, or None for in-process work.

    Only fork: copydetect's fingerprints are Python hash() values, which agree between
    processes only when they are forked from one interpreter.
    """
    _share(state)
    if jobs <= 1:
        return None
    if "fork" not in multiprocessing.get_all_start_methods():
        print("note: this platform cannot fork; running in one process", file=sys.stderr)
        return None
    return multiprocessing.get_context("fork").Pool(jobs, initializer=_share, initargs=(state,))


def _mapped(pool, function, items, chunksize=1):
    return pool.imap_unordered(function, items, chunksize) if pool else map(function, items)


def load_submission(entry):
    """(entry, Submission or None, reason it was skipped or None)."""
    try:
        sources, notebooks, notes = read_submission(entry.path, _SHARED["limits"])
        found, region_notes = submission_regions(sources, notebooks, _SHARED["templates"])
        regions = {}
        for label, parts in found.items():
            fingerprint, tokens = fingerprint_region(label, parts, _SHARED["boilerplate"])
            regions[label] = Fingerprinted(label, parts, tokens, fingerprint)
        coverage = sum(region.fingerprint.token_coverage for region in regions.values())
        return entry, Submission(entry, regions, int(coverage), notes + region_notes), None
    except IntakeError as error:
        return entry, None, str(error)
    except OSError as error:
        return entry, None, f"cannot be read ({error})"
    except Exception as error:  # a hostile submission must never stop the class's run
        return entry, None, f"could not be analysed ({type(error).__name__}: {error})"


@dataclass
class PairResult:
    first: Submission
    second: Submission
    first_to_second: float
    second_to_first: float
    # (label, similarity of first's region, of second's region, smaller token count),
    # the copied regions first, then the most similar
    regions: list
    matching: int
    # The regions that list the pair on their own, whatever its score (see is_copied).
    copied: int
    threshold: float

    @property
    def score(self):
        return max(self.first_to_second, self.second_to_first)

    @property
    def listed(self):
        return self.copied > 0 or (self.score >= self.threshold and self.matching > 0)


def common_fingerprints(students, limit):
    """The fingerprints held by more than ``limit`` of the class's submissions."""
    holders = Counter()
    for submission in students:
        holders.update(set().union(*(region.fingerprint.hashes for region in submission.regions.values())))
    return frozenset(value for value, count in holders.items() if count > limit)


def matched_tokens(fingerprint, shared):
    """How many tokens of a region the fingerprints ``shared`` cover: the length of the
    union of their k-grams, which is what compare_files counts, without its numpy
    overhead, which dominates for the few fingerprints most pairs share."""
    covered, reach = 0, 0
    for start in sorted(place for value in shared for place in fingerprint.hash_idx[value]):
        end = start + fingerprint.k
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered


def is_copied(region, other, shared, rules, common):
    """True for a region copied whole: of the fingerprints the two sides share, the ones
    rare in the class (outside ``common``) cover at least ``rules.copied_tokens`` tokens
    on both sides, and COPIED_SHARE or more of one side's distinctive code (the copier's,
    or the original's when the copier wrapped it in code of their own)."""
    rare = shared - common
    if not rare:
        return False
    matched, other_matched = matched_tokens(region.fingerprint, rare), matched_tokens(other.fingerprint, rare)
    if min(matched, other_matched) < rules.copied_tokens:
        return False
    distinctive = matched_tokens(region.fingerprint, region.fingerprint.hashes - common)
    other_distinctive = matched_tokens(other.fingerprint, other.fingerprint.hashes - common)
    return max(matched / distinctive, other_matched / other_distinctive) >= COPIED_SHARE


def compare_submissions(first, second, rules, common):
    """PairResult of two submissions, region by region over the labels they share;
    ``common`` holds the fingerprints too common in the class to show a copy alone."""
    matched_first = matched_second = 0
    regions, matching, copied = [], 0, set()
    for label, region in first.regions.items():
        other = second.regions.get(label)
        if other is None:
            continue
        shared = region.fingerprint.hashes & other.fingerprint.hashes
        if not shared:
            continue
        matched, other_matched = matched_tokens(region.fingerprint, shared), matched_tokens(other.fingerprint, shared)
        matched_first += matched
        matched_second += other_matched
        similarity = matched / region.fingerprint.token_coverage
        other_similarity = other_matched / other.fingerprint.token_coverage
        tokens = min(region.tokens, other.tokens)
        regions.append((label, similarity, other_similarity, tokens))
        if max(similarity, other_similarity) >= rules.threshold and tokens >= rules.min_tokens:
            matching += 1
        if is_copied(region, other, shared, rules, common):
            copied.add(label)
    regions.sort(key=lambda item: (item[0] not in copied, -max(item[1], item[2]), -item[3]))
    return PairResult(first, second,
                      matched_first / first.coverage if first.coverage else 0.0,
                      matched_second / second.coverage if second.coverage else 0.0,
                      regions, matching, len(copied), rules.threshold)


def _compare_row(index):
    """(pairs compared, their scores, the listed pairs) of submission ``index`` against the
    later submissions of the class and against every reference. A listed pair comes back
    as (position among those others, PairResult without its submissions), so that no
    submission is copied back from a worker."""
    students, references = _SHARED["students"], _SHARED["references"]
    rules, common = _SHARED["rules"], _SHARED["common"]
    scores, listed = [], []
    for position, other in enumerate(students[index + 1 :] + references):
        result = compare_submissions(students[index], other, rules, common)
        scores.append(result.score)
        if result.listed:
            result.first = result.second = None
            listed.append((position, result))
    return index, scores, listed


# ---------------------------------------------------------------------------- the run

@dataclass
class SharedVersion:
    """One version of a region (the same fingerprints, so the same code up to names,
    layout and comments) that many submissions hand in."""
    label: str
    tokens: int
    students: list
    references: list


def shared_versions(students, references, limit, copied_tokens):
    """The SharedVersions held by more than ``limit`` class submissions and at least
    ``copied_tokens`` tokens long, the most held first."""
    holders = {}
    for submission in students + references:
        for label, region in submission.regions.items():
            if region.fingerprint.hashes and region.fingerprint.token_coverage >= copied_tokens:
                key = (label, frozenset(region.fingerprint.hashes))
                holders.setdefault(key, (region.fingerprint.token_coverage, []))[1].append(submission)
    found = []
    for (label, _), (tokens, submissions) in holders.items():
        in_class = [submission.entry.student for submission in submissions if not submission.entry.reference]
        if len(in_class) > limit:
            found.append(SharedVersion(label, int(tokens), in_class, [submission.entry.student for submission
                                                                      in submissions if submission.entry.reference]))
    found.sort(key=lambda version: (-len(version.students), -version.tokens, version.label))
    return found


@dataclass
class Report:
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


def analyse(submissions_dir, release=None, references=(), rules=Rules(), jobs=1, limits=None):
    """The Report of a class: every submission read and compared, the pairs ranked."""
    rules.check()
    entries, skipped = discover(submissions_dir)
    reference_found, reference_skipped = reference_entries(references)
    entries = _unique_students(entries + reference_found)
    skipped += reference_skipped

    if release is None:
        with tempfile.TemporaryDirectory(prefix="similarity-release-") as folder:
            print("building the starter release from this repository ...", file=sys.stderr)
            try:
                make_release(REPO_ROOT, folder)
            except ReleaseError as error:
                raise SimilarityError(f"the starter release cannot be built: {error}") from None
            codes, templates = release_code(Path(folder))
    else:
        if not Path(release).is_dir():
            raise SimilarityError(f"the release {release} is not a folder")
        codes, templates = release_code(Path(release))
    state = {"boilerplate": boilerplate_hashes(codes), "templates": templates,
             "limits": limits or IntakeLimits()}

    students, reference_subs = [], []
    pool = _pool(jobs, state)
    try:
        loaded = _mapped(pool, load_submission, entries, chunksize=2)
        for entry, submission, reason in tqdm(loaded, total=len(entries), desc="fingerprinting",
                                              unit="submission"):
            if submission is None:
                skipped.append((entry.student, entry.where, reason))
            else:
                (reference_subs if entry.reference else students).append(submission)
    finally:
        if pool:
            pool.close()
            pool.join()
    # Workers finish in any order; the report and the pairs' order must not depend on it.
    students.sort(key=lambda submission: submission.entry.student)
    reference_subs.sort(key=lambda submission: submission.entry.student)
    for student, where, reason in skipped:
        print(f"skipped {student!r} ({where}): {reason}", file=sys.stderr)

    common_limit = rules.common_limit(len(students))
    common = common_fingerprints(students, common_limit)
    state.update(students=students, references=reference_subs, rules=rules, common=common)
    total = len(students) * (len(students) - 1) // 2 + len(students) * len(reference_subs)
    scores, pairs = [], []
    pool = _pool(jobs, state)
    try:
        with tqdm(total=total, desc="comparing", unit="pair") as progress:
            for index, row_scores, listed in _mapped(pool, _compare_row, range(len(students))):
                others = students[index + 1 :] + reference_subs
                for position, result in listed:
                    result.first, result.second = students[index], others[position]
                    pairs.append(result)
                scores += row_scores
                progress.update(len(row_scores))
    finally:
        if pool:
            pool.close()
            pool.join()
    pairs.sort(key=lambda pair: (-pair.score, -min(pair.first_to_second, pair.second_to_first),
                                 pair.first.entry.student, pair.second.entry.student))
    return Report(students, reference_subs, sorted(skipped), pairs, np.asarray(scores, dtype=np.float32),
                  rules, common_limit, common,
                  shared_versions(students, reference_subs, common_limit, rules.copied_tokens))


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
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SimilarityError(f"the output {out_dir} exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_pairs_csv(report, out_dir / "pairs.csv")
    write_shared_csv(report, out_dir / SHARED_CSV)
    write_notes_csv(report, out_dir / NOTES_CSV)
    write_html(report, out_dir / "report.html", detail_pairs, release_name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", help="the class's submissions (see the layouts above)")
    parser.add_argument("--out", required=True,
                        help=f"folder for pairs.csv, {SHARED_CSV}, report.html and {NOTES_CSV}")
    parser.add_argument("--release", help="the starter release folder (default: built from this repository)")
    parser.add_argument("--reference", nargs="+", default=[], metavar="PAST",
                        help="earlier terms' submission folders, or bundles or zips of known solutions")
    parser.add_argument("--min-tokens", type=int, default=DEFAULT_MIN_TOKENS,
                        help="smallest matching region of a pair listed above the threshold "
                             f"(default {DEFAULT_MIN_TOKENS})")
    parser.add_argument("--copied-tokens", type=int, default=DEFAULT_COPIED_TOKENS,
                        help="distinctive tokens a region copied whole must match on both sides to list "
                             f"its pair on its own (default {DEFAULT_COPIED_TOKENS})")
    parser.add_argument("--common-share", type=float, default=DEFAULT_COMMON_SHARE,
                        help="a fingerprint held by more than this share of the class's submissions "
                             f"(and more than {COMMON_FLOOR}) is common: it counts in the scores, not "
                             f"towards a region copied whole (default {DEFAULT_COMMON_SHARE})")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: one per CPU)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"similarity from which a pair is listed (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--detail-pairs", type=int, default=DEFAULT_DETAIL_PAIRS,
                        help=f"pairs shown side by side in the report (default {DEFAULT_DETAIL_PAIRS})")
    args = parser.parse_args(argv)
    try:
        rules = Rules(args.threshold, args.min_tokens, args.copied_tokens, args.common_share)
        report = analyse(args.submissions, args.release, args.reference, rules, max(1, args.jobs))
        write_outputs(report, args.out, args.detail_pairs, args.release or "a release built from this repository")
    except SimilarityError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    print(f"{len(report.pairs)} pair(s) listed of {len(report.scores)}; {len(report.shared)} version(s) "
          f"of a region shared by more than {report.common_limit} submissions; {report.counts()}; "
          f"wrote {Path(args.out) / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
