"""Train the FullyConnectedNets notebook's final model and report its speed and accuracy.

Usage::

    python benchmarks/bench_fc.py [CIFAR10_DIR] [--epochs N] [--learning-rate LR] ...

The CIFAR-10 folder is the positional argument, else $CIFAR10_DIR, else the package
default. The model is the notebook's "Train a good model!" recipe: two hidden layers
(512 and 256 units) with batch normalization and dropout, trained with Adam, a 5%
learning-rate decay per epoch and minibatches of 200. The default hyperparameters are
those the notebook's random search (seeded with 231) picks on the partial dataset
(5,170 training images), rounded; override them with the flags to benchmark another
search winner.

Prints the accuracies the Solver measured after every epoch, the training time per
epoch (training steps plus those accuracy checks), and the train / validation / test
accuracy of the final model, which holds the parameters of the best validation epoch.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cs231n.classifiers.fc_net import FullyConnectedNet  # noqa: E402
from cs231n.data_utils import get_CIFAR10_data  # noqa: E402
from cs231n.datasets import CIFAR10_DIR_ENV  # noqa: E402
from cs231n.solver import Solver  # noqa: E402

HIDDEN_DIMS = [512, 256]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cifar10_dir", nargs="?", help=f"CIFAR-10 folder (default: ${CIFAR10_DIR_ENV})")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--learning-rate", type=float, default=1.0e-3)
    parser.add_argument("--weight-scale", type=float, default=1.7e-2)
    parser.add_argument("--reg", type=float, default=1.5e-3)
    parser.add_argument("--keep-ratio", type=float, default=0.86)
    parser.add_argument("--seed", type=int, default=231)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.cifar10_dir is not None:
        os.environ[CIFAR10_DIR_ENV] = args.cifar10_dir

    start = time.perf_counter()
    data = get_CIFAR10_data()
    print(f"Loaded data in {time.perf_counter() - start:.1f} s: "
          f"{len(data['X_train'])} train / {len(data['X_val'])} val / {len(data['X_test'])} test")

    np.random.seed(args.seed)
    model = FullyConnectedNet(
        HIDDEN_DIMS,
        normalization="batchnorm",
        dropout_keep_ratio=args.keep_ratio,
        reg=args.reg,
        weight_scale=args.weight_scale,
    )
    print(f"Model: hidden {HIDDEN_DIMS}, batchnorm, keep {args.keep_ratio}, reg {args.reg:g}, "
          f"weight scale {args.weight_scale:g}; Adam lr {args.learning_rate:g}, {args.epochs} epochs")

    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": args.learning_rate},
                    lr_decay=0.95, num_epochs=args.epochs, batch_size=200, verbose=False)
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    for epoch, (train_acc, val_acc) in enumerate(zip(solver.train_acc_history, solver.val_acc_history)):
        print(f"epoch {epoch:2d}: train acc {train_acc:.3f}, val acc {val_acc:.3f}")

    def accuracy(split):
        return solver.check_accuracy(data[f"X_{split}"], data[f"y_{split}"])

    print(f"\ntraining time: {seconds:.1f} s, {seconds / args.epochs:.2f} s per epoch")
    print(f"final model (best validation epoch): train acc {accuracy('train'):.3f}, "
          f"val acc {accuracy('val'):.3f}, test acc {accuracy('test'):.3f}")


if __name__ == "__main__":
    main()
