"""Windows of ids around every token: the input of the window classifier.

All sentences live in one flat id array with the offset where each sentence starts; the window of the
token at position p of its sentence holds the ids at p - size .. p + size, and positions outside the
sentence get a pad id (the ``<s>``/``</s>`` word ids on the left/right, or 0 for feature ids). The work is
one vectorised gather per window offset, never a Python loop over tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from window_ner.ner.data.vocab import BOS, EOS


def sentence_starts(sentences: Sequence[Sequence[object]]) -> np.ndarray:
    """The int64 offset where each sentence starts once all are laid end to end."""
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    starts = np.zeros(len(sentences), dtype=np.int64)
    if len(sentences) > 1:
        np.cumsum(lengths[:-1], out=starts[1:])
    return starts


def flatten(arrays: Sequence[np.ndarray | Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate per-sentence id arrays: (flat ids, int64 start offset of each sentence)."""
    starts = sentence_starts(arrays)
    parts = [np.asarray(a) for a in arrays]
    if not parts or not any(len(p) for p in parts):
        return np.zeros(0, dtype=np.int64), starts
    # empty lists come out of np.asarray as float64: leave them out so integer ids keep their dtype
    flat = np.concatenate([p for p in parts if len(p)])
    return flat, starts


def _check(flat: np.ndarray, starts: np.ndarray, size: int) -> None:
    if flat.ndim != 1:
        raise ValueError(f"ids must be a flat 1-d array, not shape {flat.shape}; use flatten() on sentences")
    if flat.size and not np.issubdtype(flat.dtype, np.integer):
        raise TypeError(f"ids must be integers, not {flat.dtype}")
    if starts.ndim != 1 or (starts.size and not np.issubdtype(starts.dtype, np.integer)):
        raise ValueError("sentence_starts must be a 1-d integer array of offsets; use flatten() on sentences")
    if size < 0:
        raise ValueError(f"window size must be 0 or more, not {size}")
    if flat.size and (starts.size == 0 or starts[0] != 0):
        raise ValueError("the first sentence must start at offset 0")
    if starts.size and (np.any(np.diff(starts) < 0) or starts[-1] > flat.size):
        raise ValueError(f"sentence_starts must be non-decreasing offsets between 0 and {flat.size}")


def windows(flat_ids: np.ndarray, sentence_starts: np.ndarray, size: int = 2, left_pad: int = BOS,
            right_pad: int = EOS) -> np.ndarray:
    """(n_tokens, 2 * size + 1) ids around every token, padded at sentence edges.

    Column ``size`` is the token itself. ``sentence_starts`` are the offsets of the sentences in
    ``flat_ids`` (as from :func:`flatten`); a trailing offset equal to ``len(flat_ids)`` is allowed.
    The result has the ids' dtype.
    """
    flat = np.asarray(flat_ids)
    starts = np.asarray(sentence_starts)
    _check(flat, starts, size)
    if flat.size == 0:
        return np.zeros((0, 2 * size + 1), dtype=flat.dtype if flat.dtype.kind in "iu" else np.int64)
    info = np.iinfo(flat.dtype)
    for pad in (left_pad, right_pad):
        if not info.min <= pad <= info.max:
            raise ValueError(f"pad id {pad} does not fit the ids' dtype {flat.dtype}; pass int64 ids")
    n = flat.size
    bounds = np.append(starts.astype(np.int64), n)
    lengths = np.diff(bounds)
    # for every token: where its sentence starts and ends, so each offset's validity is two comparisons
    first = np.repeat(bounds[:-1], lengths)
    end = first + np.repeat(lengths, lengths)
    position = np.arange(n, dtype=np.int64)
    out = np.empty((n, 2 * size + 1), dtype=flat.dtype)
    out[:, size] = flat
    for k in range(1, size + 1):
        left = position - k
        out[:, size - k] = np.where(left >= first, flat[np.maximum(left, 0)], left_pad)
        right = position + k
        out[:, size + k] = np.where(right < end, flat[np.minimum(right, n - 1)], right_pad)
    return out
