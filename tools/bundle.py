"""Facts about the bundle that several tools share."""

# The assignment notebooks, in the order students work through them (and the PDF shows them).
NOTEBOOKS = (
    "FullyConnectedNets.ipynb",
    "BatchNormalization.ipynb",
    "Dropout.ipynb",
    "ConvolutionalNetworks.ipynb",
    "PyTorch.ipynb",
)

# The markdown cell that holds the answer to an inline question carries this tag.
ANSWER_TAG = "inline-answer"
# Cells papermill adds to a notebook it executes: its injected parameters (the runner's
# smoke mode sets SMOKE = True there) and the banners around a failed cell.
INJECTED_PARAMETERS_TAG = "injected-parameters"
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
