import numpy as np

from cs231n.gradient_check import (
    eval_numerical_gradient, eval_numerical_gradient_array, grad_check_sparse, rel_error,
    shape_checked_errors,
)


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0
    assert np.isclose(rel_error(np.array([1.0]), np.array([3.0])), 0.5)


def test_scalar_gradient_matches_analytic():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)

    def f(v):
        return v @ A @ v + np.sin(v).sum()

    analytic = (A + A.T) @ x + np.cos(x)
    x_before = x.copy()
    numerical = eval_numerical_gradient(f, x, verbose=False)
    assert rel_error(numerical, analytic) < 1e-8
    np.testing.assert_array_equal(x, x_before)


def test_array_gradient_matches_analytic():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    dout = rng.standard_normal((3, 5))
    numerical = eval_numerical_gradient_array(np.tanh, x, dout)
    assert rel_error(numerical, dout * (1 - np.tanh(x) ** 2)) < 1e-8


def test_array_gradient_detects_a_wrong_gradient():
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    numerical = eval_numerical_gradient_array(lambda v: v ** 2, x, np.ones_like(x))
    assert rel_error(numerical, 3 * x) > 0.1


def test_sparse_check(capsys):
    rng = np.random.default_rng(2)
    W = rng.standard_normal((6, 3))
    errors = grad_check_sparse(lambda w: np.sum(w ** 3), W, 3 * W ** 2, num_checks=5)
    assert len(errors) == 5 and max(errors) < 1e-7
    assert capsys.readouterr().out.count("relative error") == 5


def test_shape_checked_errors_name_the_wrong_shape_before_any_value():
    db, expected_db = np.zeros((1, 5)), np.zeros(5)
    dx, expected_dx = np.zeros((10, 6)), np.zeros((10, 2, 3))
    try:
        shape_checked_errors({"db": (db, expected_db), "dx": (dx, expected_dx), "dw": (np.ones(3), np.ones(3))})
    except ValueError as error:
        assert str(error) == "db has shape (1, 5), expected (5,); dx has shape (10, 6), expected (10, 2, 3)"
    else:
        raise AssertionError("a wrong shape passed")
    errors = shape_checked_errors({"dw": (np.array([1.0, 2.0]), np.array([1.0, 2.2]))})
    assert errors == {"dw": rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2]))}
