"""Explanatory diagrams for the notebooks, drawn with matplotlib."""
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, Polygon

# Batch normalization of one feature column, as the staged backward pass walks it.
# Each node: (label, x, y, is an input of the layer).
_BATCHNORM_NODES = {
    "x": (r"$x$", 0.0, 1.0, True),
    "mu": (r"$\mu = \frac{1}{N}\sum_k x_k$", 2.0, 2.0, False),
    "xc": (r"$x - \mu$", 4.0, 1.0, False),
    "var": (r"$v = \frac{1}{N}\sum_k (x_k - \mu)^2$", 6.0, 2.0, False),
    "std": (r"$\sigma = \sqrt{v + \epsilon}$", 8.0, 2.0, False),
    "inv": (r"$1 / \sigma$", 10.0, 2.0, False),
    "xhat": (r"$\hat{x} = (x - \mu) \cdot \frac{1}{\sigma}$", 10.0, 1.0, False),
    "gamma": (r"$\gamma$", 10.0, 0.0, True),
    "scaled": (r"$\gamma \hat{x}$", 12.0, 0.6, False),
    "beta": (r"$\beta$", 12.0, -0.3, True),
    "y": (r"$y = \gamma \hat{x} + \beta$", 14.0, 0.6, False),
}
_BATCHNORM_EDGES = (
    ("x", "mu"), ("x", "xc"), ("mu", "xc"), ("xc", "var"), ("var", "std"), ("std", "inv"),
    ("xc", "xhat"), ("inv", "xhat"), ("xhat", "scaled"), ("gamma", "scaled"),
    ("scaled", "y"), ("beta", "y"),
)


def plot_batchnorm_graph():
    """The batch normalization forward pass as a computation graph; returns the Figure.

    Arrows run forward; the backward pass follows them in reverse, adding up the gradients
    where a node feeds two others (x feeds the mean and the centring, x - mu feeds the
    variance and x_hat).
    """
    fig, ax = plt.subplots(figsize=(13, 3.6))
    boxes = {}
    for name, (label, x, y, is_input) in _BATCHNORM_NODES.items():
        boxes[name] = ax.text(
            x, y, label, ha="center", va="center", fontsize=11, zorder=3,
            bbox=dict(boxstyle="round,pad=0.4", facecolor="#dbe9f6" if is_input else "white",
                      edgecolor="#31608f"),
        )
    for start, end in _BATCHNORM_EDGES:
        ax.add_patch(FancyArrowPatch(
            _BATCHNORM_NODES[start][1:3], _BATCHNORM_NODES[end][1:3],
            patchA=boxes[start].get_bbox_patch(), patchB=boxes[end].get_bbox_patch(),
            arrowstyle="-|>", mutation_scale=14, color="#444444", zorder=2,
        ))
    ax.set_xlim(-0.8, 15.3)
    ax.set_ylim(-0.8, 2.6)
    ax.axis("off")
    ax.set_title("Batch normalization of one feature as a computation graph (inputs shaded)")
    fig.tight_layout()
    return fig


def _draw_block(ax, shaded, num_samples, num_channels, depth=0.6):
    """An (N, C, H*W) activation block in oblique projection, shading the cells in `shaded`.

    Rows are samples, columns channels; the depth stands for the spatial positions, which
    every normalization pools over. `shaded` is a set of (sample, channel) pairs.
    """
    dx, dy = depth * 0.8, depth * 0.6
    blue, white = "#6a9fd4", "white"
    for n in range(num_samples):
        for c in range(num_channels):
            x, y = c, num_samples - 1 - n
            colour = blue if (n, c) in shaded else white
            ax.add_patch(Polygon([(x, y), (x + 1, y), (x + 1, y + 1), (x, y + 1)],
                                 facecolor=colour, edgecolor="black", linewidth=0.8))
            if n == 0:  # top face of the block
                ax.add_patch(Polygon([(x, y + 1), (x + 1, y + 1), (x + 1 + dx, y + 1 + dy),
                                      (x + dx, y + 1 + dy)],
                                     facecolor=colour, edgecolor="black", linewidth=0.8, alpha=0.8))
            if c == num_channels - 1:  # right face of the block
                ax.add_patch(Polygon([(x + 1, y), (x + 1 + dx, y + dy), (x + 1 + dx, y + 1 + dy),
                                      (x + 1, y + 1)],
                                     facecolor=colour, edgecolor="black", linewidth=0.8, alpha=0.6))
    ax.annotate("", xy=(num_channels, -0.45), xytext=(0, -0.45),
                arrowprops=dict(arrowstyle="->", color="black"))
    ax.text(num_channels / 2, -0.6, "C (channels)", ha="center", va="top", fontsize=10)
    ax.annotate("", xy=(-0.35, num_samples), xytext=(-0.35, 0),
                arrowprops=dict(arrowstyle="->", color="black"))
    ax.text(-0.5, num_samples / 2, "N (images)", ha="right", va="center", rotation=90, fontsize=10)
    ax.annotate("", xy=(num_channels + 0.25 + dx, dy), xytext=(num_channels + 0.25, 0),
                arrowprops=dict(arrowstyle="->", color="black"))
    ax.text(num_channels + 0.3 + dx, dy / 2, "H, W", ha="left", va="center", fontsize=10)
    ax.set_xlim(-1.2, num_channels + 1.8)
    ax.set_ylim(-1.3, num_samples + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_normalization_axes(num_samples=4, num_channels=6, num_groups=2):
    """Which values share one mean and variance under batch, layer, instance and group norm.

    Each panel is a block of activations of shape (N, C, H, W), the spatial positions drawn
    as depth; the shaded cells are normalized together, with one mean and one variance.
    Returns the Figure.
    """
    group_size = num_channels // num_groups
    methods = (
        ("Batch norm", {(n, 0) for n in range(num_samples)},
         "one channel,\nall images"),
        ("Layer norm", {(0, c) for c in range(num_channels)},
         "one image,\nall channels"),
        ("Instance norm", {(0, 0)},
         "one image,\none channel"),
        ("Group norm", {(0, c) for c in range(group_size)},
         f"one image, one group\nof {group_size} channels (G = {num_groups})"),
    )
    fig, axes = plt.subplots(1, 4, figsize=(15, 4.2))
    for ax, (name, shaded, caption) in zip(axes, methods):
        _draw_block(ax, shaded, num_samples, num_channels)
        ax.set_title(f"{name}: {caption}", fontsize=11)
    fig.suptitle("Normalization methods: the shaded values share one mean and one variance "
                 "(pooled over all H x W positions)")
    fig.tight_layout()
    return fig
