"""Composites: functions built from primitives, with no gradient code of their own.

They are registered (``composite=True``) so that they are exported, bound as methods and gradient-checked
like the primitives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from window_ner.autodiff import ops
from window_ner.autodiff.registry import exported, primitive
from window_ner.autodiff.tensor import Tensor


@primitive(method="mean", composite=True)
def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over axis: the sum times 1/n."""
    axes = ops._normalize_axis(axis, x.ndim)
    count = int(np.prod([x.shape[ax] for ax in axes])) if axes else 1
    return ops.sum(x, axis, keepdims) * (1.0 / max(count, 1))


@primitive(method="hardtanh", composite=True)
def hardtanh(x: Tensor, lo: float = -1.0, hi: float = 1.0) -> Tensor:
    """The lecture's hard tanh: x clipped to [lo, hi]; gradient 1 inside, 0 outside."""
    return ops.clip(x, lo, hi)


def _shifted(x: Tensor, axis: int) -> tuple[Tensor, np.ndarray]:
    """(x - m, m) with m the max along axis, held constant: no result depends on it, so no gradient flows."""
    shift = x.data.max(axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0)
    return x - shift, shift


@primitive(composite=True)
def logsumexp(x: Tensor, axis: int = -1, keepdims: bool = False) -> Tensor:
    """log sum exp(x) over axis, stable for large |x|: m + log sum exp(x - m) with m the max."""
    shifted, shift = _shifted(x, axis)
    out = ops.log(ops.sum(ops.exp(shifted), axis=axis, keepdims=True)) + shift
    return out if keepdims else ops.squeeze(out, axis)


@primitive(composite=True)
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log softmax(x) = (x - m) - log sum exp(x - m): exact in float32 even for |x| near 1e4."""
    shifted, _ = _shifted(x, axis)
    return shifted - ops.log(ops.sum(ops.exp(shifted), axis=axis, keepdims=True))


@primitive(composite=True)
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """softmax(x) = exp(log softmax(x)): probabilities along axis."""
    return ops.exp(log_softmax(x, axis))


__all__ = list(exported(__name__))
