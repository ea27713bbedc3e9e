"""A backward pass recorded node by node: upstream gradient x local gradient = downstream gradient.

    with trace() as t:
        f.backward()
    print(t)            # the table: node, op, upstream, input, local gradient, downstream

Each step keeps the node, the upstream gradient it received (summed over its uses), and per parent the
local Jacobian d(node)/d(parent) and the downstream gradient the parent was sent. The local Jacobian is
tabulated for small nodes by calling the node's rule once per output entry with a unit upstream gradient
(a rule is a function of g alone); for big ones the table shows its shape, and the rule's one line from
the primitive's docstring. A trace keeps the tensors it saw alive, so ``to_dot(t)`` can draw the graph
even though backward released it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from window_ner.autodiff.engine import _tracing, unbroadcast
from window_ner.autodiff.registry import PRIMITIVES
from window_ner.autodiff.tensor import RowSparseGrad, Tensor

__all__ = ["Edge", "Step", "Trace", "trace", "Names"]

SMALL = 6  # arrays with at most this many entries are shown as numbers, bigger ones by their shape
LOCAL_LIMIT = 64  # a local Jacobian is tabulated when it has at most this many entries

Names = Mapping[str, Tensor] | Iterable[tuple[str, Tensor]]
"""Labels for tensors: a dict ``{"x": x}`` or pairs such as ``model.named_parameters()``."""

Gradient = np.ndarray | RowSparseGrad


@dataclass(frozen=True)
class Edge:
    """One parent of a step: the local Jacobian d(node)/d(parent), shape node.shape + parent.shape (None when
    too big to tabulate or when the parent needs no gradient), and the downstream gradient sent to it."""

    parent: Tensor
    local: np.ndarray | None
    downstream: Gradient | None


@dataclass(frozen=True)
class Step:
    """One node of the backward pass: the upstream gradient it received and what each parent was sent."""

    node: Tensor
    upstream: np.ndarray
    edges: tuple[Edge, ...]

    @property
    def op(self) -> str:
        """The op that made the node."""
        return self.node.op

    @property
    def rule(self) -> str:
        """The local Jacobian as the primitive's docstring states it (its first line, from "Local Jacobian")."""
        entry = PRIMITIVES.get(self.node.op)
        doc = (entry.fn.__doc__ or "").strip() if entry is not None else ""
        line = doc.splitlines()[0] if doc else ""
        start = line.find("Local Jacobian")
        return line[start:] if start >= 0 else line


def _kept(grad: Gradient) -> Gradient:
    """A copy of an array the engine may go on to add into in place (a leaf's .grad); sparse ones are new."""
    return np.array(grad) if isinstance(grad, (np.ndarray, np.generic)) else grad


def _fit(grad: Any, parent: Tensor) -> Gradient:
    """A rule's gradient as the engine hands it to ``parent``: summed to its shape, in its dtype."""
    if isinstance(grad, np.generic):
        grad = np.asarray(grad)
    if grad.shape != parent.shape:
        grad = unbroadcast(grad, parent.shape)
    return grad if grad.dtype == parent.dtype else grad.astype(parent.dtype)


def _local_jacobians(node: Tensor, parents: list[Tensor]) -> list[np.ndarray | None]:
    """d(node)/d(parent) for each parent small enough, row by row: the rule applied to each unit upstream."""
    wanted = [p.requires_grad and node.size * p.size <= LOCAL_LIMIT for p in parents]
    if not any(wanted):
        return [None] * len(parents)
    rule = getattr(node._backward, "rule", node._backward)  # past retain_grad's wrapper, which writes .grad
    rows: list[list[np.ndarray]] = [[] for _ in parents]
    for k in range(node.size):
        unit = np.zeros(node.size, dtype=node.dtype)
        unit[k] = 1
        grads = [g for g, p in zip(rule(unit.reshape(node.shape)), node._parents, strict=True) if p is not None]
        for i, (grad, parent) in enumerate(zip(grads, parents, strict=True)):
            if wanted[i]:
                grad = np.zeros(parent.shape) if grad is None else _fit(grad, parent)
                rows[i].append(grad.to_dense() if isinstance(grad, RowSparseGrad) else np.asarray(grad))
    return [np.stack(r).reshape(node.shape + p.shape) if w else None
            for r, p, w in zip(rows, parents, wanted, strict=True)]


class Trace:
    """The record of the backward passes run inside ``with trace() as t:``; ``print(t)`` shows the table."""

    def __init__(self, names: Names | None = None):
        self.steps: list[Step] = []
        self.leaf_grads: dict[Tensor, Gradient] = {}  # what the traced passes added to each leaf's .grad
        self._seen: dict[int, Tensor] = {}  # every tensor met, in order: unnamed ones are numbered in this order
        self._names: dict[int, str] = {}
        self.name(names)

    # ----- called by the engine -----
    def record(self, node: Tensor, upstream: np.ndarray, downstream: Any) -> None:
        """Note one node: its upstream gradient, and per parent its local Jacobian and downstream gradient."""
        parents = [p for p in node._parents if p is not None]
        grads = [g for g, p in zip(downstream, node._parents, strict=True) if p is not None]
        locals_ = _local_jacobians(node, parents)
        edges = tuple(
            Edge(parent, local, _kept(_fit(grad, parent)) if grad is not None and parent.requires_grad else None)
            for parent, grad, local in zip(parents, grads, locals_, strict=True)
        )
        self.steps.append(Step(node, np.array(upstream), edges))
        for tensor in (node, *parents):
            self._seen.setdefault(id(tensor), tensor)

    def record_leaves(self, leaves: Mapping[Tensor, Gradient]) -> None:
        """Note what one pass added to each leaf's gradient."""
        for leaf, grad in leaves.items():
            previous = self.leaf_grads.get(leaf)
            self.leaf_grads[leaf] = _kept(grad) if previous is None else previous + grad
            self._seen.setdefault(id(leaf), leaf)

    # ----- reading it -----
    def name(self, names: Names | None) -> Trace:
        """Label tensors (``{"x": x}`` or ``model.named_parameters()``) in the table and the picture."""
        pairs = names.items() if isinstance(names, Mapping) else names or ()
        self._names.update((id(tensor), label) for label, tensor in pairs)
        return self

    @property
    def tensors(self) -> list[Tensor]:
        """Every tensor the traced passes met: nodes, their inputs and the leaves, in the order met."""
        return list(self._seen.values())

    def given_name(self, tensor: Tensor) -> str | None:
        """The name given to ``tensor`` here (``trace(names=...)``, ``name``), else its own ``name``."""
        return self._names.get(id(tensor), tensor.name)

    def labels(self) -> dict[int, str]:
        """id(tensor) -> its label: the name given here, else its own ``name``, else op#k (k-th unnamed of its
        op, in the order the pass met them)."""
        labels, counts = {}, {}
        for key, tensor in self._seen.items():
            label = self.given_name(tensor)
            if label is None:
                counts[tensor.op] = counts.get(tensor.op, 0) + 1
                label = f"{tensor.op}#{counts[tensor.op]}"
            labels[key] = label
        return labels

    def label(self, tensor: Tensor) -> str:
        """The label of one tensor, as ``labels`` gives it."""
        return self.labels().get(id(tensor), tensor.name or tensor.op)

    def step(self, node: str | Tensor) -> Step:
        """The step of ``node``, a tensor or its label."""
        labels = self.labels()
        for step in self.steps:
            if step.node is node or labels[id(step.node)] == node:
                return step
        raise KeyError(f"no step of the trace is {node!r}; its steps: {[labels[id(s.node)] for s in self.steps]}")

    def edge(self, node: str | Tensor, parent: str | Tensor) -> Edge:
        """The edge from ``parent`` into ``node`` (tensors or their labels)."""
        labels = self.labels()
        for edge in self.step(node).edges:
            if edge.parent is parent or labels[id(edge.parent)] == parent:
                return edge
        raise KeyError(f"{node!r} has no input {parent!r}")

    def gradient(self, tensor: str | Tensor) -> Gradient:
        """What the traced passes sent to ``tensor`` (a tensor or its label): a leaf's summed gradient, or an
        intermediate node's upstream gradient."""
        labels = self.labels()
        for leaf, grad in self.leaf_grads.items():
            if leaf is tensor or labels[id(leaf)] == tensor:
                return grad
        return self.step(tensor).upstream

    def arrivals(self, leaf: Tensor) -> list[Gradient]:
        """The gradients that arrived at ``leaf`` along each of its edges, in the order they arrived."""
        return [edge.downstream for step in self.steps for edge in step.edges
                if edge.parent is leaf and edge.downstream is not None]

    def __iter__(self) -> Iterator[Step]:
        """The steps, in the order backward ran them (the root first)."""
        return iter(self.steps)

    def table(self) -> str:
        """The backward pass as a text table: one row per edge, the rule under each node, then the leaves."""
        labels = self.labels()
        header = ("node", "op", "upstream", "input", "local gradient", "downstream")
        rows: list[tuple[str, ...] | str] = []
        for step in self.steps:
            first = (labels[id(step.node)], step.op, show(step.upstream))
            for i, edge in enumerate(step.edges):
                start = first if i == 0 else ("", "", "")
                rows.append((*start, labels[id(edge.parent)], _show_local(step, edge), show(edge.downstream)))
            if step.rule:
                rows.append(f"    {step.rule}")
        widths = [max([len(header[c])] + [len(r[c]) for r in rows if isinstance(r, tuple)]) for c in range(6)]

        def line(cells: tuple[str, ...]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

        out = ["backward pass: upstream gradient x local gradient = downstream gradient, node by node", "",
               line(header), line(tuple("-" * w for w in widths))]
        out += [row if isinstance(row, str) else line(row) for row in rows]
        out += ["", "leaves: the sum of what arrived along each of their edges"]
        for leaf, grad in sorted(self.leaf_grads.items(), key=lambda item: item[0]._seq):
            parts = [show(g) for g in self.arrivals(leaf)]
            sums = " + ".join(parts) + " = " if len(parts) > 1 and all(_is_number(p) for p in parts) else ""
            out.append(f"  {labels[id(leaf)]}: {sums}{show(grad)}")
        return "\n".join(out) + "\n"

    __str__ = table


@contextmanager
def trace(names: Names | None = None) -> Iterator[Trace]:
    """Record every backward pass run inside the block (in this thread) into the Trace it yields.

    ``names`` labels tensors that have no ``name`` of their own, as ``model.named_parameters()`` does.
    """
    recording = Trace(names)
    previous, _tracing.recorder = _tracing.recorder, recording
    try:
        yield recording
    finally:
        _tracing.recorder = previous


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def show(value: Gradient | None, digits: int = 4) -> str:
    """A value as a table cell or a picture's label: numbers (``digits`` significant) up to SMALL entries, else
    the shape."""
    if value is None:
        return "-"
    if isinstance(value, RowSparseGrad):
        return f"row-sparse {value.shape}, {value.rows.size} rows"
    value = np.asarray(value)
    if value.size > SMALL:
        return str(value.shape)
    if value.ndim == 0:
        return f"{value.item():.{digits}g}"
    text = np.array2string(value, separator=" ", formatter={"all": lambda v: f"{v:.{digits}g}"})
    return " ".join(text.split())


def _show_local(step: Step, edge: Edge) -> str:
    """A local Jacobian: its numbers, diag[...] when it is diagonal, its shape when big, "-" for no gradient."""
    local, shape = edge.local, edge.parent.shape
    if local is None:
        return "-" if edge.downstream is None else str(step.node.shape + shape)
    n = int(np.prod(shape, dtype=np.int64))
    if local.shape == shape + shape and 1 < n <= SMALL:
        square = local.reshape(n, n)
        if not np.any(square - np.diag(np.diag(square))):
            return "diag" + show(np.diag(square))
    return show(local)
