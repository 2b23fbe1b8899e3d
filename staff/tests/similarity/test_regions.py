"""The answer regions of a student file (tools/regions.py), and the similarity report
(staff/similarity/) on files as students hand them in: with the original assignment's
comment banners, with the marker lines deleted, with one function copied from a
classmate, and against a past solution laid out as the original assignment's."""
import json
import re
import textwrap
import zipfile

import numpy as np
import pytest

from cs231n import layers
from staff.similarity.compare import compare_submissions
from staff.similarity.rules import Rules
from staff.similarity.synthetic import fill_bundle, solution_answers, write_bundle
from tools.conventions import END_MARKER, START_MARKER
from tools.regions import (ADDED_FUNCTIONS, MarkerError, answer_regions, indentation, notebook_regions,
                           submitted_regions)

LAYERS = "cs231n/layers.py"
CONV_BACKWARD = f"{LAYERS}, conv_backward_naive"
AFFINE_FORWARD = f"{LAYERS}, affine_forward"
RELU_FORWARD = f"{LAYERS}, relu_forward"
SOFTMAX = f"{LAYERS}, softmax_loss"
# The original assignment's comment banners around an answer (2019 and later: beside the
# marker lines).
TODO_BANNER = ["#" * 75, "# TODO: Implement the task described above." + " " * 30 + "#", "#" * 75]
END_BANNER = ["#" * 75, "#" + "END OF YOUR CODE".center(73) + "#", "#" * 75]


def with_official_banners(text):
    """``text`` laid out as the original assignment's starter: a TODO banner above every
    START marker line and an END OF YOUR CODE banner below every END marker line."""
    lines = []
    for line in text.split("\n"):
        indent = indentation(line)
        if line.strip() == START_MARKER:
            lines += [indent + banner for banner in TODO_BANNER]
        lines.append(line)
        if line.strip() == END_MARKER:
            lines += [indent + banner for banner in END_BANNER]
    return "\n".join(lines)


def without_markers(text):
    return "\n".join(line for line in text.split("\n") if line.strip() not in (START_MARKER, END_MARKER))


def _code_lines(code):
    return {line.strip() for line in code.split("\n") if line.strip() and not line.strip().startswith("#")}


# ---------------------------------------------------------------------------- the reader

def test_exact_regions_are_labelled_by_function_part_and_section():
    code = (f"class Net:\n    def loss(self, x):\n        {START_MARKER}\n        y = x\n        {END_MARKER}\n"
            f"        {START_MARKER}\n        z = x\n        {END_MARKER}\n")
    regions = answer_regions(code, "cs231n/classifiers/fc_net.py")
    assert [(region.label, region.function, region.lines, region.code) for region in regions] == [
        ("cs231n/classifiers/fc_net.py, Net.loss (part 1 of 2)", "Net.loss", (4, 4), "        y = x"),
        ("cs231n/classifiers/fc_net.py, Net.loss (part 2 of 2)", "Net.loss", (7, 7), "        z = x")]
    assert {region.owner for region in regions} == {"cs231n/classifiers/fc_net.py, Net.loss"}
    # Code that does not parse gets the same labels, from its def lines and indentation.
    broken = code.replace("y = x", "y = = x")
    assert [region.label for region in answer_regions(broken, "f.py")] == \
        ["f.py, Net.loss (part 1 of 2)", "f.py, Net.loss (part 2 of 2)"]

    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["# Part II. Barebones PyTorch\n", "Some prose."]},
        {"cell_type": "code", "source": f"%matplotlib inline\n{START_MARKER}\nx = 1\n{END_MARKER}\n"},
        {"cell_type": "code", "source": f"def step(x):\n    {START_MARKER}\n    return x\n    {END_MARKER}\n"},
        {"cell_type": "code", "source": f"{START_MARKER}\n" + "\n".join(END_BANNER) + f"\ny = 2\n{END_MARKER}"},
    ]}
    regions, notes = notebook_regions("PyTorch.ipynb", json.dumps(notebook).encode())
    place = 'PyTorch.ipynb, section "Part II. Barebones PyTorch"'
    assert [(region.label, region.code.split("\n")[-1].strip()) for region in regions] == [
        (f"{place} (part 1 of 2)", "x = 1"), (f"{place}, step", "return x"), (f"{place} (part 2 of 2)", "y = 2")]
    assert notes == []


def test_the_release_stays_strict_about_marker_lines(solution):
    with pytest.raises(MarkerError, match="not an exact marker line"):
        answer_regions(with_official_banners(solution[LAYERS]), LAYERS)


@pytest.mark.parametrize("layout, reason", [
    (with_official_banners, "comment banners"),
    (without_markers, "no marker lines"),
])
def test_a_changed_layout_is_read_by_function_body_with_a_note(released, solution, layout, reason):
    tasks = [region for region in answer_regions(released[LAYERS], LAYERS)]
    functions = list(dict.fromkeys(region.function for region in tasks))
    regions, notes = submitted_regions(layout(solution[LAYERS]), LAYERS, released[LAYERS])
    found, answers = {}, {}
    for region in regions:
        found.setdefault(region.function, set()).update(_code_lines(region.code))
    for region in answer_regions(solution[LAYERS], LAYERS):
        answers.setdefault(region.function, set()).update(_code_lines(region.code))
    assert list(found) == functions
    # The body less the release's lines is the answer: all of it, and nothing else.
    assert found == answers
    assert len(notes) == 1 and reason in notes[0] and LAYERS in notes[0]
    assert notes[0].endswith(", ".join(functions))


def test_exact_markers_with_a_helper_and_a_missing_function(released, solution):
    answers = solution_answers(solution)
    text = fill_bundle(released, {RELU_FORWARD: "out = _positive(x)"})[LAYERS]
    text = text.replace("def softmax_loss(", "def softmax_loss_renamed(")
    text += "\n\ndef _positive(values):\n    return np.where(values > 0, values, 0)\n"
    regions, notes = submitted_regions(text, LAYERS, released[LAYERS])
    by_label = {region.label: region for region in regions}
    assert by_label[RELU_FORWARD].code.strip() == "out = _positive(x)"
    assert "return np.where(values > 0, values, 0)" in by_label[f"{LAYERS}, {ADDED_FUNCTIONS}"].code
    assert SOFTMAX not in by_label and AFFINE_FORWARD in by_label
    assert notes == [f"{LAYERS}: no function named softmax_loss; those answers are missing"]
    assert answers[AFFINE_FORWARD] not in by_label[AFFINE_FORWARD].code  # the release's placeholder


# ---------------------------------------------------------------------------- the report

def test_banner_and_markerless_submissions_are_compared_function_by_function(tmp_path, solution, report_run):
    root = tmp_path / "class"
    write_bundle(root / "solution", solution)
    write_bundle(root / "banners", {**solution, LAYERS: with_official_banners(solution[LAYERS])})
    write_bundle(root / "no_markers", {**solution, LAYERS: without_markers(solution[LAYERS])})
    report, _, notes, page = report_run(root, tmp_path / "out")
    assert (report.in_full, report.with_notes, len(report.skipped)) == (1, 2, 0)
    assert "1 submission(s) compared in full, 2 with notes" in page
    assert {(row["student"], row["outcome"]) for row in notes} == \
        {("banners", "compared, with a note"), ("no_markers", "compared, with a note")}
    by_student = {submission.entry.student: submission for submission in report.students}
    layer_regions = {label for label in by_student["solution"].regions if label.startswith(LAYERS)}
    # The regions long enough to be fingerprinted once the release's code is left out.
    fingerprinted = {label for label in layer_regions if by_student["solution"].regions[label].fingerprint.hashes}
    assert len(fingerprinted) > 15
    for student in ("banners", "no_markers"):
        assert {label for label in by_student[student].regions if label.startswith(LAYERS)} == layer_regions
        pair = next(pair for pair in report.pairs if {pair.first.entry.student, pair.second.entry.student}
                    == {student, "solution"})
        shares = {label: (first, second) for label, first, second, _ in pair.regions if label.startswith(LAYERS)}
        assert set(shares) == fingerprinted
        assert {label: share for label, share in shares.items() if min(share) < 0.999} == {}


# Three honest students and one who copied conv_backward_naive from the first, each
# answer small, correct and written independently (checked against cs231n/layers.py).
HONEST = {
    "ada": {
        AFFINE_FORWARD: "out = x.reshape(x.shape[0], -1).dot(w) + b",
        RELU_FORWARD: "out = x * (x > 0)",
        CONV_BACKWARD: """\
x, w, b, conv_param = cache
s, p = conv_param["stride"], conv_param["pad"]
F, C, HH, WW = w.shape
xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="constant")
dxp = np.zeros_like(xp)
dw = np.zeros_like(w)
db = np.zeros_like(b)
for n in range(dout.shape[0]):
    for f in range(F):
        db[f] += dout[n, f].sum()
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                patch = xp[n, :, i * s:i * s + HH, j * s:j * s + WW]
                dw[f] += patch * dout[n, f, i, j]
                dxp[n, :, i * s:i * s + HH, j * s:j * s + WW] += w[f] * dout[n, f, i, j]
dx = dxp[:, :, p:xp.shape[2] - p, p:xp.shape[3] - p]""",
    },
    "bo": {
        AFFINE_FORWARD: """\
rows = np.reshape(x, (len(x), np.prod(x.shape[1:])))
out = np.matmul(rows, w)
out += b[np.newaxis, :]""",
        RELU_FORWARD: "out = np.where(x > 0, x, 0.0)",
        CONV_BACKWARD: """\
inputs, filters, _, params = cache
stride = params["stride"]
pad = params["pad"]
n_filters, _, fh, fw = filters.shape
padded = np.pad(inputs, [(0, 0), (0, 0), (pad, pad), (pad, pad)])
grad_padded = np.zeros(padded.shape)
dw = np.zeros(filters.shape)
db = np.sum(dout, axis=(0, 2, 3))
_, _, out_h, out_w = dout.shape
for row in range(out_h):
    for col in range(out_w):
        top, left = row * stride, col * stride
        window = padded[:, :, top:top + fh, left:left + fw]
        upstream = dout[:, :, row, col]
        dw += np.einsum("nf,nchw->fchw", upstream, window)
        grad_padded[:, :, top:top + fh, left:left + fw] += np.einsum("nf,fchw->nchw", upstream, filters)
height, width = inputs.shape[2:]
dx = grad_padded[:, :, pad:pad + height, pad:pad + width]""",
    },
    "cy": {
        AFFINE_FORWARD: """\
batch = x.shape[0]
out = np.einsum("nd,dm->nm", x.reshape(batch, -1), w)
out = out + b""",
        RELU_FORWARD: "out = np.clip(x, 0, None)",
        CONV_BACKWARD: """\
x, w, _, conv_param = cache
S = conv_param.get("stride")
P = conv_param.get("pad")
N, C, H, W = x.shape
F, _, HH, WW = w.shape
H_out, W_out = dout.shape[2], dout.shape[3]
x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
dx_pad = np.zeros_like(x_pad, dtype=float)
dw = np.zeros_like(w, dtype=float)
db = dout.sum(axis=3).sum(axis=2).sum(axis=0)
cols = np.zeros((N, H_out, W_out, C * HH * WW))
for h in range(H_out):
    for v in range(W_out):
        cols[:, h, v, :] = x_pad[:, :, h * S:h * S + HH, v * S:v * S + WW].reshape(N, -1)
flat_dout = dout.transpose(0, 2, 3, 1).reshape(-1, F)
dw = (flat_dout.T @ cols.reshape(-1, C * HH * WW)).reshape(w.shape)
dcols = (flat_dout @ w.reshape(F, -1)).reshape(N, H_out, W_out, C, HH, WW)
for h in range(H_out):
    for v in range(W_out):
        dx_pad[:, :, h * S:h * S + HH, v * S:v * S + WW] += dcols[:, h, v]
dx = dx_pad[:, :, P:P + H, P:P + W]""",
    },
}

def _disguised(code, names, comments):
    """``code`` with every name in ``names`` renamed (whole words only) and each comment of
    ``comments`` put on its own line above the line it is keyed by (from 0)."""
    lines = re.sub(r"\b\w+\b", lambda match: names.get(match.group(), match.group()), code).split("\n")
    for number in sorted(comments, reverse=True):
        lines.insert(number, comments[number])
    return "\n".join(lines)


# The copier's own answers, and ada's conv_backward_naive with every name changed and
# comments of the copier's own.
COPIER = {
    AFFINE_FORWARD: "out = np.dot(x.reshape((x.shape[0], -1)), w)\nout = out + b.reshape(1, -1)",
    RELU_FORWARD: "out = np.maximum(0, x)",
    CONV_BACKWARD: _disguised(
        HONEST["ada"][CONV_BACKWARD].replace("dout[n, f].sum()", "dout[n, f].sum()  # bias gradient"),
        {"x": "inp", "w": "kern", "b": "bias", "conv_param": "cfg", "s": "st", "p": "pd", "F": "NF", "C": "CH",
         "HH": "KH", "WW": "KW", "xp": "inp_p", "dxp": "grad_p", "n": "a", "f": "k", "i": "r", "j": "c",
         "patch": "piece"},
        {0: "# unpack what the forward pass saved", 3: "# pad once, work in padded coordinates",
         15: "# strip the padding again"}),
}


def _run_answer(code, returned, **inputs):
    """Run an answer's code as the body of its function and return the named results."""
    namespace = {"np": np, **inputs}
    exec(textwrap.dedent(code), namespace)  # the test's own answers, not a submission
    return [namespace[name] for name in returned]


@pytest.mark.parametrize("answers", [*HONEST.values(), COPIER], ids=[*HONEST, "copier"])
def test_the_written_answers_are_correct(answers):
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(3, 2, 5, 5)), rng.normal(size=(4, 2, 3, 3)), rng.normal(size=4)
    conv_param = {"stride": 2, "pad": 1}
    out, cache = layers.conv_forward_naive(x, w, b, conv_param)
    dout = rng.normal(size=out.shape)
    expected = layers.conv_backward_naive(dout, cache)
    found = _run_answer(answers[CONV_BACKWARD], ["dx", "dw", "db"], dout=dout, cache=cache)
    for mine, theirs in zip(found, expected):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)
    flat_x, flat_w, flat_b = rng.normal(size=(3, 2, 4)), rng.normal(size=(8, 5)), rng.normal(size=5)
    np.testing.assert_allclose(_run_answer(answers[AFFINE_FORWARD], ["out"], x=flat_x, w=flat_w, b=flat_b)[0],
                               layers.affine_forward(flat_x, flat_w, flat_b)[0])
    np.testing.assert_allclose(_run_answer(answers[RELU_FORWARD], ["out"], x=flat_x)[0],
                               layers.relu_forward(flat_x)[0])


@pytest.fixture(scope="module")
def single_function_class(tmp_path_factory, released, report_run):
    root = tmp_path_factory.mktemp("single-function")
    for student, answers in HONEST.items():
        write_bundle(root / student, fill_bundle(released, answers))
    write_bundle(root / "copier", fill_bundle(released, COPIER))
    return report_run(root, tmp_path_factory.mktemp("single-function-report"))


def test_one_copied_function_lists_its_pair_and_no_honest_pair(single_function_class):
    report, pairs, notes, page = single_function_class
    assert [(row["student_a"], row["student_b"], row["b_is"], row["copied_regions"]) for row in pairs] == \
        [("ada", "copier", "class", "1")]
    assert pairs[0]["top_regions"].startswith(CONV_BACKWARD + " (")
    pair = report.pairs[0]
    assert pair.regions[0][0] == CONV_BACKWARD and min(pair.regions[0][1:3]) > 0.9
    # Listed by the copied region alone: it stays listed at a threshold no score reaches.
    alone = compare_submissions(pair.first, pair.second, Rules(threshold=1.0), report.common)
    assert alone.score < 1.0 and alone.listed
    assert f"<td>{CONV_BACKWARD} (" in page  # first in its row of the table
    assert (report.in_full, report.with_notes, notes) == (4, 0, [])


def _banner_bundle(solution, prefix=""):
    """The solution with the original assignment's banners in its layers.py, its files
    under ``prefix`` (a past solution as downloaded: one folder down)."""
    return {prefix + name: (with_official_banners(text) if name == LAYERS else text)
            for name, text in solution.items()}


def test_a_past_solution_with_banners_is_a_reference(tmp_path, released, solution, report_run):
    answers = solution_answers(solution)
    root = tmp_path / "class"
    write_bundle(root / "copier", fill_bundle(released, {
        CONV_BACKWARD: textwrap.dedent(answers[CONV_BACKWARD]).replace("x_padded", "xp").replace("grad", "g"),
        RELU_FORWARD: HONEST["bo"][RELU_FORWARD]}))
    write_bundle(root / "honest", fill_bundle(released, HONEST["cy"]))
    past = tmp_path / "past"
    write_bundle(past / "2019" / "assignment2", _banner_bundle(solution))
    archive = tmp_path / "solution-2021.zip"
    with zipfile.ZipFile(archive, "w") as stream:
        for name, text in _banner_bundle(solution, "assignment2/").items():
            stream.writestr(name, text)

    for reference, name in ((past, "past/2019"), (past / "2019", "2019"), (archive, "solution-2021.zip")):
        report, pairs, notes, page = report_run(root, tmp_path / f"out-{reference.name}", [reference])
        assert [(row["student_a"], row["student_b"], row["b_is"]) for row in pairs] == \
            [("copier", name, "reference")], reference
        assert pairs[0]["top_regions"].startswith(CONV_BACKWARD + " (")
        assert "(reference match)" in page
        assert [row["student"] for row in notes] == [name]
        assert "comment banners" in notes[0]["note"]
