"""CIFAR-10 for TensorFlow: NHWC arrays in memory, batched by a tf.data pipeline.

The images come from the project's CIFAR-10 folder (:func:`cs231n.data_utils.cifar10_dir`)
through the same loader as every other notebook, so a partial or custom copy works as
well as the full dataset (``tf.keras.datasets`` would download its own copy instead).
Every split is normalized once with the training split's per-channel statistics and
kept in memory; a pipeline shuffles indices, gathers whole batches with one op, and
prefetches the next batch while the current one trains.
"""
import numpy as np

from cs231n import tf_utils  # noqa: F401  (first: it quiets TensorFlow's start-up log)

import tensorflow as tf  # noqa: E402

from cs231n.data_utils import load_CIFAR10_splits


def channel_stats(images):
    """Per-channel mean and standard deviation of images of shape (N, H, W, C), in pixel units."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got {images.shape}")
    return images.mean(axis=(0, 1, 2)), images.std(axis=(0, 1, 2))


def load_cifar10_arrays(root=None, num_training=49000, num_validation=1000, num_test=10000):
    """CIFAR-10 split into train / val / test NumPy arrays, normalized per channel.

    The splits are those of :func:`cs231n.data_utils.load_CIFAR10_splits` (validation
    images right after the training images, test images the first `num_test` of the
    test batch); they shrink, with one warning, when the folder holds fewer images.

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test (images of shape
    (n, 32, 32, 3) in TensorFlow's NHWC layout, float32; labels int32) and mean, std:
    the training split's channel statistics that every split was normalized with.
    """
    raw = load_CIFAR10_splits(num_training, num_validation, num_test, root)
    mean, std = channel_stats(raw["X_train"])
    data = {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
    for name in ("train", "val", "test"):
        data[f"X_{name}"] = ((raw[f"X_{name}"] - mean) / std).astype(np.float32)
        data[f"y_{name}"] = raw[f"y_{name}"].astype(np.int32)
    return data


def random_crop_flip(images, padding=4):
    """Augment a batch of NHWC images: random translations and horizontal flips.

    Each image is reflect-padded by `padding` pixels on every side and a window of the
    original size is cut out at its own random offset, then mirrored left-right with
    probability 1/2. The i-th output comes from the i-th input, so labels stay valid.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"expected images of shape (N, H, W, C), got {images.shape}")
    n, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    if padding > 0:
        padded = tf.pad(images, [[0, 0], [padding, padding], [padding, padding], [0, 0]],
                        mode="REFLECT")
        offsets = tf.random.uniform((n, 2), 0, 2 * padding + 1, dtype=tf.int32)
        rows = offsets[:, :1] + tf.range(height)[None, :]
        cols = offsets[:, 1:] + tf.range(width)[None, :]
        # One gather per axis cuts every image's own window out at once.
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        images = tf.gather(images, cols, axis=2, batch_dims=1)
    flip = tf.random.uniform((n, 1, 1, 1)) < 0.5
    return tf.where(flip, tf.reverse(images, axis=[2]), images)


def make_dataset(x, y, batch_size=64, shuffle=False, augment=None, drop_last=False, seed=None):
    """A tf.data pipeline over in-memory arrays that yields (images, labels) batches.

    Inputs:
    - x: images of shape (N, H, W, C); y: labels of shape (N,).
    - batch_size: images per batch; the last batch may be smaller unless drop_last.
    - shuffle: a fresh random order on every pass over the data.
    - augment: optional function applied to every image batch (e.g. random_crop_flip).
    - seed: makes the shuffling order reproducible.
    """
    if len(x) != len(y):
        raise ValueError(f"x holds {len(x)} images but y holds {len(y)} labels")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    x = tf.constant(x, dtype=tf.float32)
    y = tf.constant(y, dtype=tf.int32)
    indices = tf.data.Dataset.range(len(y))
    if shuffle:
        indices = indices.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    batches = indices.batch(batch_size, drop_remainder=drop_last)

    def gather(index):
        images = tf.gather(x, index)
        if augment is not None:
            images = augment(images)
        return images, tf.gather(y, index)

    return batches.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
