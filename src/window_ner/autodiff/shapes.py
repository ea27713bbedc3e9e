"""The shape primitives: reshape, transpose, broadcast, (un)squeeze, indexing, concat and stack.

Each moves or copies values without changing them, so its rule moves the upstream gradient back: reshaped,
permuted, scattered or split to the input's layout (repeated entries add up).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from window_ner.autodiff.registry import exported, primitive
from window_ner.autodiff.tensor import Tensor, make


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


@primitive(method="reshape", varargs=True)
def reshape(a: Tensor, shape: Sequence[int]) -> Tensor:
    """Same values, new shape. Local Jacobian: I (the gradient is reshaped back)."""
    old = a.shape
    return make(a.data.reshape(shape), (a,), lambda g: (g.reshape(old),), "reshape")


@primitive(method="transpose", varargs=True, attribute="T")
def transpose(a: Tensor, axes: Sequence[int] = ()) -> Tensor:
    """Permute axes (reverse them when none are given). The gradient takes the inverse permutation."""
    axes = tuple(ax % a.ndim for ax in axes) or tuple(reversed(range(a.ndim)))
    inverse = tuple(int(i) for i in np.argsort(axes))
    return make(a.data.transpose(axes), (a,), lambda g: (g.transpose(inverse),), "transpose")


@primitive(method=("broadcast_to", "expand"), aliases=("expand",))
def broadcast_to(a: Tensor, shape: Sequence[int]) -> Tensor:
    """Repeat along new or size-1 axes. Local Jacobian: copies, so the engine's unbroadcast sums them."""
    return make(np.broadcast_to(a.data, tuple(shape)), (a,), lambda g: (g,), "broadcast_to")


expand = broadcast_to  # its registered alias (torch's name)


@primitive(method="squeeze")
def squeeze(a: Tensor, axis: Any = None) -> Tensor:
    """Drop size-1 axes. Local Jacobian: I (reshaped back)."""
    old = a.shape
    return make(np.squeeze(a.data, axis=axis), (a,), lambda g: (g.reshape(old),), "squeeze")


@primitive(method="unsqueeze")
def unsqueeze(a: Tensor, axis: int) -> Tensor:
    """Insert a size-1 axis. Local Jacobian: I (reshaped back)."""
    old = a.shape
    return make(np.expand_dims(a.data, axis), (a,), lambda g: (g.reshape(old),), "unsqueeze")


def _is_advanced(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (list, np.ndarray, Tensor)) for p in parts)


@primitive(operator="__getitem__")
def getitem(a: Tensor, index: Any) -> Tensor:
    """a[index] with slices, integers and integer arrays. The gradient is scattered back; repeats add up."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(p.data if isinstance(p, Tensor) else p for p in index)
    shape, dtype = a.shape, a.dtype
    advanced = _is_advanced(index)

    def rule(g: np.ndarray) -> tuple:
        grad = np.zeros(shape, dtype=dtype)
        if advanced:
            np.add.at(grad, index, g)  # plain assignment would drop repeated indices
        else:
            grad[index] = g
        return (grad,)

    return make(a.data[index], (a,), rule, "getitem")


@primitive()
def concat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join along an existing axis. The gradient is split back at the same boundaries."""
    tensors = [_as_tensor(t) for t in tensors]
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return make(np.concatenate([t.data for t in tensors], axis=axis), tuple(tensors),
                lambda g: tuple(np.split(g, bounds, axis=axis)), "concat")


@primitive()
def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join along a new axis. Each input receives its slice of the gradient."""
    tensors = [_as_tensor(t) for t in tensors]
    out = np.stack([t.data for t in tensors], axis=axis)
    axis = axis % out.ndim
    return make(out, tuple(tensors),
                lambda g: tuple(np.take(g, i, axis=axis) for i in range(len(tensors))), "stack")


__all__ = list(exported(__name__))
