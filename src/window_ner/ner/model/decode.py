"""Turn per-token tag scores into tag sequences: per-token argmax, or Viterbi under the scheme's constraints.

Viterbi maximises the sum over tokens of ``log_probs[i, tag_i]`` (plus optional transition scores, for a
CRF) over the sequences whose every transition, first tag and last tag are allowed. It loops over
positions only; each step is a vectorised (tags x tags) max, and ``viterbi_batch`` does that step for many
sentences at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from window_ner.ner.data.tags import allowed_ends, allowed_starts, allowed_transitions, normalize_scheme

__all__ = ["Decoder", "argmax_decode", "viterbi", "viterbi_batch"]

# Log-probabilities of -inf (an underflowed softmax) are raised to this floor so that the allowed paths
# stay comparable: a long sum of floors is still finite, while forbidden moves stay -inf.
_FLOOR = -1e250
_BATCH = 1024  # sentences decoded together: bounds the back-pointer memory of viterbi_batch


def argmax_decode(scores: np.ndarray) -> np.ndarray:
    """The best-scoring tag id of each token, ignoring any scheme constraint."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_tokens, n_tags), got shape {scores.shape}")
    if scores.shape[1] == 0 and scores.shape[0] > 0:
        raise ValueError("scores has no tag column: there is nothing to choose from")
    return scores.argmax(axis=1).astype(np.int64)


def _mask(name: str, mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (one entry per tag), got {mask.shape}")
    if mask.dtype != bool:
        raise TypeError(f"{name} must be a boolean mask (True = allowed), got dtype {mask.dtype}")
    return mask


def _scores(name: str, scores: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if scores is None:
        return np.zeros(shape)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError(f"{name} contains NaN")
    return scores


def _constraints(n_tags: int, allowed: np.ndarray | None, start: np.ndarray | None, end: np.ndarray | None,
                 transition_scores: np.ndarray | None, start_scores: np.ndarray | None,
                 end_scores: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Additive (T, T) transition, (T,) initial and (T,) final scores with -inf where forbidden."""
    allowed = _mask("allowed", allowed, (n_tags, n_tags))
    start = _mask("start", start, (n_tags,))
    end = _mask("end", end, (n_tags,))
    trans = np.where(allowed, _scores("transition_scores", transition_scores, (n_tags, n_tags)), -np.inf)
    init = np.where(start, _scores("start_scores", start_scores, (n_tags,)), -np.inf)
    final = np.where(end, _scores("end_scores", end_scores, (n_tags,)), -np.inf)
    return trans, init, final


def _emissions(log_probs: np.ndarray) -> np.ndarray:
    emissions = np.asarray(log_probs, dtype=np.float64)
    if emissions.ndim != 2:
        raise ValueError(f"log_probs must be 2-D (n_tokens, n_tags), got shape {emissions.shape}")
    if np.isnan(emissions).any():
        raise ValueError("log_probs contains NaN: check the model's outputs")
    return np.maximum(emissions, _FLOOR)


def _no_path(length: int) -> ValueError:
    return ValueError(f"no tag sequence of length {length} satisfies the allowed transitions, starts and "
                      "ends: check that the constraint masks match the tag list and scheme")


def viterbi(log_probs: np.ndarray, allowed: np.ndarray | None = None, start: np.ndarray | None = None,
            end: np.ndarray | None = None, *, transition_scores: np.ndarray | None = None,
            start_scores: np.ndarray | None = None, end_scores: np.ndarray | None = None) -> np.ndarray:
    """Best tag ids (n,) for one sentence under the constraints; ``None`` masks allow everything.

    ``allowed[i, j]``: tag j may follow tag i; ``start``/``end``: tags that may open/close the sentence.
    Optional float scores are added to allowed transitions, first tag and last tag (for a CRF).
    """
    emissions = _emissions(log_probs)
    n, n_tags = emissions.shape
    trans, init, final = _constraints(n_tags, allowed, start, end,
                                      transition_scores, start_scores, end_scores)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    back = np.empty((n, n_tags), dtype=np.intp)
    columns = np.arange(n_tags)
    delta = init + emissions[0]
    cand = np.empty((n_tags, n_tags))
    for t in range(1, n):
        # cand[i, j]: best score ending in tag i at t-1, then moving to tag j at t.
        np.add(delta[:, None], trans, out=cand)
        best_prev = cand.argmax(axis=0)
        back[t] = best_prev
        delta = cand[best_prev, columns] + emissions[t]
    delta = delta + final
    last = int(delta.argmax())
    if not np.isfinite(delta[last]):
        raise _no_path(n)
    path = np.empty(n, dtype=np.int64)
    path[-1] = last
    rows = back.tolist()  # Python ints make the short backward walk cheaper than NumPy scalars
    for t in range(n - 1, 0, -1):
        last = rows[t][last]
        path[t - 1] = last
    return path


def viterbi_batch(log_probs: np.ndarray, bounds: Sequence[int] | np.ndarray,
                  allowed: np.ndarray | None = None, start: np.ndarray | None = None,
                  end: np.ndarray | None = None, *, transition_scores: np.ndarray | None = None,
                  start_scores: np.ndarray | None = None, end_scores: np.ndarray | None = None) -> np.ndarray:
    """``viterbi`` for many sentences stored one after another in ``log_probs`` (n_tokens, n_tags).

    ``bounds`` holds each sentence's first token offset followed by ``n_tokens`` (n_sentences + 1 values),
    so sentence k is ``log_probs[bounds[k]:bounds[k + 1]]``. Returns the (n_tokens,) best tag ids.
    """
    emissions = _emissions(log_probs)
    n_total, n_tags = emissions.shape
    trans, init, final = _constraints(n_tags, allowed, start, end,
                                      transition_scores, start_scores, end_scores)
    bounds = np.asarray(bounds, dtype=np.int64)
    if (bounds.ndim != 1 or len(bounds) == 0 or bounds[0] != 0 or bounds[-1] != n_total
            or (np.diff(bounds) < 0).any()):
        raise ValueError(f"bounds must be non-decreasing sentence offsets from 0 to n_tokens={n_total} "
                         f"(n_sentences + 1 values), got {bounds[:5].tolist()}... of length {len(bounds)}")
    firsts = bounds[:-1]
    lengths = np.diff(bounds)
    result = np.zeros(n_total, dtype=np.int64)
    # Longest first: at step t the sentences still running are a prefix of the batch, so each step
    # works on exactly the sentences that need it and padding costs nothing but back-pointer memory.
    order = np.argsort(-lengths, kind="stable")
    order = order[lengths[order] > 0]
    for chunk in range(0, len(order), _BATCH):
        picked = order[chunk:chunk + _BATCH]
        _decode_sorted(emissions, firsts[picked], lengths[picked], trans, init, final, result)
    return result


def _decode_sorted(emissions: np.ndarray, firsts: np.ndarray, lengths: np.ndarray, trans: np.ndarray,
                   init: np.ndarray, final: np.ndarray, result: np.ndarray) -> None:
    """Viterbi for sentences sorted by decreasing (non-zero) length; writes the ids into ``result``."""
    n_sent, n_tags = len(lengths), emissions.shape[1]
    longest = int(lengths[0])
    # running[t]: how many sentences have a token t (a prefix, thanks to the sort).
    running = (lengths[None, :] > np.arange(longest)[:, None]).sum(axis=1)
    back = np.empty((n_sent, longest, n_tags), dtype=np.int32)
    delta = init[None, :] + emissions[firsts]
    for t in range(1, longest):
        k = int(running[t])
        cand = delta[:k, :, None] + trans[None, :, :]
        best_prev = cand.argmax(axis=1)
        back[:k, t] = best_prev
        best = np.take_along_axis(cand, best_prev[:, None, :], axis=1)[:, 0, :]
        delta[:k] = best + emissions[firsts[:k] + t]
    delta += final[None, :]
    current = delta.argmax(axis=1)
    if not np.isfinite(delta[np.arange(n_sent), current]).all():
        bad = int(np.flatnonzero(~np.isfinite(delta[np.arange(n_sent), current]))[0])
        raise _no_path(int(lengths[bad]))
    for t in range(longest - 1, -1, -1):
        k = int(running[t])
        rows = np.arange(k)
        result[firsts[:k] + t] = current[:k]
        if t > 0:
            current[:k] = back[rows, t, current[:k]]


class Decoder:
    """Best tag ids from (n, n_tags) log-probabilities: Viterbi under the scheme's constraints, or argmax."""

    def __init__(self, tags: Sequence[str], scheme: str, method: str = "viterbi"):
        if method not in ("viterbi", "argmax"):
            raise ValueError(f"method must be 'viterbi' or 'argmax', not {method!r}")
        self.tags = list(tags)
        self.scheme = normalize_scheme(scheme)
        self.method = method
        self.allowed = allowed_transitions(self.tags, self.scheme)
        self.start = allowed_starts(self.tags, self.scheme)
        self.end = allowed_ends(self.tags, self.scheme)

    def _check(self, log_probs: np.ndarray) -> np.ndarray:
        log_probs = np.asarray(log_probs)
        if log_probs.ndim != 2 or log_probs.shape[1] != len(self.tags):
            raise ValueError(f"log_probs must have shape (n_tokens, {len(self.tags)}) for the tags "
                             f"{self.tags}, got {log_probs.shape}")
        return log_probs

    def decode_batch_ids(self, log_probs: np.ndarray, bounds: Sequence[int] | np.ndarray) -> np.ndarray:
        """Best tag ids of each sentence of a concatenated batch (``bounds`` as in ``viterbi_batch``)."""
        log_probs = self._check(log_probs)
        if self.method == "argmax":
            return argmax_decode(log_probs)
        return viterbi_batch(log_probs, bounds, self.allowed, self.start, self.end)
