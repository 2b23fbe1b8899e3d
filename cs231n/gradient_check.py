"""Numerical gradients by centered differences, for checking analytic backward passes."""
from random import randrange

import numpy as np

# The start of the line a check prints when its error is over its bound (or a value is
# off what it should be: value_line and the checks after it). The notebook runner and the
# submission collector find failed checks in saved outputs by it.
FAILED_CHECK_PREFIX = "FAILED: "


def check_line(name, error, bound):
    """The line a notebook check prints for one relative error and the bound it should
    stay under: the error beside its bound, or a line starting with FAILED_CHECK_PREFIX
    when the error is not under the bound (NaN included)."""
    if error < bound:
        return f"{name} relative error: {error:.2e}  (should be < {bound:.0e})"
    return f"{FAILED_CHECK_PREFIX}{name} relative error {error:.1e}, should be < {bound:.0e}"


def value_line(name, shown, should, ok):
    """The line a notebook check prints for a value beside what it should be (``shown``
    and ``should`` are the words to print): "NAME: SHOWN  (should be SHOULD)", or a line
    starting with FAILED_CHECK_PREFIX when ``ok`` is false."""
    if ok:
        return f"{name}: {shown}  (should be {should})"
    return f"{FAILED_CHECK_PREFIX}{name} {shown}, should be {should}"


def _shown(value, digits):
    value = np.asarray(value, dtype=np.float64)
    if value.ndim == 0:
        return f"{float(value):.{digits}f}"
    return np.array2string(value, precision=digits, separator=", ")


def near_line(name, value, expected, tolerance, digits=4):
    """A check of a value (a number or an array, every entry) against what it should be
    within ``tolerance``; NaN fails. ``digits``: the decimals printed."""
    deviation = np.max(np.abs(np.asarray(value, dtype=np.float64) - np.asarray(expected, dtype=np.float64)))
    should = f"within {tolerance:g} of {_shown(expected, digits)}" if tolerance else _shown(expected, digits)
    return value_line(name, _shown(value, digits), should, bool(deviation <= tolerance))


def above_line(name, value, bound, digits=4):
    """A check of a number that should be above ``bound``; NaN fails."""
    return value_line(name, _shown(value, digits), f"above {_shown(bound, digits)}", bool(value > bound))


def shape_line(name, shape, expected):
    """A check of an array's shape (a tuple, torch.Size or TensorShape) against the expected one."""
    shape, expected = tuple(int(size) for size in shape), tuple(expected)
    return value_line(f"{name} shape", shape, expected, shape == expected)


def rel_error(x, y):
    """Largest elementwise relative error between x and y (0 when equal)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def shape_checked_errors(pairs):
    """{name: rel_error(actual, expected)} for pairs {name: (actual, expected)}.

    Shapes come first: an actual array of another shape than the expected one (a bias
    gradient of shape (1, M) where (M,) is expected, a dx left flat) raises ValueError
    naming it, "db has shape (1, 5), expected (5,)", instead of a broadcasting error
    later or, worse, a small error computed between broadcast arrays.
    """
    wrong = [f"{name} has shape {np.shape(actual)}, expected {np.shape(expected)}"
             for name, (actual, expected) in pairs.items() if np.shape(actual) != np.shape(expected)]
    if wrong:
        raise ValueError("; ".join(wrong))
    return {name: rel_error(actual, expected) for name, (actual, expected) in pairs.items()}


def _centered_difference(f, x, index, h):
    """(f(x + h e_i) - f(x - h e_i)) / 2h, restoring x[index] afterwards."""
    original = x[index]
    x[index] = original + h
    f_plus = np.copy(f(x))
    x[index] = original - h
    f_minus = np.copy(f(x))
    x[index] = original
    return (f_plus - f_minus) / (2 * h)


def eval_numerical_gradient(f, x, verbose=True, h=0.00001):
    """Gradient of a scalar function f at x (modified in place, then restored)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        index = it.multi_index
        grad[index] = _centered_difference(f, x, index, h)
        if verbose:
            print(index, grad[index])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Gradient with respect to x of sum(f(x) * df), for an array-valued f.

    df is the upstream gradient, shaped like f(x).
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        index = it.multi_index
        grad[index] = np.sum(_centered_difference(f, x, index, h) * df)
        it.iternext()
    return grad


def numerical_gradients(f, inputs, df, h=1e-5):
    """Gradients of sum(f(*inputs) * df) with respect to every input array, in order.

    f returns an array shaped like df (for a layer, the ``out`` of its (out, cache)).
    Each input is perturbed in a copy, so the caller's arrays are left as they were.
    """
    grads = []
    for position in range(len(inputs)):
        def f_of_one(value, position=position):
            arguments = list(inputs)
            arguments[position] = value
            return f(*arguments)
        grads.append(eval_numerical_gradient_array(f_of_one, np.array(inputs[position], copy=True), df, h))
    return grads


def model_gradient_errors(model, X, y, h=1e-5):
    """{parameter name: relative error of the model's analytic gradient against the
    numerical one} for ``model.loss(X, y)``, every parameter in turn."""
    _, grads = model.loss(X, y)
    return {
        name: rel_error(eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name],
                                                verbose=False, h=h), grads[name])
        for name in sorted(grads)
    }


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5):
    """Compare analytic_grad with the numerical gradient at num_checks random entries.

    Prints one line per entry and returns the relative errors.
    """
    errors = []
    for _ in range(num_checks):
        index = tuple(randrange(dim) for dim in x.shape)
        numerical = float(_centered_difference(f, x, index, h))
        analytic = float(analytic_grad[index])
        error = abs(numerical - analytic) / max(1e-12, abs(numerical) + abs(analytic))
        errors.append(error)
        print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {error:e}")
    return errors
