"""The vectorized losses against loop versions written for clarity.

The loop versions compute what the tasks compute, so they live here, with the staff's
tests, and never in the release's tests/.
"""
import numpy as np
import pytest

from cs231n.layers import softmax_loss, svm_loss


@pytest.fixture
def rng():
    return np.random.default_rng(231)


def reference_softmax_loss(x, y):
    """Loop-based softmax loss and gradient, written for clarity, not speed."""
    num_examples, num_classes = x.shape
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(num_examples):
        exps = [np.exp(x[i, j]) for j in range(num_classes)]
        total = sum(exps)
        loss -= np.log(exps[y[i]] / total)
        for j in range(num_classes):
            dx[i, j] = exps[j] / total - (j == y[i])
    return loss / num_examples, dx / num_examples


def reference_svm_loss(x, y):
    """Loop-based hinge loss and gradient, written for clarity, not speed."""
    num_examples, num_classes = x.shape
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(num_examples):
        correct = x[i, y[i]]
        for j in range(num_classes):
            margin = x[i, j] - correct + 1
            if j != y[i] and margin > 0:
                loss += margin
                dx[i, j] += 1
                dx[i, y[i]] -= 1
    return loss / num_examples, dx / num_examples


@pytest.mark.parametrize("loss_fn, reference", [(softmax_loss, reference_softmax_loss), (svm_loss, reference_svm_loss)])
@pytest.mark.parametrize("num_examples, num_classes", [(1, 3), (7, 10), (20, 4)])
def test_losses_equal_loop_reference(rng, loss_fn, reference, num_examples, num_classes):
    x = rng.standard_normal((num_examples, num_classes))
    y = rng.integers(num_classes, size=num_examples)
    loss, dx = loss_fn(x, y)
    expected_loss, expected_dx = reference(x, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert np.allclose(dx, expected_dx, rtol=1e-10, atol=1e-14)
