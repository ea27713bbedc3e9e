"""Broadcasting is undone in one place: property tests over random broadcast-compatible shapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

from window_ner.autodiff import Tensor, matmul, unbroadcast

SHAPE_PAIRS = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=3)


def reduce_to(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Reference: each entry of an operand collects every output entry it was copied into.

    Built independently of ``unbroadcast``: label each operand entry with its flat index, broadcast the
    labels to the output shape, and add up the output values by label.
    """
    labels = np.broadcast_to(np.arange(int(np.prod(shape))).reshape(shape), values.shape)
    totals = np.bincount(labels.ravel(), weights=values.ravel(), minlength=int(np.prod(shape)))
    return totals.reshape(shape)


def local_grads(op: str, a: np.ndarray, b: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upstream x local gradient in the output shape, before any reduction."""
    ones = np.ones(g.shape)
    if op == "+":
        return g * ones, g * ones
    if op == "-":
        return g * ones, -g * ones
    if op == "*":
        return g * b, g * a
    return g / b * ones, -g * a / b**2


OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


@pytest.mark.parametrize("op", sorted(OPS))
@settings(max_examples=60, deadline=None)
@given(shapes=SHAPE_PAIRS, seed=st.integers(0, 2**32 - 1))
def test_binary_op_gradients_have_the_operand_shapes_and_sum_over_broadcast_axes(op, shapes, seed) -> None:
    (shape_a, shape_b), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a_values = rng.uniform(-2, 2, size=shape_a)
    b_values = rng.uniform(0.5, 2, size=shape_b) * rng.choice([-1.0, 1.0], size=shape_b)
    a = Tensor(a_values, requires_grad=True, dtype=np.float64)
    b = Tensor(b_values, requires_grad=True, dtype=np.float64)
    out = OPS[op](a, b)
    assert out.shape == out_shape
    g = rng.standard_normal(out_shape)
    out.backward(g)
    local_a, local_b = local_grads(op, np.asarray(a_values), np.asarray(b_values), g)
    assert np.shape(a.grad) == shape_a
    assert np.shape(b.grad) == shape_b
    np.testing.assert_allclose(a.grad, reduce_to(local_a, shape_a), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, reduce_to(local_b, shape_b), rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(shapes=SHAPE_PAIRS, seed=st.integers(0, 2**32 - 1))
def test_a_constant_operand_gets_no_gradient_and_the_tensor_gets_its_shape(shapes, seed) -> None:
    (shape_a, shape_b), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a = Tensor(rng.standard_normal(shape_a), requires_grad=True, dtype=np.float64)
    constant = rng.standard_normal(shape_b)
    out = a * constant
    g = rng.standard_normal(out_shape)
    out.backward(g)
    np.testing.assert_allclose(a.grad, reduce_to(g * constant, shape_a), rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       sizes=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)), seed=st.integers(0, 2**16))
def test_batched_matmul_gradients_sum_over_broadcast_batch_dims(shapes, sizes, seed) -> None:
    (batch_a, batch_b), batch_out = shapes.input_shapes, shapes.result_shape
    n, k, m = sizes
    rng = np.random.default_rng(seed)
    a = Tensor(rng.standard_normal(batch_a + (n, k)), requires_grad=True, dtype=np.float64)
    b = Tensor(rng.standard_normal(batch_b + (k, m)), requires_grad=True, dtype=np.float64)
    out = matmul(a, b)
    assert out.shape == batch_out + (n, m)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    full_a = g @ np.swapaxes(np.broadcast_to(b.data, batch_out + (k, m)), -1, -2)
    full_b = np.swapaxes(np.broadcast_to(a.data, batch_out + (n, k)), -1, -2) @ g
    np.testing.assert_allclose(a.grad, reduce_to(full_a, a.shape), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(b.grad, reduce_to(full_b, b.shape), rtol=1e-11, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(shapes=SHAPE_PAIRS, seed=st.integers(0, 2**16))
def test_unbroadcast_matches_the_reference(shapes, seed) -> None:
    out_shape = shapes.result_shape
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(out_shape)
    for shape in shapes.input_shapes:
        reduced = unbroadcast(g, shape)
        assert np.shape(reduced) == shape
        np.testing.assert_allclose(reduced, reduce_to(g, shape), rtol=1e-12, atol=1e-12)


def test_unbroadcast_examples() -> None:
    g = np.arange(6.0).reshape(2, 3)
    assert unbroadcast(g, (2, 3)) is g
    np.testing.assert_array_equal(unbroadcast(g, (3,)), [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(unbroadcast(g, (2, 1)), [[3.0], [12.0]])
    np.testing.assert_array_equal(unbroadcast(g, (1, 3)), [[3.0, 5.0, 7.0]])
    assert float(unbroadcast(g, ())) == 15.0
    np.testing.assert_array_equal(unbroadcast(np.ones((4, 2, 3)), (2, 1)), [[12.0], [12.0]])


def test_broadcast_gradient_keeps_float32() -> None:
    a = Tensor(np.ones((4, 3)), requires_grad=True, dtype=np.float32)
    b = Tensor(np.ones(3), requires_grad=True, dtype=np.float32)
    (a * b).backward(np.ones((4, 3), dtype=np.float32))
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32
    np.testing.assert_array_equal(b.grad, [4.0, 4.0, 4.0])
