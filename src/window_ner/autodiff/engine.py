"""The backward pass: downstream gradient = upstream gradient x local gradient, node by node.

Nodes are visited in reverse topological order: a tensor is always created after its parents, so the
engine pops pending nodes from a heap, youngest first; no recursion, so a chain of any depth works. Each
node's rule turns its upstream gradient into one gradient per parent; the engine sums contributions
(fan-out), undoes broadcasting (``unbroadcast``, the one place it happens), keeps each gradient in its
tensor's dtype, and writes ``.grad`` on leaves only (and on tensors that asked with ``retain_grad``).
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from window_ner.autodiff.tensor import RowSparseGrad, Tensor


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, so it has ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _released(_upstream: np.ndarray) -> None:
    raise RuntimeError(
        "backward through a graph that was already released: call backward(retain_graph=True) the first "
        "time to backpropagate through the same graph twice"
    )


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


def _add(total: Any, contribution: Any) -> Any:
    if total is None:
        return contribution
    if isinstance(total, np.ndarray) and isinstance(contribution, np.ndarray):
        return total + contribution  # not in place: ``total`` may be an array another node also holds
    return contribution + total if isinstance(contribution, RowSparseGrad) else total + contribution


def _store(node: Tensor, grad: Any, handed_out: set[int]) -> None:
    """Accumulate into ``node.grad``; a newly stored dense array owns its memory and is stored only once."""
    if node.grad is None:
        if isinstance(grad, np.ndarray):
            if grad.base is not None or id(grad) in handed_out:
                grad = grad.copy()
            handed_out.add(id(grad))
        elif isinstance(grad, np.generic):  # a reduction to 0-d gives a NumPy scalar; leaves hold arrays
            grad = np.array(grad)
        node.grad = grad
    elif isinstance(node.grad, np.ndarray) and isinstance(grad, np.ndarray):
        node.grad += grad
    else:
        node.grad = _add(node.grad, grad)


def backward(root: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """Backpropagate from ``root``, adding d(root)/d(leaf) (times ``gradient``) into each leaf's ``.grad``.

    ``gradient`` is the upstream gradient: omitted for a one-element root (seeded with 1), required with
    root's shape otherwise. Leaves accumulate across calls, as in the lecture's ``+=``; set ``.grad = None``
    to start afresh. The graph is released as it is walked, so its memory returns at once; pass
    ``retain_graph=True`` to walk the same graph again (a second walk without it raises RuntimeError).
    """
    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require a gradient: no leaf to reach")
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {root.shape} needs an upstream gradient of that shape"
            )
        seed = np.ones(root.shape, dtype=root.dtype)
    else:
        seed = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=root.dtype)
        if seed.shape != root.shape:
            raise ValueError(f"upstream gradient has shape {seed.shape}, the tensor has shape {root.shape}")

    grads: dict[int, Any] = {id(root): seed}  # pending upstream gradient of each node reached so far
    pending = [(-root._seq, root)]
    handed_out = {id(seed)}  # the caller's array: a leaf that would receive it as it is gets a copy
    while pending:
        node = heapq.heappop(pending)[1]
        upstream = grads.pop(id(node))
        rule = node._backward
        if rule is None or node._retain:
            _store(node, upstream, handed_out)
            if rule is None:
                continue
        if isinstance(upstream, RowSparseGrad):
            upstream = upstream.to_dense()
        for parent, grad in zip(node._parents, rule(upstream), strict=True):
            if grad is None or parent is None or not parent.requires_grad:
                continue
            target = parent.data
            if isinstance(grad, np.ndarray) and grad.shape != target.shape:
                grad = unbroadcast(grad, target.shape)
            if grad.dtype is not target.dtype and grad.dtype != target.dtype:
                grad = grad.astype(target.dtype)
            key = id(parent)
            previous = grads.get(key)
            if previous is None:
                grads[key] = grad
                heapq.heappush(pending, (-parent._seq, parent))
            else:
                grads[key] = _add(previous, grad)
        if not retain_graph:
            node._parents = ()
            node._backward = _released
