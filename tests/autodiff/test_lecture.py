"""The CS224N backpropagation lecture, checked number by number against the engine (see docs/lecture.md)."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from window_ner.autodiff import Tensor, jacobian, ops

ROOT = Path(__file__).resolve().parents[2]

ACTIVATIONS = {
    "tanh": (ops.tanh, np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (ops.sigmoid, lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "relu": (ops.relu, lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(np.float64)),
}


def param(values) -> Tensor:
    return Tensor(values, requires_grad=True, dtype=np.float64)


def window_problem(n: int = 5, m: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Random W (n x m), x (m), b (n), u (n): m = 5 words x 4 dimensions, as a window of five words."""
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((n, m)) / np.sqrt(m), "x": rng.standard_normal(m),
            "b": rng.standard_normal(n), "u": rng.standard_normal(n)}


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_score_gradients_match_the_hand_derivation(activation: str) -> None:
    """s = u . f(W x + b): delta = u * f'(z); ds/db = delta; ds/dW = delta x^T; ds/dx = W^T delta;
    ds/du = h."""
    f, f_numpy, f_prime = ACTIVATIONS[activation]
    values = window_problem()
    w, x, b, u = (param(values[k]) for k in ("W", "x", "b", "u"))
    z_value = values["W"] @ values["x"] + values["b"]
    if activation == "relu":
        assert np.min(np.abs(z_value)) > 1e-3  # away from relu's kink
    h_value = f_numpy(z_value)
    delta = values["u"] * f_prime(z_value)

    s = u @ f(w @ x + b)
    np.testing.assert_allclose(s.item(), values["u"] @ h_value, rtol=1e-12)
    s.backward()
    np.testing.assert_allclose(b.grad, delta, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(w.grad, np.outer(delta, values["x"]), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(x.grad, values["W"].T @ delta, rtol=1e-12)
    np.testing.assert_allclose(u.grad, h_value, rtol=1e-12, atol=1e-300)


def test_batched_score_gradient_is_the_sum_of_outer_products() -> None:
    """For a batch of windows X (B x m): dS/dW = sum_i delta_i x_i^T = Delta^T X."""
    rng = np.random.default_rng(4)
    values = window_problem()
    windows = rng.standard_normal((6, 20))
    w, b, u = param(values["W"]), param(values["b"]), param(values["u"])
    (ops.tanh(Tensor(windows) @ w.T + b) @ u).sum().backward()
    z = windows @ values["W"].T + values["b"]
    deltas = values["u"] * (1 - np.tanh(z) ** 2)
    np.testing.assert_allclose(w.grad, deltas.T @ windows, rtol=1e-12)
    np.testing.assert_allclose(b.grad, deltas.sum(axis=0), rtol=1e-12)


def test_binary_classifier_j_equals_sigma_of_s() -> None:
    """J = sigma(s): every gradient of s is multiplied by dJ/ds = sigma(s)(1 - sigma(s))."""
    values = window_problem(seed=1)
    w, x, b, u = (param(values[k]) for k in ("W", "x", "b", "u"))
    j = ops.sigmoid(u @ ops.tanh(w @ x + b))
    j.backward()
    z = values["W"] @ values["x"] + values["b"]
    s = values["u"] @ np.tanh(z)
    sigma = 1 / (1 + np.exp(-s))
    np.testing.assert_allclose(j.item(), sigma, rtol=1e-12)
    delta = sigma * (1 - sigma) * values["u"] * (1 - np.tanh(z) ** 2)
    np.testing.assert_allclose(w.grad, np.outer(delta, values["x"]), rtol=1e-12)
    np.testing.assert_allclose(x.grad, values["W"].T @ delta, rtol=1e-12)


def test_max_margin_loss_gradient() -> None:
    """J = max(0, 1 - s + s_c): the true window's score s is pushed up, the corrupt one's s_c down."""
    values = window_problem(seed=2)
    w, b, u = param(values["W"]), param(values["b"]), param(values["u"])
    true_x, corrupt_x = values["x"], np.random.default_rng(3).standard_normal(20)

    def score(x: np.ndarray) -> Tensor:
        return u @ ops.tanh(w @ Tensor(x) + b)

    s, s_c = score(true_x), score(corrupt_x)
    margin = 1.0 - s + s_c
    assert margin.item() > 1e-3  # inside the margin: the loss is active
    ops.maximum(margin, 0.0).backward()

    def hand(x: np.ndarray) -> np.ndarray:
        return np.outer(values["u"] * (1 - np.tanh(values["W"] @ x + values["b"]) ** 2), x)

    np.testing.assert_allclose(w.grad, hand(corrupt_x) - hand(true_x), rtol=1e-12)


# ------------------------------------------------------------------ shapes: Jacobians and the shape convention

def shapes_problem(n: int = 3, m: int = 4):
    values = window_problem(n=n, m=m, seed=6)
    w, x, b, u = (values[k] for k in ("W", "x", "b", "u"))
    z = w @ x + b
    delta = u * (1 - np.tanh(z) ** 2)
    return w, x, b, u, np.tanh(z), delta


def test_ds_dw_is_a_1_by_nm_row_reshaped_to_the_shape_of_w() -> None:
    """ds/dW as a Jacobian is 1 x nm: one output, nm inputs; reshaped to n x m it is delta x^T."""
    w, x, b, u, _, delta = shapes_problem()
    n, m = w.shape
    jac = jacobian(lambda wt: Tensor(u) @ ops.tanh(wt @ Tensor(x) + Tensor(b)), Tensor(w))
    row = jac.reshape(1, n * m)
    assert row.shape == (1, n * m)
    np.testing.assert_allclose(row, np.outer(delta, x).reshape(1, n * m), rtol=1e-12)
    np.testing.assert_allclose(row.reshape(n, m), np.outer(delta, x), rtol=1e-12)
    weights = param(w)
    (Tensor(u) @ ops.tanh(weights @ Tensor(x) + Tensor(b))).backward()
    np.testing.assert_allclose(weights.grad, row.reshape(n, m), rtol=1e-12)  # the shape convention


def test_the_jacobian_of_wx_plus_b_with_respect_to_w_is_n_by_n_by_m() -> None:
    """d(Wx + b)/dW has shape (n, n, m): entry (i, j, k) is dz_i/dW_jk = 1[i = j] x_k."""
    w, x, b, *_ = shapes_problem()
    n, m = w.shape
    jac = jacobian(lambda wt: wt @ Tensor(x) + Tensor(b), Tensor(w))
    assert jac.shape == (n, n, m)
    for i, j, k in np.ndindex(n, n, m):
        assert jac[i, j, k] == (x[k] if i == j else 0.0)


def test_the_jacobian_of_wx_plus_b_with_respect_to_b_is_the_identity() -> None:
    w, x, b, *_ = shapes_problem()
    jac = jacobian(lambda bt: Tensor(w) @ Tensor(x) + bt, Tensor(b))
    np.testing.assert_array_equal(jac, np.eye(len(b)))


def test_ds_du_is_h_transposed_a_row() -> None:
    """s = u^T h: one output and n inputs, so ds/du is 1 x n, the row h^T; stored with u's shape, it is h."""
    *_, u, h, _ = shapes_problem()
    jac = jacobian(lambda ut: ut @ Tensor(h), Tensor(u))
    assert jac.shape == u.shape
    np.testing.assert_array_equal(jac.reshape(1, -1), h[None, :])


def test_the_chain_rule_contracts_delta_with_the_n_n_m_jacobian_to_delta_x_transposed() -> None:
    """ds/dW = ds/dz dz/dW: the 1 x n row delta^T times the (n, n, m) Jacobian, summed over z's axis."""
    w, x, b, _, _, delta = shapes_problem()
    jac = jacobian(lambda wt: wt @ Tensor(x) + Tensor(b), Tensor(w))
    np.testing.assert_allclose(np.tensordot(delta, jac, axes=1), np.outer(delta, x), rtol=1e-14)


# ------------------------------------------------------------------ the three gates

def test_plus_distributes_the_upstream_gradient_unchanged() -> None:
    x, y = param(3.0), param(-4.0)
    (x + y).backward(np.array(7.0))
    assert float(x.grad) == 7.0 and float(y.grad) == 7.0


def test_max_routes_the_whole_gradient_to_the_larger_input() -> None:
    y, z = param(2.0), param(0.0)
    ops.maximum(y, z).backward(np.array(7.0))
    assert float(y.grad) == 7.0 and float(z.grad) == 0.0


def test_times_switches_the_inputs() -> None:
    x, y = param(3.0), param(-4.0)
    (x * y).backward(np.array(2.0))
    assert float(x.grad) == 2.0 * -4.0  # d(xy)/dx = y, times upstream 2
    assert float(y.grad) == 2.0 * 3.0


def test_the_lecture_example_x_plus_y_times_max_y_z() -> None:
    """f(x, y, z) = (x + y) max(y, z) at x = 1, y = 2, z = 0: df/dx = 2, df/dy = 3 + 2 = 5, df/dz = 0."""
    x, y, z = param(1.0), param(2.0), param(0.0)
    a = (x + y).retain_grad()
    m = ops.maximum(y, z).retain_grad()
    f = a * m
    assert f.item() == 6.0
    f.backward()
    assert float(a.grad) == 2.0  # '*' switches: df/da = m
    assert float(m.grad) == 3.0  # df/dm = a
    assert float(x.grad) == 2.0  # '+' distributes df/da to x ...
    assert float(y.grad) == 5.0  # ... and to y, which also gets df/dm routed by max: 2 + 3
    assert float(z.grad) == 0.0  # max routes nothing to the smaller input


def test_upstream_times_local_is_downstream() -> None:
    """One node h = tanh(z): downstream dJ/dz = upstream dJ/dh times local dh/dz = 1 - h^2."""
    z = param([0.3, -1.2])
    h = ops.tanh(z)
    upstream = np.array([2.0, -0.5])
    h.backward(upstream)
    np.testing.assert_allclose(z.grad, upstream * (1 - np.tanh(z.data) ** 2), rtol=1e-15)


def test_elementwise_jacobian_is_diagonal_and_chain_rule_multiplies_jacobians() -> None:
    """dh/dz = diag(f'(z)); ds/dz = u^T diag(f'(z)) = u * f'(z), the lecture's delta."""
    values = window_problem()
    z = values["W"] @ values["x"] + values["b"]
    jac_h = jacobian(ops.tanh, Tensor(z))
    np.testing.assert_allclose(jac_h, np.diag(1 - np.tanh(z) ** 2), rtol=1e-14)
    jac_z = jacobian(lambda x: Tensor(values["W"]) @ x + Tensor(values["b"]), Tensor(values["x"]))
    np.testing.assert_allclose(jac_z, values["W"], rtol=1e-15)
    chained = values["u"] @ jac_h @ jac_z  # ds/dx as a product of Jacobians
    x = param(values["x"])
    (Tensor(values["u"]) @ ops.tanh(Tensor(values["W"]) @ x + Tensor(values["b"]))).backward()
    np.testing.assert_allclose(x.grad, chained, rtol=1e-12)


def test_shape_convention_gradient_has_the_parameter_shape() -> None:
    values = window_problem(n=3, m=7)
    w = param(values["W"])
    (Tensor(values["u"]) @ ops.tanh(w @ Tensor(values["x"]))).backward()
    assert w.grad.shape == w.shape == (3, 7)


def test_word_vector_gradient_is_split_back_and_repeated_words_add() -> None:
    """The window x = [x_{i-2} .. x_{i+2}] is five word vectors end to end; dJ/dx is cut into five pieces."""
    rng = np.random.default_rng(5)
    d = 4
    table = param(rng.standard_normal((10, d)))
    window = np.array([7, 2, 7, 9, 7])  # "7" appears three times in the window
    values = window_problem(n=5, m=5 * d)
    x = ops.embedding(table, window).reshape(-1)
    (Tensor(values["u"]) @ ops.tanh(Tensor(values["W"]) @ x + Tensor(values["b"]))).backward()
    z = values["W"] @ table.data[window].reshape(-1) + values["b"]
    pieces = (values["W"].T @ (values["u"] * (1 - np.tanh(z) ** 2))).reshape(5, d)
    dense = table.grad.to_dense()
    np.testing.assert_allclose(dense[7], pieces[0] + pieces[2] + pieces[4], rtol=1e-12)
    np.testing.assert_allclose(dense[2], pieces[1], rtol=1e-12)
    np.testing.assert_allclose(dense[9], pieces[3], rtol=1e-12)
    assert not dense[[0, 1, 3, 4, 5, 6, 8]].any()


def run_example(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "examples" / "lecture_gradients.py"), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_worked_example_script_says_the_gradients_agree(tmp_path: Path) -> None:
    out = tmp_path / "graph.dot"
    result = run_example("--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "all gradients agree" in result.stdout
    assert "MISMATCH" not in result.stdout
    assert "df/dx = 2, df/dy = 5, df/dz = 0" in result.stdout
    dot = out.read_text()
    assert dot.startswith("digraph") and "(maximum)" in dot and "grad 5" in dot


def test_the_worked_example_script_prints_both_traced_tables() -> None:
    result = run_example()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("backward pass: upstream gradient x local gradient") for line in lines) == 2
    assert any(line.split() == ["f", "=", "a", "b", "mul", "1", "a", "=", "x", "+", "y", "2", "2"] for line in lines)
    assert "  y: 3 + 2 = 5" in lines
    assert any(line.startswith("h = tanh(z)  tanh") and "diag[" in line for line in lines)
    assert "digraph" not in result.stdout  # the DOT text only with --out


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's 'dot' program is not installed")
def test_the_worked_example_script_draws_the_lecture_svgs(tmp_path: Path) -> None:
    result = run_example("--svg", str(tmp_path))
    assert result.returncode == 0, result.stderr
    f_svg, s_svg = (tmp_path / "lecture_f.svg").read_text(), (tmp_path / "lecture_s.svg").read_text()
    assert "<svg" in f_svg and "b = max(y, z)" in f_svg and "grad 5" in f_svg
    assert "<svg" in s_svg and "h = tanh(z)" in s_svg


def test_the_lecture_svgs_in_docs_are_drawn_by_the_script_and_shown_in_lecture_md() -> None:
    text = (ROOT / "docs" / "lecture.md").read_text()
    for stem, label in (("lecture_f", "b = max(y, z)"), ("lecture_s", "s = u . h")):
        assert f"]({stem}.svg)" in text, stem
        svg = (ROOT / "docs" / f"{stem}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and label in svg


def test_every_reference_in_docs_lecture_md_exists() -> None:
    """docs/lecture.md names code as `autodiff/file.py:function` and tests as `tests/.../file.py::test`."""
    text = (ROOT / "docs" / "lecture.md").read_text()
    code_refs = re.findall(r"`autodiff/(\w+)\.py:([\w.]+)`", text)
    test_refs = re.findall(r"`(tests/autodiff/\w+\.py)::(\w+)`", text)
    assert len(code_refs) > 20 and len(test_refs) > 30
    for module_name, qualified in code_refs:
        target = importlib.import_module(f"window_ner.autodiff.{module_name}")
        for part in qualified.split("."):
            assert hasattr(target, part), f"docs/lecture.md: autodiff/{module_name}.py has no {qualified}"
            target = getattr(target, part)
    for path, name in test_refs:
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"docs/lecture.md: no {path}::{name}"
