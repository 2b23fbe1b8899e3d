"""Forward/backward pairs for the layers of the assignment.

Every forward function returns ``(out, cache)``; the matching backward function takes
the upstream gradient and that cache and returns the gradients of the inputs.
"""
import numpy as np


# ----------------------------------------------------------------------------------
# Affine, ReLU and classification losses
# ----------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------
# Normalization and dropout
# ----------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------
# Convolution and pooling (naive, loop-based teaching versions)
# ----------------------------------------------------------------------------------
