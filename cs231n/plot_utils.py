"""Plotting and printing helpers shared by the notebooks."""
import matplotlib.pyplot as plt


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
    """Print named relative errors next to the bound they should stay under.

    Inputs:
    - errors: dict mapping a name (e.g. "W1") to its relative error.
    - threshold: the bound each error is expected to stay below.
    """
    for name, error in errors.items():
        print(f"{name} relative error: {error:.2e}  (should be < {threshold:.0e})")


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
    training accuracy and the final training loss (mean over the last 100
    iterations, on a log axis). Returns the matplotlib Figure.
    """
    summaries = (
        ("Best validation accuracy", lambda s: max(s.val_acc_history)),
        ("Best training accuracy", lambda s: max(s.train_acc_history)),
        ("Final training loss", lambda s: sum(s.loss_history[-100:]) / len(s.loss_history[-100:])),
    )
    fig, axes = plt.subplots(3, 1, figsize=(10, 12))
    for ax, (metric, summarize) in zip(axes, summaries):
        for label, solvers in solvers_by_label.items():
            if len(solvers) != len(weight_scales):
                raise ValueError(
                    f"{label!r} has {len(solvers)} solvers for {len(weight_scales)} weight scales"
                )
            ax.semilogx(weight_scales, [summarize(s) for s in solvers], "-o", label=label)
        _decorate(ax, f"{metric} vs. weight initialization scale", "Weight initialization scale", metric)
    # Diverging runs end with losses many orders of magnitude above the others.
    axes[2].set_yscale("log")
    return _finish(fig, title)
