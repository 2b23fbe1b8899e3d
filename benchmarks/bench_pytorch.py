"""Train PyTorch.ipynb's challenge model and report its speed and accuracy.

Usage:
    python benchmarks/bench_pytorch.py [--data-dir DIR] [--epochs N] [--width W] [--threads T]

The model (`make_challenge_model`) and the recipe (`challenge_settings`,
`make_challenge_optimizer`) are taken from the notebook itself, and trained with the same
on-device data pipeline (cs231n.torch_data) and training step (cs231n.torch_utils) the
notebook uses. Prints, per epoch, the training throughput in images/s (wall clock,
augmentation included) and the validation accuracy with flip test-time augmentation, then
the test accuracy once at the end.

The data comes from --data-dir, else $CIFAR10_DIR, else the bundle's default folder; a
partial copy shrinks the splits (train / 1,000 val / test). --width defaults to the
notebook's choice: 1.0 on a GPU, 0.25 on a CPU.
"""
import sys
import time
from functools import partial
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._challenge_args import challenge_parser  # noqa: E402
from cs231n.data_utils import cifar10_dir  # noqa: E402
from cs231n.torch_data import TensorLoader, load_cifar10_tensors, random_crop_flip  # noqa: E402
from cs231n.torch_utils import evaluate, pick_device, prepare_model, train_one_epoch  # noqa: E402
from tools.notebook_defs import load_definitions  # noqa: E402


def parse_args(argv=None):
    parser = challenge_parser(__doc__.splitlines()[0], epochs_default=None,
                              epochs_help="epochs to train (default: the notebook's challenge_settings)",
                              threads_help="CPU threads for torch (default: torch's own choice)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = pick_device()
    notebook = load_definitions(ROOT / "PyTorch.ipynb",
                                {"device": device, "dtype": torch.float32, "print_every": 100})
    settings = notebook["challenge_settings"]()
    epochs = settings["epochs"] if args.epochs is None else args.epochs
    width = args.width if args.width is not None else (0.25 if device.type == "cpu" else 1.0)
    if epochs < 1 or width <= 0:
        raise ValueError(f"--epochs must be at least 1 and --width positive, got {epochs} and {width}")

    data_dir = args.data_dir if args.data_dir is not None else cifar10_dir()
    start = time.perf_counter()
    data = load_cifar10_tensors(data_dir)
    print(f"data: {len(data['y_train'])} train / {len(data['y_val'])} val / "
          f"{len(data['y_test'])} test images from {data_dir} "
          f"({time.perf_counter() - start:.1f} s to load)")

    model = prepare_model(notebook["make_challenge_model"](width), device)
    num_params = sum(p.numel() for p in model.parameters())
    train_loader = TensorLoader(
        data["X_train"], data["y_train"], batch_size=settings["batch_size"], shuffle=True,
        device=device, augment=partial(random_crop_flip, padding=settings["crop_padding"]),
        drop_last=True, name="train")
    val_loader = TensorLoader(data["X_val"], data["y_val"], batch_size=1000, device=device, name="val")
    test_loader = TensorLoader(data["X_test"], data["y_test"], batch_size=1000, device=device, name="test")
    optimizer, scheduler = notebook["make_challenge_optimizer"](model, epochs * len(train_loader), settings)
    print(f"model: width x{width}, {num_params:,} parameters; batch {settings['batch_size']}, "
          f"{len(train_loader)} steps per epoch, {epochs} epochs, torch threads {torch.get_num_threads()}")

    train_seconds, images_seen = 0.0, 0
    for epoch in range(epochs):
        stats = train_one_epoch(model, optimizer, train_loader, scheduler, settings["label_smoothing"])
        epoch_images = len(train_loader) * settings["batch_size"]
        train_seconds += epoch_images / stats["images_per_sec"]
        images_seen += epoch_images
        val_acc = evaluate(model, val_loader, flip_tta=True)
        print(f"epoch {epoch + 1:2d}: loss {stats['loss']:.3f}  {stats['images_per_sec']:8,.0f} images/s  "
              f"val {100 * val_acc:.2f}%")

    eval_start = time.perf_counter()
    test_acc = evaluate(model, test_loader, flip_tta=True)
    eval_seconds = time.perf_counter() - eval_start
    print(f"training: {images_seen:,} images in {train_seconds:.1f} s = "
          f"{images_seen / train_seconds:,.0f} images/s on {device}")
    print(f"test-time evaluation with flips: {2 * len(data['y_test']) / eval_seconds:,.0f} images/s")
    print(f"final: val {100 * val_acc:.2f}%  test {100 * test_acc:.2f}%")


if __name__ == "__main__":
    main()
