"""CIFAR-10 for PyTorch, held in memory as tensors and batched on the device.

The images come from the project's CIFAR-10 folder (:func:`cs231n.data_utils.cifar10_dir`),
so a partial or custom copy works as well as the full dataset; torchvision's own CIFAR10
class would refuse any folder whose checksums differ from the official archive. Every
split is normalized once with the training split's per-channel statistics, moved to the
device once, and then sliced into batches there: the training loop does no per-image
work on the host.
"""

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2 as T

from cs231n.data_utils import load_CIFAR10_splits


def channel_stats(images):
    """Per-channel mean and standard deviation of uint8 images of shape (N, C, H, W), in [0, 1] units."""
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    scaled = images.to(torch.float64) / 255.0
    mean = scaled.mean(dim=(0, 2, 3))
    std = scaled.std(dim=(0, 2, 3))
    return mean.tolist(), std.tolist()


def load_cifar10_tensors(root=None, num_training=49000, num_validation=1000, num_test=10000,
                         partial=False):
    """CIFAR-10 split into train / val / test float32 tensors, normalized per channel.

    The validation images are the ones right after the training images in the data
    batches, as in the NumPy notebooks; the test images are the first `num_test` of the
    test batch. When the folder holds fewer images than requested, the splits shrink
    (one warning says how), as in :func:`cs231n.data_utils.load_CIFAR10_splits`;
    ``partial`` allows a folder that lacks some training batch files.

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test (images of shape
    (n, 3, 32, 32), float32; labels int64) and mean, std: the training split's channel
    statistics that every split was normalized with.
    """
    raw = load_CIFAR10_splits(num_training, num_validation, num_test, root, partial=partial)

    def as_uint8_tensor(images):
        # The NumPy loader hands out float64 (N, H, W, C) pixel values it checked to be
        # whole numbers in 0..255, so the conversion is exact.
        return torch.from_numpy(images.astype(np.uint8)).permute(0, 3, 1, 2).contiguous()

    splits = {name: (raw[f"X_{name}"], raw[f"y_{name}"]) for name in ("train", "val", "test")}
    images = {name: as_uint8_tensor(x) for name, (x, _) in splits.items()}
    mean, std = channel_stats(images["train"])
    normalize = T.Compose([T.ToDtype(torch.float32, scale=True), T.Normalize(mean, std)])

    data = {"mean": mean, "std": std}
    for name, (_, labels) in splits.items():
        data[f"X_{name}"] = normalize(images[name])
        data[f"y_{name}"] = torch.from_numpy(labels.astype(np.int64))
    return data


def random_crop_flip(images, padding=4):
    """Augment a whole batch on its own device: random translations and horizontal flips.

    Each image is reflect-padded by `padding` pixels on every side and a window of the
    original size is cut out at a random offset (a random crop), then mirrored left-right
    with probability 1/2. Labels are untouched: the i-th output comes from the i-th input.
    """
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    n, _, height, width = images.shape
    device = images.device
    if padding > 0:
        padded = F.pad(images, (padding,) * 4, mode="reflect")
        shifts_y = torch.randint(0, 2 * padding + 1, (n, 1), device=device)
        shifts_x = torch.randint(0, 2 * padding + 1, (n, 1), device=device)
        rows = shifts_y + torch.arange(height, device=device)
        cols = shifts_x + torch.arange(width, device=device)
        # Gather every image's window at once from a channels-last view: (n, H, W, C).
        batch = torch.arange(n, device=device)[:, None, None]
        windows = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
        images = windows.permute(0, 3, 1, 2).contiguous()
    flip = torch.rand(n, device=device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


class TensorLoader:
    """Iterate over (x, y) batches of in-memory tensors that already sit on the device.

    Inputs:
    - x: images, a tensor of shape (N, C, H, W); y: labels of shape (N,).
    - batch_size: images per batch; the last batch may be smaller unless drop_last.
    - shuffle: draw a fresh random order every pass.
    - device: where the data is kept and batches are produced (default: x's device).
    - augment: optional function applied to every image batch (e.g. random_crop_flip).
    - name: the split's name, used by the accuracy checks ("train", "val" or "test").
    """

    def __init__(self, x, y, batch_size=64, shuffle=False, device=None, augment=None,
                 drop_last=False, name="train"):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x holds {x.shape[0]} images but y holds {y.shape[0]} labels")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.device = torch.device(device) if device is not None else x.device
        self.x = x.to(device=self.device, dtype=torch.float32)
        self.y = y.to(device=self.device, dtype=torch.long)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self.drop_last = drop_last
        self.name = name

    @property
    def num_samples(self):
        return self.x.shape[0]

    def __len__(self):
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.num_samples, device=self.device)
        else:
            order = torch.arange(self.num_samples, device=self.device)
        for batch_index in range(len(self)):
            indices = order[batch_index * self.batch_size:(batch_index + 1) * self.batch_size]
            x = self.x[indices]
            if self.augment is not None:
                x = self.augment(x)
            yield x, self.y[indices]
