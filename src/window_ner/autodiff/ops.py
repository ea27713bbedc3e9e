"""The primitives: each computes its forward value and states its local gradient.

A rule receives the upstream gradient ``g`` (the shape of the op's output) and returns one downstream
gradient per parent: upstream x local gradient. Rules may return gradients in the output's (broadcast)
shape; the engine sums them back to each parent's shape in one place (``engine.unbroadcast``). A rule skips
work for operands that need no gradient (``None``), so data inputs cost nothing on the way back.

Each op is registered with ``@primitive``, which binds it onto Tensor as its operator or method; the shape
ops live in shapes.py and are re-exported here, so ``__all__`` (derived from the table) names them all.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from window_ner.autodiff.registry import exported, primitive
from window_ner.autodiff.shapes import *  # noqa: F403  (the shape ops are primitives too: re-exported here)
from window_ner.autodiff.shapes import ShapeError, describe
from window_ner.autodiff.tensor import RowSparseGrad, Tensor, make, operand


def _value(x: Any) -> Any:
    """The array behind a tensor; plain numbers and arrays pass through (NumPy's promotion rules apply)."""
    return x.data if isinstance(x, Tensor) else x


# ----------------------------------------------------------------------------- arithmetic

@primitive(operator="__add__", reflected="__radd__")
def add(a: Any, b: Any) -> Tensor:
    """a + b. Local Jacobians: I and I ('+' distributes the upstream gradient unchanged)."""
    av, a, _ = operand(a)
    bv, b, _ = operand(b)
    return make(av + bv, (a, b), lambda g: (g, g), "add")


@primitive(operator="__sub__", reflected="__rsub__")
def sub(a: Any, b: Any) -> Tensor:
    """a - b. Local Jacobians: I and -I."""
    av, a, _ = operand(a)
    bv, b, need_b = operand(b)
    return make(av - bv, (a, b), lambda g: (g, -g if need_b else None), "sub")


@primitive(operator="__mul__", reflected="__rmul__")
def mul(a: Any, b: Any) -> Tensor:
    """a * b elementwise. Local Jacobians: diag(b) and diag(a) ('*' switches the inputs)."""
    av, a, need_a = operand(a)
    bv, b, need_b = operand(b)
    return make(av * bv, (a, b),
                lambda g: (g * bv if need_a else None, g * av if need_b else None), "mul")


@primitive(operator="__truediv__", reflected="__rtruediv__")
def div(a: Any, b: Any) -> Tensor:
    """a / b elementwise. Local Jacobians: diag(1/b) and diag(-a/b^2)."""
    av, a, need_a = operand(a)
    bv, b, need_b = operand(b)
    out = av / bv
    return make(out, (a, b),
                lambda g: (g / bv if need_a else None, -g * out / bv if need_b else None), "div")


@primitive(operator="__pow__", reflected="__rpow__")
def power(a: Any, b: Any) -> Tensor:
    """a ** b elementwise. Local Jacobians: diag(b a^(b-1)) and diag(a^b log a)."""
    av, a, need_a = operand(a)
    bv, b, need_b = operand(b)
    out = av**bv

    def rule(g: np.ndarray) -> tuple:
        # where the derivative is 0 (b = 0; a = 0 for the exponent), 0 * inf would give NaN: say 0, as torch
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = g * np.where(bv == 0, 0, bv * av ** (bv - 1)) if need_a else None
            gb = g * np.where(av == 0, 0, out * np.log(np.where(av == 0, 1, av))) if need_b else None
        return ga, gb

    return make(out, (a, b), rule, "power")


@primitive(operator="__neg__")
def neg(a: Tensor) -> Tensor:
    """-a. Local Jacobian: -I."""
    return make(-a.data, (a,), lambda g: (-g,), "neg")


@primitive(operator="__matmul__", reflected="__rmatmul__")
def matmul(a: Any, b: Any) -> Tensor:
    """a @ b (matrix, vector and batched). Local Jacobians of z = W x: dz/dx = W; g dz/dW = g x^T."""
    av, a, need_a = operand(a)
    bv, b, need_b = operand(b)
    av, bv = np.asarray(av), np.asarray(bv)
    try:
        out = av @ bv
    except ValueError:
        raise _matmul_error(a, av, b, bv) from None
    if av.ndim == 2 and bv.ndim == 2:  # the common case, without the reshaping below
        return make(out, (a, b),
                    lambda g: (g @ bv.T if need_a else None, av.T @ g if need_b else None), "matmul")
    # Treat vectors as matrices (a row for a, a column for b); the added axes are dropped again below.
    a2 = av[None, :] if av.ndim == 1 else av
    b2 = bv[:, None] if bv.ndim == 1 else bv
    out2_shape = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1])

    def rule(g: np.ndarray) -> tuple:
        g2 = g.reshape(out2_shape)
        ga = gb = None
        if need_a:
            ga = g2 @ np.swapaxes(b2, -1, -2)
            ga = ga[..., 0, :] if av.ndim == 1 else ga
        if need_b:
            gb = np.swapaxes(a2, -1, -2) @ g2
            gb = gb[..., 0] if bv.ndim == 1 else gb
        return ga, gb

    return make(out, (a, b), rule, "matmul")


def _matmul_error(a: Tensor | None, av: np.ndarray, b: Tensor | None, bv: np.ndarray) -> ShapeError:
    """Why a @ b fails, in the lecture's terms: the inner dimensions, the batch axes, or a 0-d operand."""
    head = f"matmul: {describe(a, av)} @ {describe(b, bv)}"
    if not av.ndim or not bv.ndim:
        return ShapeError(f"{head}: @ needs at least one axis on each side; multiply by a number with *")
    inner = bv.shape[0] if bv.ndim == 1 else bv.shape[-2]
    if av.shape[-1] != inner:
        which = "first" if bv.ndim == 1 else "second-to-last"
        return ShapeError(f"{head}: the left operand's last axis has {av.shape[-1]} entries, the right operand's "
                          f"{which} axis {inner}; they must be equal")
    return ShapeError(f"{head}: the batch axes {av.shape[:-2]} and {bv.shape[:-2]} do not broadcast")


@primitive()
def linear(x: Any, W: Any, b: Any = None) -> Tensor:  # noqa: N803 (the lecture's name)
    """z = W x + b on each row x of a batch. Local Jacobians: dz/dx = W, dz/db = I; g dz/dW = g x^T (outer).

    x is (..., m), W (n, m), b (n): computed as x W^T + b, fused because it is the model's hot path. On a batch
    the gradients are dW = g^T x (the lecture's delta x^T summed over rows), db = g summed over the batch
    (delta), dx = g W (W^T delta).
    """
    xv, x, need_x = operand(x)
    wv, W, need_w = operand(W)
    bv, b, need_b = operand(b)
    if wv.ndim != 2 or xv.shape[-1:] != wv.shape[1:]:
        raise ShapeError(f"linear: {describe(x, xv, 'x')} and {describe(W, wv, 'W')}: W must be (out, in) and "
                         "x (..., in)")
    if bv is not None and bv.shape != wv.shape[:1]:
        raise ShapeError(f"linear: {describe(b, bv, 'the bias')} does not fit {describe(W, wv, 'W')}, which needs "
                         f"one of shape {wv.shape[:1]}")
    out = xv @ wv.T
    if bv is not None:
        out += bv

    def rule(g: np.ndarray) -> tuple:
        rows = g.reshape(-1, g.shape[-1])
        gx = g @ wv if need_x else None
        gw = rows.T @ xv.reshape(-1, xv.shape[-1]) if need_w else None
        gb = rows.sum(axis=0) if need_b else None
        return gx, gw, gb

    return make(out, (x, W, b), rule, "linear")


# ----------------------------------------------------------------------------- elementwise

@primitive(method="exp")
def exp(a: Tensor) -> Tensor:
    """exp(a). Local Jacobian: diag(exp(a))."""
    out = np.exp(a.data)
    return make(out, (a,), lambda g: (g * out,), "exp")


@primitive(method="log")
def log(a: Tensor) -> Tensor:
    """log(a). Local Jacobian: diag(1/a)."""
    av = a.data
    return make(np.log(av), (a,), lambda g: (g / av,), "log")


@primitive(method="sqrt")
def sqrt(a: Tensor) -> Tensor:
    """sqrt(a). Local Jacobian: diag(1 / (2 sqrt(a)))."""
    out = np.sqrt(a.data)
    return make(out, (a,), lambda g: (g / (2 * out),), "sqrt")


@primitive(method="abs")
def abs(a: Tensor) -> Tensor:
    """|a|. Local Jacobian: diag(sign(a)), taking 0 at a = 0."""
    av = a.data
    return make(np.abs(av), (a,), lambda g: (g * np.sign(av),), "abs")


@primitive(method="tanh")
def tanh(a: Tensor) -> Tensor:
    """tanh(a). Local Jacobian: diag(1 - tanh(a)^2)."""
    out = np.tanh(a.data)
    return make(out, (a,), lambda g: (g * (1 - out * out),), "tanh")


@primitive(method="sigmoid")
def sigmoid(a: Tensor) -> Tensor:
    """sigma(a) = 1 / (1 + e^-a). Local Jacobian: diag(sigma(a) (1 - sigma(a)))."""
    # 0.5 (1 + tanh(a/2)) equals the logistic function and never overflows.
    out = 0.5 * (1 + np.tanh(0.5 * a.data))
    return make(out, (a,), lambda g: (g * out * (1 - out),), "sigmoid")


@primitive(method="relu")
def relu(a: Tensor) -> Tensor:
    """max(a, 0). Local Jacobian: diag(1[a > 0])."""
    positive = a.data > 0
    return make(np.maximum(a.data, 0), (a,), lambda g: (g * positive,), "relu")


@primitive()
def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max. Local Jacobians: diag(1[first is larger]), diag(1[second is larger]); a tie gives 1/2."""
    av, a, need_a = operand(a)
    bv, b, need_b = operand(b)
    out = np.maximum(av, bv)
    share_a = np.where(av > bv, 1.0, np.where(av == bv, 0.5, 0.0)).astype(out.dtype)
    return make(out, (a, b),
                lambda g: (g * share_a if need_a else None, g * (1 - share_a) if need_b else None), "maximum")


@primitive()
def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min. Local Jacobians: diag(1[first is smaller]), diag(1[second is smaller]); a tie gives 1/2."""
    av, a, need_a = operand(a)
    bv, b, need_b = operand(b)
    out = np.minimum(av, bv)
    share_a = np.where(av < bv, 1.0, np.where(av == bv, 0.5, 0.0)).astype(out.dtype)
    return make(out, (a, b),
                lambda g: (g * share_a if need_a else None, g * (1 - share_a) if need_b else None), "minimum")


@primitive()
def where(condition: Any, a: Any, b: Any) -> Tensor:
    """condition ? a : b elementwise. Local Jacobians: diag(condition) and diag(not condition)."""
    cond = np.asarray(_value(condition), dtype=bool)
    av, a, need_a = operand(a)
    bv, b, need_b = operand(b)
    out = np.where(cond, av, bv)
    zero = np.zeros((), dtype=out.dtype)
    return make(out, (a, b),
                lambda g: (np.where(cond, g, zero) if need_a else None,
                           np.where(cond, zero, g) if need_b else None), "where")


@primitive(method="clip")
def clip(a: Tensor, lo: float | None = None, hi: float | None = None) -> Tensor:
    """a clipped to [lo, hi]. Local Jacobian: diag(1[lo <= a <= hi])."""
    av = a.data
    inside = np.ones(av.shape, dtype=bool)
    if lo is not None:
        inside &= av >= lo
    if hi is not None:
        inside &= av <= hi
    return make(np.clip(av, lo, hi), (a,), lambda g: (g * inside,), "clip")


# ----------------------------------------------------------------------------- reductions

def _normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """Reduced axes as sorted non-negative ints; an axis past the array's raises as NumPy does."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    bound = builtins.max(ndim, 1)  # a 0-d tensor takes axis 0 or -1, as before
    for ax in axes:
        if not -bound <= ax < bound:
            raise ValueError(f"axis {ax} is out of bounds for a tensor of {ndim} dimensions")
    return tuple(builtins.sorted(ax % bound if ndim else 0 for ax in axes))


def _restore_axes(g: np.ndarray, axes: tuple[int, ...], keepdims: bool, ndim: int) -> np.ndarray:
    """Put back the reduced axes (as size 1) so g broadcasts against the input."""
    if keepdims or len(axes) == ndim:  # a full reduction's 0-d g broadcasts as it is
        return g
    return np.expand_dims(g, axes)


def _spread(g: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    # Faster than np.broadcast_to, and the result is a plain array a leaf can keep.
    out = np.empty(shape, dtype=dtype)
    out[...] = g
    return out


@primitive(method="sum")
def sum(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over axis. Local Jacobian: ones, so every input receives the upstream gradient."""
    shape, dtype, axes = a.shape, a.dtype, _normalize_axis(axis, a.ndim)
    return make(a.data.sum(axis=axes, keepdims=keepdims), (a,),
                lambda g: (_spread(_restore_axes(g, axes, keepdims, len(shape)), shape, dtype),), "sum")


def _extremum(a: Tensor, axis: Any, keepdims: bool, reduce: Any, op: str) -> Tensor:
    axes = _normalize_axis(axis, a.ndim)
    kept = reduce(a.data, axis=axes, keepdims=True)
    winners = a.data == kept
    ties = winners.sum(axis=axes, keepdims=True, dtype=a.dtype)

    def rule(g: np.ndarray) -> tuple:
        return (winners * (_restore_axes(g, axes, keepdims, a.ndim) / ties),)

    out = kept if keepdims else np.squeeze(kept, axis=axes)
    return make(out, (a,), rule, op)


@primitive(method="max")
def max(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Max over axis. Local Jacobian: 1 at the maximum, 0 elsewhere (k tied maxima get 1/k each)."""
    return _extremum(a, axis, keepdims, np.maximum.reduce, "max")


@primitive(method="min")
def min(a: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Min over axis. Local Jacobian: 1 at the minimum, 0 elsewhere (k tied minima get 1/k each)."""
    return _extremum(a, axis, keepdims, np.minimum.reduce, "min")


# ----------------------------------------------------------------------------- fused primitives

@primitive()
def embedding(table: Tensor, ids: Any, sparse: bool = True, padding_idx: int | None = None) -> Tensor:
    """Rows ``table[ids]``, shape ids.shape + (d,). Local Jacobian: a row selection (g added to the rows of ids).

    With ``sparse=True`` (the default) the table's gradient is a ``RowSparseGrad``: the unique ids and the
    sum of the upstream gradients of their occurrences; ``sparse=False`` gives the dense (vocab x d) array,
    as does a table that is itself computed by ops rather than a leaf. Occurrences of ``padding_idx`` look up
    their row as any other id but pass it no gradient.
    """
    ids = np.asarray(_value(ids))
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"embedding ids must be integers, not {ids.dtype}")
    shape = table.shape
    if padding_idx is not None and not 0 <= padding_idx < shape[0]:
        raise IndexError(f"padding_idx must be in [0, {shape[0]}), got {padding_idx}")

    def out_of_range() -> IndexError:
        return IndexError(f"embedding ids must be in [0, {shape[0]}), got values {ids.min()}..{ids.max()}")

    if ids.size and ids.min() < 0:  # take() would wrap negative ids around
        raise out_of_range()
    try:
        rows = np.take(table.data, ids, axis=0)
    except IndexError:  # an id past the end: take() checks that itself
        raise out_of_range() from None

    sparse = sparse and table.is_leaf  # the engine sums row-sparse gradients into leaves only

    def rule(g: np.ndarray) -> tuple:
        grad = RowSparseGrad.from_ids(ids, g, shape, padding_idx)
        return (grad if sparse else grad.to_dense(),)

    return make(rows, (table,), rule, "embedding")


@primitive()
def softmax_cross_entropy(logits: Tensor, targets: Any, reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[target] over the last axis. Local Jacobian: p - onehot (fused for that reason).

    ``targets`` are integer class ids of shape ``logits.shape[:-1]``. ``reduction`` is "mean" (over all
    positions), "sum", or "none" (one loss per position).
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
    z = logits.data
    targets = np.asarray(_value(targets))
    if targets.shape != z.shape[:-1]:
        raise ValueError(f"targets have shape {targets.shape}, expected {z.shape[:-1]} for logits {z.shape}")
    n_classes = z.shape[-1]
    if targets.size and (targets.min() < 0 or targets.max() >= n_classes):
        raise ValueError(
            f"targets must be class ids in [0, {n_classes}), got values {targets.min()}..{targets.max()}"
        )
    rows = z.reshape(-1, n_classes)
    picks = (np.arange(len(rows)), targets.reshape(-1))
    shifted = rows - rows.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    sums = exps.sum(axis=1, keepdims=True)
    losses = (np.log(sums[:, 0]) - shifted[picks]).reshape(targets.shape)
    count = builtins.max(losses.size, 1)

    def rule(g: np.ndarray) -> tuple:
        grad = exps / sums  # softmax probabilities p
        grad[picks] -= 1  # p - onehot
        if reduction == "none":
            grad *= g.reshape(-1, 1)
        else:
            grad *= g / count if reduction == "mean" else g
        return (grad.reshape(z.shape),)

    if reduction == "none":
        out = losses
    else:
        out = np.asarray(losses.sum() / count if reduction == "mean" else losses.sum(), dtype=z.dtype)
    return make(out, (logits,), rule, "softmax_cross_entropy")


# ----------------------------------------------------------------------------- character convolution

@primitive()
def unfold(x: Tensor, width: int) -> Tensor:
    """Windows of ``width`` rows along axis -2: (..., L, d) -> (..., L - width + 1, width * d), im2col for a 1-D
    convolution (then ``unfold(x, w) @ W`` convolves). Local Jacobian: a selection (overlapping windows add up).
    """
    xv = x.data
    if xv.ndim < 2 or not 1 <= width <= xv.shape[-2]:
        rows = xv.shape[-2] if xv.ndim >= 2 else 0
        raise ShapeError(f"unfold: {describe(x, xv)} needs at least 2 axes and a width in [1, {rows}], not {width}")
    length, dim = xv.shape[-2:]
    steps = length - width + 1
    windows = np.lib.stride_tricks.sliding_window_view(xv, width, axis=-2)  # (..., steps, d, width)
    out = np.ascontiguousarray(np.swapaxes(windows, -1, -2)).reshape(*xv.shape[:-2], steps, width * dim)

    def rule(g: np.ndarray) -> tuple:
        parts = g.reshape(*g.shape[:-1], width, dim)
        grad = np.zeros(xv.shape, dtype=g.dtype)
        for j in range(width):  # window offset j read rows j .. j + steps - 1
            grad[..., j:j + steps, :] += parts[..., j, :]
        return (grad,)

    return make(out, (x,), rule, "unfold")


@primitive()
def masked_max(x: Tensor, mask: Any) -> Tensor:
    """Max over axis -2 of x (..., T, F) among the positions where ``mask`` (..., T) is true (each row needs one).
    Local Jacobian: 1 at each feature's winning position, 0 elsewhere (max routes the gradient; first of ties)."""
    xv = x.data
    keep = np.asarray(_value(mask), dtype=bool)
    if keep.shape != xv.shape[:-1]:
        raise ShapeError(f"masked_max: the mask {keep.shape} must have the shape of {describe(x, xv)} without its "
                         "last axis")
    if not keep.any(axis=-1).all():
        raise ValueError("masked_max: every row of the mask needs at least one true position")
    masked = np.where(keep[..., None], xv, np.array(-np.inf, dtype=xv.dtype))
    winners = np.expand_dims(masked.argmax(axis=-2), -2)  # (..., 1, F)
    out = np.take_along_axis(masked, winners, axis=-2)[..., 0, :]

    def rule(g: np.ndarray) -> tuple:
        grad = np.zeros(xv.shape, dtype=g.dtype)
        np.put_along_axis(grad, winners, np.expand_dims(g, -2), axis=-2)
        return (grad,)

    return make(out, (x,), rule, "masked_max")


__all__ = list(exported(__name__, "window_ner.autodiff.shapes"))
