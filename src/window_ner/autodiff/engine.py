"""The backward pass: downstream gradient = upstream gradient x local gradient, node by node.

Nodes are visited in reverse topological order: a tensor is always created after its parents, so the
engine pops pending nodes from a heap, youngest first; no recursion, so a chain of any depth works. Each
node's rule turns its upstream gradient into one gradient per parent; the engine sums contributions
(fan-out), undoes broadcasting (``unbroadcast``, the one place it happens), keeps each gradient in its
tensor's dtype, and writes ``.grad`` on leaves only (and on tensors that asked with ``retain_grad``).
A ``trace()`` block (tracing.py) sees every node as it is walked.
"""

from __future__ import annotations

import threading
from heapq import heappop, heappush
from typing import Any

import numpy as np

from window_ner.autodiff.tensor import Tensor


class _Tracing(threading.local):
    recorder: Any = None  # set by trace(): it sees every node's upstream and downstream gradients


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:  # broadcasting only adds axes: a rule gave a parent a gradient of fewer dimensions
        raise ValueError(f"a gradient of shape {grad.shape} cannot belong to a tensor of shape {shape}")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


_tracing = _Tracing()


def _released(_upstream: np.ndarray) -> None:
    raise RuntimeError(
        "backward through a graph that was already released: call backward(retain_graph=True) the first "
        "time to backpropagate through the same graph twice"
    )


def is_released(tensor: Tensor) -> bool:
    """True if a backward pass without ``retain_graph=True`` released the graph that made ``tensor``."""
    return tensor._backward is _released


def topological_order(root: Tensor) -> list[Tensor]:
    """Every tensor that ``root`` depends on and that requires a gradient, parents before children."""
    seen = {id(root): root}
    stack = [root]
    while stack:
        for parent in stack.pop()._parents:
            if parent is not None and parent.requires_grad and id(parent) not in seen:
                seen[id(parent)] = parent
                stack.append(parent)
    return sorted(seen.values(), key=lambda node: node._seq)


def _seed(root: Tensor, gradient: Any) -> np.ndarray:
    """The upstream gradient backward starts from: ``gradient`` checked against root, or 1 for one element."""
    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require a gradient: no leaf to reach")
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {root.shape} needs an upstream gradient of that shape"
            )
        seed = np.array(1, dtype=root.data.dtype).reshape(root.data.shape)  # cheaper than np.ones
    else:
        seed = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=root.data.dtype)
        if seed.shape != root.data.shape:
            raise ValueError(f"upstream gradient has shape {seed.shape}, the tensor has shape {root.shape}")
    return seed


def _store(leaves: dict[Tensor, Any], seed: np.ndarray) -> None:
    """Add each leaf's gradient into its ``.grad``, as an array of its own: the caller's seed, an array that
    another leaf got too and a view of a bigger array are copied."""
    stored = {id(seed)}
    for leaf, grad in leaves.items():
        if isinstance(grad, np.generic):  # a reduction to 0-d gives a NumPy scalar; leaves hold arrays
            grad = np.array(grad)
        if leaf.grad is None:
            if isinstance(grad, np.ndarray):
                if grad.base is not None or id(grad) in stored:
                    grad = grad.copy()
                stored.add(id(grad))
            leaf.grad = grad
        elif isinstance(leaf.grad, np.ndarray) and isinstance(grad, np.ndarray):
            leaf.grad += grad
        else:  # a row-sparse gradient on either side (RowSparseGrad adds to arrays from both sides)
            leaf.grad = leaf.grad + grad


def backward(root: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """Backpropagate from ``root``, adding d(root)/d(leaf) (times ``gradient``) into each leaf's ``.grad``.

    ``gradient`` is the upstream gradient: omitted for a one-element root (seeded with 1), required with
    root's shape otherwise. Leaves accumulate across calls, as in the lecture's ``+=``; set ``.grad = None``
    to start afresh. The graph is released as it is walked, so its memory returns at once; pass
    ``retain_graph=True`` to walk the same graph again (a second walk without it raises RuntimeError).
    Inside ``with trace() as t:`` every node's upstream and downstream gradients are also recorded in ``t``.
    """
    seed = _seed(root, gradient)
    recorder = _tracing.recorder
    # Interior nodes wait in a heap, youngest first, with their summed upstream gradient in ``grads``.
    # Leaves have no rule to run, so their gradients are only summed, and stored once the walk is over.
    # Both dicts are keyed by the tensors themselves: a Tensor hashes by identity (it defines no __eq__).
    grads: dict[Tensor, Any] = {}
    leaves: dict[Tensor, Any] = {}
    if root._backward is None:
        leaves[root] = seed
        pending = []
    else:
        grads[root] = seed
        pending = [(-root._seq, root)]
    while pending:
        node = heappop(pending)[1]
        upstream = grads.pop(node)
        downstream = node._backward(upstream)
        if recorder is not None:
            recorder.record(node, upstream, downstream)
        # Every rule returns one gradient per parent (each op's gradient check would fail otherwise), so zip
        # goes without strict=, which would add its cost to every node.
        for parent, grad in zip(node._parents, downstream):  # noqa: B905
            if grad is None or parent is None or not parent.requires_grad:
                continue
            target = parent.data
            if grad.shape != target.shape:
                grad = unbroadcast(grad, target.shape)
            if grad.dtype is not target.dtype and grad.dtype != target.dtype:
                grad = grad.astype(target.dtype)
            # Sums are not in place: ``previous`` may be an array another node also holds.
            if parent._backward is None:
                previous = leaves.get(parent)
                leaves[parent] = grad if previous is None else previous + grad
                continue
            previous = grads.get(parent)
            if previous is None:
                grads[parent] = grad
                heappush(pending, (-parent._seq, parent))
            else:
                grads[parent] = previous + grad
        if not retain_graph:
            node._parents = ()
            node._backward = _released
    _store(leaves, seed)
    if recorder is not None:
        recorder.record_leaves(leaves)


Tensor.backward = backward  # t.backward(...) is this function itself: no wrapper call on the hot path
