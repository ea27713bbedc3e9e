"""Semantics of the backward pass: fan-out, seeding, accumulation, graph release, no_grad, deep graphs."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest

from window_ner.autodiff import Tensor, no_grad, ops, topological_order
from window_ner.autodiff.tensor import is_grad_enabled


def param(values, dtype=np.float64) -> Tensor:
    return Tensor(values, requires_grad=True, dtype=dtype)


@contextmanager
def cyclic_gc_off() -> Iterator[None]:
    """Only reference counting frees objects inside: what it frees is not kept alive by a cycle."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# ------------------------------------------------------------------ fan-out sums

def test_fan_out_sums_the_gradients_of_every_use() -> None:
    x = param(3.0)
    a = x
    b = a + a  # 2x
    c = b * b  # 4x^2
    d = c + x * b  # 4x^2 + 2x^2 = 6x^2
    d.backward()
    assert x.grad == pytest.approx(12 * 3.0)


def test_diamond_graph() -> None:
    x = param([1.0, -2.0])
    h = ops.tanh(x)
    out = (h * 3.0 + ops.exp(h)).sum()
    out.backward()
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad, (3 + np.exp(t)) * (1 - t**2), rtol=1e-14)


def test_a_leaf_used_as_both_operands() -> None:
    x = param([2.0, 5.0])
    (x * x).backward(np.ones(2))
    np.testing.assert_array_equal(x.grad, [4.0, 10.0])
    y = param([2.0, 5.0])
    (y / y).backward(np.ones(2))
    np.testing.assert_allclose(y.grad, [0.0, 0.0], atol=1e-16)


# ------------------------------------------------------------------ seeding

def test_backward_on_a_scalar_seeds_one() -> None:
    x = param([1.0, 2.0])
    (x * 4.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [4.0, 4.0])


def test_backward_on_a_one_element_array_seeds_one() -> None:
    x = param([[2.0]])
    (x * 3.0).backward()
    np.testing.assert_array_equal(x.grad, [[3.0]])


def test_backward_on_a_leaf_stores_the_seed() -> None:
    x = param([1.0, 2.0])
    x.backward(np.array([5.0, 6.0]))
    np.testing.assert_array_equal(x.grad, [5.0, 6.0])


def test_backward_on_a_non_scalar_needs_an_upstream_gradient() -> None:
    x = param([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*upstream gradient"):
        (x * 2.0).backward()


def test_backward_rejects_an_upstream_gradient_of_the_wrong_shape() -> None:
    x = param([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2.0).backward(np.ones(3))


def test_backward_on_a_tensor_without_gradient_says_so() -> None:
    with pytest.raises(RuntimeError, match="does not require a gradient"):
        (Tensor([1.0]) * 2.0).backward()


def test_upstream_gradient_scales_the_result() -> None:
    x = param([1.0, 2.0])
    (x * x).backward(np.array([10.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [20.0, -4.0])


# ------------------------------------------------------------------ calling backward twice

def test_second_backward_with_retain_graph_accumulates_into_leaves() -> None:
    """Leaves accumulate (+=) across backward calls, as in the lecture: retain_graph=True walks the same
    graph again and ADDS the same gradient a second time. Reset with ``x.grad = None`` between steps."""
    x = param([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])
    y.backward()  # the last walk may release the graph
    np.testing.assert_array_equal(x.grad, [6.0, 12.0])


def test_second_backward_without_retain_graph_raises_a_clear_error() -> None:
    x = param([1.0, 2.0])
    y = (ops.tanh(x) * 2.0).sum()
    y.backward()
    first = x.grad.copy()
    with pytest.raises(RuntimeError, match=r"already released.*retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad, first)


def test_two_graphs_accumulate_into_a_shared_leaf_and_reset_with_none() -> None:
    w = param([1.0, 2.0])
    (w * 3.0).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0 + 2.0, 3.0 + 4.0])
    w.grad = None
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad, [3.0, 3.0])


def test_retain_graph_also_accumulates_into_retained_intermediates() -> None:
    x = param([1.0, 2.0])
    h = (x * 2.0).retain_grad()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(h.grad, 2 * (2 * h.data))


# ------------------------------------------------------------------ gradients on leaves only

def test_gradients_land_on_leaves_only() -> None:
    x = param([1.0, 2.0])
    h = x * 2.0
    z = ops.tanh(h)
    z.sum().backward()
    assert x.grad is not None
    assert h.grad is None
    assert z.grad is None


def test_retain_grad_keeps_an_intermediate_gradient() -> None:
    x = param([1.0, 2.0])
    h = (x * 2.0).retain_grad()
    z = (h * h).sum()
    z.backward()
    np.testing.assert_array_equal(h.grad, 2 * h.data)
    np.testing.assert_array_equal(x.grad, 2 * 2 * h.data)


def test_retain_grad_twice_keeps_the_gradient_once_and_copies_it() -> None:
    x = param([1.0, 2.0])
    h = (x * 2.0).retain_grad().retain_grad()
    upstream = np.array([1.0, 1.0])
    h.backward(upstream)
    np.testing.assert_array_equal(h.grad, upstream)
    assert h.grad is not upstream  # the caller's array stays the caller's
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_retained_intermediate_is_freed_by_reference_counting() -> None:
    with cyclic_gc_off():
        x = param(np.ones(3))
        h = ops.tanh(x).retain_grad()
        out = (h * 2.0).sum()
        ref = weakref.ref(h)
        del h, out  # no backward: the retaining rule does not hold its own tensor
        assert ref() is None


def test_is_leaf_and_parents() -> None:
    x = param([1.0])
    y = x * 2.0
    assert x.is_leaf and x.op == "leaf" and x.parents == ()
    assert not y.is_leaf and y.op == "mul" and y.parents == (x,)


def test_leaf_gradients_are_separate_arrays() -> None:
    """'+' hands the same upstream array to both operands; each leaf must still own its gradient."""
    a, b = param([1.0, 2.0]), param([3.0, 4.0])
    upstream = np.array([1.0, 1.0])
    (a + b).backward(upstream)
    assert a.grad is not b.grad
    a.grad += 10
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])
    upstream[:] = 7.0  # the caller's array is not stored either
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_gradient_through_a_view_is_owned_and_writable() -> None:
    x = param([[1.0, 2.0, 3.0]])
    x.reshape(3).sum().backward()
    assert x.grad.flags.writeable and x.grad.flags.owndata
    x.grad *= 2  # an optimiser may scale gradients in place


def test_gradient_of_a_scalar_leaf_is_an_array_like_its_data() -> None:
    x = param(2.0)
    (x * x).backward()
    bias = Tensor(0.5, requires_grad=True)
    (Tensor(np.ones(3)) * bias).sum().backward()  # a scalar broadcast over a vector
    for leaf in (x, bias):
        assert isinstance(leaf.grad, np.ndarray) and leaf.grad.shape == ()
        leaf.grad[...] = 0.0


# ------------------------------------------------------------------ graph release and memory

def test_graph_is_freed_by_reference_counting_after_backward() -> None:
    with cyclic_gc_off():
        x = param(np.ones(4))
        h1 = ops.tanh(x)
        h2 = h1 * 3.0
        out = h2.sum()
        refs = [weakref.ref(t) for t in (h1, h2)]
        del h1, h2
        assert all(r() is not None for r in refs), "the graph holds its intermediates before backward"
        out.backward()
        assert all(r() is None for r in refs), "backward released the graph: intermediates are gone"
        assert out.parents == ()
        out_ref = weakref.ref(out)
        del out
        assert out_ref() is None
        assert x.grad is not None


def test_graph_is_freed_by_reference_counting_when_the_output_is_deleted() -> None:
    with cyclic_gc_off():
        x = param(np.ones(4))
        h = ops.exp(x) * x
        out = (h @ h).sum()
        refs = [weakref.ref(h), weakref.ref(out)]
        del h
        assert refs[0]() is not None
        del out  # no backward: deleting the output alone frees everything, with no cycle for the GC
        assert all(r() is None for r in refs)


def test_retain_graph_keeps_the_graph_alive() -> None:
    with cyclic_gc_off():
        x = param(np.ones(3))
        h = x * 2.0
        out = h.sum()
        ref = weakref.ref(h)
        del h
        out.backward(retain_graph=True)
        assert ref() is not None
        out.backward()
        assert ref() is None


def test_backward_rules_do_not_capture_the_output_tensor() -> None:
    """A rule holding its output would be a reference cycle: check that no live graph creates one."""
    with cyclic_gc_off():
        x = param(np.ones((2, 3)))
        w = param(np.ones((3, 4)))
        out = ops.softmax_cross_entropy(ops.tanh(x @ w), np.array([0, 3])) + ops.max(x).sum()
        ref = weakref.ref(out)
        del out
        assert gc.collect() == 0
        assert ref() is None


# ------------------------------------------------------------------ no_grad

def test_no_grad_builds_no_graph() -> None:
    w = param([1.0, 2.0])
    with no_grad():
        assert not is_grad_enabled()
        y = ops.tanh(w * 2.0).sum()
    assert is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and y.parents == ()
    with pytest.raises(RuntimeError):
        y.backward()


def test_no_grad_as_a_decorator() -> None:
    @no_grad()
    def predict(w: Tensor) -> Tensor:
        """Predict."""
        assert not is_grad_enabled()
        return w * 3.0

    out = predict(param([1.0]))
    assert not out.requires_grad and out.parents == ()
    assert is_grad_enabled()
    assert predict.__name__ == "predict" and predict.__doc__ == "Predict."


def test_no_grad_restores_the_mode_after_an_exception_and_when_nested() -> None:
    with pytest.raises(KeyError), no_grad():
        raise KeyError("boom")
    assert is_grad_enabled()
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_no_grad_is_thread_local() -> None:
    seen: dict[str, bool] = {}
    inside = threading.Event()
    release = threading.Event()

    def other_thread() -> None:
        inside.wait(5)
        seen["enabled"] = is_grad_enabled()
        seen["records"] = (param([1.0]) * 2.0).requires_grad
        release.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with no_grad():
        inside.set()
        release.wait(5)
        assert not is_grad_enabled()
    thread.join(5)
    assert seen == {"enabled": True, "records": True}


# ------------------------------------------------------------------ deep graphs

def test_a_chain_of_100000_ops_backpropagates_without_recursion_error() -> None:
    x = param(0.5)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert float(x.grad) == 1.0


def test_a_deep_graph_can_be_deleted_without_backward() -> None:
    x = param(0.5)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    ref = weakref.ref(y)
    del y
    assert ref() is None


def test_topological_order_puts_parents_before_children() -> None:
    x = param([1.0])
    data = Tensor([2.0])
    a = x * data
    b = ops.exp(a)
    c = a + b
    order = topological_order(c)
    assert order[-1] is c
    assert {id(t) for t in order} == {id(x), id(a), id(b), id(c)}  # data needs no gradient: left out
    position = {id(t): i for i, t in enumerate(order)}
    for t in order:
        for p in t.parents:
            if p.requires_grad:
                assert position[id(p)] < position[id(t)]


# ------------------------------------------------------------------ data inputs cost nothing

def test_ops_on_data_record_nothing() -> None:
    x, y = Tensor([1.0, 2.0]), Tensor([3.0, 4.0])
    out = ops.tanh(x * y) @ y
    assert not out.requires_grad and out.is_leaf and out.parents == ()
    assert out._backward is None


def test_no_gradient_is_computed_for_a_data_operand() -> None:
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 3)))  # data: needs no gradient
    w = param(rng.standard_normal((3, 2)))
    z = x @ w
    assert z.requires_grad and z.parents == (x, w)
    g = np.ones(z.shape)
    grad_x, grad_w = z._backward(g)
    assert grad_x is None, "the rule must skip dX when X is data"
    np.testing.assert_allclose(grad_w, x.data.T @ g)
    z.backward(g)
    assert x.grad is None
    np.testing.assert_allclose(w.grad, x.data.T @ g)


@pytest.mark.parametrize(("build", "skipped"), [
    (lambda x, w: x * w, 0), (lambda x, w: w * x, 1), (lambda x, w: x / w, 0), (lambda x, w: w / x, 1),
    (lambda x, w: w - x, 1), (lambda x, w: x**w, 0), (lambda x, w: w**x, 1),
    (lambda x, w: ops.maximum(x, w), 0),
    (lambda x, w: ops.minimum(w, x), 1), (lambda x, w: ops.where(np.array([True, False]), x, w), 0),
])
def test_rules_skip_the_operand_that_is_data(build, skipped: int) -> None:
    x = Tensor([1.5, 2.5], dtype=np.float64)
    w = param([0.5, 3.0])
    out = build(x, w)
    grads = out._backward(np.ones(2))
    assert grads[skipped] is None
    assert grads[1 - skipped] is not None


def test_detach_leaves_the_graph() -> None:
    x = param([1.0, 2.0])
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_only_floating_tensors_can_require_a_gradient() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.array([1, 2]), requires_grad=True)


def test_a_zero_d_leaf_keeps_an_array_gradient_when_it_accumulates() -> None:
    x = Tensor(np.float32(2.0), requires_grad=True)
    y = Tensor(np.array([1.0, 2.0], dtype=np.float32))
    for expected in (3.0, 6.0):
        (x * y).sum().backward()
        assert isinstance(x.grad, np.ndarray) and x.grad.shape == () and x.grad.dtype == np.float32
        assert x.grad == expected


def test_linear_rejects_a_bias_that_is_not_one_per_output() -> None:
    x = Tensor(np.ones((2, 3)))
    W = Tensor(np.ones((4, 3)), requires_grad=True)  # noqa: N806 (the lecture's name)
    with pytest.raises(ValueError, match=r"the bias \(1, 4\) does not fit W \(4, 3\)"):
        ops.linear(x, W, Tensor(np.ones((1, 4)), requires_grad=True))


def test_unbroadcast_refuses_a_gradient_with_fewer_axes_than_its_tensor() -> None:
    from window_ner.autodiff.engine import unbroadcast

    with pytest.raises(ValueError, match=r"shape \(4,\) cannot belong to a tensor of shape \(1, 4\)"):
        unbroadcast(np.ones(4), (1, 4))


def test_in_place_update_under_no_grad_changes_the_tensor_itself() -> None:
    weight = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    holder = {"W": weight}
    (weight * weight).sum().backward()
    with no_grad():
        holder["W"] -= 0.5 * weight.grad  # the manual step of a torch tutorial
        holder["W"] *= 2.0
    assert holder["W"] is weight and weight.requires_grad
    assert np.array_equal(weight.data, [0.0, 0.0])


def test_in_place_update_in_a_graph_is_refused() -> None:
    weight = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    name = weight
    with pytest.raises(RuntimeError, match="inside no_grad"):
        name += 1.0
    data = Tensor(np.array([1.0, 2.0]))
    data /= 2.0  # a tensor outside any gradient may change in place
    assert np.array_equal(data.data, [0.5, 1.0])
