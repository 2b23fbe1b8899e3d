"""Backward checks run on the student's own forward cache, falling back to the documented
layout (and saying so) only when that cache cannot be used; and a failed primitive is named
on every failed check of a composite that runs it, without changing a point.

The probes run here directly, in this process, on small stand-in packages (the solution's
layers with some functions replaced) and are judged against the same probe run on the
solution, as the grader does."""
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cs231n import layers as solution_layers
from staff.grading import autograde, probes
from staff.grading.report import CheckResult, PartResult, Status
from staff.grading.rubric import CHECKS, CORE_PARTS, add_notes_and_pointers, extra_points, required_points

REPO_ROOT = Path(__file__).resolve().parents[3]
SOLUTION = SimpleNamespace(layers=solution_layers)


def package(**replaced):
    """The solution's layers with the functions in ``replaced`` swapped in, as a probe's ``cs``."""
    return SimpleNamespace(layers=SimpleNamespace(**dict(vars(solution_layers), **replaced)))


def index_of(name):
    return next(index for index, check in enumerate(CHECKS) if check.name == name)


def grade_check(name, cs, seed=11):
    """(passed, message) of check ``name`` for ``cs``, judged against the solution on the
    same inputs, with the notes the grader adds."""
    index = index_of(name)
    check = CHECKS[index]
    probe = getattr(probes, check.probe)
    reference = probe(SOLUTION, np.random.default_rng([seed, index]), **check.params)
    submitted = probe(cs, np.random.default_rng([seed, index]), **check.params)
    passed, message = autograde.judge_check(check, (submitted, None), reference)
    entry = CheckResult(check.name, passed, check.extra, check.points if passed else 0, check.points, message)
    add_notes_and_pointers([part_result(check.part, [entry])], {index: (submitted, None)})
    return entry.passed, entry.message


CONV_BACKWARD = "conv_backward_naive: (4, 3, 5, 5) input, 3x3 filters, stride 1, pad 1"
CONV_BACKWARD_STRIDED = "conv_backward_naive: stride 2 on a non-square 7x5 input"
AFFINE_BACKWARD = "affine_backward: dx, dw, db for a (10, 2, 3) input"
RELU = "relu_forward and relu_backward on a (10, 10) input"
FALLBACK = "cache fallback: "


# ----------------------------------------------------------------------------- students' caches

def pad_input(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def conv_gradients(dout, x_padded, w, stride, pad, accumulate=True):
    """A student's convolution backward pass working on the padded input they cached."""
    dx_padded, dw = np.zeros_like(x_padded), np.zeros_like(w)
    _, _, field_height, field_width = w.shape
    for row in range(dout.shape[2]):
        for col in range(dout.shape[3]):
            window = (slice(None), slice(None), slice(row * stride, row * stride + field_height),
                      slice(col * stride, col * stride + field_width))
            dw += np.einsum("nf,nchw->fchw", dout[:, :, row, col], x_padded[window])
            spread = np.einsum("nf,fchw->nchw", dout[:, :, row, col], w)
            dx_padded[window] = dx_padded[window] + spread if accumulate else spread
    height, width = x_padded.shape[2] - 2 * pad, x_padded.shape[3] - 2 * pad
    return dx_padded[:, :, pad:pad + height, pad:pad + width], dw, dout.sum(axis=(0, 2, 3))


def forward_caching_padded_copy(x, w, b, conv_param):
    """The given cache line edited to `cache = (x, x_padded, w, b, conv_param)`."""
    out, _ = solution_layers.conv_forward_naive(x, w, b, conv_param)
    return out, (x, pad_input(x, conv_param["pad"]), w, b, conv_param)


def backward_reading_padded_copy(dout, cache, accumulate=True):
    x, x_padded, w, b, conv_param = cache
    return conv_gradients(dout, x_padded, w, conv_param["stride"], conv_param["pad"], accumulate)


def forward_rebinding_x(x, w, b, conv_param):
    """`x = np.pad(x, ...)` inside the region, so the given cache line stores the padded x."""
    out, _ = solution_layers.conv_forward_naive(x, w, b, conv_param)
    x = pad_input(x, conv_param["pad"])
    cache = (x, w, b, conv_param)
    return out, cache


def backward_on_padded_x(dout, cache):
    x_padded, w, b, conv_param = cache
    return conv_gradients(dout, x_padded, w, conv_param["stride"], conv_param["pad"])


def affine_forward_caching_rows(x, w, b):
    rows = x.reshape(x.shape[0], -1)
    return rows @ w + b, (rows, x.shape, w)


def affine_backward_from_rows(dout, cache):
    rows, shape, w = cache
    return (dout @ w.T).reshape(shape), rows.T @ dout, dout.sum(axis=0)


def relu_forward_caching_mask(x):
    return np.maximum(x, 0), x > 0


def relu_backward_from_mask(dout, mask):
    return dout * mask


@pytest.mark.parametrize("name, student", [
    (CONV_BACKWARD, {"conv_forward_naive": forward_caching_padded_copy,
                     "conv_backward_naive": backward_reading_padded_copy}),
    (CONV_BACKWARD_STRIDED, {"conv_forward_naive": forward_caching_padded_copy,
                             "conv_backward_naive": backward_reading_padded_copy}),
    (CONV_BACKWARD, {"conv_forward_naive": forward_rebinding_x,
                     "conv_backward_naive": backward_on_padded_x}),
    (CONV_BACKWARD_STRIDED, {"conv_forward_naive": forward_rebinding_x,
                             "conv_backward_naive": backward_on_padded_x}),
    (AFFINE_BACKWARD, {"affine_forward": affine_forward_caching_rows,
                       "affine_backward": affine_backward_from_rows}),
    (RELU, {"relu_forward": relu_forward_caching_mask, "relu_backward": relu_backward_from_mask}),
], ids=["padded-copy", "padded-copy-strided", "x-rebound", "x-rebound-strided", "affine-rows",
        "relu-mask"])
def test_a_correct_backward_on_its_own_forward_cache_passes(name, student):
    assert grade_check(name, package(**student)) == (True, "passed")


def test_those_backward_passes_cannot_run_on_the_documented_cache():
    """What the grader did before: each of them fails there, so passing above shows that
    their own cache was used."""
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 3, 3, 3)), rng.standard_normal(2)
    documented = (x, w, b, {"stride": 1, "pad": 1})
    dout = rng.standard_normal((2, 2, 5, 5))
    with pytest.raises(ValueError, match="not enough values to unpack"):
        backward_reading_padded_copy(dout, documented)
    with pytest.raises(ValueError, match="broadcast"):
        backward_on_padded_x(dout, documented)


def test_a_wrong_backward_on_its_own_cache_fails():
    # Assigning instead of accumulating loses the overlap of the stride-1 windows.
    student = package(conv_forward_naive=forward_caching_padded_copy,
                      conv_backward_naive=lambda dout, cache: backward_reading_padded_copy(
                          dout, cache, accumulate=False))
    passed, message = grade_check(CONV_BACKWARD, student)
    assert not passed
    assert message.startswith("dx: max relative error") and FALLBACK not in message


def raising_forward(*args):
    raise ValueError("forward left unfinished")


def test_a_failed_forward_falls_back_to_the_documented_cache_and_says_so():
    passed, message = grade_check(CONV_BACKWARD, package(conv_forward_naive=raising_forward))
    assert passed
    assert message == (
        "passed; cache fallback: `conv_forward_naive` failed (ValueError: forward left unfinished), "
        "so `conv_backward_naive` was checked on a cache in the documented layout (x, w, b, conv_param)")


def test_a_wrong_backward_after_a_failed_forward_fails_with_the_fallback_named():
    student = package(max_pool_forward_naive=raising_forward,
                      max_pool_backward_naive=lambda dout, cache: 2 * solution_layers.max_pool_backward_naive(
                          dout, cache))
    passed, message = grade_check("max_pool_backward_naive: 2x2 windows, stride 2", student)
    assert not passed
    assert message.startswith("dx: max relative error")
    assert message.endswith(f"{FALLBACK}`max_pool_forward_naive` failed (ValueError: forward left "
                            "unfinished), so `max_pool_backward_naive` was checked on a cache in the "
                            "documented layout (x, pool_param)")


def test_a_backward_that_cannot_read_its_own_cache_falls_back_and_says_why():
    def forward_with_a_stray_entry(x, w, b, conv_param):
        out, cache = solution_layers.conv_forward_naive(x, w, b, conv_param)
        return out, cache + ("stray",)

    passed, message = grade_check(CONV_BACKWARD, package(conv_forward_naive=forward_with_a_stray_entry))
    assert passed
    assert message == (
        "passed; cache fallback: `conv_backward_naive` raised ValueError: too many values to unpack "
        "(expected 4) on the cache of your `conv_forward_naive`, so `conv_backward_naive` was checked "
        "on a cache in the documented layout (x, w, b, conv_param)")


def test_gradients_of_the_wrong_shape_on_the_own_cache_fall_back_too():
    def forward_caching_rows(x, w, b):
        return solution_layers.affine_forward(x, w, b)[0], (x.reshape(x.shape[0], -1), w, b)

    passed, message = grade_check(AFFINE_BACKWARD, package(affine_forward=forward_caching_rows))
    assert passed
    assert "`affine_backward` returned dx of shape (10, 6) for an input of shape (10, 2, 3)" in message


def test_when_the_documented_cache_does_no_better_the_own_cache_error_stands():
    student = package(conv_backward_naive=backward_reading_padded_copy)
    index = index_of(CONV_BACKWARD)
    with pytest.raises(ValueError, match=r"not enough values to unpack \(expected 5, got 4\)"):
        probes.conv(student, np.random.default_rng([0, index]), **CHECKS[index].params)


def test_a_forward_and_backward_both_failing_name_both():
    def raising_backward(dout, cache):
        raise NotImplementedError("backward left unfinished")

    student = package(affine_forward=raising_forward, affine_backward=raising_backward)
    index = index_of(AFFINE_BACKWARD)
    with pytest.raises(probes.ForwardFailed) as failure:
        probes.affine_backward(student, np.random.default_rng([0, index]), **CHECKS[index].params)
    assert str(failure.value) == (
        "`affine_forward` failed (ValueError: forward left unfinished), and `affine_backward` raised "
        "NotImplementedError: backward left unfinished on a cache in the documented layout (x, w, b)")


def test_a_normalization_without_a_documented_cache_names_its_failed_forward():
    index = index_of("layernorm_backward: dx, dgamma, dbeta")
    with pytest.raises(probes.ForwardFailed, match="^layernorm_forward failed first, so the backward "
                                                   "pass could not be checked: ValueError: forward left"):
        probes.layernorm(package(layernorm_forward=raising_forward), np.random.default_rng([0, index]),
                         **CHECKS[index].params)


def test_the_forward_runs_on_copies_so_the_fallback_sees_the_original_inputs():
    def forward_zeroing_its_input(x, w, b, conv_param):
        x[...] = 0.0
        raise ValueError("gave up after scribbling on x")

    passed, message = grade_check(CONV_BACKWARD, package(conv_forward_naive=forward_zeroing_its_input))
    assert passed and FALLBACK in message


# ----------------------------------------------------------------------------- cause pointers

def test_every_primitive_a_check_runs_has_an_own_check_and_names_are_unique():
    own = {function for check in CHECKS for function in check.own_check_of}
    for check in CHECKS:
        assert set(check.runs) <= own, check.name
        assert not set(check.runs) & set(check.own_check_of), check.name
    assert len({(check.part, check.name) for check in CHECKS}) == len(CHECKS)


def part_result(part, checks):
    """A graded PartResult of ``part`` holding ``checks``."""
    return PartResult(part, False, Status.GRADED, None, True, required_points(part), extra_points(part), checks)


def judged_report(failed):
    """The report's parts of the core parts, every check passed except the named ones."""
    return [part_result(part, [
        CheckResult(check.name, check.name not in failed, check.extra, 0 if check.name in failed else check.points,
                    check.points, "differs" if check.name in failed else "passed")
        for check in CHECKS if check.part == part]) for part in CORE_PARTS]


AFFINE_FORWARD = "affine_forward: (2, 4, 5, 6) input to 3 outputs"
AFFINE_POINTER = "(`affine_forward` failed its own check 1.1; fix it first)"


def test_a_failed_primitive_is_named_on_the_failed_composites_that_run_it_and_nothing_else_changes():
    composites = {check.name for check in CHECKS if "affine_forward" in check.runs}
    # The networks' scores and losses, with and without normalization and dropout, and the Solver.
    assert len(composites) == 12
    parts = judged_report(composites | {AFFINE_FORWARD, "softmax_loss: loss and gradient"})
    before = [[dataclasses.replace(entry) for entry in part.checks] for part in parts]
    add_notes_and_pointers(parts, {})
    for part, unchanged in zip(parts, before):
        for entry, old in zip(part.checks, unchanged):
            expected = old
            if entry.name in composites:
                # softmax_loss also failed, and the losses run it; the scores do not.
                runs_softmax = "softmax_loss" in CHECKS[index_of(entry.name)].runs
                expected.message = "differs " + (
                    "(`affine_forward` failed its own check 1.1; `softmax_loss` failed its own "
                    "check 1.5; fix them first)" if runs_softmax else AFFINE_POINTER)
            assert entry == expected


def test_only_the_root_cause_is_named_and_shared_checks_are_named_once():
    relu_and_spatial = {RELU, "batchnorm_forward: training mode on (200, 3) data",
                        "spatial_batchnorm_forward: (2, 3, 4, 5) input, training and test mode",
                        "spatial_batchnorm_backward: dx, dgamma, dbeta",
                        "FullyConnectedNet.loss: loss and gradients, no regularization"}
    parts = judged_report(relu_and_spatial)
    add_notes_and_pointers(parts, {})
    messages = {entry.name: entry.message for part in parts for entry in part.checks}
    # batch norm is part 4; its first check is batchnorm_forward's.
    assert messages["spatial_batchnorm_backward: dx, dgamma, dbeta"] == (
        "differs (`batchnorm_forward` failed its own check 4.1; fix it first)")
    assert messages["FullyConnectedNet.loss: loss and gradients, no regularization"] == (
        "differs (`relu_forward` and `relu_backward` failed their own check 1.3; fix them first)")
    assert messages[RELU] == "differs"


def test_a_cache_note_goes_on_a_passed_check_too():
    index = index_of(CONV_BACKWARD)
    parts = judged_report(set())
    add_notes_and_pointers(parts, {index: ({probes.CACHE_NOTE: "ran on the documented cache"}, None)})
    message = next(entry.message for part in parts for entry in part.checks if entry.name == CONV_BACKWARD)
    assert message == "passed; cache fallback: ran on the documented cache"


# Seconds here, up to a minute or two in a confined sandbox: grades a whole bundle end to end.
@pytest.mark.slow
def test_a_missing_bias_in_affine_forward_points_every_broken_composite_at_it(solution_copy):
    assert (REPO_ROOT / "cs231n" / "layers.py").read_text().count("@ w + b\n") == 1
    root = solution_copy({"cs231n/layers.py": lambda text: text.replace("@ w + b\n", "@ w\n")})
    report = autograde.grade(root, parts=list(CORE_PARTS))
    failed = {check.name: check.message for part in report.parts for check in part.checks
              if not check.passed}
    assert not failed.pop(AFFINE_FORWARD).endswith("first)")
    assert set(failed) == {check.name for check in CHECKS if "affine_forward" in check.runs}
    assert all(message.endswith(" " + AFFINE_POINTER) for message in failed.values())
    # The points are those of the passed checks: the pointers changed none.
    lost = sum(check.points for check in CHECKS if check.name in failed or check.name == AFFINE_FORWARD)
    required = sum(check.points for check in CHECKS if check.part in CORE_PARTS and not check.extra)
    assert report.total.points == required - lost
