"""The grading results type: a ``Report`` of ``PartResult``s of ``CheckResult``s, their
``Status``es, and every form a report is written in.

The autograder (staff/grading/autograde.py) builds a Report; batch grading
(staff/grading/grade_all.py) and the Gradescope package read and write only this type.
A report writes itself as what the student reads (``to_text``), what staff read
(``to_staff_text``: the submission, the sandbox's confinement, the seed), its JSON
(``to_json``, read back by ``Report.from_json``), Gradescope's results.json
(``to_gradescope``: the fields of Gradescope's specification only) and a row of the
class's CSV (``csv_row``). Statuses keep the strings the JSON, the CSV and Gradescope
have always shown, so result files do not change with this module.

Points: the required total is the core parts plus one framework part, the better of
the frameworks graded (``Report.of_parts`` marks it counted); extra credit is outside
that total.
"""
import enum
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .rubric import FRAMEWORK_PARTS, PARTS
from .sandbox import NOT_RUN
from .submissions import spreadsheet_safe

# The command that replays a grading run with its seed.
REPLAY_COMMAND = "python -m staff.grading.autograde SUBMISSION --seed {seed}"
NOT_WORKED_IN = "the student did not work in its notebook (no cell run, no answer written)"
NO_FRAMEWORK_WORKED_IN = ("no framework notebook was worked in (" + ", ".join(FRAMEWORK_PARTS.values())
                          + " untouched: no cell run, no answer written), so the framework part scores 0")
STAFF_FAILURE = ("grading failed on the staff side; this is not a problem with your submission, and the "
                 "course staff will grade it again")
# Check messages that mean the submission ran out of time (the sandbox's words).
TIMEOUT_MARKS = ("timed out", NOT_RUN.rstrip())


class Status(enum.Enum):
    """Every status a grading result has; the values are what result files show."""
    GRADED = "graded"                     # a part, or a whole report, that was graded
    NOT_CHOSEN = "not chosen"             # a framework part the student did not work in
    NOT_GRADABLE = "not gradable here"    # a part this grader cannot grade (staff-side)
    INCOMPLETE = "incomplete"             # a report with a part not gradable here, or a grader that failed
    UNGRADABLE = "ungradable"             # a submission that could not be read or graded
    OK = "ok"                             # batch: graded, nothing ran out of time
    TIMEOUT = "timeout"                   # batch: graded, but some check ran out of time


@dataclass
class CheckResult:
    """One judged check; ``points`` are those earned (0 when it failed)."""
    name: str
    passed: bool
    extra: bool
    points: int
    max_points: int
    message: str


@dataclass
class PartResult:
    """One part of the rubric: its checks when graded, else the reason it was not."""
    name: str
    framework: bool
    status: Status
    reason: str | None
    counted: bool
    max_points: int
    extra_max_points: int
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self):
        return sum(check.passed for check in self.checks)

    @property
    def total(self):
        return len(self.checks)

    @property
    def points(self):
        return sum(check.points for check in self.checks if not check.extra)

    @property
    def extra_points(self):
        return sum(check.points for check in self.checks if check.extra)

    @property
    def score(self):
        return self.points / self.max_points if self.max_points else 0.0


@dataclass
class Total:
    """The required total (counted parts only) and the extra credit."""
    passed: int
    total: int
    points: int
    max_points: int
    extra_points: int
    extra_max_points: int

    @classmethod
    def of(cls, parts):
        counted = [part for part in parts if part.counted]
        return cls(*(sum(getattr(part, name) for part in counted)
                     for name in ("passed", "total", "points", "max_points", "extra_points", "extra_max_points")))

    @property
    def score(self):
        return self.points / self.max_points if self.max_points else 0.0


@dataclass
class StaffFields:
    """What only staff see of a grading run: the submission's path, the random seed, the
    confinement the sandbox obtained, and a staff-side error."""
    bundle: str
    seed: int | None
    isolation: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def replay(self):
        return None if self.seed is None else REPLAY_COMMAND.format(seed=self.seed)


@dataclass
class Report:
    status: Status
    notes: list[str]
    frameworks_chosen: list[str]
    parts: list[PartResult]
    total: Total
    elapsed_seconds: float
    staff: StaffFields
    reason: str | None = None

    # ------------------------------------------------------------------------- building

    @classmethod
    def of_parts(cls, parts, notes, frameworks_chosen, staff, elapsed_seconds):
        """The report of these parts: one framework part counted (the best graded one,
        else one the student chose that this grader cannot grade, else the first listed,
        scoring 0 with its reason), the totals, and ``incomplete`` when a part is not
        gradable here."""
        frameworks = [part for part in parts if part.framework]
        for part in frameworks:
            part.counted = False
            if part.status is Status.NOT_CHOSEN:
                part.reason = NOT_WORKED_IN
        if frameworks:
            graded = [part for part in frameworks if part.status is Status.GRADED]
            not_gradable = [part for part in frameworks if part.status is Status.NOT_GRADABLE]
            best = max(graded, key=lambda part: part.points) if graded else (not_gradable or frameworks)[0]
            best.counted = True
            if best.status is Status.NOT_CHOSEN:
                best.reason = NO_FRAMEWORK_WORKED_IN
        status = (Status.INCOMPLETE if any(part.status is Status.NOT_GRADABLE for part in parts)
                  else Status.GRADED)
        return cls(status, notes, frameworks_chosen, parts, Total.of(parts), elapsed_seconds, staff)

    @classmethod
    def not_graded(cls, status, reason, empty_total, staff):
        """A report with no part: score 0, the status and why (an ungradable submission,
        or a grader that could not grade)."""
        return cls(status, [], [], [], empty_total, 0.0, staff, reason)

    def merged_with(self, newer):
        """This report with the parts ``newer`` graded replacing its own (the others
        kept), recounted, with ``newer``'s staff fields and time; ``newer`` itself when
        either could not be graded."""
        if Status.UNGRADABLE in (self.status, newer.status):
            return newer
        replaced = {part.name: part for part in newer.parts}
        parts = [replaced.pop(part.name, part) for part in self.parts] + list(replaced.values())
        parts.sort(key=lambda part: PARTS.index(part.name))
        return Report.of_parts(parts, list(dict.fromkeys(self.notes + newer.notes)), self.frameworks_chosen,
                               newer.staff, newer.elapsed_seconds)

    # ------------------------------------------------------------------------- JSON

    def to_json(self):
        """The report as JSON-ready data (the keys result files have always had)."""
        data = {"status": self.status.value}
        if self.reason is not None:
            data["reason"] = self.reason
        data.update(notes=list(self.notes), frameworks_chosen=list(self.frameworks_chosen),
                    parts=[_part_json(part) for part in self.parts],
                    total=dict(asdict(self.total), score=self.total.score),
                    elapsed_seconds=self.elapsed_seconds,
                    staff={"bundle": self.staff.bundle, "seed": self.staff.seed, "replay": self.staff.replay,
                           "isolation": dict(self.staff.isolation)})
        if self.staff.error:
            data["staff"]["error"] = self.staff.error
        return data

    @classmethod
    def from_json(cls, data):
        """The report ``to_json`` wrote. Raises KeyError, TypeError or ValueError on
        anything else."""
        parts = [PartResult(part["name"], part["framework"], Status(part["status"]), part["reason"],
                            part["counted"], part["max_points"], part["extra_max_points"],
                            [CheckResult(**check) for check in part["checks"]])
                 for part in data["parts"]]
        total = Total(**{key: value for key, value in data["total"].items() if key != "score"})
        staff = data["staff"]
        return cls(Status(data["status"]), list(data["notes"]), list(data["frameworks_chosen"]), parts, total,
                   data["elapsed_seconds"],
                   StaffFields(staff["bundle"], staff["seed"], dict(staff["isolation"]), staff.get("error")),
                   data.get("reason"))

    # ------------------------------------------------------------------------- text

    def summary_lines(self):
        """The status, the totals, and a line per part saying whether it counted."""
        total = self.total
        lines = [f"Status: {self.status.value}" + (f" ({self.reason})" if self.reason else "")]
        lines += [f"Required total: {total.points}/{total.max_points} points ({total.score:.1%}); "
                  f"extra credit: {total.extra_points}/{total.extra_max_points}"]
        for part in self.parts:
            if part.status is not Status.GRADED:
                state = f"{part.status.value}: {part.reason}"
            else:
                state = "counted" if part.counted else "not counted: one framework counts, the better one"
            lines.append(f"  {part.name}: {part.points}/{part.max_points}"
                         + (f", extra {part.extra_points}" if part.extra_points else "") + f" ({state})")
        return lines

    def to_text(self):
        """What the student reads: the score table, then every failed check with what differed."""
        lines = [f"Note: {note}" for note in self.notes]
        lines += self.summary_lines() + [""]
        lines.append(f"{'part':<18}{'checks':>12}{'points':>12}{'extra':>7}{'score':>9}")
        for part in self.parts:
            mark = "" if part.counted else "  (not counted)"
            lines.append(f"{part.name:<18}{part.passed:>6}/{part.total:<5}"
                         f"{part.points:>6}/{part.max_points:<5}{part.extra_points:>7}"
                         f"{part.score:>9.1%}{mark}")
        total = self.total
        lines.append(f"{'required total':<18}{total.passed:>6}/{total.total:<5}"
                     f"{total.points:>6}/{total.max_points:<5}{total.extra_points:>7}{total.score:>9.1%}")
        for part in self.parts:
            failed = [check for check in part.checks if not check.passed]
            if failed:
                lines += ["", f"{part.name}:"]
                lines += [f"  FAILED {check.name}\n      {check.message}" for check in failed]
        lines.append(f"\nGraded in {self.elapsed_seconds} s.")
        return "\n".join(lines)

    def isolation_summary(self):
        """The confinement the sandbox obtained, for staff."""
        if not self.staff.isolation:
            return "isolation: unknown (no part ran)"
        return "; ".join(f"{key}: {value}" for key, value in self.staff.isolation.items())

    def to_staff_text(self):
        """What staff read: the submission, the sandbox's confinement, the seed and how to
        replay the run, any staff-side error, then the student's report."""
        lines = [f"Graded {self.staff.bundle}", f"Sandbox: {self.isolation_summary()}"]
        if self.staff.seed is not None:
            lines.append(f"Random seed: {self.staff.seed} (--seed {self.staff.seed} replays this run)")
        if self.staff.error:
            lines.append(f"Staff-side error: {self.staff.error}")
        return "\n".join(lines + ["", self.to_text()])

    # ------------------------------------------------------------------------- Gradescope

    def to_gradescope(self, hidden_parts=()):
        """The report in Gradescope's autograder format (results.json), with the fields of
        Gradescope's specification only (GRADESCOPE_RESULT_FIELDS, GRADESCOPE_TEST_FIELDS):
        the score is the required points plus the extra credit; the tests' maximums add up
        to the required total, which is what Gradescope shows it out of.
        One test per check, numbered "part.check" (parts in rubric order, "0" for the
        submission itself) and tagged with its part; an extra-credit check is a test of its
        own with a maximum of 0, named and tagged "extra credit" and saying whether it
        passed. The tests of ``hidden_parts`` are shown after the due date, the others at
        once. Students read the outputs; the run's stdout (the staff report) is hidden."""
        hidden = set(hidden_parts)
        tests = [test for part in self.parts for test in _gradescope_tests(part, part.name in hidden)]
        if self.status in (Status.UNGRADABLE, Status.INCOMPLETE) and not self.parts:
            tests.append(_gradescope_test("submission", "0", ["submission"], 0, self.total.max_points,
                                          f"{self.status.value}: {self.reason}", False, False))
        # The per-part lines of the parts shown after the due date stay out of the summary.
        lines = [line for line in self.summary_lines()
                 if not any(line.startswith(f"  {part}: ") for part in hidden)]
        return {"score": self.total.points + self.total.extra_points, "execution_time": self.elapsed_seconds,
                "output": "\n".join(lines), "stdout_visibility": "hidden", "tests": tests}

    # ------------------------------------------------------------------------- the class's CSV

    def batch_status(self):
        """(status, note) of this report in the class's CSV: OK, TIMEOUT (some check ran
        out of time), UNGRADABLE or INCOMPLETE (a staff-side problem)."""
        if self.status is Status.UNGRADABLE:
            return Status.UNGRADABLE, self.reason or ""
        if self.status is Status.INCOMPLETE:
            reasons = ([part.reason for part in self.parts if part.status is Status.NOT_GRADABLE]
                       or [f"grading failed: {self.staff.error or self.reason}"])
            return Status.INCOMPLETE, "staff-side problem, not the student's: " + "; ".join(reasons)
        timed_out = [check.name for part in self.parts for check in part.checks
                     if not check.passed and check.message.startswith(TIMEOUT_MARKS)]
        if timed_out:
            return Status.TIMEOUT, f"{len(timed_out)} checks ran out of time: " + "; ".join(timed_out)[:300]
        return Status.OK, ""

    def csv_row(self, meta):
        """This report's row of the class's CSV (CSV_COLUMNS), with the submission's
        ``meta`` (its id, the submitters, the seed, ...); every cell spreadsheet-safe."""
        status, note = self.batch_status()
        row = {key: meta.get(key) for key in META_COLUMNS}
        points = {part.name: part.points for part in self.parts}
        row.update({f"{part} points": points.get(part) for part in PARTS})
        row.update(status=status.value, note=note, required_total=self.total.points,
                   required_max=self.total.max_points, extra_credit=self.total.extra_points,
                   percentage=round(100 * self.total.score, 2))
        return [spreadsheet_safe(row[column]) for column in CSV_COLUMNS]


# The columns of the class's CSV that come from a submission's metadata, not its report.
META_COLUMNS = ("id", "student_id", "name", "email", "submitted_at", "late_hours", "seconds", "seed",
                "submission_hash", "rubric_version", "source")
CSV_COLUMNS = (["id", "student_id", "name", "email", "submitted_at", "late_hours", "status", "note"]
               + [f"{part} points" for part in PARTS]
               + ["required_total", "required_max", "extra_credit", "percentage", "seconds", "seed",
                  "submission_hash", "rubric_version", "source"])

# The fields Gradescope's results.json specification defines, at the top and per test.
GRADESCOPE_RESULT_FIELDS = {"score", "execution_time", "output", "output_format", "test_output_format",
                            "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
                            "leaderboard"}
GRADESCOPE_TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output",
                          "output_format", "tags", "visibility", "extra_data"}


def _part_json(part):
    return {"name": part.name, "framework": part.framework, "status": part.status.value, "reason": part.reason,
            "counted": part.counted, "passed": part.passed, "total": part.total, "points": part.points,
            "max_points": part.max_points, "extra_points": part.extra_points,
            "extra_max_points": part.extra_max_points, "checks": [asdict(check) for check in part.checks],
            "score": part.score}


def _gradescope_test(name, number, tags, score, max_score, output, passed, hidden):
    return {"name": name, "number": number, "score": score, "max_score": max_score,
            "status": "passed" if passed else "failed", "output": output, "tags": tags,
            "visibility": "after_due_date" if hidden else "visible"}


def _gradescope_tests(part, hidden):
    """The Gradescope tests of one part: one per check, or one saying why it was not graded."""
    number = PARTS.index(part.name) + 1 if part.name in PARTS else 0
    if part.status is not Status.GRADED:
        return [_gradescope_test(f"{part.name}: {part.status.value}", f"{number}", [part.name], 0,
                                 part.max_points if part.counted else 0, part.reason, False, hidden)]
    tests = []
    for check_number, check in enumerate(part.checks, 1):
        counted = part.counted or check.extra
        if check.extra:
            verdict = "PASSED" if check.passed else "FAILED"
            prefix = f"extra credit, {verdict} ({check.points}/{check.max_points} extra point): "
            name = f"{part.name} (extra credit): {check.name}"
        else:
            prefix = "" if counted else "not counted (one framework counts, the better one): "
            name = f"{part.name}: {check.name}"
        tests.append(_gradescope_test(
            name, f"{number}.{check_number}", [part.name] + (["extra credit"] if check.extra else []),
            check.points if counted else 0, 0 if check.extra or not counted else check.max_points,
            prefix + check.message, check.passed, hidden))
    return tests


def staff_fields(bundle, seed, isolation=None, error=None):
    """The staff fields of a run on ``bundle`` (its resolved path)."""
    return StaffFields(str(Path(bundle).resolve()), seed, dict(isolation or {}), error)
