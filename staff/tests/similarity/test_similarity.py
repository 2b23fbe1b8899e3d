"""The similarity report (staff/similarity/) on a small class built from the solution
and the starter release: disguised copies rank first, independent answers and untouched
releases do not match, a one-function copy shows up as that region, formulaic answers
many students write alike list no pair, broken submissions are skipped with their
reason, and student data stays data in the CSV and the HTML."""
import csv
import random
import textwrap
import zipfile

import pytest
from copydetect import compare_files

from staff.grading.submissions import sanitise_id, spreadsheet_safe
from staff.similarity.cli import main
from staff.similarity.compare import compare_submissions
from staff.similarity.corpus import discover
from staff.similarity.fingerprint import matched_tokens, normalised_tokens
from staff.similarity.report import NOTES_CSV
from staff.similarity.rules import COMMON_FLOOR, DEFAULT_MIN_TOKENS, DEFAULT_THRESHOLD, Rules
from staff.similarity.run import analyse
from staff.similarity.synthetic import (
    ALTERNATIVE_ANSWERS,
    disguise,
    fill_bundle,
    own_answer,
    solution_answers,
    write_bundle,
)

SOFTMAX = "cs231n/layers.py, softmax_loss"
SVM = "cs231n/layers.py, svm_loss"
# A folder name cannot hold "/", so the id's markup is an element that needs no closing tag.
HOSTILE_ID = '=HYPERLINK("evil")<img src=x onerror=alert(1)>'
HOSTILE_COMMENT = "# <script>alert('region')</script> =HYPERLINK(\"x\")"


def _zip(path, files):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)


@pytest.fixture(scope="module")
def class_run(tmp_path_factory, released, solution, report_run):
    """(report, output folder) of a class in mixed layouts: bundle folders, a flat zip,
    a student folder holding a2_code_submission.zip, and broken zips."""
    root = tmp_path_factory.mktemp("class")
    answers = solution_answers(solution)
    write_bundle(root / "solution", solution)
    write_bundle(root / "disguised", disguise(solution, random.Random(5)))
    write_bundle(root / "release_a", released)
    write_bundle(root / "release_b", released)
    _zip(root / "independent.zip", fill_bundle(released, ALTERNATIVE_ANSWERS))
    (root / "one_function").mkdir()
    _zip(root / "one_function" / "a2_code_submission.zip",
         fill_bundle(released, {SOFTMAX: textwrap.dedent(answers[SOFTMAX])}))
    write_bundle(root / HOSTILE_ID,
                 fill_bundle(released, {SVM: HOSTILE_COMMENT + "\n" + textwrap.dedent(answers[SVM])}))
    (root / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip archive")
    (root / "truncated").mkdir()
    (root / "truncated" / "a2_code_submission.zip").write_bytes(b"garbage")

    out = tmp_path_factory.mktemp("report")
    return report_run(root, out)[0], out


def _pair(report, first, second):
    for pair in report.pairs:
        if {pair.first.entry.student, pair.second.entry.student} == {first, second}:
            return pair
    return None


def _submission(report, student):
    return next(submission for submission in report.students if submission.entry.student == student)


def _compared(report, first, second):
    """The PairResult of two students, listed or not, with the first one first."""
    return compare_submissions(_submission(report, first), _submission(report, second),
                                          report.rules, report.common)


def test_disguised_copy_ranks_first_with_a_high_score(class_run):
    report, _ = class_run
    pair = _pair(report, "solution", "disguised")
    assert pair is not None
    assert min(pair.first_to_second, pair.second_to_first) > 0.9
    assert pair.matching > 40
    # No pair ranks above it that is not itself a copy of the solution's code.
    ranked_above = report.pairs[: report.pairs.index(pair)]
    assert all({"solution", "disguised"} & {p.first.entry.student, p.second.entry.student} for p in ranked_above)
    assert report.pairs[0].score == pytest.approx(1.0)


def test_independent_implementations_score_low(class_run):
    report, _ = class_run
    pair = _compared(report, "independent", "solution")
    assert _submission(report, "independent").coverage > 100
    assert pair.first_to_second < 0.3 and pair.second_to_first < 0.3
    assert pair.matching == 0
    assert _pair(report, "independent", "solution") is None


def test_untouched_releases_score_zero(class_run):
    report, _ = class_run
    assert _submission(report, "release_a").coverage == 0
    pair = _compared(report, "release_a", "release_b")
    assert (pair.first_to_second, pair.second_to_first, pair.regions) == (0.0, 0.0, [])
    solution_pair = _compared(report, "release_a", "solution")
    assert solution_pair.first_to_second == solution_pair.second_to_first == 0.0


def test_a_copy_of_one_function_shows_up_as_that_region(class_run):
    report, _ = class_run
    pair = _pair(report, "one_function", "solution")
    assert pair is not None
    assert pair.matching == 1
    assert pair.regions[0][0] == SOFTMAX
    copier_side = pair.first_to_second if pair.first.entry.student == "one_function" else pair.second_to_first
    assert copier_side > 0.9


def test_broken_submissions_are_skipped_with_their_reason(class_run):
    report, out = class_run
    reasons = {student: reason for student, _, reason in report.skipped}
    assert "not a readable zip archive" in reasons["broken"]
    assert "not a readable zip archive" in reasons["truncated"]
    with open(out / NOTES_CSV, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert {row["student"] for row in rows if row["outcome"] == "skipped"} == {"broken", "truncated"}
    assert len(report.students) == 7


def test_student_data_is_neutralised_in_the_csv(class_run):
    _, out = class_run
    with open(out / "pairs.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    # Ids are made safe (staff/grading/submissions.py) before they appear anywhere.
    hostile = [row for row in rows if sanitise_id(HOSTILE_ID) in (row["student_a"], row["student_b"])]
    assert hostile, "the hostile submission's copy of svm_loss is listed"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert [spreadsheet_safe(text) for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "ok")] \
        == ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "ok"]


def test_student_data_is_escaped_in_the_html(class_run):
    _, out = class_run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<img src=x" not in page
    assert sanitise_id(HOSTILE_ID) in page  # the student id, made safe
    assert "&lt;script&gt;alert(&#x27;region&#x27;)&lt;/script&gt;" in page  # the comment, in the region shown
    assert "<mark>" in page
    # Self-contained: the one image is inline, nothing is fetched from elsewhere.
    assert 'src="data:image/png;base64,' in page
    assert "http://" not in page and "https://" not in page


def test_matched_tokens_agree_with_copydetect(class_run):
    report, _ = class_run
    region, other = _submission(report, "solution").regions[SOFTMAX], _submission(report, "disguised").regions[SOFTMAX]
    matched, (_, similarity_second), _ = compare_files(region.fingerprint, other.fingerprint)
    shared = region.fingerprint.hashes & other.fingerprint.hashes
    assert matched_tokens(region.fingerprint, shared) == matched > 0
    assert matched_tokens(other.fingerprint, shared) == \
        pytest.approx(similarity_second * other.fingerprint.token_coverage)


def test_tokens_ignore_names_layout_comments_and_strings():
    first = "    total = np.sum(x * w, axis=1)  # sum it\n    label = 'mean'\n"
    second = "    acc=np.sum( inputs*weights,\n        axis=1)\n    # reworded\n    tag = \"other\" \"text\"\n"
    tokens = [token for token, _, _ in normalised_tokens(first)]
    assert tokens == [token for token, _, _ in normalised_tokens(second)]
    assert "sum" in tokens and "np" not in tokens
    assert [token for token, _, _ in normalised_tokens("y = np.mean(x)")] != tokens


def test_layouts_gradescope_and_flat(tmp_path):
    (tmp_path / "submission_metadata.yml").write_text(textwrap.dedent("""\
        submission_101:
          :submitters:
          - :name: Ada Lovelace
            :email: ada@example.edu
        """), encoding="utf-8")
    (tmp_path / "submission_101").mkdir()
    (tmp_path / "submission_101" / "a2_code_submission.zip").write_bytes(b"")
    (tmp_path / "bob.zip").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a submission", encoding="utf-8")
    entries, skipped = discover(tmp_path)
    assert [(entry.student, entry.path.name, entry.names) for entry in entries] == [
        ("bob", "bob.zip", ""),
        ("submission_101", "a2_code_submission.zip", "Ada Lovelace <ada@example.edu>")]
    assert skipped == [("notes.txt", "notes.txt", "neither a zip file nor a folder")]


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "out"),
                            "--release", str(tmp_path)]) == 1
    assert "is not a folder of submissions" in capsys.readouterr().err
    assert main([str(tmp_path), "--out", str(tmp_path / "out"), "--common-share", "0"]) == 1
    assert "--common-share must be in (0, 1], not 0.0" in capsys.readouterr().err


def test_references_are_compared_with_the_class_only(tmp_path, starter, released, solution):
    classroom, past = tmp_path / "class", tmp_path / "past"
    one_function = fill_bundle(released, {SOFTMAX: textwrap.dedent(solution_answers(solution)[SOFTMAX])})
    write_bundle(classroom / "student", one_function)
    write_bundle(classroom / "untouched", released)
    write_bundle(past / "old_a", one_function)
    write_bundle(past / "old_b", one_function)
    report = analyse(classroom, starter, references=[past], jobs=2)
    assert len(report.scores) == 1 + 2 * 2  # the class pair, and each student with each reference
    assert {(pair.first.entry.student, pair.second.entry.student) for pair in report.pairs} == \
        {("student", "past/old_a"), ("student", "past/old_b")}


# The short answers students write alike without copying, by region: each a list of
# (version, how many of the eight honest students hand it in; the others leave it out).
# Some versions are held by most of the class (common), some by two or three only (rare,
# but short).
ADAM = "cs231n/optim.py, adam"
FORMULAIC = {
    "cs231n/layers.py, affine_forward": [("out = x.reshape(x.shape[0], -1) @ w + b", 5),
                                         ("out = x.reshape(x.shape[0], -1).dot(w) + b", 3)],
    "cs231n/layers.py, affine_backward": [("""\
dx = (dout @ w.T).reshape(x.shape)
dw = x.reshape(x.shape[0], -1).T @ dout
db = dout.sum(axis=0)""", 5), ("""\
dx = dout.dot(w.T).reshape(x.shape)
dw = x.reshape(x.shape[0], -1).T.dot(dout)
db = np.sum(dout, axis=0)""", 3)],
    "cs231n/layers.py, relu_forward": [("out = np.maximum(0, x)", 8)],
    "cs231n/layers.py, relu_backward": [("dx = dout * (x > 0)", 6), ("dx = np.where(x > 0, dout, 0)", 2)],
    "cs231n/layers.py, dropout_forward (part 1 of 2)": [("mask = (np.random.rand(*x.shape) < p) / p\nout = x * mask", 8)],
    "cs231n/optim.py, sgd_momentum": [("""\
v = config["momentum"] * v - config["learning_rate"] * dw
next_w = w + v""", 8)],
    "cs231n/optim.py, rmsprop": [("""\
config["cache"] = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * dw ** 2
next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])""", 6), ("""\
cache = config["decay_rate"] * config["cache"] + (1 - config["decay_rate"]) * (dw * dw)
next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
config["cache"] = cache""", 2)],
    ADAM: [("""\
config["t"] += 1
config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * (dw ** 2)
m_hat = config["m"] / (1 - config["beta1"] ** config["t"])
v_hat = config["v"] / (1 - config["beta2"] ** config["t"])
next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])""", 6)],
}
COPIED = "cs231n/layers.py, max_pool_backward_naive"


@pytest.fixture(scope="module")
def formulaic_class(tmp_path_factory, released, solution, report_run):
    """(report, pairs.csv rows) of eight honest students who share the formulaic answers
    above and write the rest their own way, of whom honest0 wrote max_pool_backward_naive
    as the solution does, and a ninth who copied that function from honest0 (disguised)
    and wrote the rest as the others do."""
    root = tmp_path_factory.mktemp("formulaic")
    rng = random.Random(28)
    students = [f"honest{number}" for number in range(8)]
    # Everything else in the student files, each written in the student's own way.
    own_work = [label for label in solution_answers(released)
                if label.startswith("cs231n/") and label not in FORMULAIC and label != COPIED]
    answers = {student: {label: own_answer(rng) + "\n" + own_answer(rng) for label in own_work}
               for student in students + ["copier"]}
    for label, versions in FORMULAIC.items():
        holders = iter(students)
        for code, count in versions:
            for _ in range(count):
                answers[next(holders)][label] = code
        answers["copier"][label] = versions[0][0]
    answers["honest0"][COPIED] = textwrap.dedent(solution_answers(solution)[COPIED])
    answers["copier"][COPIED] = answers["honest0"][COPIED]
    for student, chosen in answers.items():
        files = fill_bundle(released, chosen)
        write_bundle(root / student, disguise(files, rng) if student == "copier" else files)
    report, pairs, _, _ = report_run(root, tmp_path_factory.mktemp("formulaic-report"))
    return report, pairs


def _listed_honest_pairs(report, rules, common):
    honest = [submission for submission in report.students if submission.entry.student != "copier"]
    return [(first.entry.student, second.entry.student) for index, first in enumerate(honest)
            for second in honest[index + 1 :] if compare_submissions(first, second, rules, common).listed]


def test_formulaic_answers_list_no_pair_and_a_long_copy_is_listed(formulaic_class):
    report, pairs = formulaic_class
    assert [(row["student_a"], row["student_b"], row["copied_regions"]) for row in pairs] == \
        [("copier", "honest0", "1")]
    assert pairs[0]["top_regions"].startswith(COPIED + " (")
    # Listed for the copied function alone: every other pair scores about as much.
    assert report.pairs[0].score < DEFAULT_THRESHOLD
    # Both parts of the rule are needed: with nothing common, the version of adam six
    # honest students share lists their pairs; with --copied-tokens as low as
    # --min-tokens, so do the rmsprop and affine_backward versions two or three share.
    assert report.common_limit == COMMON_FLOOR
    assert _listed_honest_pairs(report, report.rules, frozenset())
    assert _listed_honest_pairs(report, Rules(copied_tokens=DEFAULT_MIN_TOKENS), report.common)


def test_code_many_submissions_share_is_listed_once(formulaic_class):
    report, _ = formulaic_class
    assert [(version.label, len(version.students)) for version in report.shared] == [(ADAM, 7)]
    assert "copier" in report.shared[0].students and report.shared[0].references == []
