"""Time the similarity report (staff/similarity.py) on a synthetic class.

Usage::

    python benchmarks/bench_similarity.py [--submissions N] [--copies N] [--jobs N]
        [--seed S] [--keep DIR]

Builds N synthetic submissions (default 300) from the starter release: every student
region gets, at random, the solution's code, one of a few differently written honest
answers (ALTERNATIVE_ANSWERS), freshly generated code of its own, or stays unattempted.
``--copies`` of the students (default 2) are planted: a disguised copy of another
student (every local name renamed, the code reformatted, comments and strings changed;
see ``disguise``). Then runs the report over the class and prints the pairs listed (and
how many for a region copied whole), the versions of a region many students share, the
time, the pairs per second, the peak memory of the main process and of the largest
worker, and whether the planted copies ranked first. ``--keep DIR`` writes the class and
the report there (DIR/class, DIR/report) instead of into a temporary folder.

The generator and ``disguise`` are also what staff/tests/test_similarity.py builds its
submissions with.
"""
import argparse
import ast
import json
import random
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from staff import similarity
from staff.release import make_release
from tools.conventions import NOTEBOOKS, STUDENT_FILES
from tools.cells import blank_magics, cell_source
from tools.regions import answer_regions, marker_regions, notebook_regions

REPO_ROOT = Path(__file__).resolve().parent.parent
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


def _indented(code, indent):
    return "\n".join(indent + line if line.strip() else line for line in code.split("\n"))


def _dedented(code):
    lines = [line for line in code.split("\n") if line.strip()]
    width = min((len(line) - len(line.lstrip()) for line in lines), default=0)
    return "\n".join(line[width:] for line in code.split("\n"))


def _fill_source(source, where, labels, answers):
    """``source`` with each region whose label is in ``answers`` replaced by that code
    (unindented; it gets the indentation of the region's marker lines)."""
    lines = source.split("\n")
    spans = marker_regions(lines, where)
    for (start, end), label in reversed(list(zip(spans, labels))):
        if label in answers:
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            lines[start + 1 : end] = _indented(answers[label], indent).split("\n")
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
            answers[label] = _dedented(solution[label])
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


def _peak_mib(who):
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(who).ru_maxrss / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=300, help="class size (default 300)")
    parser.add_argument("--copies", type=int, default=2, help="planted disguised copies (default 2)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=231)
    parser.add_argument("--keep", type=Path, help="write the class and the report here")
    args = parser.parse_args(argv)
    if args.submissions < 2 or not 0 <= args.copies < args.submissions:
        parser.error("need at least 2 submissions and fewer copies than submissions")

    work = Path(tempfile.mkdtemp(prefix="bench-similarity-"))
    root = args.keep or work
    try:
        release = work / "release"
        make_release(REPO_ROOT, release)
        started = time.perf_counter()
        planted = make_class(root / "class", release, read_bundle(REPO_ROOT), args.submissions,
                             args.copies, args.seed)
        print(f"generated {args.submissions} submissions in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        started = time.perf_counter()
        report = similarity.analyse(root / "class", release, jobs=args.jobs)
        similarity.write_outputs(report, root / "report", similarity.DEFAULT_DETAIL_PAIRS, str(release))
        elapsed = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)

    pairs = len(report.scores)
    top = {frozenset((pair.first.entry.student, pair.second.entry.student)) for pair in report.pairs[: len(planted)]}
    print(f"submissions: {args.submissions} ({len(report.skipped)} skipped), jobs: {args.jobs}")
    print(f"pairs compared: {pairs}, listed: {len(report.pairs)} ({sum(pair.copied > 0 for pair in report.pairs)} "
          f"with a region copied whole); versions of a region shared by more than {report.common_limit} "
          f"submissions: {len(report.shared)}")
    print(f"time (read, fingerprint, compare, write): {elapsed:.1f} s, {pairs / elapsed:.0f} pairs/s")
    print(f"peak memory: main process {_peak_mib(resource.RUSAGE_SELF):.0f} MiB, "
          f"largest worker {_peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB")
    print("planted copies ranked first:", all(frozenset(pair) in top for pair in planted))
    if args.keep:
        print(f"class in {root / 'class'}, report in {root / 'report'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
