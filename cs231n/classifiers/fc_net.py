"""Fully connected networks built from the modular layers."""
import numpy as np

from ..layer_utils import *
from ..layer_utils import NORMALIZATIONS
from ..layers import *


class FullyConnectedNet:
    """A fully connected network with any number of hidden layers.

    Architecture, with L - 1 hidden layers:

        {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

    Normalization and dropout are optional. Learnable parameters live in
    ``self.params``: weights ``W1..WL`` and biases ``b1..bL`` for every affine layer,
    plus scales ``gamma1..`` and shifts ``beta1..`` for every hidden layer when the
    network is normalized (the output layer is never normalized).
    """

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout_keep_ratio=1,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
    ):
        """Initialize a new FullyConnectedNet.

        Inputs:
        - hidden_dims: list of the sizes of the hidden layers.
        - input_dim: size of the (flattened) input.
        - num_classes: number of classes to score.
        - dropout_keep_ratio: probability of keeping each hidden unit; 1 means no dropout.
        - normalization: None, "batchnorm" or "layernorm".
        - reg: L2 regularization strength, applied to the weights only.
        - weight_scale: standard deviation of the normal weight initialization.
        - dtype: numpy float type of every parameter and computation; use float64
          for numeric gradient checks.
        - seed: when given, dropout draws its masks from this seed, which makes the
          network deterministic so that it can be gradient checked.
        """
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio must be in (0, 1], got {dropout_keep_ratio}")
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        # ---- Task: initialize the parameters ---------------------------------------
        # Store every learnable parameter in self.params. The affine layers are
        # numbered from 1: W1, b1 for the first, ..., WL, bL for the output layer
        # (L = self.num_layers). Weights are drawn from a normal distribution with
        # mean 0 and standard deviation weight_scale; biases start at zero. With
        # normalization ("batchnorm" or "layernorm"), every hidden layer l also gets a
        # scale gamma<l> (ones) and a shift beta<l> (zeros), sized like its output;
        # the output layer is never normalized. The loop after this block casts
        # everything to self.dtype.
        # Checked in FullyConnectedNets.ipynb under the heading: 1.1 Initial loss and gradient check
        # -----------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        layer_dims = [input_dim, *hidden_dims, num_classes]
        for layer, (fan_in, fan_out) in enumerate(zip(layer_dims[:-1], layer_dims[1:]), start=1):
            self.params[f"W{layer}"] = weight_scale * np.random.randn(fan_in, fan_out)
            self.params[f"b{layer}"] = np.zeros(fan_out)
            if self.normalization is not None and layer < self.num_layers:
                self.params[f"gamma{layer}"] = np.ones(fan_out)
                self.params[f"beta{layer}"] = np.zeros(fan_out)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        # Dropout and batchnorm behave differently in training and testing, so
        # loss() sets their "mode" on every call.
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        # One parameter dict per normalized layer; batchnorm keeps its running
        # mean and variance in it.
        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        if self.normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]

        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        """Compute the loss and gradients for a minibatch, or the scores at test time.

        Inputs:
        - X: input of shape (N, d_1, ..., d_k)
        - y: labels of shape (N,), or None

        Returns:
        - scores of shape (N, C) when y is None (test mode);
        - otherwise a tuple (loss, grads) where grads maps each name in self.params
          to the gradient of the loss with respect to that parameter.
        """
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"

        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode
        scores = None

        # ---- Task: forward pass ------------------------------------------------------
        # Compute the class scores for X and store them in `scores`. Each hidden layer
        # is affine, then batch/layer normalization when self.normalization says so
        # (with self.bn_params[i] as its parameter dict), then ReLU, then dropout when
        # self.use_dropout (with self.dropout_param); the last layer is affine only.
        # Keep every layer's cache for the backward pass. You might find it useful to
        # write one more helper layer like the sandwiches of cs231n/layer_utils.py (an
        # affine-[norm]-ReLU-[dropout] pair of forward and backward functions), beside
        # them in that file or here, inside this region (its backward then inside the
        # backward pass's region).
        # Checked in FullyConnectedNets.ipynb under the heading: 1.1 Initial loss and gradient check
        # -----------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        dropout_param = self.dropout_param if self.use_dropout else None
        caches = []
        hidden = X
        for layer in range(1, self.num_layers):
            norm_args = {}
            if self.normalization is not None:
                norm_args = {
                    "gamma": self.params[f"gamma{layer}"],
                    "beta": self.params[f"beta{layer}"],
                    "norm_param": self.bn_params[layer - 1],
                    "normalization": self.normalization,
                }
            hidden, cache = affine_norm_relu_dropout_forward(
                hidden,
                self.params[f"W{layer}"],
                self.params[f"b{layer}"],
                dropout_param=dropout_param,
                **norm_args,
            )
            caches.append(cache)
        last = self.num_layers
        scores, output_cache = affine_forward(hidden, self.params[f"W{last}"], self.params[f"b{last}"])
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        if mode == "test":
            return scores

        loss, grads = 0.0, {}
        # ---- Task: backward pass -----------------------------------------------------
        # Compute the data loss with softmax_loss and add L2 regularization of the
        # weights W1..WL only, 0.5 * self.reg * sum of squares (the factor 0.5 keeps
        # the gradient simple; the reference values assume it). Then backpropagate
        # through the layers in reverse order and store in grads[name] the gradient
        # of the total loss for every name in self.params, shaped like the parameter;
        # remember the regularization term's share of each weight's gradient.
        # Checked in FullyConnectedNets.ipynb under the heading: 1.1 Initial loss and gradient check
        # -----------------------------------------------------------------------------
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        loss, dscores = softmax_loss(scores, y)
        weights = [self.params[f"W{layer}"] for layer in range(1, self.num_layers + 1)]
        loss += 0.5 * self.reg * sum(np.sum(W * W) for W in weights)

        dhidden, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dscores, output_cache)
        for layer in range(self.num_layers - 1, 0, -1):
            dhidden, dW, db, dgamma, dbeta = affine_norm_relu_dropout_backward(
                dhidden, caches[layer - 1]
            )
            grads[f"W{layer}"], grads[f"b{layer}"] = dW, db
            if self.normalization is not None:
                grads[f"gamma{layer}"], grads[f"beta{layer}"] = dgamma, dbeta
        for layer in range(1, self.num_layers + 1):
            grads[f"W{layer}"] += self.reg * self.params[f"W{layer}"]
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        return loss, grads


class TwoLayerNet(FullyConnectedNet):
    """A two-layer network: affine - relu - affine - softmax.

    The FullyConnectedNet with a single hidden layer, no normalization and no
    dropout, computing in float64. Parameters are W1, b1 (first layer) and W2, b2
    (second layer).
    """

    def __init__(
        self,
        input_dim=3 * 32 * 32,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
    ):
        """Inputs:
        - input_dim: size of the (flattened) input.
        - hidden_dim: size of the hidden layer.
        - num_classes: number of classes to score.
        - weight_scale: standard deviation of the normal weight initialization.
        - reg: L2 regularization strength, applied to the weights only.
        """
        super().__init__(
            [hidden_dim],
            input_dim=input_dim,
            num_classes=num_classes,
            reg=reg,
            weight_scale=weight_scale,
            dtype=np.float64,
        )
