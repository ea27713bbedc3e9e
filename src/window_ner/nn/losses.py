"""Losses built from engine primitives: softmax cross-entropy, the lecture's J = sigma(s), max-margin."""

from __future__ import annotations

from typing import Any

import numpy as np

from window_ner import autodiff as ad
from window_ner.autodiff import Tensor

__all__ = ["cross_entropy", "binary_cross_entropy_with_logits", "max_margin"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def cross_entropy(logits: Tensor, targets: Any, weight: Any = None, ignore_index: int | None = None,
                  reduction: str = "mean") -> Tensor:
    """-log softmax(logits)[target] over the last axis, as ``torch.nn.functional.cross_entropy``.

    ``targets`` are class ids of shape ``logits.shape[:-1]``. With class weights w (shape (C,)) or an
    ``ignore_index``, each position i counts with w_i = weight[target_i] (0 if ignored): "mean" is
    sum(w_i l_i) / sum(w_i) (NaN when every position is ignored, with a zero gradient, as torch), "sum" is
    sum(w_i l_i), "none" gives w_i l_i per position.
    """
    _check_reduction(reduction)
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if weight is None and ignore_index is None:
        return ad.softmax_cross_entropy(logits, targets, reduction=reduction)  # fused: one op each way
    n_classes = logits.shape[-1]
    valid = np.ones(targets.shape, dtype=bool) if ignore_index is None else targets != ignore_index
    safe_targets = np.where(valid, targets, 0)
    if weight is None:
        w = valid.astype(logits.dtype)
    else:
        weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=logits.dtype)
        if weight.shape != (n_classes,):
            raise ValueError(f"weight has shape {weight.shape}, expected ({n_classes},): one per class")
        w = np.where(valid, weight[safe_targets], 0).astype(logits.dtype)
    weighted = ad.softmax_cross_entropy(logits, safe_targets, reduction="none") * w
    if reduction == "none":
        return weighted
    total = weighted.sum()
    if reduction == "sum":
        return total
    denominator = float(w.sum())
    if not denominator:  # every position ignored: the loss is NaN (as torch) but the gradient is zero
        return total * 0.0 + np.nan
    return total * (1.0 / denominator)


def binary_cross_entropy_with_logits(scores: Tensor, targets: Any, reduction: str = "mean") -> Tensor:
    """The lecture's J = sigma(s) as a loss: -y log sigma(s) - (1 - y) log(1 - sigma(s)).

    Written max(s, 0) - s y + log(1 + exp(-|s|)) so it neither overflows nor loses the gradient
    sigma(s) - y for |s| up to 1e4 and beyond.
    """
    _check_reduction(reduction)
    y = targets if isinstance(targets, Tensor) else np.asarray(targets, dtype=scores.dtype)
    losses = ad.maximum(scores, 0.0) - scores * y + ad.log(ad.exp(-ad.abs(scores)) + 1.0)
    return _reduce(losses, reduction)


def max_margin(s_true: Tensor, s_corrupt: Tensor, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """The CS224N window loss J = max(0, margin - s + s_c), averaged over the batch.

    ``s_corrupt`` has the shape of ``s_true`` (one corrupt window each) or one more trailing axis (k corrupt
    windows each; "mean" then averages over all B k terms).
    """
    _check_reduction(reduction)
    if s_corrupt.ndim == s_true.ndim + 1:
        s_true = ad.unsqueeze(s_true, -1)
    return _reduce(ad.relu(s_corrupt - s_true + margin), reduction)
