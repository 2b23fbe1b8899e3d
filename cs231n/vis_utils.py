"""Arranging many small images (filters, samples) into one picture."""
from math import ceil, sqrt

import numpy as np


def visualize_grid(Xs, ubound=255.0, padding=1):
    """Tile a batch of images into one grid image.

    Xs has shape (N, H, W, C). Each image is rescaled to [0, ubound] on its own, so
    filters of very different magnitudes stay visible. Returns an array of shape
    (grid_size * (H + padding) - padding, grid_size * (W + padding) - padding, C)
    where grid_size = ceil(sqrt(N)); unused cells stay zero.
    """
    Xs = np.asarray(Xs)
    if Xs.ndim != 4:
        raise ValueError(f"visualize_grid expects images shaped (N, H, W, C), got {Xs.shape}")
    N, H, W, C = Xs.shape
    grid_size = int(ceil(sqrt(N)))
    grid = np.zeros((grid_size * (H + padding) - padding,
                     grid_size * (W + padding) - padding, C))
    for i, image in enumerate(Xs):
        row, col = divmod(i, grid_size)
        low, high = image.min(), image.max()
        scale = ubound / (high - low) if high > low else 0.0
        top, left = row * (H + padding), col * (W + padding)
        grid[top:top + H, left:left + W] = (image - low) * scale
    return grid
