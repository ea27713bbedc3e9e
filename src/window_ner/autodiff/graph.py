"""Draw a computation graph as the lecture does: values in the nodes, gradients on the edges.

``to_dot(root)`` draws the graph that made ``root`` while it still exists (before backward, or after
``backward(retain_graph=True)``); ``to_dot(t)`` draws a pass recorded with ``with trace() as t:``, with the
gradient that flowed back along every edge. ``render`` turns the DOT text into SVG, PNG or PDF.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from window_ner.autodiff.engine import is_released
from window_ner.autodiff.tensor import RowSparseGrad, Tensor
from window_ner.autodiff.tracing import SMALL, Gradient, Names, Trace, show

__all__ = ["to_dot", "render", "draw", "GraphvizError"]

_GRADIENT_COLOUR = "#c0392b"


class GraphvizError(OSError):
    """Graphviz's ``dot`` program is missing or could not render: an OSError, as a missing program is (the
    command line reports it in one line)."""


def _walk(root: Tensor) -> list[Tensor]:
    """Every tensor ``root`` was computed from, inputs first (iterative: graphs can be deep); refuses a graph
    that backward released, since it would draw only the released node."""
    nodes, seen, stack = [], {id(root)}, [root]
    while stack:
        node = stack.pop()
        if is_released(node):
            title = node.name or f"the {node.op} tensor {node.shape}"
            raise RuntimeError(
                f"to_dot: backward() already released the graph that made {title}, so it cannot be drawn: call "
                "backward(retain_graph=True) to keep the graph, or record the pass with "
                "`with trace() as t: root.backward()` and draw to_dot(t)"
            )
        nodes.append(node)
        for parent in node.parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return sorted(nodes, key=lambda node: node._seq)


def _label_pairs(names: Names | None) -> dict[int, str]:
    pairs = names.items() if isinstance(names, Mapping) else names or ()
    return {id(tensor): label for label, tensor in pairs}


def _numbers(value: np.ndarray) -> list[str]:
    """A small value in 3 significant digits, a matrix one row per line."""
    value = np.asarray(value)
    if value.ndim != 2 or len(value) < 2:
        return [show(value, digits=3)]
    rows = [show(row, digits=3) for row in value]
    return ["[" + rows[0], *rows[1:-1], rows[-1] + "]"]


def _edge_label(grad: Gradient | None) -> list[str]:
    if grad is None:
        return []
    if isinstance(grad, RowSparseGrad):
        return [f"row-sparse, {grad.rows.size} rows"]
    if np.size(grad) > SMALL:
        return [f"norm {float(np.linalg.norm(grad)):.3g}"]
    return _numbers(grad)


def _text(lines: list[str]) -> str:
    return "\\n".join(line.replace("\\", "/").replace('"', "'").replace("\n", " ") for line in lines)


def _node(key: str, tensor: Tensor, title: str | None, grad: Gradient | None) -> str:
    named = title is not None
    title = title if named else tensor.op
    lines = [f"{title} {tensor.shape}" if tensor.ndim else title]
    if named and not tensor.is_leaf:
        lines.append(f"({tensor.op})")
    if tensor.size <= SMALL:
        value = _numbers(tensor.data)
        lines += [f"value {value[0]}", *value[1:]]
    if isinstance(grad, RowSparseGrad):
        lines.append(f"grad {show(grad)}")
    elif grad is not None and np.size(grad) <= SMALL:
        numbers = _numbers(grad)
        lines += [f"grad {numbers[0]}", *numbers[1:]]
    shape = "box" if tensor.is_leaf else "ellipse"
    style = ', style=filled, fillcolor="#dde8f5"' if tensor.requires_grad and tensor.is_leaf else ""
    return f'  {key} [label="{_text(lines)}", shape={shape}{style}];'


_Edges = dict[tuple[int, int, int], Gradient | None]  # (id(parent), id(child), input position) -> gradient


def _recorded(trace: Trace) -> tuple[list[Tensor], dict[int, Gradient], _Edges]:
    """The tensors of a trace (inputs first), the gradient each received, and the gradient along each edge;
    a node traced in several passes adds its gradients up."""
    grads: dict[int, Gradient] = {id(leaf): grad for leaf, grad in trace.leaf_grads.items()}
    edges: _Edges = {}
    for step in trace.steps:
        key = id(step.node)
        grads[key] = step.upstream if key not in grads else grads[key] + step.upstream
        for position, edge in enumerate(step.edges):
            slot = (id(edge.parent), key, position)
            previous = edges.get(slot)
            edges[slot] = edge.downstream if previous is None else previous + edge.downstream
    return sorted(trace.tensors, key=lambda tensor: tensor._seq), grads, edges


def to_dot(source: Tensor | Trace, names: Names | None = None) -> str:
    """Graphviz DOT text for a computation graph (edges point forward, input -> output).

    ``source`` is a tensor whose graph still exists, or a ``Trace`` of a backward pass, whose edges are then
    labelled with the gradient that flowed back along them (numbers for small tensors, the norm for big
    ones) and whose every node shows the gradient it received. Nodes are labelled with ``names`` (a dict or
    pairs such as ``model.named_parameters()``), else the tensor's own ``name``, else its op; then the shape
    (none for a scalar), and the value and gradient of tensors of at most SMALL entries. Leaves are boxes
    (filled when they require a gradient), op results ellipses. A tensor whose graph backward released is
    refused with a RuntimeError saying what to do.
    """
    labels = _label_pairs(names)
    if isinstance(source, Trace):
        tensors, grads, edges = _recorded(source)
        titles = {id(tensor): labels.get(id(tensor), source.given_name(tensor)) for tensor in tensors}
        legend = "red: the gradient that flowed back along each edge (upstream x local)"
    else:
        tensors = _walk(source)
        titles = {id(tensor): labels.get(id(tensor), tensor.name) for tensor in tensors}
        grads = {id(tensor): tensor.grad for tensor in tensors if tensor.grad is not None}
        edges = {(id(parent), id(tensor), position): None
                 for tensor in tensors for position, parent in enumerate(tensor.parents)}
        legend = ""
    keys = {id(tensor): f"n{k}" for k, tensor in enumerate(tensors)}
    lines = ["digraph computation {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    if legend:
        lines.append(f'  label="{legend}"; labelloc=b; fontname="Helvetica"; fontsize=9;')
    lines.extend(_node(keys[id(t)], t, titles.get(id(t)), grads.get(id(t))) for t in tensors)
    for (parent, child, _), grad in edges.items():
        text = _text(_edge_label(grad))
        style = f' [label="{text}", fontcolor="{_GRADIENT_COLOUR}", color="{_GRADIENT_COLOUR}"]' if text else ""
        lines.append(f"  {keys[parent]} -> {keys[child]}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, path: str | Path) -> Path:
    """Write DOT text as SVG, PNG or PDF (by the file's suffix) with Graphviz's ``dot`` program; raises
    ``GraphvizError`` saying how to install it when it is missing."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"render() writes .svg, .png or .pdf files, not {path.name!r}")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizError(
            "drawing needs Graphviz's 'dot' program: install it (Debian/Ubuntu: apt-get install graphviz; "
            "macOS: brew install graphviz), or save the DOT text to a .dot file and render it elsewhere"
        )
    result = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=dot_text, text=True, capture_output=True)
    if result.returncode != 0:
        raise GraphvizError(f"Graphviz's dot could not render {path}: {result.stderr.strip()}")
    return path


def draw(source: Tensor | Trace, path: str | Path, names: Names | None = None) -> Path:
    """Render ``to_dot(source, names)`` to SVG, PNG or PDF: ``render(to_dot(source, names), path)``."""
    return render(to_dot(source, names), path)
