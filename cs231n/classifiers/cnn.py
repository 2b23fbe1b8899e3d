"""A small convolutional network built from the fast layers and sandwiches."""
import numpy as np

from ..layer_utils import *
from ..layers import *


class ThreeLayerConvNet:
    """A three-layer convolutional network:

        conv - relu - 2x2 max pool - affine - relu - affine - softmax

    The convolution keeps the spatial size ('same' padding, stride 1) and the pool
    halves it. Inputs are minibatches of shape (N, C, H, W). Learnable parameters
    live in ``self.params``: ``W1, b1`` (convolution), ``W2, b2`` (hidden affine)
    and ``W3, b3`` (output affine).
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        """Initialize a new network.

        Inputs:
        - input_dim: (C, H, W), the size of one input image; H and W must be even
        - num_filters: number of filters of the convolutional layer
        - filter_size: odd width and height of the filters, so that padding can keep
          the spatial size
        - hidden_dim: number of units of the hidden affine layer
        - num_classes: number of scores produced by the output layer
        - weight_scale: standard deviation of the random initial weights
        - reg: strength of the L2 regularization
        - dtype: numpy datatype of the parameters and of all computations
        """
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        channels, height, width = input_dim
        if filter_size % 2 == 0 or height % 2 or width % 2:
            raise ValueError(
                f"need an odd filter_size and even input height and width, got "
                f"filter_size={filter_size}, input_dim={input_dim}")
        # ---- Task: initialize the parameters ---------------------------------------
        # Store the weights and biases in self.params: W1, b1 for the convolution
        # (num_filters filters of size filter_size x filter_size over the input's
        # channels), W2, b2 for the hidden affine layer, W3, b3 for the output affine
        # layer. Weights are normal with mean 0 and standard deviation weight_scale,
        # biases zero. The convolution keeps the input's height and width (its padding
        # is chosen in loss()) and the 2x2 pool halves them: size W2 from that.
        # Checked in ConvolutionalNetworks.ipynb under the heading: Three-layer convolutional network
        # -----------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        pooled_size = num_filters * (height // 2) * (width // 2)
        shapes = {
            "W1": (num_filters, channels, filter_size, filter_size),
            "W2": (pooled_size, hidden_dim),
            "W3": (hidden_dim, num_classes),
        }
        for index, (name, shape) in enumerate(shapes.items(), start=1):
            self.params[name] = weight_scale * np.random.randn(*shape)
            self.params[f"b{index}"] = np.zeros(shape[0] if index == 1 else shape[1])
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        """Scores, or loss and gradients, for a minibatch.

        Inputs:
        - X: input data of shape (N, C, H, W)
        - y: integer labels of shape (N,), or None

        Returns the class scores (N, num_classes) when y is None; otherwise a tuple
        (loss, grads) where grads maps every parameter name to its gradient.
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        X = np.asarray(X, dtype=self.dtype)

        # 'Same' padding and a 2x2, stride 2 pool.
        filter_size = W1.shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        scores = None
        # ---- Task: forward pass ------------------------------------------------------
        # Compute the class scores for X, conv - relu - 2x2 max pool - affine - relu -
        # affine, and store them in `scores`. The fast layers and the sandwich
        # functions of cs231n/layer_utils.py (conv_relu_pool_forward,
        # affine_relu_forward) do most of the work; keep each cache.
        # Checked in ConvolutionalNetworks.ipynb under the heading: Three-layer convolutional network
        # -----------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        pooled, pool_cache = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
        scores, scores_cache = affine_forward(hidden, W3, b3)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        if y is None:
            return scores

        loss, grads = 0, {}
        # ---- Task: backward pass -----------------------------------------------------
        # Compute the softmax loss plus L2 regularization 0.5 * self.reg * (sum of
        # squares of W1, W2 and W3), and store in grads[name] the gradient for every
        # parameter, including the regularization term's share of each weight's.
        # Checked in ConvolutionalNetworks.ipynb under the heading: Three-layer convolutional network
        # -----------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        loss, dscores = softmax_loss(scores, y)
        weights = {"W1": W1, "W2": W2, "W3": W3}
        # vdot sums the squares without a temporary array the size of W2.
        loss += 0.5 * self.reg * sum(float(np.vdot(W, W)) for W in weights.values())

        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        # The images need no gradient, so the first layer skips its input gradient.
        grads["W1"], grads["b1"] = conv_relu_pool_weight_backward(dpooled, pool_cache)
        if self.reg:
            for name, W in weights.items():
                grads[name] += self.reg * W
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        return loss, grads
