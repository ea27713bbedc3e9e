"""trace(): a backward pass recorded node by node, checked against the lecture's hand-derived numbers."""

from __future__ import annotations

import numpy as np
import pytest

from window_ner.autodiff import Tensor, ops, trace
from window_ner.autodiff.engine import _tracing


def leaf(value: object, name: str) -> Tensor:
    return Tensor(value, requires_grad=True, dtype=np.float64, name=name)


def lecture_f():
    """f = (x + y) max(y, z) at x = 1, y = 2, z = 0, with a = x + y and b = max(y, z)."""
    x, y, z = leaf(1.0, "x"), leaf(2.0, "y"), leaf(0.0, "z")
    a = x + y
    b = ops.maximum(y, z)
    f = a * b
    a.name, b.name, f.name = "a", "b", "f"
    with trace() as t:
        f.backward()
    return t, (x, y, z)


def test_the_lecture_example_upstream_local_and_downstream_gradients() -> None:
    t, (x, y, z) = lecture_f()
    assert [step.op for step in t] == ["mul", "maximum", "add"]  # the root first, as backward walks
    f = t.step("f")
    assert f.upstream == 1  # seeded with df/df = 1
    assert t.edge("f", "a").local == 2 and t.edge("f", "a").downstream == 2  # '*' switches: df/da = b = 2
    assert t.edge("f", "b").local == 3 and t.edge("f", "b").downstream == 3  # df/db = a = 3
    b = t.step("b")
    assert b.upstream == 3
    assert t.edge("b", "y").local == 1 and t.edge("b", "y").downstream == 3  # 'max' routes it all to y
    assert t.edge("b", "z").local == 0 and t.edge("b", "z").downstream == 0
    a = t.step("a")
    assert a.upstream == 2
    assert t.edge("a", "x").local == 1 and t.edge("a", "x").downstream == 2  # '+' distributes
    assert t.edge("a", "y").local == 1 and t.edge("a", "y").downstream == 2
    assert t.gradient("x") == 2 and t.gradient("y") == 5 and t.gradient("z") == 0
    assert [float(g) for g in t.arrivals(y)] == [3.0, 2.0]  # df/dy = 3 + 2
    assert t.gradient("a") == 2 and t.gradient("b") == 3  # intermediate nodes: their upstream gradient


def test_the_table_prints_every_node_its_rule_and_the_sum_at_each_leaf() -> None:
    t, _ = lecture_f()
    text = str(t)
    assert text == t.table()
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("node"))
    assert header.split() == ["node", "op", "upstream", "input", "local", "gradient", "downstream"]
    assert any(line.split() == ["f", "mul", "1", "a", "2", "2"] for line in lines)
    assert any(line.split() == ["b", "3", "3"] for line in lines)  # the second edge of f
    assert any(line.split() == ["b", "maximum", "3", "y", "1", "3"] for line in lines)
    assert "    Local Jacobians: diag(b) and diag(a) ('*' switches the inputs)." in lines  # from ops.mul's docstring
    assert "  y: 3 + 2 = 5" in lines and "  x: 2" in lines and "  z: 0" in lines


def window(n: int = 2, m: int = 3, seed: int = 1):
    rng = np.random.default_rng(seed)
    w, x = leaf(rng.standard_normal((n, m)), "W"), leaf(rng.standard_normal(m), "x")
    b, u = leaf(rng.standard_normal(n), "b"), leaf(rng.standard_normal(n), "u")
    wx = w @ x
    z = wx + b
    h = ops.tanh(z)
    s = u @ h
    wx.name, z.name, h.name, s.name = "Wx", "z", "h", "s"
    with trace() as t:
        s.backward()
    return t, {"W": w, "x": x, "b": b, "u": u, "z": z.data, "h": h.data}


def test_the_window_score_s_u_tanh_wx_plus_b_node_by_node() -> None:
    t, v = window()
    w, x, u = v["W"].data, v["x"].data, v["u"].data
    n, m = w.shape
    delta = u * (1 - v["h"] ** 2)
    np.testing.assert_allclose(t.edge("s", "u").local, v["h"], rtol=1e-15)  # ds/du = h^T, a row
    np.testing.assert_allclose(t.edge("s", "h").local, u, rtol=1e-15)
    np.testing.assert_allclose(t.step("h").upstream, u, rtol=1e-15)  # ds/dh = u
    np.testing.assert_allclose(t.edge("h", "z").local, np.diag(1 - v["h"] ** 2), rtol=1e-15)  # diag(f'(z))
    np.testing.assert_allclose(t.step("z").upstream, delta, rtol=1e-15)  # the lecture's delta
    np.testing.assert_allclose(t.edge("z", "b").local, np.eye(n))  # dz/db = I
    np.testing.assert_allclose(t.edge("Wx", "x").local, w)  # d(Wx)/dx = W
    jac_w = t.edge("Wx", "W").local  # d(Wx)/dW: (n, n, m), entry (i, j, k) = 1[i = j] x_k
    assert jac_w.shape == (n, n, m)
    np.testing.assert_allclose(jac_w, np.eye(n)[:, :, None] * x[None, None, :])
    np.testing.assert_allclose(t.edge("Wx", "W").downstream, np.outer(delta, x), rtol=1e-15)  # delta x^T
    np.testing.assert_allclose(t.edge("Wx", "x").downstream, w.T @ delta, rtol=1e-15)  # W^T delta
    np.testing.assert_allclose(t.gradient("b"), delta, rtol=1e-15)


def test_the_table_shows_numbers_for_small_tensors_and_shapes_for_big_ones() -> None:
    text = str(window()[0])
    assert "diag[" in text  # tanh's diagonal local Jacobian, as the lecture writes it
    w_row = next(line for line in text.splitlines() if line.split()[:2] == ["Wx", "matmul"])
    # d(Wx)/dW has 12 entries: the table gives its shape; ds/dW has 6: its numbers
    assert w_row.split()[4:8] == ["W", "(2,", "2,", "3)"] and "[[" in w_row
    rng = np.random.default_rng(0)
    big = leaf(rng.standard_normal((30, 40)), "big")
    with trace() as t:
        ops.tanh(big).sum().backward()
    rows = str(t).splitlines()
    assert any(line.split()[:5] == ["tanh#1", "tanh", "(30,", "40)", "big"] for line in rows)
    assert "  big: (30, 40)" in rows
    assert t.edge("tanh#1", "big").local is None  # too big to tabulate: the rule's line says it instead
    assert "    Local Jacobian: diag(1 - tanh(a)^2)." in rows


def test_unnamed_tensors_are_numbered_per_op_in_the_order_the_pass_met_them() -> None:
    x = leaf([1.0, 2.0], "x")
    with trace() as t:
        (ops.tanh(ops.tanh(x)) * 2.0).sum().backward()
    assert [t.label(step.node) for step in t] == ["sum#1", "mul#1", "tanh#1", "tanh#2"]
    assert t.name({"outer": t.steps[2].node}).label(t.steps[2].node) == "outer"


def test_a_data_input_is_listed_without_a_gradient() -> None:
    w = leaf([[1.0, 2.0]], "W")
    x = Tensor(np.array([3.0, 4.0]), name="x")
    with trace() as t:
        (w @ x).sum().backward()
    edge = t.edge("matmul#1", "x")
    assert edge.local is None and edge.downstream is None
    assert any(line.split()[-3:] == ["x", "-", "-"] for line in str(t).splitlines())


def test_tabulating_local_jacobians_leaves_retained_gradients_alone() -> None:
    x = leaf([0.5, -1.0], "x")
    h = ops.tanh(x).retain_grad()
    with trace() as t:
        (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * np.tanh(x.data), rtol=1e-15)  # once, not once per probe
    np.testing.assert_allclose(t.edge("tanh#1", "x").local, np.diag(1 - np.tanh(x.data) ** 2), rtol=1e-15)


def test_a_row_sparse_gradient_is_shown_as_such() -> None:
    table = leaf(np.ones((10, 3)), "L")
    with trace() as t:
        ops.embedding(table, np.array([1, 4, 1])).sum().backward()
    assert "  L: row-sparse (10, 3), 2 rows" in str(t).splitlines()


def test_only_the_block_is_traced_and_passes_inside_it_add_up() -> None:
    x = leaf(3.0, "x")
    (x * x).backward()
    with trace() as t:
        (x * 2.0).backward()
        (x * 5.0).backward()
    (x * x).backward()
    assert len(t.steps) == 2 and t.gradient("x") == 7.0
    assert _tracing.recorder is None


def test_a_trace_ends_with_its_block_even_on_an_error_and_nests() -> None:
    x = leaf(1.0, "x")
    with pytest.raises(ZeroDivisionError), trace():
        (x * 2.0).backward()
        raise ZeroDivisionError
    assert _tracing.recorder is None
    with trace() as outer:
        with trace() as inner:
            (x * 2.0).backward()
        (x * 3.0).backward()
    assert inner.gradient("x") == 2.0 and outer.gradient("x") == 3.0


def test_looking_up_a_missing_step_names_the_steps_there_are() -> None:
    t, _ = lecture_f()
    with pytest.raises(KeyError, match=r"no step of the trace is 'q'.*'f', 'b', 'a'"):
        t.step("q")
    with pytest.raises(KeyError, match="has no input 'q'"):
        t.edge("f", "q")


def test_the_record_is_not_changed_by_later_passes_that_accumulate_into_the_leaves() -> None:
    x = leaf([1.0, 2.0], "x")
    with trace() as t:
        (x * 3.0).sum().backward()
    (x * 10.0).sum().backward()  # adds into x.grad in place
    np.testing.assert_array_equal(x.grad, [13.0, 13.0])
    np.testing.assert_array_equal(t.gradient("x"), [3.0, 3.0])
    np.testing.assert_array_equal(t.edge("mul#1", "x").downstream, [3.0, 3.0])
