"""Facts about the bundle that several tools share."""

# The assignment notebooks, in the order students work through them (and the PDF shows them).
NOTEBOOKS = (
    "FullyConnectedNets.ipynb",
    "BatchNormalization.ipynb",
    "Dropout.ipynb",
    "ConvolutionalNetworks.ipynb",
    "PyTorch.ipynb",
)
