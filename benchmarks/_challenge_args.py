"""The command line that both challenge benchmarks take (bench_pytorch.py and
bench_tensorflow.py): the data, the epochs, the model's width, the threads and the seed."""
import argparse
from pathlib import Path


def challenge_parser(description, epochs_default, epochs_help, threads_help):
    """An argument parser with the options both benchmarks share; the epochs' default and
    the two framework-dependent help texts are the caller's."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="CIFAR-10 folder (default: $CIFAR10_DIR or the bundle's default)")
    parser.add_argument("--epochs", type=int, default=epochs_default, help=epochs_help)
    parser.add_argument("--width", type=float, default=None,
                        help="channel multiplier (default: 1.0 on a GPU, 0.25 on a CPU)")
    parser.add_argument("--threads", type=int, default=None, help=threads_help)
    parser.add_argument("--seed", type=int, default=0)
    return parser
