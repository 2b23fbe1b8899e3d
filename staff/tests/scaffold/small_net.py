"""The small fully connected net that the Solver's and the checkpoints' tests train on the
small_data fixture (the top-level conftest.py)."""
import numpy as np

from cs231n.classifiers.fc_net import FullyConnectedNet

# The shape of the small_data fixture.
NUM_CLASSES, INPUT_DIM = 5, 12


def make_model(hidden_dims=(30, 30), net_class=FullyConnectedNet, **options):
    """A float64 net for small_data with the given hidden layers and FullyConnectedNet options."""
    return net_class(list(hidden_dims), input_dim=INPUT_DIM, num_classes=NUM_CLASSES, weight_scale=0.1,
                     dtype=np.float64, **options)
