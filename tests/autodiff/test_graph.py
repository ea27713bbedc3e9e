"""Drawing a computation graph: DOT text with ops, shapes, values and gradients; SVG through Graphviz."""

from __future__ import annotations

import re
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

from window_ner.autodiff import Tensor, draw, ops, to_dot
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
    for op in ("matmul", "tanh", "sum"):
        assert re.search(rf'label="{op} \(', dot), op
    assert "x: leaf" in dot and "W: leaf" in dot
    assert "(2, 2)" in dot and "(2,)" in dot and "()" in dot
    assert "value [1. 2.]" in dot
    np.testing.assert_allclose(w.grad, np.outer(1 - np.tanh(w.data @ x.data) ** 2, x.data))
    assert f"grad {np.array2string(x.grad, precision=3, separator=' ', suppress_small=True)}" in dot
    assert dot.count("->") == 4  # x->matmul, W->matmul, matmul->tanh, tanh->sum


def test_dot_shows_a_retained_intermediate_gradient_and_omits_big_tensors() -> None:
    x = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True, dtype=np.float64)
    h = (x * 2.0).retain_grad()
    out = h[0].sum()
    out.backward(retain_graph=True)
    dot = to_dot(out)
    assert "mul (3, 4)" in dot
    assert "value [[" not in dot  # 12 numbers are too many to show
    assert "getitem (4,)" in dot and "value [0. 2. 4. 6.]" in dot


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
    with pytest.raises(RuntimeError, match=r"Graphviz.*apt-get install graphviz"):
        draw(small_graph()[2], tmp_path / "graph.svg")
    assert not (tmp_path / "graph.svg").exists()


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


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")
def test_draw_writes_an_svg(tmp_path: Path) -> None:
    x, w, s = small_graph()
    s.backward(retain_graph=True)
    path = draw(s, tmp_path / "graph.svg")
    text = path.read_text()
    assert "<svg" in text and "tanh" in text
