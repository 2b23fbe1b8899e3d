"""The student calls of every graded check: fixed inputs in, raw values out.

A probe calls the functions under test and returns what they produced as a dict of
NumPy arrays, numbers, strings or lists of those; it judges nothing. The autograder runs
each probe twice on the same inputs: in the sandbox on the submission's code, and in
its own process on the reference solution. Comparing the two is the grader's job
(staff/grading/rubric.py).

``cs`` gives the package under test (``cs.layers``, ``cs.optim``, ``cs.fc_net``,
``cs.cnn``, ``cs.solver``) and the definitions of a notebook (``cs.notebook(name)``);
``rng`` is a NumPy Generator whose state depends only on the grading run's random
seed and the check, so that both runs see the same inputs.
"""
import contextlib
import copy
import signal

import numpy as np

# Initialization probes return each parameter under this prefix, so that a model's
# parameter names never collide with the other values a probe returns.
PARAMETER_PREFIX = "param_"


def parameter_values(model):
    """The model's parameters, each under PARAMETER_PREFIX + its name."""
    return {PARAMETER_PREFIX + name: value for name, value in model.params.items()}


def parameter_name(key):
    """The model's name of a parameter that parameter_values returned under ``key``."""
    return key.removeprefix(PARAMETER_PREFIX)


def _normal(rng, *shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def _fixed_params(model, low=-0.7, high=0.3):
    """Give every parameter fixed, distinct values, as the notebooks' checks do."""
    for index, name in enumerate(sorted(model.params)):
        value = model.params[name]
        model.params[name] = np.linspace(low, high, num=value.size).reshape(value.shape) * (1 + 0.1 * index)


# A backward probe returns, under this key, how it ran the backward pass when it could not
# use the cache of the submission's own forward pass; the grader adds it to the check's message.
CACHE_NOTE = "cache_note"


# How long the forward pass of a backward check with a documented cache may run before
# that cache stands in for its own, so that a forward pass that never ends costs its
# own check only. The worker sets it from the check's timeout; None: no limit.
forward_budget = None


class _ForwardTimedOut(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds):
    """Raise _ForwardTimedOut in the block after ``seconds`` (no limit for None)."""
    if seconds is None:
        yield
        return

    def expire(signal_number, frame):
        raise _ForwardTimedOut(f"it did not finish within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class ForwardFailed(Exception):
    """The forward pass a backward check needs failed, and no cache of a documented layout
    could stand in for its cache."""


def _describe_error(error):
    first_line = (str(error).strip().splitlines() or [""])[0][:200]
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


def _misshapen(gradients, inputs, names):
    """What is wrong with the gradients, or None when there is one per input, shaped like it."""
    if len(gradients) != len(names):
        return f"returned {len(gradients)} values instead of {len(names)} ({', '.join(names)})"
    for name, gradient, value in zip(names, gradients, inputs):
        if np.shape(gradient) != np.shape(value):
            return f"returned {name} of shape {np.shape(gradient)} for an input of shape {np.shape(value)}"
    return None


def student_backward(cs, forward, backward, args, dout, names, documented=None, layout=None):
    """Run the submission's ``forward`` on ``args`` and hand the cache it returns, with
    ``dout``, to its ``backward``, as the notebooks do: (out, values), the forward's output
    and the gradients by ``names``, one per leading array of ``args``.

    A student may keep any cache their own backward pass understands. Where the scaffold
    documents the cache (``documented``, laid out as ``layout`` says), the backward pass
    is run on that cache instead when the forward pass fails, or when the backward pass
    raises on the forward's cache or returns gradients of the wrong shapes there; then
    values[CACHE_NOTE] says why, and out is None if the forward failed. If the documented
    cache does no better, what the backward pass did on the student's own cache stands.
    Without a documented layout a failed forward pass raises ForwardFailed.
    """
    forward_function, backward_function = getattr(cs.layers, forward), getattr(cs.layers, backward)
    inputs = args[:len(names)]

    def gradients_on(cache):
        result = backward_function(np.array(dout, copy=True), cache)
        return (result,) if len(names) == 1 else tuple(result)

    try:
        with _time_limit(forward_budget if documented is not None else None):
            out, cache = forward_function(*copy.deepcopy(args))
    except Exception as error:
        if documented is None:
            raise ForwardFailed(f"{forward} failed first, so the backward pass could not be checked: "
                                f"{_describe_error(error)}") from error
        out, own, reason = None, None, f"`{forward}` failed ({_describe_error(error)})"
    else:
        if documented is None:
            return out, dict(zip(names, gradients_on(cache)))
        try:
            own = gradients_on(cache)
            problem = _misshapen(own, inputs, names)
        except Exception as error:
            own, problem = error, f"raised {_describe_error(error)}"
        if problem is None:
            return out, dict(zip(names, own))
        reason = f"`{backward}` {problem} on the cache of your `{forward}`"
    try:
        fallback = gradients_on(copy.deepcopy(documented))
        usable = _misshapen(fallback, inputs, names) is None
    except Exception as error:
        if own is None:
            raise ForwardFailed(f"{reason}, and `{backward}` raised {_describe_error(error)} on a "
                                f"cache in the documented layout {layout}") from error
        usable = False
    if own is not None and not usable:
        if isinstance(own, Exception):
            raise own
        return out, dict(zip(names, own))
    note = f"{reason}, so `{backward}` was checked on a cache in the documented layout {layout}"
    return out, dict(zip(names, fallback), **{CACHE_NOTE: note})


# The gradients of a normalization's backward pass, whose cache is whatever the student's
# backward pass needs (no documented layout).
NORM_GRADIENTS = ("dx", "dgamma", "dbeta")


def _params_and_grads(loss, grads):
    values = {"loss": loss}
    values.update({f"grad_{name}": grad for name, grad in grads.items()})
    return values


# ----------------------------------------------------------------------------- layers

def affine_forward(cs, rng, input_shape, output_dim):
    x = _normal(rng, *input_shape)
    w = _normal(rng, int(np.prod(input_shape[1:])), output_dim)
    b = _normal(rng, output_dim)
    out, _ = cs.layers.affine_forward(x, w, b)
    return {"out": out}


def affine_backward(cs, rng, input_shape, output_dim):
    x = _normal(rng, *input_shape)
    w = _normal(rng, int(np.prod(input_shape[1:])), output_dim)
    b = _normal(rng, output_dim)
    dout = _normal(rng, input_shape[0], output_dim)
    return student_backward(cs, "affine_forward", "affine_backward", (x, w, b), dout,
                            ("dx", "dw", "db"), documented=(x, w, b), layout="(x, w, b)")[1]


def relu(cs, rng, shape):
    x = _normal(rng, *shape)
    dout = _normal(rng, *shape)
    out, values = student_backward(cs, "relu_forward", "relu_backward", (x,), dout, ("dx",),
                                   documented=x, layout="x")
    return dict(values, out=out)


def classification_loss(cs, rng, loss_name, num_examples, num_classes, scale):
    scores = _normal(rng, num_examples, num_classes, scale=scale)
    labels = rng.integers(num_classes, size=num_examples)
    loss, dx = getattr(cs.layers, loss_name)(scores, labels)
    return {"loss": loss, "dx": dx}


# ----------------------------------------------------------------------------- optimizers

def update_rule(cs, rng, rule, shape, steps, config):
    w = _normal(rng, *shape)
    config = dict(config)
    for name in ("velocity", "m"):
        if name in config:
            config[name] = _normal(rng, *shape, scale=config[name])
    # Running averages of squared gradients are never negative.
    for name in ("cache", "v"):
        if name in config:
            config[name] = np.abs(_normal(rng, *shape, scale=config[name]))
    weights = []
    for _ in range(steps):
        dw = _normal(rng, *shape)
        w, config = getattr(cs.optim, rule)(w, dw, config)
        weights.append(np.array(w, copy=True))
    return {"weights": np.stack(weights)}


# ----------------------------------------------------------------------------- models

def fc_net_initialization(cs, rng, hidden_dims, input_dim, num_classes, weight_scale, normalization):
    np.random.seed(int(rng.integers(2**31)))
    model = cs.fc_net.FullyConnectedNet(hidden_dims, input_dim=input_dim, num_classes=num_classes,
                                        weight_scale=weight_scale, normalization=normalization,
                                        dtype=np.float64)
    return parameter_values(model)


def fc_net_loss(cs, rng, hidden_dims, input_dim, num_classes, reg, normalization, keep_ratio,
                with_labels=True):
    model = cs.fc_net.FullyConnectedNet(hidden_dims, input_dim=input_dim, num_classes=num_classes,
                                        reg=reg, normalization=normalization,
                                        dropout_keep_ratio=keep_ratio, dtype=np.float64, seed=123)
    _fixed_params(model)
    X = _normal(rng, 6, input_dim)
    if not with_labels:
        return {"scores": model.loss(X)}
    y = rng.integers(num_classes, size=6)
    return _params_and_grads(*model.loss(X, y))


def fc_net_directional_derivatives(cs, rng, hidden_dims, input_dim, num_classes, keep_ratio,
                                   directions, step=1e-5):
    """Loss and gradient, and the loss a small step along random directions either way.

    With dropout the masks of the submission and of the reference differ, so the two
    cannot be compared value for value; the grader checks instead that the gradient
    agrees with the submission's own loss along each direction.
    """
    model = cs.fc_net.FullyConnectedNet(hidden_dims, input_dim=input_dim, num_classes=num_classes,
                                        dropout_keep_ratio=keep_ratio, dtype=np.float64, seed=123)
    _fixed_params(model)
    X = _normal(rng, 6, input_dim)
    y = rng.integers(num_classes, size=6)
    loss, grads = model.loss(X, y)
    names = sorted(model.params)
    base = {name: model.params[name].copy() for name in names}
    slopes, differences = [], []
    for _ in range(directions):
        direction = {name: _normal(rng, *base[name].shape) for name in names}
        slopes.append(sum(np.sum(np.asarray(grads[name]) * direction[name]) for name in names))
        losses = []
        for sign in (1, -1):
            for name in names:
                model.params[name] = base[name] + sign * step * direction[name]
            losses.append(model.loss(X, y)[0])
        differences.append((losses[0] - losses[1]) / (2 * step))
    return {"loss": loss, "slopes": np.array(slopes), "differences": np.array(differences)}


def solver_history(cs, rng, update_rule, learning_rate, num_epochs=2):
    X = _normal(rng, 60, 12)
    y = rng.integers(4, size=60)
    data = {"X_train": X[:40], "y_train": y[:40], "X_val": X[40:], "y_val": y[40:]}
    model = cs.fc_net.FullyConnectedNet([10], input_dim=12, num_classes=4, dtype=np.float64,
                                        weight_scale=0.1)
    _fixed_params(model, low=-0.2, high=0.2)
    np.random.seed(int(rng.integers(2**31)))
    solver = cs.solver.Solver(model, data, update_rule=update_rule,
                              optim_config={"learning_rate": learning_rate},
                              batch_size=8, num_epochs=num_epochs, verbose=False)
    solver.train()
    return {"loss_history": np.array(solver.loss_history, dtype=float),
            "train_acc_history": np.array(solver.train_acc_history, dtype=float),
            "val_acc_history": np.array(solver.val_acc_history, dtype=float)}


# ----------------------------------------------------------------------------- normalization

def batchnorm_train(cs, rng, num_examples, num_features, backward):
    x = _normal(rng, num_examples, num_features, scale=4.0) + 7.0
    gamma, beta = _normal(rng, num_features), _normal(rng, num_features)
    if backward is None:
        out, _ = cs.layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        return {"out": out}
    dout = _normal(rng, num_examples, num_features)
    return student_backward(cs, "batchnorm_forward", backward, (x, gamma, beta, {"mode": "train"}),
                            dout, NORM_GRADIENTS)[1]


def batchnorm_running_averages(cs, rng, num_features, train_steps):
    gamma, beta = _normal(rng, num_features), _normal(rng, num_features)
    bn_param = {"mode": "train"}
    for _ in range(train_steps):
        x = _normal(rng, 50, num_features, scale=2.0) + 3.0
        cs.layers.batchnorm_forward(x, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    out, _ = cs.layers.batchnorm_forward(_normal(rng, 20, num_features), gamma, beta, bn_param)
    return {"out": out, "running_mean": bn_param["running_mean"],
            "running_var": bn_param["running_var"]}


def layernorm(cs, rng, num_examples, num_features, backward):
    x = _normal(rng, num_examples, num_features, scale=3.0) - 2.0
    gamma, beta = _normal(rng, num_features), _normal(rng, num_features)
    if not backward:
        return {"out": cs.layers.layernorm_forward(x, gamma, beta, {})[0]}
    return student_backward(cs, "layernorm_forward", "layernorm_backward", (x, gamma, beta, {}),
                            _normal(rng, num_examples, num_features), NORM_GRADIENTS)[1]


def spatial_batchnorm(cs, rng, shape, backward):
    x = _normal(rng, *shape, scale=2.0) + 1.0
    gamma, beta = _normal(rng, shape[1]), _normal(rng, shape[1])
    bn_param = {"mode": "train"}
    if not backward:
        out, _ = cs.layers.spatial_batchnorm_forward(x, gamma, beta, bn_param)
        bn_param["mode"] = "test"
        out_test, _ = cs.layers.spatial_batchnorm_forward(x, gamma, beta, bn_param)
        return {"out": out, "out_test": out_test}
    return student_backward(cs, "spatial_batchnorm_forward", "spatial_batchnorm_backward",
                            (x, gamma, beta, bn_param), _normal(rng, *shape), NORM_GRADIENTS)[1]


def spatial_groupnorm(cs, rng, shape, groups, backward):
    x = _normal(rng, *shape, scale=2.0) - 1.0
    gamma = _normal(rng, 1, shape[1], 1, 1)
    beta = _normal(rng, 1, shape[1], 1, 1)
    if not backward:
        return {"out": cs.layers.spatial_groupnorm_forward(x, gamma, beta, groups, {})[0]}
    return student_backward(cs, "spatial_groupnorm_forward", "spatial_groupnorm_backward",
                            (x, gamma, beta, groups, {}), _normal(rng, *shape), NORM_GRADIENTS)[1]


# ----------------------------------------------------------------------------- dropout

def dropout(cs, rng, shape, keep, seed=None):
    x = _normal(rng, *shape) + 10.0
    param = {"mode": "train", "p": keep}
    if seed is not None:
        param["seed"] = seed
    out, cache = cs.layers.dropout_forward(x, param)
    dout = _normal(rng, *shape)
    dx = cs.layers.dropout_backward(dout, cache)
    out_again, _ = cs.layers.dropout_forward(x, dict(param))
    out_test, _ = cs.layers.dropout_forward(x, {"mode": "test", "p": keep})
    return {"x": x, "out": out, "dout": dout, "dx": dx, "out_again": out_again, "out_test": out_test}


# ----------------------------------------------------------------------------- convolution

def conv(cs, rng, x_shape, w_shape, stride, pad, backward):
    x = _normal(rng, *x_shape)
    w = _normal(rng, *w_shape)
    b = _normal(rng, w_shape[0])
    conv_param = {"stride": stride, "pad": pad}
    if not backward:
        return {"out": cs.layers.conv_forward_naive(x, w, b, conv_param)[0]}
    out_shape = (x_shape[0], w_shape[0], 1 + (x_shape[2] + 2 * pad - w_shape[2]) // stride,
                 1 + (x_shape[3] + 2 * pad - w_shape[3]) // stride)
    args = (x, w, b, conv_param)
    return student_backward(cs, "conv_forward_naive", "conv_backward_naive", args,
                            _normal(rng, *out_shape), ("dx", "dw", "db"), documented=args,
                            layout="(x, w, b, conv_param)")[1]


def max_pool(cs, rng, x_shape, pool, stride, backward):
    # A permutation has no ties, so every window has one clear maximum.
    x = rng.permutation(int(np.prod(x_shape))).reshape(x_shape).astype(float)
    pool_param = {"pool_height": pool[0], "pool_width": pool[1], "stride": stride}
    if not backward:
        return {"out": cs.layers.max_pool_forward_naive(x, pool_param)[0]}
    out_shape = (x_shape[0], x_shape[1], 1 + (x_shape[2] - pool[0]) // stride,
                 1 + (x_shape[3] - pool[1]) // stride)
    return student_backward(cs, "max_pool_forward_naive", "max_pool_backward_naive", (x, pool_param),
                            _normal(rng, *out_shape), ("dx",), documented=(x, pool_param),
                            layout="(x, pool_param)")[1]


def convnet_initialization(cs, rng, input_dim, num_filters, filter_size, hidden_dim, weight_scale):
    np.random.seed(int(rng.integers(2**31)))
    model = cs.cnn.ThreeLayerConvNet(input_dim=tuple(input_dim), num_filters=num_filters,
                                     filter_size=filter_size, hidden_dim=hidden_dim,
                                     weight_scale=weight_scale, dtype=np.float64)
    return parameter_values(model)


def convnet_loss(cs, rng, input_dim, num_filters, filter_size, hidden_dim, reg, with_labels):
    model = cs.cnn.ThreeLayerConvNet(input_dim=tuple(input_dim), num_filters=num_filters,
                                     filter_size=filter_size, hidden_dim=hidden_dim, reg=reg,
                                     dtype=np.float64)
    _fixed_params(model, low=-0.3, high=0.3)
    X = _normal(rng, 3, *input_dim)
    if not with_labels:
        return {"scores": model.loss(X)}
    return _params_and_grads(*model.loss(X, rng.integers(10, size=3)))


# ----------------------------------------------------------------------------- PyTorch

def _torch_definitions(cs):
    import torch

    torch.set_num_threads(1)
    namespace = {"device": torch.device("cpu"), "dtype": torch.float32, "print_every": 100}
    return torch, cs.notebook("PyTorch.ipynb", namespace)


def _fill_parameters(torch, module, rng):
    """Overwrite the module's parameters, in their order, with fixed values."""
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.from_numpy(_normal(rng, *parameter.shape, scale=0.1)))


def torch_three_layer_function(cs, rng, batch, channels):
    torch, nb = _torch_definitions(cs)
    c1, c2 = channels
    shapes = [(c1, 3, 5, 5), (c1,), (c2, c1, 3, 3), (c2,), (c2 * 32 * 32, 10), (10,)]
    params = [torch.from_numpy(_normal(rng, *shape, scale=0.05)).float() for shape in shapes]
    x = torch.from_numpy(_normal(rng, batch, 3, 32, 32)).float()
    return {"scores": nb["three_layer_convnet"](x, params).detach().numpy()}


def torch_three_layer_module(cs, rng, batch, channels):
    torch, nb = _torch_definitions(cs)
    model = nb["ThreeLayerConvNet"](in_channel=3, channel_1=channels[0], channel_2=channels[1],
                                    num_classes=10)
    shapes = [list(parameter.shape) for parameter in model.parameters()]
    _fill_parameters(torch, model, rng)
    x = torch.from_numpy(_normal(rng, batch, 3, 32, 32)).float()
    return {"scores": model(x).detach().numpy(), "parameter_shapes": shapes}


def torch_sequential_model(cs, rng, batch):
    torch, nb = _torch_definitions(cs)
    models = cs.notebook_models("PyTorch.ipynb", nb)
    if not models:
        raise LookupError("no cell of PyTorch.ipynb builds `model` with nn.Sequential")
    model = models[-1]
    counts = [int(parameter.numel()) for parameter in model.parameters()]
    x = torch.from_numpy(_normal(rng, batch, 3, 32, 32)).float()
    return {"output_shape": list(model(x).shape), "parameter_counts": counts}


def torch_challenge_model(cs, rng, batch):
    torch, nb = _torch_definitions(cs)
    model = nb["make_challenge_model"]()
    model.eval()
    x = torch.from_numpy(_normal(rng, batch, 3, 32, 32)).float()
    return {"output_shape": list(model(x).shape)}


# ----------------------------------------------------------------------------- TensorFlow

def _tensorflow_definitions(cs):
    # The notebook's imports come first: they load PyTorch's Triton, if installed, before
    # TensorFlow, the one order in which the two can share a process.
    definitions = cs.notebook("TensorFlow.ipynb", {"device": "/device:CPU:0"})
    import tensorflow as tf

    return tf, definitions


def _assign_variables(variables, rng):
    """Overwrite the variables, in their order, with fixed values."""
    for variable in variables:
        variable.assign(_normal(rng, *variable.shape, scale=0.1).astype(np.float32))


def tf_three_layer_function(cs, rng, batch, channels):
    tf, nb = _tensorflow_definitions(cs)
    c1, c2 = channels
    shapes = [(5, 5, 3, c1), (c1,), (3, 3, c1, c2), (c2,), (32 * 32 * c2, 10), (10,)]
    params = [tf.constant(_normal(rng, *shape, scale=0.05), dtype=tf.float32) for shape in shapes]
    x = tf.constant(_normal(rng, batch, 32, 32, 3), dtype=tf.float32)
    return {"scores": np.asarray(nb["three_layer_convnet"](x, params))}


def tf_three_layer_init(cs, rng):
    _, nb = _tensorflow_definitions(cs)
    return {"parameter_shapes": [list(param.shape) for param in nb["three_layer_convnet_init"]()]}


def tf_keras_model(cs, rng, builder, batch, channels):
    """A Keras three-layer ConvNet (subclass, Sequential or Functional) on fixed weights."""
    tf, nb = _tensorflow_definitions(cs)
    c1, c2 = channels
    if builder == "ThreeLayerConvNet":
        model = nb[builder](c1, c2, 10)
    else:
        model = nb[builder]((32, 32, 3), c1, c2, 10)
    x = tf.constant(_normal(rng, batch, 32, 32, 3), dtype=tf.float32)
    model(x)  # creates the variables of a subclassed model
    shapes = [list(variable.shape) for variable in model.trainable_variables]
    _assign_variables(model.trainable_variables, rng)
    return {"scores": np.asarray(model(x, training=False)), "parameter_shapes": shapes}


def tf_challenge_model(cs, rng, batch):
    tf, nb = _tensorflow_definitions(cs)
    model = nb["make_challenge_model"]()
    x = tf.constant(_normal(rng, batch, 32, 32, 3), dtype=tf.float32)
    return {"output_shape": list(model(x, training=False).shape)}
