"""Every op and operator of the engine, checked against finite differences in float64 (see _cases.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.autodiff._cases import (
    ALL_CASES,
    BINARY,
    BINARY_SHAPES,
    CASES,
    UNARY,
    UNARY_SHAPES,
    Case,
    uncovered,
)
from window_ner.autodiff import functional, gradcheck, ops
from window_ner.autodiff.registry import PRIMITIVES, exported
from window_ner.autodiff.tensor import Tensor


def leaves(case: Case, dtype: type = np.float64) -> list[Tensor]:
    return [Tensor(x.copy(), requires_grad=True, dtype=dtype) for x in case.inputs]


def test_the_table_covers_every_op_and_operator() -> None:
    """Read from the registry: a primitive registered without gradient-check cases fails here."""
    missing = uncovered()
    assert not missing, f"registered but without a gradient check in tests/autodiff/_cases.py: {missing}"


def test_the_registry_holds_every_exported_op() -> None:
    assert set(ops.__all__) | set(functional.__all__) <= set(exported())
    assert {"add", "matmul", "getitem", "transpose", "mean", "softmax", "softmax_cross_entropy"} <= set(PRIMITIVES)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_elementwise_unary_ops_are_checked_on_the_standard_shapes(name: str) -> None:
    checked = {case.shapes[0] for case in CASES[name] if len(case.shapes) == 1}
    assert set(UNARY_SHAPES) <= checked


@pytest.mark.parametrize("name", sorted(BINARY))
def test_elementwise_binary_ops_are_checked_on_broadcasting_pairs(name: str) -> None:
    checked = {case.shapes for case in CASES[name] if len(case.shapes) == 2}
    assert set(BINARY_SHAPES) <= checked
    assert {(b, a) for a, b in BINARY_SHAPES} <= checked


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_gradcheck(case: Case) -> None:
    assert gradcheck(case.fn, leaves(case))


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.reference is not None], ids=lambda c: c.id)
def test_forward_matches_numpy(case: Case) -> None:
    out = case.fn(*leaves(case))
    expected = np.asarray(case.reference(*case.inputs))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


def test_transpose_with_negative_axes() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, dtype=np.float64)
    upstream = np.arange(6.0).reshape(3, 2)
    ops.transpose(x, (-1, 0)).backward(upstream)
    assert x.grad.shape == (2, 3)
    np.testing.assert_array_equal(x.grad, upstream.T)


# ------------------------------------------------------------------ matmul shapes

@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 4)), ((3,), (3,)), ((5, 2, 3), (3, 4)),
    ((5, 2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)),
])
def test_matmul_gradients_have_the_operand_shapes(a_shape: tuple, b_shape: tuple) -> None:
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal(a_shape), requires_grad=True, dtype=np.float64)
    b = Tensor(rng.standard_normal(b_shape), requires_grad=True, dtype=np.float64)
    out = a @ b
    assert out.shape == np.matmul(a.data, b.data).shape
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    assert a.grad.shape == a_shape
    assert b.grad.shape == b_shape


def test_matmul_rule_is_the_lecture_formula() -> None:
    """For z = W x: dz/dW = g x^T and dz/dx = W^T g."""
    rng = np.random.default_rng(1)
    w = Tensor(rng.standard_normal((3, 4)), requires_grad=True, dtype=np.float64)
    x = Tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float64)
    g = rng.standard_normal(3)
    (w @ x).backward(g)
    np.testing.assert_allclose(w.grad, np.outer(g, x.data), rtol=1e-14)
    np.testing.assert_allclose(x.grad, w.data.T @ g, rtol=1e-14)


# ------------------------------------------------------------------ ties: documented behaviour

def test_max_splits_the_gradient_between_tied_maxima() -> None:
    """ops.max documents: k tied maxima receive 1/k of the gradient each."""
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True, dtype=np.float64)
    ops.max(x).backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5, 0.0])


def test_max_ties_along_an_axis() -> None:
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [5.0, 0.0, 1.0]], requires_grad=True, dtype=np.float64)
    x.max(axis=1).backward(np.array([2.0, 3.0, 7.0]))
    np.testing.assert_allclose(x.grad, [[0, 1, 1], [1, 1, 1], [7, 0, 0]])


def test_min_splits_the_gradient_between_tied_minima() -> None:
    x = Tensor([[4.0, -1.0], [-1.0, -1.0]], requires_grad=True, dtype=np.float64)
    x.min().backward()
    np.testing.assert_allclose(x.grad, np.array([[0, 1], [1, 1]]) / 3)
    y = Tensor([[4.0, -1.0], [-1.0, 0.0]], requires_grad=True, dtype=np.float64)
    y.min(axis=0, keepdims=True).backward(np.array([[2.0, 6.0]]))
    np.testing.assert_allclose(y.grad, [[0, 6], [2, 0]])


def test_max_ties_split_in_float32_too() -> None:
    x = Tensor([2.0, 2.0, 2.0], requires_grad=True)
    x.max().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [1 / 3] * 3, rtol=1e-6)


@pytest.mark.parametrize("op", [ops.maximum, ops.minimum])
def test_elementwise_maximum_and_minimum_give_half_to_each_on_a_tie(op) -> None:
    a = Tensor([1.0, 2.0, 5.0], requires_grad=True, dtype=np.float64)
    b = Tensor([1.0, 3.0, 4.0], requires_grad=True, dtype=np.float64)
    op(a, b).backward(np.array([4.0, 1.0, 1.0]))
    if op is ops.maximum:
        np.testing.assert_array_equal(a.grad, [2.0, 0.0, 1.0])
        np.testing.assert_array_equal(b.grad, [2.0, 1.0, 0.0])
    else:
        np.testing.assert_array_equal(a.grad, [2.0, 1.0, 0.0])
        np.testing.assert_array_equal(b.grad, [2.0, 0.0, 1.0])


def test_maximum_of_a_tensor_with_itself_passes_the_whole_gradient() -> None:
    x = Tensor([1.0, -2.0], requires_grad=True, dtype=np.float64)
    ops.maximum(x, x).backward(np.array([3.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [3.0, 5.0])


def test_relu_and_abs_take_zero_gradient_at_zero() -> None:
    x = Tensor([0.0, 2.0, -2.0], requires_grad=True, dtype=np.float64)
    (ops.relu(x) + ops.abs(x)).backward(np.ones(3))
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, -1.0])


def test_clip_passes_the_gradient_inside_and_on_the_boundary() -> None:
    x = Tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True, dtype=np.float64)
    ops.clip(x, -1.0, 1.0).backward(np.ones(5))
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0])


# ------------------------------------------------------------------ indexing, concat, stack: exact numbers

def test_getitem_repeated_indices_add_up() -> None:
    x = Tensor(np.zeros((3, 2)), requires_grad=True, dtype=np.float64)
    x[[0, 2, 0, 0]].backward(np.array([[1.0, 2.0], [3.0, 4.0], [10.0, 20.0], [100.0, 200.0]]))
    np.testing.assert_array_equal(x.grad, [[111.0, 222.0], [0.0, 0.0], [3.0, 4.0]])


def test_getitem_pairs_of_repeated_indices_add_up() -> None:
    x = Tensor(np.zeros((2, 2)), requires_grad=True, dtype=np.float64)
    x[np.array([1, 1, 0]), np.array([0, 0, 1])].backward(np.array([1.0, 2.0, 5.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 5.0], [3.0, 0.0]])


def test_getitem_boolean_mask() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, dtype=np.float64)
    mask = x.data > 2.5
    x[mask].backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad, [[0, 0, 0], [1, 2, 3]])


def test_getitem_slices_and_ints() -> None:
    x = Tensor(np.zeros((3, 4)), requires_grad=True, dtype=np.float64)
    (x[1:, ::2].sum() + x[0, 3] * 5).backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 0, 5], [1, 0, 1, 0], [1, 0, 1, 0]])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_splits_the_gradient_at_the_joins(axis: int) -> None:
    a = Tensor(np.zeros((2, 2)), requires_grad=True, dtype=np.float64)
    b = Tensor(np.zeros((2, 1)) if axis else np.zeros((1, 2)), requires_grad=True, dtype=np.float64)
    out = ops.concat([a, b], axis=axis)
    upstream = np.arange(out.size, dtype=np.float64).reshape(out.shape)
    out.backward(upstream)
    first, second = np.split(upstream, [2], axis=axis)
    np.testing.assert_array_equal(a.grad, first)
    np.testing.assert_array_equal(b.grad, second)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack_gives_each_input_its_slice(axis: int) -> None:
    inputs = [Tensor(np.zeros((2, 3)), requires_grad=True, dtype=np.float64) for _ in range(3)]
    out = ops.stack(inputs, axis=axis)
    upstream = np.arange(out.size, dtype=np.float64).reshape(out.shape)
    out.backward(upstream)
    for i, t in enumerate(inputs):
        np.testing.assert_array_equal(t.grad, np.take(upstream, i, axis=axis))


def test_concat_of_a_tensor_with_itself_adds_both_parts() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    ops.concat([x, x, 3.0 * x], 0).backward(np.arange(6.0))
    np.testing.assert_array_equal(x.grad, [0 + 2 + 3 * 4, 1 + 3 + 3 * 5])


# ------------------------------------------------------------------ stable softmax family

BIG = np.array([[1e4, -1e4, 0.0, 9999.0], [-1e4, -1e4, -1e4, -9990.0], [1e4, 1e4, 1e4, 1e4]])


def softmax_reference(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_family_is_stable_for_huge_inputs(dtype: type) -> None:
    z = Tensor(BIG, requires_grad=True, dtype=dtype)
    p = functional.softmax(z)
    log_p = functional.log_softmax(z)
    lse = functional.logsumexp(z)
    # Numbers near 1e4 are held to about 1e4 * eps: 2e-12 in float64, 1e-3 in float32. No result computed
    # from them can be more accurate than that, in absolute terms for logs, in relative terms for p.
    tol = 1e-11 if dtype == np.float64 else 2e-3
    shifted = BIG - BIG.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(p.data, softmax_reference(BIG), rtol=tol, atol=1e-300)
    np.testing.assert_allclose(lse.data, (BIG.max(axis=-1, keepdims=True) + log_norm)[:, 0], rtol=tol)
    np.testing.assert_allclose(log_p.data, shifted - log_norm, rtol=0, atol=tol)
    for out in (p, log_p, lse):
        assert np.isfinite(out.data).all()
        z.grad = None
        out.backward(np.ones(out.shape, dtype=dtype))
        assert np.isfinite(z.grad).all()


def test_float32_softmax_of_huge_logits_is_accurate_to_float32_rounding() -> None:
    z = Tensor(BIG, dtype=np.float32)
    np.testing.assert_allclose(functional.softmax(z).data, softmax_reference(BIG), rtol=1e-5, atol=1e-30)


def test_log_softmax_gradient_is_stable_and_correct_for_huge_inputs() -> None:
    z = Tensor(BIG, requires_grad=True, dtype=np.float64)
    g = np.random.default_rng(3).standard_normal(BIG.shape)
    functional.log_softmax(z).backward(g)
    p = softmax_reference(BIG)
    np.testing.assert_allclose(z.grad, g - p * g.sum(axis=-1, keepdims=True), rtol=1e-12, atol=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits() -> None:
    z = Tensor(BIG, requires_grad=True, dtype=np.float64)
    targets = np.array([1, 3, 2])
    loss = ops.softmax_cross_entropy(z, targets, "none")
    shifted = BIG - BIG.max(axis=-1, keepdims=True)
    expected = -(shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True)))[[0, 1, 2], targets]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-12)
    loss.backward(np.ones(3))
    assert np.isfinite(z.grad).all()


# ------------------------------------------------------------------ softmax cross-entropy: p - onehot

LOGITS = np.array([[0.5, -1.0, 2.0, 0.1], [1.5, 1.5, -0.5, 0.0], [-2.0, 0.3, 0.3, 1.0]])
TARGETS = np.array([2, 0, 3])
ONEHOT = np.eye(4)[TARGETS]


def test_softmax_cross_entropy_mean_gradient_is_p_minus_onehot_over_batch() -> None:
    z = Tensor(LOGITS, requires_grad=True, dtype=np.float64)
    loss = ops.softmax_cross_entropy(z, TARGETS)
    assert loss.shape == ()
    p = softmax_reference(LOGITS)
    np.testing.assert_allclose(loss.item(), -np.log(p[[0, 1, 2], TARGETS]).mean(), rtol=1e-13)
    loss.backward()
    np.testing.assert_allclose(z.grad, (p - ONEHOT) / 3, rtol=1e-13, atol=1e-16)


def test_softmax_cross_entropy_sum_gradient_is_p_minus_onehot() -> None:
    z = Tensor(LOGITS, requires_grad=True, dtype=np.float64)
    loss = ops.softmax_cross_entropy(z, TARGETS, reduction="sum")
    p = softmax_reference(LOGITS)
    np.testing.assert_allclose(loss.item(), -np.log(p[[0, 1, 2], TARGETS]).sum(), rtol=1e-13)
    loss.backward()
    np.testing.assert_allclose(z.grad, p - ONEHOT, rtol=1e-13, atol=1e-16)


def test_softmax_cross_entropy_none_gives_one_loss_per_row_and_weights_the_rows() -> None:
    z = Tensor(LOGITS, requires_grad=True, dtype=np.float64)
    losses = ops.softmax_cross_entropy(z, TARGETS, reduction="none")
    p = softmax_reference(LOGITS)
    np.testing.assert_allclose(losses.data, -np.log(p[[0, 1, 2], TARGETS]), rtol=1e-13)
    weights = np.array([1.0, 0.0, 2.5])
    losses.backward(weights)
    np.testing.assert_allclose(z.grad, (p - ONEHOT) * weights[:, None], rtol=1e-13, atol=1e-16)


def test_softmax_cross_entropy_equals_the_composite_of_log_softmax_and_indexing() -> None:
    fused = Tensor(LOGITS, requires_grad=True, dtype=np.float64)
    composite = Tensor(LOGITS, requires_grad=True, dtype=np.float64)
    ops.softmax_cross_entropy(fused, TARGETS).backward()
    (-functional.log_softmax(composite)[np.arange(3), TARGETS]).mean().backward()
    np.testing.assert_allclose(fused.grad, composite.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("targets", "reduction", "message"), [
    (TARGETS, "average", "reduction"),
    (np.array([0, 1]), "mean", "shape"),
    (np.array([0, 4, 1]), "mean", "class ids"),
    (np.array([0, -1, 1]), "mean", "class ids"),
])
def test_softmax_cross_entropy_rejects_bad_arguments(targets: np.ndarray, reduction: str,
                                                      message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ops.softmax_cross_entropy(Tensor(LOGITS), targets, reduction)


def test_power_gradient_is_zero_where_the_derivative_is_zero() -> None:
    base = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (base ** 0.0).sum().backward()
    assert np.array_equal(base.grad, [0.0, 0.0])  # d(a^0)/da = 0, also at a = 0
    zero, exponent = Tensor(np.array([0.0]), requires_grad=True), Tensor(np.array([2.0]), requires_grad=True)
    (zero ** exponent).sum().backward()
    assert np.array_equal(exponent.grad, [0.0]) and np.array_equal(zero.grad, [0.0])  # d(0^b)/db = 0


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("axis", [2, -3, (0, 2)])
def test_reductions_refuse_an_axis_past_the_tensor(reduce: str, axis: object) -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="out of bounds for a tensor of 2 dimensions"):
        getattr(x, reduce)(axis=axis)
