"""What the report compares: the class's submissions, the references, the starter code,
and the regions of each submission.

A class (SUBMISSIONS) is one of the layouts staff/grading/submissions.py reads:

* a folder with one subfolder per student, each holding ``a2_code_submission.zip`` (or
  one other zip) or a bundle folder;
* a flat folder of ``.zip`` files, one per student (the student id is the file's stem);
* Gradescope's "export submissions" folder: ``submission_metadata.yml`` at the top and
  one folder per submission; the metadata only adds the students' names and emails.

References (``--reference PAST ...``) are earlier terms' submission folders, or single
past solutions: a zip, a bundle folder, or one nested one folder down. Every submission
is read by staff/grading/intake.py, as the grader reads it, and nothing of it is
imported, executed or used as a path.

Only the students' own code is compared, read as students hand it in (tools/regions.py,
submitted_regions): in each student file, the code between the START/END markers where
they are exact; where they were deleted or edited, or sit among the original
assignment's comment banners (past public solutions keep those), the body of each task
function less the release's own lines, with a note. In notebooks, the marked code of
each code cell. A region is one function (``cs231n/layers.py, affine_forward``, its parts
together) or one notebook section and function (``PyTorch.ipynb, section "Part II.
Barebones PyTorch"``); the functions a student added (helpers) are one more region per
file. The starter release's code (a release folder, or one built from this repository
into a temporary folder) is boilerplate: its fingerprints never count as a match.
"""
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from staff.grading import submissions as layouts
from staff.grading.intake import PACKAGE_MARKER, IntakeError, read_submission
from staff.release import ReleaseError, make_release
from staff.similarity.fingerprint import Fingerprinted, fingerprint_region
from staff.similarity.rules import SimilarityError
from tools.cells import cell_source
from tools.regions import notebook_regions, submitted_regions

REPO_ROOT = Path(__file__).resolve().parents[2]


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
    """A submission read: its fingerprinted regions by label, how many tokens of its own
    code they cover, and the notes on how it was read."""
    entry: Entry
    regions: dict
    coverage: int
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------------------- finding submissions

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


def unique_students(entries):
    """Distinct student ids: a later duplicate (``alice.zip`` beside ``alice/``) gets a suffix."""
    seen = Counter()
    for entry in entries:
        seen[entry.student] += 1
        if seen[entry.student] > 1:
            entry.student = f"{entry.student} ({seen[entry.student]})"
    return entries


# ---------------------------------------------------------------------------- the starter code

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


def starter_code(release=None):
    """release_code of the release folder ``release``, or of a release built from this
    repository into a temporary folder when it is None."""
    if release is not None:
        if not Path(release).is_dir():
            raise SimilarityError(f"the release {release} is not a folder")
        return release_code(Path(release))
    with tempfile.TemporaryDirectory(prefix="similarity-release-") as folder:
        print("building the starter release from this repository ...", file=sys.stderr)
        try:
            make_release(REPO_ROOT, folder)
        except ReleaseError as error:
            raise SimilarityError(f"the starter release cannot be built: {error}") from None
        return release_code(Path(folder))


# ---------------------------------------------------------------------------- one submission's regions

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


def read_fingerprinted(entry, templates, boilerplate, limits=None):
    """(Submission, None) of one entry, its regions fingerprinted with the starter code's
    ``boilerplate`` left out, or (None, the reason it was skipped)."""
    try:
        sources, notebooks, notes = read_submission(entry.path, limits)
        found, region_notes = submission_regions(sources, notebooks, templates)
        regions = {}
        for label, parts in found.items():
            fingerprint, tokens = fingerprint_region(label, parts, boilerplate)
            regions[label] = Fingerprinted(label, parts, tokens, fingerprint)
        coverage = sum(region.fingerprint.token_coverage for region in regions.values())
        return Submission(entry, regions, int(coverage), notes + region_notes), None
    except IntakeError as error:
        return None, str(error)
    except OSError as error:
        return None, f"cannot be read ({error})"
    except Exception as error:  # a hostile submission must never stop the class's run
        return None, f"could not be analysed ({type(error).__name__}: {error})"
