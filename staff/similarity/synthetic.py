"""Synthetic classes for the similarity report's tests and benchmark, built from the
solution and the starter release: bundles with chosen regions answered, disguised
copies, and whole classes of honest students with planted copiers.

A bundle here is {relative path: text} of its package marker, student files and
notebooks (read_bundle). A region is named by its label (tools/regions.py), as the
report names it.
"""
import ast
import json
import random
import re
import textwrap
from pathlib import Path

from tools.cells import blank_magics, cell_source
from tools.conventions import NOTEBOOKS, STUDENT_FILES
from tools.regions import answer_regions, indentation, marker_regions, notebook_regions

BUNDLE_FILES = ("cs231n/__init__.py",) + STUDENT_FILES + NOTEBOOKS

# Honest answers written differently from the solution, by region label.
ALTERNATIVE_ANSWERS = {
    "cs231n/layers.py, affine_forward": """\
flat = np.reshape(x, (x.shape[0], int(np.prod(x.shape[1:]))))
out = np.dot(flat, w) + b""",
    "cs231n/layers.py, affine_backward": """\
N = x.shape[0]
db = np.sum(dout, axis=0)
dw = np.dot(np.reshape(x, (N, -1)).T, dout)
dx = np.reshape(np.dot(dout, w.T), x.shape)""",
    "cs231n/layers.py, svm_loss": """\
N, C = x.shape
loss = 0.0
dx = np.zeros_like(x)
for i in range(N):
    for j in range(C):
        if j == y[i]:
            continue
        margin = x[i, j] - x[i, y[i]] + 1
        if margin > 0:
            loss += margin
            dx[i, j] += 1
            dx[i, y[i]] -= 1
loss /= N
dx /= N""",
    "cs231n/layers.py, softmax_loss": """\
N = len(y)
exps = np.exp(x - np.max(x, axis=1).reshape(-1, 1))
probs = exps / np.sum(exps, axis=1).reshape(-1, 1)
loss = np.mean(-np.log(probs[np.arange(N), y]))
dx = probs.copy()
dx[np.arange(N), y] = dx[np.arange(N), y] - 1
dx = dx / N""",
    "cs231n/optim.py, sgd_momentum": """\
mu, lr = config.get("momentum"), config.get("learning_rate")
v = mu * v
v -= lr * dw
next_w = w.copy()
next_w += v""",
    "cs231n/optim.py, adam": """\
config["t"] = config["t"] + 1
m = config["m"] * config["beta1"] + dw * (1.0 - config["beta1"])
s = config["v"] * config["beta2"] + np.square(dw) * (1.0 - config["beta2"])
config["m"], config["v"] = m, s
m_unbiased = m / (1.0 - np.power(config["beta1"], config["t"]))
s_unbiased = s / (1.0 - np.power(config["beta2"], config["t"]))
next_w = w - config["learning_rate"] * m_unbiased / (np.sqrt(s_unbiased) + config["epsilon"])""",
}

# ---------------------------------------------------------------------------- bundles


def read_bundle(root):
    """{relative path: text} of the bundle files (package marker, student files, notebooks)."""
    return {name: (Path(root) / name).read_text(encoding="utf-8") for name in BUNDLE_FILES
            if (Path(root) / name).is_file()}


def write_bundle(folder, files):
    for name, text in files.items():
        target = Path(folder) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def _answer_regions(name, text):
    """The answer regions (tools/regions.py) of a bundle file, in file order."""
    if name in NOTEBOOKS:
        return notebook_regions(name, text.encode())[0]
    return answer_regions(text, name)


def solution_answers(solution):
    """{region label: code} of a bundle (as read_bundle returns it)."""
    return {region.label: region.code for name, text in solution.items()
            if name in STUDENT_FILES + NOTEBOOKS for region in _answer_regions(name, text)}


def _fill_source(source, where, labels, answers):
    """``source`` with each region whose label is in ``answers`` replaced by that code
    (unindented; it gets the indentation of the region's marker lines)."""
    lines = source.split("\n")
    spans = marker_regions(lines, where)
    for (start, end), label in reversed(list(zip(spans, labels))):
        if label in answers:
            lines[start + 1 : end] = textwrap.indent(answers[label], indentation(lines[start])).split("\n")
    return "\n".join(lines)


def fill_bundle(release, answers):
    """The release's files (read_bundle) with the given regions answered: {label: code}."""
    filled = {}
    for name, text in release.items():
        if name in STUDENT_FILES:
            filled[name] = _fill_source(text, name, [region.label for region in _answer_regions(name, text)], answers)
        elif name in NOTEBOOKS:
            labels = iter(region.label for region in _answer_regions(name, text))
            notebook = json.loads(text)
            for index, cell in enumerate(notebook["cells"]):
                source = cell_source(cell)
                if cell["cell_type"] != "code" or not marker_regions(source.split("\n"), name):
                    continue
                count = len(marker_regions(source.split("\n"), name))
                cell["source"] = _fill_source(source, name, [next(labels) for _ in range(count)], answers)
            filled[name] = json.dumps(notebook, indent=1) + "\n"
        else:
            filled[name] = text
    return filled


# ---------------------------------------------------------------------------- disguises

_STRING = re.compile(r'"([^"\\{}]*)"|\'([^\'\\{}]*)\'')


def _local_names(source):
    """Names a region's code could rename: assigned names and function parameters."""
    try:
        tree = ast.parse(blank_magics(source))
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names - {"self"}


def disguise_source(source, where, rng):
    """The usual disguises, applied to the student regions of ``source``: every local
    name renamed, the spacing changed, comments reworded (and one added per line),
    string literals changed."""
    renames = {name: f"{rng.choice('abcdefghkmpqrz')}{index}_{rng.randrange(10**6)}"
               for index, name in enumerate(sorted(_local_names(source)))}
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, renames)) + r")\b") if renames else None
    lines = source.split("\n")
    for start, end in reversed(marker_regions(lines, where)):
        disguised = []
        for line in lines[start + 1 : end]:
            code, _, _comment = line.partition("#")
            if not code.strip():
                disguised.append(code + ("# my own note" if _comment else ""))
                continue
            code = _STRING.sub(lambda match: repr((match.group(1) or match.group(2) or "") + "_x"), code)
            if pattern:
                code = pattern.sub(lambda match: renames[match.group(1)], code)
            code = code.rstrip().replace(" = ", "=").replace(", ", " ,  ").replace(" * ", "*")
            disguised.append(code + "   # step")
        lines[start + 1 : end] = ["", *disguised, ""]
    return "\n".join(lines)


def disguise(files, rng):
    """A disguised copy of a bundle (read_bundle): see disguise_source."""
    copied = {}
    for name, text in files.items():
        if name in STUDENT_FILES:
            copied[name] = disguise_source(text, name, rng)
        elif name in NOTEBOOKS:
            notebook = json.loads(text)
            for cell in notebook["cells"]:
                if cell["cell_type"] == "code":
                    cell["source"] = disguise_source(cell_source(cell), name, rng)
            copied[name] = json.dumps(notebook, indent=1) + "\n"
        else:
            copied[name] = text
    return copied


# ---------------------------------------------------------------------------- a class

_FUNCTIONS = ("sum", "mean", "max", "exp", "log", "sqrt", "abs", "maximum", "dot", "square", "tanh")
_ARRAYS = ("x", "w", "b", "dout", "cache")


def own_answer(rng):
    """A few lines of numpy code in the style of an assignment answer, freshly generated:
    what an independent student writes shares only short, common runs with others. Names
    are compared as placeholders, so the lines carry constants of their own (as a
    student's own shapes, scales and steps would) no more than a fingerprint's length
    apart: without them, two students' lines of the same form would match token for token."""
    names = [f"{rng.choice(('tmp', 'val', 'acc', 'grad', 'part', 'res'))}{rng.randrange(100)}" for _ in range(4)]
    lines = []
    for _ in range(rng.randint(2, 9)):
        target, source = rng.choice(names), rng.choice(names + list(_ARRAYS))
        first, second = rng.randrange(2, 1000), rng.randrange(2, 1000)
        form = rng.randrange(6)
        if form == 0:
            lines.append(f"{target} = np.{rng.choice(_FUNCTIONS)}({source} * {first}, axis={rng.randrange(3)})")
        elif form == 1:
            lines.append(f"{target} = {source} {rng.choice('+-*/')} {first / 10}")
        elif form == 2:
            lines += [f"for i in range({first}):", f"    {target}[i] {rng.choice('+-*')}= {second} * {source}[i]"]
        elif form == 3:
            lines += [f"if {source}.size > {first}:", f"    {target} = {source}.reshape({second}, -1)"]
        elif form == 4:
            lines.append(f"{target} = np.{rng.choice(_FUNCTIONS)}({first} * {source} @ {rng.choice(names)}.T)")
        else:
            lines.append(f"{target}, {rng.choice(names)} = {first}, {source}.shape[0] // {second}")
    return "\n".join(lines)


def class_answers(labels, solution, rng):
    """{label: code} of one honest student: per region the solution's answer, an
    alternative one, an answer of its own, or none (left unattempted)."""
    answers = {}
    for label in labels:
        draw = rng.random()
        if draw < 0.1:
            continue
        if draw < 0.35 and label in solution:
            answers[label] = textwrap.dedent(solution[label])
        elif draw < 0.6 and label in ALTERNATIVE_ANSWERS:
            answers[label] = ALTERNATIVE_ANSWERS[label]
        else:
            answers[label] = own_answer(rng)
    return answers


def make_class(folder, release, solution, count, copies, seed):
    """Write ``count`` submission folders into ``folder``, ``copies`` of them disguised
    copies of other students; returns [(copy, original)]."""
    rng = random.Random(seed)
    answers = solution_answers(solution)
    release_files = read_bundle(release)
    labels = list(solution_answers(release_files))
    students = {}
    for number in range(count - copies):
        student = f"student{number:03d}"
        students[student] = fill_bundle(release_files, class_answers(labels, answers, rng))
        write_bundle(Path(folder) / student, students[student])
    planted = []
    for number in range(copies):
        original = rng.choice(sorted(students))
        copy = f"copier{number:02d}"
        write_bundle(Path(folder) / copy, disguise(students[original], rng))
        planted.append((copy, original))
    return planted

