"""Drawing a computation graph: DOT text with ops, shapes, values and gradients; SVG through Graphviz."""

from __future__ import annotations

import re
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from window_ner.autodiff import GraphvizError, Tensor, Trace, draw, is_released, ops, render, to_dot, trace
from window_ner.autodiff import graph as graph_module


def small_graph() -> tuple[Tensor, Tensor, Tensor]:
    x = Tensor([1.0, 2.0], requires_grad=True, dtype=np.float64, name="x")
    w = Tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True, dtype=np.float64, name="W")
    s = ops.tanh(w @ x).sum()
    return x, w, s


def test_dot_lists_ops_shapes_values_and_gradients() -> None:
    x, w, s = small_graph()
    s.backward(retain_graph=True)
    dot = to_dot(s)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for op in ("matmul (2,)", "tanh (2,)"):
        assert f'label="{op}' in dot, op
    assert 'label="sum\\n' in dot  # a scalar: no shape line
    assert 'label="x (2,)' in dot and 'label="W (2, 2)' in dot  # named leaves: their names
    assert "value [1 2]" in dot
    np.testing.assert_allclose(w.grad, np.outer(1 - np.tanh(w.data @ x.data) ** 2, x.data))
    assert f"grad [{x.grad[0]:.3g} {x.grad[1]:.3g}]" in dot
    assert dot.count("->") == 4  # x->matmul, W->matmul, matmul->tanh, tanh->sum


def test_dot_shows_a_retained_intermediate_gradient_and_omits_big_tensors() -> None:
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, dtype=np.float64)
    h = (x * 2.0).retain_grad()
    out = h[0].sum()
    out.backward(retain_graph=True)
    dot = to_dot(out)
    assert "mul (3, 4)" in dot
    assert "value [[" not in dot  # 12 numbers are too many to show
    assert "getitem (4,)" in dot and "value [0 2 4 6]" in dot


def test_dot_refuses_a_graph_released_by_backward_and_says_what_to_do() -> None:
    s = small_graph()[2]
    assert not is_released(s)
    s.backward()
    assert is_released(s)
    with pytest.raises(RuntimeError, match=r"released.*retain_graph=True.*trace\(\)"):
        to_dot(s)


def test_dot_refuses_a_graph_released_below_an_intact_node() -> None:
    x = Tensor(2.0, requires_grad=True, name="x")
    inner = x * 3.0
    inner.name = "inner"
    inner.backward()
    with pytest.raises(RuntimeError, match="released the graph that made inner"):
        to_dot(inner + 1.0)


def lecture_trace() -> tuple[dict[str, Tensor], Trace]:
    x, y, z = (Tensor(v, requires_grad=True, dtype=np.float64, name=n) for v, n in ((1.0, "x"), (2.0, "y"), (0.0, "z")))
    a = x + y
    b = ops.maximum(y, z)
    f = a * b
    a.name, b.name, f.name = "a", "b", "f"
    with trace() as t:
        f.backward()
    return {"x": x, "y": y, "z": z, "a": a, "b": b, "f": f}, t


def edge_labels(dot: str) -> dict[tuple[str, str], str]:
    """(parent title, child title) -> the edge's label, from DOT text."""
    titles = dict(re.findall(r'  (n\d+) \[label="([^"\\]*)', dot))
    found = re.findall(r"  (n\d+) -> (n\d+) \[label=\"([^\"]*)\"", dot)
    return {(titles[a], titles[b]): label for a, b, label in found}


def test_dot_of_a_trace_labels_each_edge_with_the_gradient_that_flowed_along_it() -> None:
    tensors, t = lecture_trace()
    assert tensors["f"].parents == ()  # backward released the graph; the trace kept it
    dot = to_dot(t)
    labels = edge_labels(dot)
    # y receives 2 (through a = x + y) and 3 (through b = max(y, z)): two edges, not one number 5
    assert labels[("y", "a")] == "2" and labels[("y", "b")] == "3"
    assert labels[("x", "a")] == "2" and labels[("z", "b")] == "0"
    assert labels[("a", "f")] == "2" and labels[("b", "f")] == "3"
    # the intermediate nodes show the gradient they received: df/da = 2, df/db = 3
    assert 'label="a\\n(add)\\nvalue 3\\ngrad 2"' in dot
    assert 'label="b\\n(maximum)\\nvalue 2\\ngrad 3"' in dot
    assert 'label="y\\nvalue 2\\ngrad 5"' in dot
    assert "(" not in dot.split('label="x')[1].split('"')[0]  # a scalar has no shape line


def test_dot_of_a_trace_shows_the_norm_of_big_gradients_and_names_given_to_it() -> None:
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((4, 5)), requires_grad=True, dtype=np.float64)
    x = Tensor(rng.standard_normal(5), dtype=np.float64)
    with trace() as t:
        (w @ x).sum().backward()
    dot = to_dot(t, names={"layers.0.W": w, "window": x})
    assert 'label="layers.0.W (4, 5)' in dot and 'label="window (5,)' in dot
    assert f'label="norm {np.linalg.norm(w.grad):.3g}"' in dot
    assert dot.count("->") == 3  # the data input x is drawn, with no gradient on its edge
    assert "value [[" not in dot


def test_dot_of_a_trace_of_two_passes_adds_their_gradients() -> None:
    x = Tensor(2.0, requires_grad=True, dtype=np.float64, name="x")
    y = x * 3.0
    y.name = "y"
    with trace() as t:
        y.backward(retain_graph=True)
        y.backward()
    dot = to_dot(t)
    assert edge_labels(dot)[("x", "y")] == "6" and 'label="x\\nvalue 2\\ngrad 6"' in dot


def test_dot_is_the_same_text_on_every_run() -> None:
    """Node keys are positions, not object ids, so a committed picture changes only when the graph does."""
    assert to_dot(lecture_trace()[1]) == to_dot(lecture_trace()[1])


def test_dot_marks_leaves_as_boxes_and_parameters_filled() -> None:
    x, w, s = small_graph()
    data = Tensor([3.0, 4.0])
    dot = to_dot(s * 2.0 + (data * 1.0).sum())
    # x, W, and the data's sum: computed without a gradient it records no graph, so it is a leaf too
    assert dot.count("shape=box") == 3
    assert dot.count("style=filled") == 2  # only x and W require a gradient
    assert "shape=ellipse" in dot


def test_dot_of_a_deep_graph_does_not_recurse() -> None:
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    assert to_dot(y).count("->") == 5000


def test_draw_explains_how_to_install_graphviz_when_dot_is_missing(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    with pytest.raises(GraphvizError, match=r"Graphviz.*apt-get install graphviz"):
        draw(small_graph()[2], tmp_path / "graph.svg")
    assert not (tmp_path / "graph.svg").exists()


def test_render_explains_how_to_install_graphviz_when_dot_is_missing(monkeypatch, tmp_path: Path) -> None:
    """An OSError, as a missing program is: the command line reports it in one line, not as a bug."""
    assert issubclass(GraphvizError, OSError)
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    with pytest.raises(GraphvizError, match=r"Graphviz.*apt-get install graphviz"):
        render("digraph {}", tmp_path / "graph.svg")


def test_render_reports_what_graphviz_said_when_it_fails(monkeypatch, tmp_path: Path) -> None:
    fake = tmp_path / "dot"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write('syntax error in line 1')\nsys.exit(1)\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: str(fake))
    with pytest.raises(GraphvizError, match="could not render.*syntax error in line 1"):
        render("digraph {", tmp_path / "graph.svg")


def test_draw_rejects_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        draw(small_graph()[2], tmp_path / "graph.jpg")


def test_draw_passes_the_dot_text_to_graphviz(monkeypatch, tmp_path: Path) -> None:
    """A stand-in for ``dot`` that records its arguments and input, so this runs without Graphviz."""
    fake = tmp_path / "dot"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        "out = pathlib.Path(sys.argv[sys.argv.index('-o') + 1])\n"
        "out.write_text(' '.join(sys.argv[1:]) + '\\n' + sys.stdin.read())\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: str(fake) if name == "dot" else None)
    root = small_graph()[2]
    target = tmp_path / "graph.svg"
    assert draw(root, target) == target
    written = target.read_text()
    assert written.startswith("-Tsvg -o")
    assert to_dot(root) in written


NO_DOT = "Graphviz's 'dot' program is not installed (apt-get install graphviz)"


@pytest.mark.skipif(shutil.which("dot") is None, reason=NO_DOT)
def test_render_writes_the_svg_of_a_trace(tmp_path: Path) -> None:
    path = render(to_dot(lecture_trace()[1]), tmp_path / "f.svg")
    text = path.read_text()
    assert "<svg" in text and "b" in text and "grad 5" in text


@pytest.mark.skipif(shutil.which("dot") is None, reason=NO_DOT)
def test_draw_writes_an_svg(tmp_path: Path) -> None:
    x, w, s = small_graph()
    s.backward(retain_graph=True)
    path = draw(s, tmp_path / "graph.svg")
    text = path.read_text()
    assert "<svg" in text and "tanh" in text
