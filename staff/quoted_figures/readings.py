"""How the table (quotes.py) reads a quoted figure from the figures a run recorded.

Each function here returns a reader: a function of one experiment's recorded figures,
{name: number or list of numbers} (cs231n/run_figures.py), that returns the figure a quote
describes. Accuracies are recorded as fractions and quoted in percent, hence ``percent``;
a weight-scale sweep is recorded as lists, one value per scale, beside its "weight scales"
(cs231n.plot_utils.record_weight_scale_sweep).
"""


def recorded(name):
    """The recorded figure itself."""
    return lambda figures: figures[name]


def percent(read):
    """An accuracy (or a difference of accuracies) read as a fraction, in percent (points)."""
    return lambda figures: 100 * read(figures)


def difference(name, other):
    """name's recorded figure minus other's."""
    return lambda figures: figures[name] - figures[other]


def _by_scale(figures, name):
    """[(weight scale, value)] of a figure of a recorded weight-scale sweep."""
    return list(zip(figures["weight scales"], figures[name]))


def at_scale(name, scale):
    """A sweep's figure at the grid scale nearest to scale (the grid is logarithmic)."""
    return lambda figures: min(_by_scale(figures, name), key=lambda pair: abs(pair[0] / scale - 1))[1]


def over_scales(name, pick, low=0.0, high=float("inf")):
    """pick (max, min, ...) of a sweep's figure over the grid scales from low to high."""
    return lambda figures: pick([value for scale, value in _by_scale(figures, name)
                                 if low * 0.9 <= scale <= high * 1.1])


def scale_of_highest(name):
    """The grid scale where a sweep's figure is highest."""
    return lambda figures: max(_by_scale(figures, name), key=lambda pair: pair[1])[0]


def over_runs(measure, pick, label_prefix=""):
    """pick of one measure (e.g. "final val acc") over the runs of an experiment whose
    labels start with label_prefix (recorded as "LABEL: MEASURE")."""
    return lambda figures: pick([value for name, value in figures.items()
                                 if name.startswith(label_prefix) and name.endswith(f": {measure}")])


def count_perfect(values):
    """How many accuracies are 100%."""
    return sum(value == 1 for value in values)


def spread(values):
    """Highest minus lowest."""
    return max(values) - min(values)


def gap_shrink(label, other):
    """How much smaller label's final train - validation gap is than other's (in fractions)."""
    def shrink(figures):
        def gap(run):
            return figures[f"{run}: final train acc"] - figures[f"{run}: final val acc"]
        return gap(other) - gap(label)
    return shrink
