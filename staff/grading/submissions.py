"""A class's submissions as staff receive them, read as data: the folder layouts (one
subfolder or zip per student, or Gradescope's "export submissions" layout with its
optional ``submission_metadata.yml``), safe ids, and CSV cells a spreadsheet cannot run.

Batch grading (staff/grading/grade_all.py) and the similarity report both read
submissions through this module; staff/grading/intake.py decides what of each is graded.
"""
import datetime
import re
from pathlib import Path

from .intake import IntakeError, locate_submission

METADATA_NAME = "submission_metadata.yml"
METADATA_MAX_BYTES = 4 << 20
METADATA_MAX_ALIASES = 8  # anchors plus aliases; an export has none
ID_MAX_LENGTH = 80
# Cell starts a spreadsheet would run as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def sanitise_id(raw):
    """A file-name-safe form of ``raw``: only [A-Za-z0-9._-], no leading dot, capped."""
    text = re.sub(r"[^A-Za-z0-9._-]", "_", str(raw))
    text = re.sub(r"^\.+", lambda match: "_" * len(match.group()), text)[:ID_MAX_LENGTH]
    return text or "submission"


def unique_ids(raw_ids):
    """Sanitised ids, made unique (case-insensitively) by a numeric suffix, in order."""
    seen, result = set(), []
    for raw in raw_ids:
        base = sanitise_id(raw)
        candidate, number = base, 1
        while candidate.lower() in seen:
            number += 1
            suffix = f"-{number}"
            candidate = base[: ID_MAX_LENGTH - len(suffix)] + suffix
        seen.add(candidate.lower())
        result.append(candidate)
    return result


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as text: numbers stay numbers, text that would
    start a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def read_metadata(path):
    """(metadata dict or {}, note or None). The file is data: safe_load only, refused when
    over METADATA_MAX_BYTES or with more than METADATA_MAX_ALIASES anchors and aliases."""
    import yaml

    try:
        if path.is_symlink() or not path.is_file():
            return {}, f"{METADATA_NAME} is not a regular file; ignored"
        if path.stat().st_size > METADATA_MAX_BYTES:
            return {}, f"{METADATA_NAME} is over {METADATA_MAX_BYTES} bytes; ignored"
        text = path.read_text(encoding="utf-8", errors="replace")
        aliases = 0
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.AliasToken, yaml.AnchorToken)):
                aliases += 1
                if aliases > METADATA_MAX_ALIASES:
                    return {}, f"{METADATA_NAME} has more than {METADATA_MAX_ALIASES} anchors or aliases; ignored"
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError, ValueError, RecursionError) as error:
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        return {}, f"{METADATA_NAME} refused ({type(error).__name__}: {first}); grading by folder names"
    if not isinstance(data, dict):
        return {}, f"{METADATA_NAME} is not a mapping; ignored"
    return data, None


def _field(mapping, name):
    if not isinstance(mapping, dict):
        return None
    for key in (f":{name}", name):
        if key in mapping:
            return mapping[key]
    return None


def _as_datetime(value):
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # Gradescope writes nanoseconds
        text = re.sub(r" ([+-]\d\d:?\d\d)$", r"\1", text)
        try:
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
    return None


def submission_info(metadata, folder_name):
    """{student_id, name, email, submitted_at, late_hours} of one submission (text or None)."""
    entry = metadata.get(folder_name)
    info = {"student_id": None, "name": None, "email": None, "submitted_at": None, "late_hours": None}
    if not isinstance(entry, dict):
        return info
    submitters = _field(entry, "submitters")
    submitters = [person for person in submitters if isinstance(person, dict)] if isinstance(submitters, list) else []

    def joined(key):
        values = [str(_field(person, key)) for person in submitters if _field(person, key) not in (None, "")]
        return "+".join(values)[:200] or None

    info.update(student_id=joined("sid"), name=joined("name"), email=joined("email"))
    created = _as_datetime(_field(entry, "created_at"))
    due = _as_datetime(_field(entry, "due_date") or _field(metadata, "due_date"))
    if created is not None:
        info["submitted_at"] = created.isoformat()
    if created is not None and due is not None:
        info["late_hours"] = round(max(0.0, (created - due).total_seconds() / 3600), 2)
    return info


def _submission_of(entry):
    """The submission an entry of the export stands for (a zip or a bundle folder, found
    as the grader finds it in an upload), or (None, reason) when it is none."""
    if entry.is_symlink():
        return None, "a symbolic link, not followed"
    try:
        return locate_submission(entry), None
    except IntakeError:
        return entry, None  # grading it says what is wrong with it


def discover(folder):
    """(submissions, notes): one dict per submission, in name order, with ``id`` (unique,
    safe), ``source`` (its name in the export), ``path`` (or None with ``problem``) and the
    metadata's fields; notes are (name, reason) pairs for what is not a submission or was
    not read (a stray file, refused metadata)."""
    folder = Path(folder)
    notes = []
    metadata = {}
    if (folder / METADATA_NAME).exists() or (folder / METADATA_NAME).is_symlink():
        metadata, note = read_metadata(folder / METADATA_NAME)
        if note:
            notes.append((METADATA_NAME, note))
    found = []
    for entry in sorted(folder.iterdir(), key=lambda path: path.name):
        if entry.name == METADATA_NAME or entry.name.startswith("."):
            continue
        if entry.is_file() and not entry.is_symlink() and entry.suffix.lower() != ".zip":
            notes.append((entry.name, "neither a zip file nor a folder"))
            continue
        try:
            path, problem = _submission_of(entry)
        except OSError as error:
            path, problem = None, f"cannot be read ({type(error).__name__}: {error})"
        info = submission_info(metadata, entry.name)
        stem = entry.name[:-4] if entry.is_file() and entry.name.lower().endswith(".zip") else entry.name
        found.append(dict(info, source=entry.name, raw_id=info["student_id"] or stem,
                          path=None if path is None else str(path), problem=problem))
    for submission, identifier in zip(found, unique_ids([item["raw_id"] for item in found])):
        submission["id"] = identifier
    return found, notes
