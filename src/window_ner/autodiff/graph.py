"""Draw a computation graph: each node with its op, shape and, for small tensors, value and gradient."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from window_ner.autodiff.tensor import RowSparseGrad, Tensor

SMALL = 6  # tensors with at most this many entries show their numbers


def _numbers(values: np.ndarray | RowSparseGrad | None) -> str:
    if values is None:
        return ""
    if isinstance(values, RowSparseGrad):
        return f"{len(values.rows)} rows"
    if values.size > SMALL:
        return ""
    return np.array2string(np.asarray(values), precision=3, separator=" ", suppress_small=True)


def _walk(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` was computed from, in any order (iterative: graphs can be deep)."""
    nodes, seen, stack = [], {id(root)}, [root]
    while stack:
        node = stack.pop()
        nodes.append(node)
        for parent in node.parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return nodes


def to_dot(root: Tensor) -> str:
    """Graphviz DOT text for the graph that produced ``root`` (edges point forward, input -> output).

    Leaves are boxes, op results ellipses. Gradients appear where they are kept: on leaves after
    ``backward()``, and on intermediate tensors that called ``retain_grad()`` first. Call it before
    backward, or backward with ``retain_graph=True``, to see the whole graph.
    """
    lines = ["digraph computation {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for node in _walk(root):
        title = node.name or node.op
        label = [f"{title} {tuple(node.shape)}" if node.name is None else f"{title}: {node.op}"]
        if node.name is not None:
            label.append(str(tuple(node.shape)))
        value, grad = _numbers(node.data), _numbers(node.grad)
        if value:
            label.append(f"value {value}")
        if grad:
            label.append(f"grad {grad}")
        text = "\\n".join(part.replace('"', "'").replace("\n", " ") for part in label)
        shape = "box" if node.is_leaf else "ellipse"
        style = ', style=filled, fillcolor="#dde8f5"' if node.requires_grad and node.is_leaf else ""
        lines.append(f'  n{id(node)} [label="{text}", shape={shape}{style}];')
        lines.extend(f"  n{id(parent)} -> n{id(node)};" for parent in node.parents)
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(root: Tensor, path: str | Path) -> Path:
    """Render the graph to SVG or PNG (by the file's suffix) with Graphviz's ``dot`` program."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"draw() writes .svg, .png or .pdf files, not {path.name!r}")
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "drawing needs Graphviz's 'dot' program: install it (Debian/Ubuntu: apt-get install graphviz; "
            "macOS: brew install graphviz), or save to_dot(root) to a .dot file and render it elsewhere"
        )
    subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=to_dot(root), text=True, check=True)
    return path
