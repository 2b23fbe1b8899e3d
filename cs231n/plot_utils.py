"""Plotting and printing helpers shared by the notebooks."""
import matplotlib.pyplot as plt
import numpy as np

from .gradient_check import check_line, shape_checked_errors
from .run_figures import record_figure


def _decorate(ax, title, xlabel, ylabel):
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best")
    ax.grid(alpha=0.3)


def _finish(fig, title):
    if title is not None:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _plot_accuracy_panels(train_ax, val_ax, solvers):
    """Training and validation accuracy per epoch of every solver, one panel each."""
    panels = ((train_ax, "Training accuracy", "train_acc_history"),
              (val_ax, "Validation accuracy", "val_acc_history"))
    for ax, panel_title, history in panels:
        for label, solver in solvers.items():
            ax.plot(getattr(solver, history), "-o", markersize=4, label=label)
        _decorate(ax, panel_title, "Epoch", "Accuracy")


def plot_solver_histories(solvers, title=None):
    """Compare several trained solvers in one figure.

    Inputs:
    - solvers: dict mapping a legend label to a trained Solver (anything with
      loss_history, train_acc_history and val_acc_history lists).
    - title: optional title for the whole figure.

    Draws three stacked panels: training loss per iteration, training accuracy per
    epoch and validation accuracy per epoch. Returns the matplotlib Figure.
    """
    if not solvers:
        raise ValueError("plot_solver_histories needs at least one solver")
    fig, (loss_ax, train_ax, val_ax) = plt.subplots(3, 1, figsize=(10, 12))
    for label, solver in solvers.items():
        loss_ax.plot(solver.loss_history, "o", markersize=2, alpha=0.6, label=label)
    _decorate(loss_ax, "Training loss", "Iteration", "Loss")
    _plot_accuracy_panels(train_ax, val_ax, solvers)
    return _finish(fig, title)


def plot_loss_history(solver, title="Training loss history"):
    """Plot one solver's loss per iteration; returns the matplotlib Axes."""
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(solver.loss_history, "o", markersize=3)
    ax.set_title(title)
    ax.set_xlabel("Iteration")
    ax.set_ylabel("Training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return ax


def print_rel_errors(errors, threshold):
    """Print named relative errors next to the bound they should stay under; an error
    over its bound prints a line starting "FAILED:" instead, and the notebook goes on.

    Inputs:
    - errors: dict mapping a name (e.g. "W1") to its relative error.
    - threshold: the bound each error is expected to stay below.
    """
    for name, error in errors.items():
        print(check_line(name, error, threshold))


def print_errors(pairs, threshold):
    """Check shapes, then print each relative error next to the bound it should stay under.

    Inputs:
    - pairs: dict mapping a name (e.g. "dx") to (computed array, expected array); a
      computed array of the wrong shape raises ValueError naming it and both shapes.
    - threshold: the bound each error is expected to stay below.
    """
    print_rel_errors(shape_checked_errors(pairs), threshold)


def print_mean_std(x, axis=0):
    """Print the means and standard deviations of x along axis, one value per slice."""
    print(f"  means: {x.mean(axis=axis)}")
    print(f"  stds:  {x.std(axis=axis)}\n")


def plot_accuracy_histories(solvers, title=None):
    """Training and validation accuracy per epoch of several solvers, in two panels.

    Inputs:
    - solvers: dict mapping a legend label to a trained Solver.
    - title: optional title for the whole figure.

    Unlike plot_solver_histories this leaves out the per-iteration loss, which does not
    line up across runs with different batch sizes. Returns the matplotlib Figure.
    """
    if not solvers:
        raise ValueError("plot_accuracy_histories needs at least one solver")
    fig, (train_ax, val_ax) = plt.subplots(2, 1, figsize=(10, 8))
    _plot_accuracy_panels(train_ax, val_ax, solvers)
    return _finish(fig, title)


def plot_weight_scale_sweep(weight_scales, solvers_by_label, title=None):
    """Summaries of runs trained at several weight initialization scales.

    Inputs:
    - weight_scales: the scales, in increasing order.
    - solvers_by_label: dict mapping a legend label (e.g. "batchnorm") to the list of
      trained solvers, one per weight scale.
    - title: optional title for the whole figure.

    Draws, against the scale on a log axis: the best validation accuracy, the best
    training accuracy and the final training loss (the loss of the last iteration, on a
    log axis). A run that diverged (see run_diverged) has no final loss; it is marked
    with a cross at the top of that panel. Returns the matplotlib Figure.
    """
    for label, solvers in solvers_by_label.items():
        if len(solvers) != len(weight_scales):
            raise ValueError(f"{label!r} has {len(solvers)} solvers for {len(weight_scales)} weight scales")
    fig, (val_ax, train_ax, loss_ax) = plt.subplots(3, 1, figsize=(10, 12))
    accuracy_panels = ((val_ax, "Best validation accuracy", "val_acc_history"),
                       (train_ax, "Best training accuracy", "train_acc_history"))
    for ax, metric, history in accuracy_panels:
        for label, solvers in solvers_by_label.items():
            ax.semilogx(weight_scales, [max(getattr(s, history)) for s in solvers], "-o", label=label)
        _decorate(ax, f"{metric} vs. weight initialization scale", "Weight initialization scale", metric)

    diverged = []
    for label, solvers in solvers_by_label.items():
        final_losses = np.array([s.loss_history[-1] for s in solvers], dtype=float)
        finite = np.array([not run_diverged(s) for s in solvers])
        # Gaps in the line at diverged runs, so it does not pretend to connect them.
        line, = loss_ax.semilogx(weight_scales, np.where(finite, final_losses, np.nan), "-o", label=label)
        diverged += [(scale, line.get_color(), label)
                     for scale, ok in zip(weight_scales, finite) if not ok]
    loss_ax.set_yscale("log")  # diverging runs end many orders of magnitude above the others
    for scale, colour, label in diverged:
        loss_ax.plot(scale, 1, "X", markersize=12, color=colour, clip_on=False,
                     transform=loss_ax.get_xaxis_transform(), label=f"{label}: diverged (NaN/inf loss)")
    _decorate(loss_ax, "Final training loss vs. weight initialization scale",
              "Weight initialization scale", "Training loss at the last iteration")
    return _finish(fig, title)


def run_diverged(solver):
    """True when a trained solver's loss became NaN or infinite, which ends its run early."""
    planned = solver.num_epochs * max(solver.X_train.shape[0] // solver.batch_size, 1)
    return solver.iteration < planned or not np.isfinite(solver.loss_history[-1])


FULL_TRAINING_IMAGES = 49_000


def _count(number, noun):
    """'1 update', '980 updates'."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def training_size_note(num_images, num_updates, bar):
    """One sentence to print next to a training result: its data against the full CIFAR-10.

    Inputs:
    - num_images: the training images the run used.
    - num_updates: the parameter updates it made.
    - bar: the target this result is judged by, e.g. "the 50% validation bar".
    """
    if num_images >= FULL_TRAINING_IMAGES:
        return f"Trained on all {num_images:,} training images ({_count(num_updates, 'update')}); {bar} applies."
    factor = FULL_TRAINING_IMAGES / num_images
    return (f"Trained on {num_images:,} images, {factor:.0f}x fewer than the full training split's "
            f"{FULL_TRAINING_IMAGES:,} ({_count(num_updates, 'update')} instead of about "
            f"{round(num_updates * factor):,}); {bar} is set for the full split.")


def print_final_accuracies(solvers, record_as=None):
    """One line per trained solver: final training, final validation and best validation accuracy.

    With record_as (an experiment's name), the three accuracies of each run are also
    recorded (cs231n.run_figures) as "LABEL: final train acc", "LABEL: final val acc" and
    "LABEL: best val acc".
    """
    width = max(len(label) for label in solvers)
    for label, solver in solvers.items():
        print(f"{label:<{width}}  train acc {solver.train_acc_history[-1]:.3f}, "
              f"val acc {solver.val_acc_history[-1]:.3f} (best {solver.best_val_acc:.3f})")
        if record_as is not None:
            record_figure(record_as, f"{label}: final train acc", solver.train_acc_history[-1])
            record_figure(record_as, f"{label}: final val acc", solver.val_acc_history[-1])
            record_figure(record_as, f"{label}: best val acc", solver.best_val_acc)


def print_weight_scale_sweep(weight_scales, solvers_by_label, record_as=None):
    """The numbers behind plot_weight_scale_sweep: per scale, each run's best validation
    accuracy and final training loss. With record_as, the sweep is also recorded
    (record_weight_scale_sweep)."""
    for i, scale in enumerate(weight_scales):
        runs = [f"{label}: best val acc {max(solvers[i].val_acc_history):.3f}, "
                + ("diverged" if run_diverged(solvers[i]) else f"final loss {solvers[i].loss_history[-1]:.3g}")
                for label, solvers in solvers_by_label.items()]
        print(f"weight scale {scale:.1e}  " + " | ".join(runs))
    if record_as is not None:
        record_weight_scale_sweep(record_as, weight_scales, solvers_by_label)


def record_weight_scale_sweep(experiment, weight_scales, solvers_by_label):
    """Record (cs231n.run_figures) a sweep's figures as lists, one value per weight scale:
    "weight scales", and for each label "LABEL: best train acc", "LABEL: best val acc" and
    "LABEL: final loss" (infinite for a run that diverged). Nothing is printed."""
    record_figure(experiment, "weight scales", weight_scales)
    for label, solvers in solvers_by_label.items():
        record_figure(experiment, f"{label}: best train acc", [max(s.train_acc_history) for s in solvers])
        record_figure(experiment, f"{label}: best val acc", [max(s.val_acc_history) for s in solvers])
        record_figure(experiment, f"{label}: final loss",
                      [float("inf") if run_diverged(s) else s.loss_history[-1] for s in solvers])
