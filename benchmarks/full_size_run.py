"""Time every notebook on a CIFAR-10 folder of the full size, built from a partial copy.

Usage: ``python benchmarks/full_size_run.py SOURCE_DIR WORK_DIR [--scale S] [NOTEBOOK ...]``

Where the full CIFAR-10 cannot be downloaded, its size can still be reproduced: this script
writes to ``WORK_DIR/cifar-10-batches-py`` a folder in CIFAR-10's format holding as many
images as the real one (50,000 training images in five batch files, 10,000 test images),
made from the real images of the partial copy in SOURCE_DIR by random horizontal flips,
shifts of up to 4 pixels and colour jitter. Every batch says so in its ``batch_label``.
The accuracies reached on it say little (the images are variations of a few thousand
originals); the times are those of the full dataset.

The validation images of the full layout (the last 1,000 of the training batches) are
made only from the partial copy's own validation images, and the test images only from
its test images, so no variation of a training image is ever validated or tested on.

It then runs each notebook with the project's runner (``python -m tools.run_notebooks``,
executed copies in ``WORK_DIR/executed``) and prints its wall time, and a table at the end.
``--scale`` shrinks every count (e.g. 0.02 for a quick check of the script itself).
"""
import argparse
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from cs231n.data_utils import load_CIFAR10  # noqa: E402
from tools.conventions import NOTEBOOKS  # noqa: E402

FULL_TRAIN, FULL_TEST, BATCHES, VALIDATION = 50_000, 10_000, 5, 1_000
LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]
MAX_SHIFT = 4


def varied_copies(images, count, rng):
    """`count` images drawn from `images` (uint8, N x 32 x 32 x 3): the originals first, then
    random variations of them (flip, shift, colour jitter). Returns (images, source indices)."""
    sources = np.concatenate([np.arange(min(count, len(images))),
                              rng.integers(0, len(images), size=max(0, count - len(images)))])
    out = images[sources].astype(np.float32)
    varied = np.arange(count) >= len(images)
    flip = varied & (rng.random(count) < 0.5)
    out[flip] = out[flip, :, ::-1]
    # Shift by cutting a window out of a reflect-padded copy; the images that share an
    # offset are cut together, which keeps this a few dozen array operations.
    padded = np.pad(out, ((0, 0), (MAX_SHIFT, MAX_SHIFT), (MAX_SHIFT, MAX_SHIFT), (0, 0)), mode="reflect")
    dy = np.where(varied, rng.integers(0, 2 * MAX_SHIFT + 1, size=count), MAX_SHIFT)
    dx = np.where(varied, rng.integers(0, 2 * MAX_SHIFT + 1, size=count), MAX_SHIFT)
    for oy in range(2 * MAX_SHIFT + 1):
        for ox in range(2 * MAX_SHIFT + 1):
            group = (dy == oy) & (dx == ox)
            out[group] = padded[group, oy:oy + 32, ox:ox + 32]
    # Colour jitter: overall brightness, a per-channel gain and an offset.
    brightness = np.where(varied, rng.uniform(0.8, 1.2, size=count), 1.0)[:, None, None, None]
    gain = np.where(varied[:, None], rng.uniform(0.9, 1.1, size=(count, 3)), 1.0)[:, None, None, :]
    offset = np.where(varied, rng.uniform(-12, 12, size=count), 0.0)[:, None, None, None]
    out = out * brightness * gain + offset
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), sources


def write_batch(path, images, labels, label):
    batch = {
        "batch_label": label,
        "labels": [int(value) for value in labels],
        "data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),  # rows of R, G, B planes
        "filenames": [f"synthetic_{index:05d}.png" for index in range(len(images))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def write_full_size_folder(source, destination, scale=1.0, seed=0):
    """Write the full-size folder; returns (number of training images, number of test images)."""
    rng = np.random.default_rng(seed)
    X_train, y_train, X_test, y_test = load_CIFAR10(source)
    X_train, X_test = X_train.astype(np.uint8), X_test.astype(np.uint8)
    # The partial copy's own split: its last VALIDATION-sized share validates.
    num_val_source = min(VALIDATION, len(X_train) // 5)
    train_source, val_source = slice(0, len(X_train) - num_val_source), slice(len(X_train) - num_val_source, None)

    num_train, num_val = round(scale * (FULL_TRAIN - VALIDATION)), round(scale * VALIDATION)
    num_test = round(scale * FULL_TEST)
    train_images, train_idx = varied_copies(X_train[train_source], num_train, rng)
    val_images, val_idx = varied_copies(X_train[val_source], num_val, rng)
    all_images = np.concatenate([train_images, val_images])
    all_labels = np.concatenate([y_train[train_source][train_idx], y_train[val_source][val_idx]])
    test_images, test_idx = varied_copies(X_test, num_test, rng)

    destination.mkdir(parents=True, exist_ok=True)
    label = (f"synthetic full-size copy: flipped, shifted and colour-jittered variations of the "
             f"{len(X_train)} training and {len(X_test)} test images in {source}")
    for index, chunk in enumerate(np.array_split(np.arange(len(all_images)), BATCHES), start=1):
        write_batch(destination / f"data_batch_{index}", all_images[chunk], all_labels[chunk],
                    f"{label} (training batch {index} of {BATCHES})")
    write_batch(destination / "test_batch", test_images, y_test[test_idx], f"{label} (test batch)")
    with open(destination / "batches.meta", "wb") as f:
        pickle.dump({"label_names": LABEL_NAMES, "num_cases_per_batch": len(all_images) // BATCHES,
                     "num_vis": 3072}, f, protocol=2)
    return len(all_images), len(test_images)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a (partial) CIFAR-10 folder with real images")
    parser.add_argument("work_dir", type=Path, help="where the full-size folder and executed notebooks go")
    parser.add_argument("notebooks", nargs="*", help="notebooks to time (default: all that exist)")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (default 1)")
    args = parser.parse_intermixed_args(argv)
    # The runner needs the notebook toolchain; writing the data needs only NumPy.
    from tools.run_notebooks import format_duration

    data_dir = args.work_dir / "cifar-10-batches-py"
    start = time.perf_counter()
    num_train, num_test = write_full_size_folder(args.source, data_dir, args.scale)
    print(f"wrote {num_train:,} training and {num_test:,} test images to {data_dir} "
          f"in {format_duration(time.perf_counter() - start)}", flush=True)

    notebooks = args.notebooks or [name for name in NOTEBOOKS if (REPO_ROOT / name).is_file()]
    environment = dict(os.environ, CIFAR10_DIR=str(data_dir.resolve()))
    times = []
    for name in notebooks:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "tools.run_notebooks", "--output-dir", str(args.work_dir / "executed"), name],
            cwd=REPO_ROOT, env=environment)
        elapsed = time.perf_counter() - start
        status = "ok" if result.returncode == 0 else "FAILED"
        times.append((name, status, elapsed))
        print(f"{name}: {status} in {format_duration(elapsed)}", flush=True)

    print(f"\nWall time per notebook ({num_train:,} training / {num_test:,} test images, "
          f"{os.cpu_count()} CPU cores visible)")
    for name, status, elapsed in times:
        print(f"  {name:<28} {status:<6} {format_duration(elapsed):>8}")
    print(f"  {'total':<28} {'':<6} {format_duration(sum(t for _, _, t in times)):>8}")
    return 0 if all(status == "ok" for _, status, _ in times) else 1


if __name__ == "__main__":
    sys.exit(main())
