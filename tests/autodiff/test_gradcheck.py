"""gradcheck catches wrong rules and says where; jacobian gives the full matrix of partial derivatives."""

from __future__ import annotations

import importlib
import re

import numpy as np
import pytest

from window_ner.autodiff import GradcheckError, Tensor, functional, gradcheck, jacobian, ops
from window_ner.autodiff.tensor import make


def param(values, dtype=np.float64) -> Tensor:
    return Tensor(values, requires_grad=True, dtype=dtype)


def wrong_mul(a: Tensor, b: Tensor, bump_at: tuple[int, ...] = (1, 2), bump: float = 0.5) -> Tensor:
    """a * b whose rule for b is off by ``bump`` at one entry: a deliberately wrong gradient."""
    av, bv = a.data, b.data

    def rule(g: np.ndarray) -> tuple:
        grad_b = g * av
        grad_b[bump_at] += bump
        return g * bv, grad_b

    return make(av * bv, (a, b), rule, "wrong_mul")


A = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B = np.array([[1.0, 2.0, -0.5], [0.3, -1.2, 0.8]])


def test_gradcheck_returns_true_for_correct_gradients() -> None:
    assert gradcheck(lambda a, b: ops.tanh(a * b) @ b.T, [param(A), param(B)]) is True
    assert gradcheck(lambda a: functional.softmax(a).sum(axis=0), param(A)) is True  # a single tensor


def test_gradcheck_checks_only_inputs_that_require_a_gradient() -> None:
    assert gradcheck(lambda a, b: a * b, [param(A), Tensor(B)])
    with pytest.raises(ValueError, match="no input requires a gradient"):
        gradcheck(lambda a: a * 2.0, [Tensor(A)])


def test_a_wrong_gradient_is_reported_with_input_entry_and_both_values() -> None:
    with pytest.raises(GradcheckError) as info:
        gradcheck(wrong_mul, [param(A), param(B)], directions=0)
    message = str(info.value)
    assert message.startswith("input 1 (2, 3)")
    assert "worst entry (1, 2)" in message
    number = r"(?:np\.float64\()?([-+0-9.e]+)\)?"
    match = re.search(rf"engine {number}, finite differences {number}", message)
    assert match, message
    engine_value, numeric_value = float(match.group(1)), float(match.group(2))
    # gradcheck reduces the output with random weights v, so the true entry is v[1, 2] * A[1, 2].
    assert engine_value - numeric_value == pytest.approx(0.5, rel=1e-6)


def test_a_wrong_gradient_is_caught_along_random_directions() -> None:
    with pytest.raises(GradcheckError, match=r"input 1 \(2, 3\): along random direction 0 the engine gives "
                                             r"\S+, finite differences give \S+"):
        gradcheck(wrong_mul, [param(A), param(B)])


def test_the_correct_input_of_a_half_wrong_op_passes() -> None:
    assert gradcheck(lambda a, b: wrong_mul(a, b), [param(A), Tensor(B)])


def test_gradcheck_refuses_float32_with_a_clear_message() -> None:
    with pytest.raises(TypeError, match=r"float64.*input 0 is float32|input 0 is float32.*float64"):
        gradcheck(lambda a: a * a, [param(A, np.float32)])


def test_gradcheck_works_on_big_inputs_through_random_directions() -> None:
    rng = np.random.default_rng(0)
    w = param(rng.standard_normal((200, 300)) * 0.1)
    x = Tensor(rng.standard_normal((8, 200)))
    assert gradcheck(lambda w: ops.tanh(x @ w), [w], directions=4)
    big_a, big_b = param(rng.standard_normal((40, 30))), param(rng.standard_normal((40, 30)))
    with pytest.raises(GradcheckError, match="along random direction"):
        gradcheck(lambda a, b: wrong_mul(a, b, bump_at=(17, 3), bump=1e-3), [big_a, big_b], max_entries=0)


def test_a_failure_along_a_random_direction_goes_on_to_name_the_worst_entry() -> None:
    rng = np.random.default_rng(0)
    big_a, big_b = param(rng.standard_normal((40, 30))), param(rng.standard_normal((40, 30)))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: wrong_mul(a, b, bump_at=(17, 3), bump=1e-3), [big_a, big_b], max_entries=0)
    message = str(info.value)
    assert "along random direction 0" in message and "the worst entry is (17, 3): engine " in message
    number = r"(?:np\.float64\()?([-+0-9.e]+)\)?"
    match = re.search(rf"\(17, 3\): engine {number}, finite differences {number}", message)
    assert match, message
    assert float(match.group(1)) - float(match.group(2)) == pytest.approx(1e-3, rel=1e-4)


def test_the_worst_entry_of_a_huge_input_is_searched_among_a_sample(monkeypatch) -> None:
    monkeypatch.setattr(importlib.import_module("window_ner.autodiff.gradcheck"), "_SEARCH_LIMIT", 50)
    a, b = param(np.ones((10, 10))), param(np.full((10, 10), 2.0))
    with pytest.raises(GradcheckError, match=r"the worst entry of 50 sampled is \(\d+, \d+\)"):
        gradcheck(lambda a, b: wrong_mul(a, b, bump=1.0), [a, b], max_entries=0)


def test_gradcheck_restores_the_inputs_and_the_output_values() -> None:
    a, b = param(A.copy()), param(B.copy())
    gradcheck(lambda a, b: a * b, [a, b])
    np.testing.assert_array_equal(a.data, A)
    np.testing.assert_array_equal(b.data, B)
    with pytest.raises(GradcheckError):
        gradcheck(wrong_mul, [a, b])
    np.testing.assert_array_equal(b.data, B)


def test_gradcheck_of_a_scalar_function_of_a_scalar() -> None:
    assert gradcheck(lambda x: x * x * x, [param(1.5)])


# ------------------------------------------------------------------ jacobian

def test_jacobian_shape_is_output_shape_then_input_shape() -> None:
    x = Tensor(A)
    jac = jacobian(lambda v: v.sum(axis=0) * 2.0, x)
    assert jac.shape == (3, 2, 3)
    expected = np.zeros((3, 2, 3))
    for j in range(3):
        expected[j, :, j] = 2.0
    np.testing.assert_array_equal(jac, expected)


@pytest.mark.parametrize(("f", "derivative"), [
    (ops.tanh, lambda v: 1 - np.tanh(v) ** 2),
    (ops.sigmoid, lambda v: (1 / (1 + np.exp(-v))) * (1 - 1 / (1 + np.exp(-v)))),
    (ops.exp, np.exp),
], ids=["tanh", "sigmoid", "exp"])
def test_elementwise_functions_have_diagonal_jacobians(f, derivative) -> None:
    v = np.array([-1.5, -0.2, 0.0, 0.7, 2.0])
    jac = jacobian(f, Tensor(v, dtype=np.float64))
    assert jac.shape == (5, 5)
    np.testing.assert_allclose(jac, np.diag(derivative(v)), rtol=1e-14, atol=0)


def test_jacobian_of_w_times_x_is_w() -> None:
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 4))
    jac = jacobian(lambda x: Tensor(w) @ x, Tensor(rng.standard_normal(4)))
    np.testing.assert_array_equal(jac, w)


def test_jacobian_of_softmax_is_diag_p_minus_p_p_transpose() -> None:
    v = np.array([0.3, -1.0, 2.0])
    p = np.exp(v) / np.exp(v).sum()
    jac = jacobian(functional.softmax, Tensor(v, dtype=np.float64))
    np.testing.assert_allclose(jac, np.diag(p) - np.outer(p, p), rtol=1e-12, atol=1e-15)


def test_jacobian_of_a_constant_function_is_zero() -> None:
    jac = jacobian(lambda x: Tensor(np.ones(2)) * 3.0, Tensor(np.ones(3)))
    np.testing.assert_array_equal(jac, np.zeros((2, 3)))


def test_jacobian_leaves_its_argument_untouched() -> None:
    x = param(np.array([1.0, 2.0]))
    jacobian(ops.tanh, x)
    assert x.grad is None
