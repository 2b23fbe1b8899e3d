"""Bad input to the fast layers gives a clear error, never a crashed process or wrong numbers.

Anything that could corrupt memory runs in a child process, so that a regression shows
up as a failed test (with the child's exit status) instead of killing the test run.
"""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cs231n import fast_layers
from cs231n.gradient_check import rel_error
from cs231n.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

REPO_ROOT = Path(__file__).resolve().parents[3]

CONV_PARAM = {"stride": 1, "pad": 1}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}

# Shared by every child: inputs whose conv output is (2, 4, 8, 8) and pool output (2, 3, 4, 4).
PRELUDE = """
import contextlib
import sys
import numpy as np
from cs231n import fast_layers
paths = contextlib.ExitStack()
if sys.argv[1] == "numpy":
    paths.enter_context(fast_layers.numpy_fallback())
elif not fast_layers.compiled_kernels_available():
    print("SKIP: extension not built")
    sys.exit(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 3, 8, 8))
w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
conv_param = {"stride": 1, "pad": 1}
pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
"""

WRONG_DOUT = {
    ("conv", "smaller"): (2, 4, 3, 3),
    ("conv", "larger"): (2, 4, 9, 9),
    ("conv", "transposed"): (8, 8, 4, 2),
    ("pool", "smaller"): (2, 3, 2, 2),
    ("pool", "larger"): (2, 3, 40, 40),
    ("pool", "transposed"): (3, 2, 4, 4),
}
FORWARD_OUTPUT = {"conv": (2, 4, 8, 8), "pool": (2, 3, 4, 4)}


def run_child(body, kernels):
    """Run PRELUDE + body in a fresh interpreter on the given kernel path."""
    script = PRELUDE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script, kernels], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("layer, defect", sorted(WRONG_DOUT))
def test_wrong_shaped_dout_is_a_clean_value_error(kernels, layer, defect):
    dout_shape = WRONG_DOUT[layer, defect]
    forward = ("_, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)\n"
               "backward = fast_layers.conv_backward_fast" if layer == "conv" else
               "_, cache = fast_layers.max_pool_forward_fast(x, pool_param)\n"
               "backward = fast_layers.max_pool_backward_fast")
    result = run_child(f"""
{forward}
try:
    backward(np.ones({dout_shape}), cache)
except ValueError as error:
    print("ValueError:", error)
else:
    print("no error")
""", kernels)
    assert result.returncode == 0, f"child died with status {result.returncode}: {result.stderr}"
    assert result.stdout.startswith("ValueError:"), result.stdout + result.stderr
    assert str(dout_shape) in result.stdout
    assert str(FORWARD_OUTPUT[layer]) in result.stdout


def test_kernels_check_shapes_they_are_handed_directly():
    # The compiled kernels are importable on their own; mismatched arrays must not
    # reach their unchecked loops.
    result = run_child("""
from cs231n import im2col_cython as kernels
x4 = np.zeros((2, 3, 8, 8))
calls = {
    "im2col": lambda: kernels.im2col(x4, np.zeros((27, 2, 10)), 3, 3, 1, 1),
    "col2im": lambda: kernels.col2im(np.zeros((27, 2, 100)), x4.copy(), 3, 3, 1, 1),
    "im2col window too large": lambda: kernels.im2col(x4, np.zeros((300, 2, 1)), 10, 10, 1, 0),
    "pool forward": lambda: kernels.max_pool_forward(
        x4, np.zeros((2, 3, 5, 5)), np.zeros((2, 3, 5, 5), np.intc), 2, 2, 2),
    "pool backward shapes": lambda: kernels.max_pool_backward(
        np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 5, 5), np.intc), np.zeros((2, 3, 64))),
    "pool backward winner": lambda: kernels.max_pool_backward(
        np.ones((2, 3, 4, 4)), np.full((2, 3, 4, 4), 64, np.intc), np.zeros((2, 3, 64))),
    "pool backward negative winner": lambda: kernels.max_pool_backward(
        np.ones((2, 3, 4, 4)), np.full((2, 3, 4, 4), -2, np.intc), np.zeros((2, 3, 64))),
    "no threads": lambda: kernels.im2col(x4, np.zeros((27, 2, 64)), 3, 3, 1, 1, 0),
    "shift for other rows": lambda: kernels.swap_leading_axes(
        np.zeros((4, 2, 9)), np.zeros((2, 4, 9)), np.zeros(3)),
    "output not swapped": lambda: kernels.swap_leading_axes(np.zeros((4, 2, 9)), np.zeros((4, 2, 9))),
    "output of other rows": lambda: kernels.swap_leading_axes(np.zeros((2, 4, 9)), np.zeros((5, 2, 9))),
    "conv filters of other channels": lambda: kernels.conv_forward(
        x4, np.zeros((4, 26)), np.zeros(4), np.zeros((2, 4, 64)), 3, 3, 1, 1, 1),
    "conv output of other positions": lambda: kernels.conv_forward(
        x4, np.zeros((4, 27)), np.zeros(4), np.zeros((2, 4, 63)), 3, 3, 1, 1, 1),
    "conv biases for other filters": lambda: kernels.conv_forward(
        x4, np.zeros((4, 27)), np.zeros(3), np.zeros((2, 4, 64)), 3, 3, 1, 1, 1),
    "conv chunks of no samples": lambda: kernels.conv_forward(
        x4, np.zeros((4, 27)), np.zeros(4), np.zeros((2, 4, 64)), 3, 3, 1, 1, 0),
    "conv filter gradient": lambda: kernels.conv_backward(
        x4, np.zeros((4, 27)), np.zeros((2, 4, 64)), np.zeros((4, 26)), None, 3, 3, 1, 1, 1),
    "conv input gradient": lambda: kernels.conv_backward(
        x4, np.zeros((4, 27)), np.zeros((2, 4, 64)), np.zeros((4, 27)), np.zeros((2, 3, 8, 7)),
        3, 3, 1, 1, 1),
}
for name, call in calls.items():
    try:
        call()
    except ValueError:
        print(name, "ValueError")
    else:
        print(name, "no error")
""", "compiled")
    assert result.returncode == 0, f"child died with status {result.returncode}: {result.stderr}"
    if result.stdout.startswith("SKIP"):
        pytest.skip("the Cython extension is not built")
    lines = result.stdout.splitlines()
    assert len(lines) == 17 and all(line.endswith(" ValueError") for line in lines), result.stdout


def test_correctly_shaped_non_contiguous_dout_is_used_as_is(kernels):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out, cache = fast_layers.conv_forward_fast(x, w, b, CONV_PARAM)
    _, naive_cache = conv_forward_naive(x, w, b, CONV_PARAM)
    dout = rng.standard_normal(out.shape[::-1]).T  # right shape, Fortran order
    for fast, naive in zip(fast_layers.conv_backward_fast(dout, cache),
                           conv_backward_naive(dout, naive_cache)):
        assert rel_error(naive, fast) < 1e-9
    pooled, pool_cache = fast_layers.max_pool_forward_fast(x, POOL_PARAM)
    _, naive_pool_cache = max_pool_forward_naive(x, POOL_PARAM)
    dout = rng.standard_normal(pooled.shape[::-1]).T
    np.testing.assert_allclose(fast_layers.max_pool_backward_fast(dout, pool_cache),
                               max_pool_backward_naive(dout, naive_pool_cache))


@pytest.mark.parametrize("x_shape, w_shape", [
    ((2, 0, 6, 6), (4, 0, 3, 3)),  # no input channels: the output is the bias
    ((2, 3, 6, 6), (0, 3, 3, 3)),  # no filters: an empty output
    ((0, 3, 6, 6), (4, 3, 3, 3)),  # no samples
])
def test_empty_channels_or_filters_match_naive(kernels, x_shape, w_shape):
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    out_naive, naive_cache = conv_forward_naive(x, w, b, CONV_PARAM)
    out_fast, cache = fast_layers.conv_forward_fast(x, w, b, CONV_PARAM)
    np.testing.assert_allclose(out_fast, out_naive)
    dout = rng.standard_normal(out_naive.shape)
    for fast, naive in zip(fast_layers.conv_backward_fast(dout, cache),
                           conv_backward_naive(dout, naive_cache)):
        assert fast.shape == naive.shape
        np.testing.assert_allclose(fast, naive, atol=1e-12)


def test_complex_input_is_refused(kernels):
    x = np.ones((2, 3, 8, 8))
    w, b = np.ones((4, 3, 3, 3)), np.zeros(4)
    for args in ((x + 1j, w, b), (x, w * 1j, b), (x, w, b.astype(complex))):
        with pytest.raises(ValueError, match="real numbers"):
            fast_layers.conv_forward_fast(*args, CONV_PARAM)
    with pytest.raises(ValueError, match="real numbers"):
        fast_layers.max_pool_forward_fast(x + 1j, POOL_PARAM)
    out, cache = fast_layers.conv_forward_fast(x, w, b, CONV_PARAM)
    with pytest.raises(ValueError, match="real numbers"):
        fast_layers.conv_backward_fast(out + 1j, cache)
    pooled, pool_cache = fast_layers.max_pool_forward_fast(x, POOL_PARAM)
    with pytest.raises(ValueError, match="real numbers"):
        fast_layers.max_pool_backward_fast(pooled + 1j, pool_cache)
