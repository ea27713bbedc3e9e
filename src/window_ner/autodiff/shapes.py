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


class ShapeError(ValueError):
    """An op's operands have shapes that do not fit together."""


def describe(node: Tensor | None, value: Any, role: str = "") -> str:
    """An operand as an error names it: "layers.0.W (300, 275)" for a named tensor, else its role and shape."""
    name = node.name if node is not None and node.name is not None else role
    shape = str(tuple(np.shape(value)))
    return f"{name} {shape}" if name else shape


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


@primitive(method="reshape", varargs=True)
def reshape(a: Tensor, shape: Sequence[int]) -> Tensor:
    """Same values, new shape. Local Jacobian: I (the gradient is reshaped back)."""
    old = a.shape
    try:
        out = a.data.reshape(shape)
    except ValueError:
        wanted = tuple(shape) if isinstance(shape, Sequence) else (shape,)
        raise ShapeError(f"reshape: {describe(a, a.data)} has {a.size} entries, so it cannot take the shape {wanted}") \
            from None
    return make(out, (a,), lambda g: (g.reshape(old),), "reshape")


@primitive(method="transpose", varargs=True, attribute="T")
def transpose(a: Tensor, axes: Sequence[int] = ()) -> Tensor:
    """Permute axes (reverse them when none are given). Local Jacobian: a permutation (g is permuted back)."""
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
    """a[index] (slices, integers, integer arrays). Local Jacobian: a selection (g scattered back, repeats add)."""
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
    """Join along an existing axis. Local Jacobians: [I 0 ...], [0 I ...], ... (g split at the same boundaries)."""
    tensors = [_as_tensor(t) for t in tensors]
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError:  # AxisError is a ValueError too
        raise ShapeError(f"concat along axis {axis}: {', '.join(describe(t, t.data) for t in tensors)}: the tensors "
                         f"need the same number of axes, and equal sizes on every axis but {axis}") from None
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]
    return make(out, tuple(tensors), lambda g: tuple(np.split(g, bounds, axis=axis)), "concat")


@primitive()
def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join along a new axis. Local Jacobians: selections (each input receives its slice of g)."""
    tensors = [_as_tensor(t) for t in tensors]
    out = np.stack([t.data for t in tensors], axis=axis)
    axis = axis % out.ndim
    return make(out, tuple(tensors),
                lambda g: tuple(np.take(g, i, axis=axis) for i in range(len(tensors))), "stack")


__all__ = list(exported(__name__))
