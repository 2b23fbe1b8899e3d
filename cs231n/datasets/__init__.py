"""Where the datasets live.

The CIFAR-10 folder is chosen here and nowhere else: the ``CIFAR10_DIR`` environment
variable when it is set, ``cs231n/datasets/cifar-10-batches-py`` otherwise. This module
uses only the standard library so that the downloader runs before anything is installed.
"""
import os
from pathlib import Path

CIFAR10_DIR_ENV = "CIFAR10_DIR"
DEFAULT_CIFAR10_DIR = Path(__file__).resolve().parent / "cifar-10-batches-py"
CIFAR10_FILES = ("batches.meta", "data_batch_1", "data_batch_2", "data_batch_3",
                 "data_batch_4", "data_batch_5", "test_batch")


def cifar10_dir():
    """The CIFAR-10 folder every loader uses: $CIFAR10_DIR, else the bundle's default."""
    configured = os.environ.get(CIFAR10_DIR_ENV)
    return Path(configured).expanduser().resolve() if configured else DEFAULT_CIFAR10_DIR
