"""First-order update rules for training neural networks.

Every rule has the same interface::

    next_w, config = update(w, dw, config=None)

Inputs:
- w: array of current weights.
- dw: array shaped like w, the gradient of the loss with respect to w.
- config: dict of hyperparameters (learning rate, momentum, ...). Rules that keep
  state between iterations (velocities, moving averages, a step counter) store it
  in this dict too, so the same dict must be passed back on the next call.

Returns:
- next_w: the updated weights.
- config: the config dict to pass to the next call.

Defaults are filled in with ``setdefault``: the default learning rates are only a
starting point, the other defaults usually work well as they are.
"""
import numpy as np


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent.

    config format:
    - learning_rate: scalar learning rate (default 1e-2).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)

    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum.

    config format:
    - learning_rate: scalar learning rate (default 1e-2).
    - momentum: scalar in [0, 1); 0 turns this into plain SGD (default 0.9).
    - velocity: array shaped like w holding the running velocity (starts at zero).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))

    next_w = None
    # ---- Task: SGD with momentum ---------------------------------------------------
    # Update the velocity v: decay the previous velocity by the momentum and add a
    # step of learning_rate down the gradient; then move w by the new velocity.
    # Store the new weights in next_w and the new velocity in v (the line after the
    # region puts it back into config for the next call).
    # Checked in FullyConnectedNets.ipynb under the heading: 2.1 SGD with momentum
    # -------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    config["velocity"] = v

    return next_w, config


def sgd_nesterov_momentum(w, dw, config=None):
    """Stochastic gradient descent with Nesterov momentum.

    Uses the usual change of variables in which w stores the look-ahead point, so
    the gradient dw passed in is the one evaluated there.

    config format:
    - learning_rate: scalar learning rate (default 1e-2).
    - momentum: scalar in [0, 1); 0 turns this into plain SGD (default 0.9).
    - velocity: array shaped like w holding the running velocity (starts at zero).
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))

    next_w = None
    # ---- Extra task (not in the original assignment): Nesterov momentum ------------
    # The velocity update is the one of sgd_momentum. The difference is where the
    # gradient is taken: at the point momentum is about to carry w to. With the usual
    # change of variables w stores that look-ahead point, so the step combines the
    # new velocity and the previous one. Store the new weights in next_w and the new
    # velocity in v.
    # Checked in FullyConnectedNets.ipynb under the heading: 2.2 Nesterov momentum
    # -------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    previous_v = v
    v = config["momentum"] * v - config["learning_rate"] * dw
    # Step to the next look-ahead point: undo the old look-ahead, apply the new one.
    next_w = w - config["momentum"] * previous_v + (1 + config["momentum"]) * v
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    config["velocity"] = v

    return next_w, config


def adagrad(w, dw, config=None):
    """AdaGrad: per-parameter step sizes scaled by the sum of all squared gradients.

    config format:
    - learning_rate: scalar learning rate (default 1e-2).
    - epsilon: small scalar that keeps the division finite (default 1e-8).
    - cache: array shaped like w, the running sum of squared gradients.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))

    next_w = None
    # ---- Extra task (not in the original assignment): AdaGrad ----------------------
    # Add the squared gradient to config["cache"] (a running sum that only grows),
    # then step each weight by learning_rate * dw divided by the square root of its
    # cache plus epsilon. Store the new weights in next_w.
    # Checked in tests/test_optim.py (no notebook section checks it).
    # -------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    config["cache"] = config["cache"] + dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: per-parameter step sizes scaled by a moving average of squared gradients.

    config format:
    - learning_rate: scalar learning rate (default 1e-2).
    - decay_rate: scalar in [0, 1), decay of the squared-gradient average (default 0.99).
    - epsilon: small scalar that keeps the division finite (default 1e-8).
    - cache: array shaped like w, the moving average of squared gradients.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))

    next_w = None
    # ---- Task: RMSProp -------------------------------------------------------------
    # Keep a moving average of the squared gradient in config["cache"] (decayed by
    # decay_rate each step), then step each weight by learning_rate * dw divided by
    # the square root of that average plus epsilon (epsilon keeps the division
    # finite where the average is zero). Store the new weights in next_w.
    # Checked in FullyConnectedNets.ipynb under the heading: 2.3 RMSProp and Adam
    # -------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    decay = config["decay_rate"]
    config["cache"] = decay * config["cache"] + (1 - decay) * dw**2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    return next_w, config


def adam(w, dw, config=None):
    """Adam: moving averages of the gradient and its square, with bias correction.

    config format:
    - learning_rate: scalar learning rate (default 1e-3).
    - beta1: decay rate of the first-moment (gradient) average (default 0.9).
    - beta2: decay rate of the second-moment (squared gradient) average (default 0.999).
    - epsilon: small scalar that keeps the division finite (default 1e-8).
    - m: array shaped like w, the first-moment average.
    - v: array shaped like w, the second-moment average.
    - t: number of updates made so far.
    """
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)

    next_w = None
    # ---- Task: Adam ----------------------------------------------------------------
    # Increment the step counter t first, then update the moving averages of the
    # gradient (m, with beta1) and of its square (v, with beta2). Both start at zero,
    # so in early steps they are too small: divide each by (1 - beta ** t) before
    # use (bias correction). Step by learning_rate * corrected m over (square root
    # of corrected v plus epsilon), store the new weights in next_w and keep m, v and
    # t in config. The reference values of the notebook assume t is incremented
    # before it is used.
    # Checked in FullyConnectedNets.ipynb under the heading: 2.3 RMSProp and Adam
    # -------------------------------------------------------------------------------
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    beta1, beta2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    config["m"] = beta1 * config["m"] + (1 - beta1) * dw
    config["v"] = beta2 * config["v"] + (1 - beta2) * dw**2
    # Both averages start at zero; dividing by (1 - beta**t) removes that bias early on.
    # m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t)
    # equals m / (sqrt(v) + eps * sqrt(1 - beta2**t)) * sqrt(1 - beta2**t) / (1 - beta1**t):
    # folding the corrections into two scalars saves two passes over large weights.
    correction = (1 - beta2**t) ** 0.5  # a Python float: float32 weights stay float32
    step_size = config["learning_rate"] * correction / (1 - beta1**t)
    next_w = w - step_size * config["m"] / (np.sqrt(config["v"]) + config["epsilon"] * correction)
    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    return next_w, config
