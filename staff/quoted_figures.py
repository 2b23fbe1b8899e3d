"""The run figures that the solution's answers and prose quote, checked against a run.

Training results change from run to run: another seed, another BLAS kernel or another
thread count changes the rounding, and training amplifies it. So an answer or a prose
cell of the solution never copies a figure of its own run; it refers to the printout, or
it quotes a range that held over several seeds and both thread settings. Every such
range is listed here, once, with the words that quote it and the printout it describes:

    python -m staff.quoted_figures check DIR         # DIR holds executed notebooks
    python -m staff.quoted_figures measure OUT_DIR [--offsets 0,1,2] [--threads 1,2]
                                                     [--jobs 2] [NOTEBOOK ...]

``check`` compares each quoted range with the figure the executed notebook printed (CI
runs it on the notebooks executed in full on the partial CIFAR-10 copy). ``measure``
runs the notebooks with every random seed in their code cells shifted by each offset
(``np.random.seed(231)`` becomes ``np.random.seed(232)`` for offset 1), at each thread
count, and prints the lowest and highest value of every figure beside its quoted range:
that is how the ranges below were chosen.

``source_problems`` (run by the tests, no execution needed) keeps the table honest: each
quote must still be in its cell, the numbers a quote states must lie in its range, and
every percentage in an answer or a solution-only cell must be either a listed quote or
listed as no run figure at all (a bar, a hyperparameter, arithmetic).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tools.conventions import NOTEBOOKS
from tools.cells import cell_source, is_answer_cell, is_solution_only_cell

BUNDLE_ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ reading the printouts

def printed_text(notebook, cell_id):
    """Everything the code cell with this id printed (its stream outputs), as one string."""
    for cell in notebook.cells:
        if cell.get("id") == cell_id:
            if cell.cell_type != "code":
                raise ValueError(f"cell {cell_id} is not a code cell")
            return "".join(output.get("text", "") for output in cell.get("outputs", [])
                           if output.get("output_type") == "stream")
    raise KeyError(f"no cell with id {cell_id}")


def final_accuracies(text):
    """{label: (final train, final val, best val)} in percent, from print_final_accuracies."""
    rows = re.findall(r"^(.+?)\s+train acc ([\d.]+), val acc ([\d.]+) \(best ([\d.]+)\)$",
                      text, re.MULTILINE)
    return {label.strip(): tuple(100 * float(value) for value in values)
            for label, *values in rows}


def weight_scale_sweep(text):
    """[(scale, {label: (best val % , final loss or inf)})] from print_weight_scale_sweep."""
    sweep = []
    for scale, runs in re.findall(r"^weight scale (\S+)  (.+)$", text, re.MULTILINE):
        results = {}
        for run in runs.split(" | "):
            label, best, outcome = re.fullmatch(
                r"(.+): best val acc ([\d.]+), (diverged|final loss \S+)", run).groups()
            loss = float("inf") if outcome == "diverged" else float(outcome.split()[-1])
            results[label] = (100 * float(best), loss)
        sweep.append((float(scale), results))
    return sweep


def overfitting_sweep(text):
    """{(depth label, scale): (best train acc %, final loss, inf when diverged)} from the
    FullyConnectedNets weight-scale sweep."""
    rows = re.findall(r"^(\d layers), weight_scale (\S+): best train acc ([\d.]+), (.+)$",
                      text, re.MULTILINE)
    return {(label, float(scale)): (100 * float(best),
                                    float("inf") if outcome == "diverged" else float(outcome.split()[-1]))
            for label, scale, best, outcome in rows}


def epoch_accuracies(text):
    """The validation accuracies (%) the challenge training cell printed, epoch by epoch."""
    return [float(value) for value in re.findall(r"val accuracy ([\d.]+)%", text)]


def test_accuracy(text):
    return float(re.search(r"test accuracy: ([\d.]+)%", text).group(1))


# ------------------------------------------------------------------ the quoted figures

@dataclass(frozen=True)
class QuotedFigure:
    """A range quoted in a markdown cell, and the printout it describes.

    quote: the words of the cell that state it (kept verbatim, so editing the prose
    means revisiting this entry); printed_by: the id of the code cell whose printout
    holds the figure, or a tuple of ids whose printouts value reads one after the other;
    value: the figure, from that printout; low, high: the range the quote promises, in
    the printout's units (percent for accuracies).
    """
    notebook: str
    cell_id: str
    quote: str
    printed_by: str | tuple
    what: str
    value: Callable[[str], float]
    low: float
    high: float

    def printing_cells(self):
        return self.printed_by if isinstance(self.printed_by, tuple) else (self.printed_by,)


def _scale_row(sweep, scale):
    """The sweep's row for the grid scale nearest to scale (the grid is logarithmic)."""
    return min(sweep, key=lambda row: abs(row[0] / scale - 1))[1]


def _sweep_best(label):
    return lambda text: max(results[label][0] for _, results in weight_scale_sweep(text))


def _sweep_at(label, scale, part):
    return lambda text: _scale_row(weight_scale_sweep(text), scale)[label][part]


def _baseline_peak_scale(text):
    return max(weight_scale_sweep(text), key=lambda row: row[1]["baseline"][0])[0]


def _baseline_between(low, high):
    """The baseline's highest best validation accuracy over the scales from low to high."""
    return lambda text: max(results["baseline"][0] for scale, results in weight_scale_sweep(text)
                            if low * 0.9 <= scale <= high * 1.1)


def _memorized(depth):
    """At how many of the sweep's scales the network reached 100% training accuracy."""
    return lambda text: sum(best == 100 for (label, _), (best, _) in overfitting_sweep(text).items()
                            if label == depth)


def _overfitting_losses(depth, scales, pick):
    return lambda text: pick(overfitting_sweep(text)[(depth, scale)][1] for scale in scales)


def _accuracy(label, part):
    return lambda text: final_accuracies(text)[label][part]


def _difference(label, other, part):
    """label's accuracy minus other's, in points."""
    return lambda text: (final_accuracies(text)[label][part]
                         - final_accuracies(text)[other][part])


def _spread(prefix):
    """Highest minus lowest final training accuracy of the normalized runs of an experiment."""
    def spread(text):
        finals = [train for label, (train, _, _) in final_accuracies(text).items()
                  if label.startswith(prefix)]
        return max(finals) - min(finals)
    return spread


def _final_vals(text):
    return [val for _, val, _ in final_accuracies(text).values()]


def _gap_shrink(text):
    """How much smaller the train - validation gap is with dropout, in points."""
    accuracies = final_accuracies(text)
    gap = {label: train - val for label, (train, val, _) in accuracies.items()}
    return gap["keep ratio 1"] - gap["keep ratio 0.25"]


FCN = "FullyConnectedNets.ipynb"
FCN_SWEEP = "4c4cbd2d"
BN = "BatchNormalization.ipynb"
BN_SWEEP = "caae5108"
BN_BATCH = "ecf168c1"
LN_BATCH = "aa75041e"
DROPOUT = "Dropout.ipynb"
DROPOUT_RUNS = "374f45d1"
PYTORCH = "PyTorch.ipynb"
PYTORCH_TRAINING = "c7592781"
PYTORCH_TEST = "08dcf59a"
INF = float("inf")

# Chosen from five runs on the partial CIFAR-10 copy: seed offsets 0, 1 and 2 at 1 thread
# and offsets 0 and 1 at 2 threads (`measure`); every range holds all five values with a
# margin beyond them. A claim that did not hold in all five (the layer-normalized network
# above the baseline at batch size 5, dropout's validation accuracy above the
# unregularized one's) is not made.
QUOTED_FIGURES = (
    # FullyConnectedNets, Inline Question 1: overfitting 50 images at five weight scales.
    QuotedFigure(FCN, "91b8bd2b", "memorized the 50 images at two or three of the five weight scales",
                 FCN_SWEEP, "3 layers: scales that reach 100% training accuracy",
                 _memorized("3 layers"), 2, 3),
    QuotedFigure(FCN, "91b8bd2b", "memorized them at only one of the five", FCN_SWEEP,
                 "5 layers: scales that reach 100% training accuracy", _memorized("5 layers"), 1, 1),
    QuotedFigure(FCN, "91b8bd2b", "loss stayed at 2.2 to 2.4", FCN_SWEEP,
                 "5 layers at scales 3e-3 and 1e-2: final loss, lowest",
                 _overfitting_losses("5 layers", (3e-3, 1e-2), min), 2.2, 2.4),
    QuotedFigure(FCN, "91b8bd2b", "loss stayed at 2.2 to 2.4", FCN_SWEEP,
                 "5 layers at scales 3e-3 and 1e-2: final loss, highest",
                 _overfitting_losses("5 layers", (3e-3, 1e-2), max), 2.2, 2.4),
    QuotedFigure(FCN, "91b8bd2b", "the run diverged", FCN_SWEEP,
                 "5 layers at scale 1.5e-1: final loss (inf: diverged)",
                 _overfitting_losses("5 layers", (1.5e-1,), max), INF, INF),
    # BatchNormalization, Inline Question 1: the weight-scale sweep.
    QuotedFigure(BN, "d3f133e4", "window of weight scales around 3e-2 to 1e-1", BN_SWEEP,
                 "baseline: the scale of its best validation accuracy", _baseline_peak_scale,
                 3e-2, 1e-1),
    QuotedFigure(BN, "d3f133e4", "where its best validation accuracy peaks at 27% to 34%", BN_SWEEP,
                 "baseline: best validation accuracy over all scales", _sweep_best("baseline"), 27, 34),
    QuotedFigure(BN, "d3f133e4", "best validation accuracy 8% to 12% at 1e-4", BN_SWEEP,
                 "baseline at scale 1e-4: best validation accuracy",
                 _sweep_at("baseline", 1e-4, 0), 8, 12),
    QuotedFigure(BN, "d3f133e4", "final loss 2.2 to 2.4", BN_SWEEP,
                 "baseline at scale 1e-4: final training loss", _sweep_at("baseline", 1e-4, 1), 2.2, 2.4),
    QuotedFigure(BN, "d3f133e4", "at most 22% from 3e-3 to 2e-2", BN_SWEEP,
                 "baseline, scales 3e-3 to 2e-2: highest best validation accuracy",
                 _baseline_between(3e-3, 2e-2), 0, 22),
    QuotedFigure(BN, "d3f133e4", "above 1e6 at a scale of 1", BN_SWEEP,
                 "baseline at scale 1: final training loss", _sweep_at("baseline", 1.0, 1), 1e6, INF),
    QuotedFigure(BN, "d3f133e4", "even at 1e-4 it reaches 18% to 30% validation accuracy", BN_SWEEP,
                 "batchnorm at scale 1e-4: best validation accuracy",
                 _sweep_at("batchnorm", 1e-4, 0), 18, 30),
    QuotedFigure(BN, "d3f133e4", "its best validation accuracy is 27% to 34%", BN_SWEEP,
                 "batchnorm: best validation accuracy over all scales", _sweep_best("batchnorm"), 27, 34),
    QuotedFigure(BN, "d3f133e4", "to 12% to 20% at a scale of 1", BN_SWEEP,
                 "batchnorm at scale 1: best validation accuracy", _sweep_at("batchnorm", 1.0, 0), 12, 20),
    QuotedFigure(BN, "d3f133e4", "its final loss stays below 4", BN_SWEEP,
                 "batchnorm: highest final training loss over all scales",
                 lambda text: max(results["batchnorm"][1] for _, results in weight_scale_sweep(text)),
                 0, 4),
    # BatchNormalization, Inline Question 2: batch size.
    QuotedFigure(BN, "307b9226", "between 35% and 50% at batch size 5", BN_BATCH,
                 "batchnorm, batch size 5: final training accuracy",
                 _accuracy("batchnorm, batch size 5", 0), 35, 50),
    QuotedFigure(BN, "307b9226", "55% to 75% at batch size 10", BN_BATCH,
                 "batchnorm, batch size 10: final training accuracy",
                 _accuracy("batchnorm, batch size 10", 0), 55, 75),
    QuotedFigure(BN, "307b9226", "78% to 92% at batch size 50", BN_BATCH,
                 "batchnorm, batch size 50: final training accuracy",
                 _accuracy("batchnorm, batch size 50", 0), 78, 92),
    QuotedFigure(BN, "307b9226", "(55% to 80%)", BN_BATCH,
                 "baseline, batch size 5: final training accuracy",
                 _accuracy("baseline, batch size 5", 0), 55, 80),
    QuotedFigure(BN, "307b9226", "by 10 points or more", BN_BATCH,
                 "batch size 5: baseline minus batchnorm, final training accuracy",
                 _difference("baseline, batch size 5", "batchnorm, batch size 5", 0), 10, 100),
    QuotedFigure(BN, "307b9226", "between 25% and 36% for all runs", BN_BATCH,
                 "every run: final validation accuracy, lowest", lambda text: min(_final_vals(text)), 25, 36),
    QuotedFigure(BN, "307b9226", "between 25% and 36% for all runs", BN_BATCH,
                 "every run: final validation accuracy, highest", lambda text: max(_final_vals(text)), 25, 36),
    # BatchNormalization, the solution's remark on layer normalization and batch size.
    QuotedFigure(BN, "7a308a5e", "reaches 60% or more training accuracy", LN_BATCH,
                 "layernorm, batch size 5: final training accuracy",
                 _accuracy("layernorm, batch size 5", 0), 60, 100),
    QuotedFigure(BN, "7a308a5e", "at least 15 points above the batch-normalized network", (BN_BATCH, LN_BATCH),
                 "batch size 5: layernorm minus batchnorm, final training accuracy",
                 _difference("layernorm, batch size 5", "batchnorm, batch size 5", 0), 15, 100),
    QuotedFigure(BN, "7a308a5e", "ended 10 points or more below the baseline", BN_BATCH,
                 "batch size 5: baseline minus batchnorm, final training accuracy",
                 _difference("baseline, batch size 5", "batchnorm, batch size 5", 0), 10, 100),
    QuotedFigure(BN, "7a308a5e", "within 25 points of each other", LN_BATCH,
                 "layernorm runs: spread of the final training accuracies", _spread("layernorm"), 0, 25),
    QuotedFigure(BN, "7a308a5e", "more than 30 points", BN_BATCH,
                 "batchnorm runs: spread of the final training accuracies", _spread("batchnorm"), 30, 100),
    # Dropout, Inline Question 2.
    QuotedFigure(DROPOUT, "adc8c6b5", "training accuracy ends over 95%", DROPOUT_RUNS,
                 "keep ratio 1: final training accuracy", _accuracy("keep ratio 1", 0), 95, 100),
    QuotedFigure(DROPOUT, "adc8c6b5", "validation accuracy ends between 25% and 33%", DROPOUT_RUNS,
                 "keep ratio 1: final validation accuracy", _accuracy("keep ratio 1", 1), 25, 33),
    QuotedFigure(DROPOUT, "adc8c6b5", "(85% to 95% after 25 epochs)", DROPOUT_RUNS,
                 "keep ratio 0.25: final training accuracy", _accuracy("keep ratio 0.25", 0), 85, 95),
    QuotedFigure(DROPOUT, "adc8c6b5", "within 5 points of the unregularized network's", DROPOUT_RUNS,
                 "keep ratio 0.25 minus keep ratio 1: final validation accuracy",
                 _difference("keep ratio 0.25", "keep ratio 1", 1), -5, 5),
    QuotedFigure(DROPOUT, "adc8c6b5", "between 26% and 35%", DROPOUT_RUNS,
                 "keep ratio 0.25: final validation accuracy", _accuracy("keep ratio 0.25", 1), 26, 35),
    QuotedFigure(DROPOUT, "adc8c6b5", "by at least 5 points", DROPOUT_RUNS,
                 "how much smaller the train - validation gap is with dropout", _gap_shrink, 5, 100),
    # PyTorch, the challenge's answer.
    QuotedFigure(PYTORCH, "322ff975", "below 20% validation accuracy", PYTORCH_TRAINING,
                 "challenge: validation accuracy after the first epoch",
                 lambda text: epoch_accuracies(text)[0], 0, 20),
    QuotedFigure(PYTORCH, "322ff975", "between 45% and 62% validation and test accuracy", PYTORCH_TRAINING,
                 "challenge: final validation accuracy", lambda text: epoch_accuracies(text)[-1], 45, 62),
    QuotedFigure(PYTORCH, "322ff975", "between 45% and 62% validation and test accuracy", PYTORCH_TEST,
                 "challenge: test accuracy", test_accuracy, 45, 62),
)

# Percentages in answer and solution-only cells that are no run figure, by cell, each
# with the reason; source_problems fails on any other percentage outside a quote.
NOT_RUN_FIGURES = {
    ("PyTorch.ipynb", "45045164"): {"10%": "batch normalization's momentum",
                                    "43%": "0.9 ** 8, arithmetic"},
    ("PyTorch.ipynb", "322ff975"): {"70%": "the challenge's bar"},
    ("TensorFlow.ipynb", "ab99ea8d"): {"70%": "the challenge's bar"},
    ("FullyConnectedNets.ipynb", "b18eaf45"): {"50%": "the task's bar"},
}

_PERCENTAGE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?%")


def quoting_cells(notebook):
    """The markdown cells whose figures this module answers for: answers and solution-only."""
    return [cell for cell in notebook.cells if cell.cell_type == "markdown"
            and (is_answer_cell(cell) or is_solution_only_cell(cell))]


def source_problems(bundle_root=BUNDLE_ROOT):
    """What is wrong between the table and the solution notebooks' markdown, one line each."""
    problems = []
    for figure in QUOTED_FIGURES:
        if not figure.low <= figure.high:
            problems.append(f"{figure.notebook} {figure.cell_id}: empty range for {figure.what}")
        # A percentage the quote states must lie in the range: "about 40%" may be quoted
        # for 30-50%, never for 45-60%.
        stated = [float(percentage[:-1]) for percentage in _PERCENTAGE.findall(figure.quote)]
        outside = [number for number in stated if not figure.low <= number <= figure.high]
        if outside:
            problems.append(f"{figure.notebook} {figure.cell_id}: {figure.quote!r} states "
                            f"{outside}, outside the range {figure.low}-{figure.high} of {figure.what}")
    for name in NOTEBOOKS:
        path = Path(bundle_root) / name
        if not path.is_file():
            continue
        notebook = nbformat.read(path, as_version=4)
        cells = {cell.get("id"): cell for cell in notebook.cells}
        for figure in QUOTED_FIGURES:
            if figure.notebook != name:
                continue
            cell = cells.get(figure.cell_id)
            if cell is None or figure.quote not in " ".join(cell_source(cell).split()):
                problems.append(f"{name} {figure.cell_id}: the quote {figure.quote!r} "
                                f"({figure.what}) is no longer in that cell")
            for cell_id in figure.printing_cells():
                if cell_id not in cells:
                    problems.append(f"{name}: no code cell {cell_id} prints {figure.what}")
        for cell in quoting_cells(notebook):
            text = " ".join(cell_source(cell).split())
            allowed = NOT_RUN_FIGURES.get((name, cell.get("id")), {})
            for figure in QUOTED_FIGURES:
                if figure.notebook == name and figure.cell_id == cell.get("id"):
                    text = text.replace(figure.quote, " ")
            for percentage in _PERCENTAGE.findall(text):
                if percentage not in allowed:
                    problems.append(f"{name} {cell.get('id')}: {percentage} is quoted without a "
                                    "range in staff/quoted_figures.py (quote a measured range, "
                                    "or refer to the printout)")
    return problems


def check(executed_dir):
    """(rows, problems) for the notebooks in executed_dir: each figure against its range."""
    rows, problems = [], []
    for figure in QUOTED_FIGURES:
        path = Path(executed_dir) / figure.notebook
        if not path.is_file():
            problems.append(f"{figure.notebook}: not in {executed_dir}")
            continue
        try:
            notebook = nbformat.read(path, as_version=4)
            value = figure.value("".join(printed_text(notebook, cell_id)
                                         for cell_id in figure.printing_cells()))
        except (KeyError, ValueError, AttributeError, IndexError) as error:
            problems.append(f"{figure.notebook}: could not read {figure.what} from the printout "
                            f"of cell {', '.join(figure.printing_cells())} ({error!r})")
            continue
        ok = figure.low <= value <= figure.high
        rows.append((figure, value, ok))
        if not ok:
            problems.append(f"{figure.notebook}: {figure.what} printed {value:g}, outside the "
                            f"range {figure.low:g}-{figure.high:g} that {figure.quote!r} quotes")
    return rows, problems


# ------------------------------------------------------------------ measuring the ranges

_SEED_CALL = re.compile(r"\b(np\.random\.seed|torch\.manual_seed|tf\.keras\.utils\.set_random_seed)\((\d+)\)")


def reseeded(notebook, offset):
    """A copy of notebook with every literal seed of its code cells shifted by offset."""
    copy = nbformat.from_dict(notebook)
    for cell in copy.cells:
        if cell.cell_type == "code":
            cell.source = _SEED_CALL.sub(
                lambda match: f"{match.group(1)}({int(match.group(2)) + offset})", cell_source(cell))
    return copy


def execute_reseeded(names, offset, out_dir):
    """Execute the named notebooks, reseeded by offset, into out_dir (in this process's
    environment, so the caller sets the thread count)."""
    import papermill

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            source = Path(scratch) / name
            nbformat.write(reseeded(nbformat.read(BUNDLE_ROOT / name, as_version=4), offset), source)
            papermill.execute_notebook(str(source), str(out_dir / name), cwd=str(BUNDLE_ROOT),
                                       progress_bar=False)


def _thread_environment(threads):
    environment = dict(os.environ)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        environment[variable] = str(threads)
    return environment


def measure(out_dir, names, offsets, thread_counts, jobs):
    """Run every (offset, threads) setting, then print each figure's lowest and highest value."""
    settings = [(offset, threads) for threads in thread_counts for offset in offsets]

    def run(setting):
        offset, threads = setting
        target = Path(out_dir) / f"offset{offset}-threads{threads}"
        command = [sys.executable, "-m", "staff.quoted_figures", "_execute", str(target),
                   str(offset), *names]
        completed = subprocess.run(command, cwd=BUNDLE_ROOT, env=_thread_environment(threads),
                                   capture_output=True, text=True, check=False)
        print(f"seed offset {offset}, {threads} thread(s): "
              + ("done" if completed.returncode == 0 else f"failed\n{completed.stderr[-2000:]}"),
              flush=True)
        return target

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        targets = list(pool.map(run, settings))
    values = {}
    for target in targets:
        for figure, value, _ in check(target)[0]:
            values.setdefault(figure, []).append(value)
    print(f"\n{'figure':<62} {'lowest':>8} {'highest':>8}  quoted range")
    for figure in QUOTED_FIGURES:
        if figure.notebook not in names:
            continue
        seen = values.get(figure, [])
        if not seen:
            print(f"{figure.what:<62} {'-':>8} {'-':>8}  {figure.low:g}-{figure.high:g} (not read)")
            continue
        ok = all(figure.low <= value <= figure.high for value in seen)
        print(f"{figure.what[:62]:<62} {min(seen):8.4g} {max(seen):8.4g}  {figure.low:g}-{figure.high:g}"
              f"{'' if ok else '  OUTSIDE'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser("check", help="compare an executed run with the ranges")
    check_parser.add_argument("executed_dir")
    measure_parser = commands.add_parser("measure", help="run several seeds and thread counts")
    measure_parser.add_argument("out_dir")
    measure_parser.add_argument("notebooks", nargs="*")
    measure_parser.add_argument("--offsets", default="0,1,2")
    measure_parser.add_argument("--threads", default="1,2")
    measure_parser.add_argument("--jobs", type=int, default=1)
    execute_parser = commands.add_parser("_execute")
    execute_parser.add_argument("out_dir")
    execute_parser.add_argument("offset", type=int)
    execute_parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "_execute":
        execute_reseeded(args.notebooks, args.offset, args.out_dir)
        return 0
    if args.command == "measure":
        names = args.notebooks or sorted({figure.notebook for figure in QUOTED_FIGURES})
        measure(args.out_dir, names, [int(value) for value in args.offsets.split(",")],
                [int(value) for value in args.threads.split(",")], args.jobs)
        return 0
    rows, problems = check(args.executed_dir)
    for figure, value, ok in rows:
        print(f"{'ok ' if ok else 'BAD'} {figure.notebook:<26} {figure.what[:58]:<58} "
              f"{value:9.4g}  quoted {figure.low:g}-{figure.high:g}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(f"{len(rows)} quoted figures read, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
