"""A linear-chain CRF over per-token scores: Collobert et al. (2011)'s sentence-level log-likelihood.

A sentence of n tokens with emission scores e[t, j] (T tags) gives the tag path y the score
``s(y) = start[y_0] + sum_t e[t, y_t] + sum_{t>0} A[y_{t-1}, y_t] + end[y_{n-1}]`` and the probability
``p(y) = exp(s(y)) / Z`` with ``Z = sum_y exp(s(y))``. Forbidden transitions, starts and ends are -inf in
A, start and end, so no path through them counts anywhere.

Sentences are stored one after another (sentence k is ``emissions[bounds[k]:bounds[k + 1]]``). The loss's
functions (:func:`log_partition`, :func:`path_scores`, :func:`nll`) run in the engine, so backpropagation
gives their gradients; the others (:func:`forward_backward`, :func:`marginals`, :func:`span_log_probs`,
:func:`log_partition_np`) are NumPy. Every recursion loops over positions only, for all sentences at once:
sorted longest first, the sentences still running at position t are a prefix of the batch, so padding
costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from window_ner.autodiff import Tensor, concat, logsumexp, where

__all__ = ["Chain", "masked", "log_partition", "path_scores", "nll", "forward_backward", "log_partition_np",
           "marginals", "span_log_probs"]


@dataclass(frozen=True)
class Chain:
    """The CRF's scores as NumPy arrays, -inf where forbidden: transitions (T, T), start (T,), end (T,)."""

    transitions: np.ndarray
    start: np.ndarray
    end: np.ndarray


def masked(scores: Tensor | np.ndarray, allowed: np.ndarray) -> Tensor:
    """``scores`` where ``allowed``, -inf elsewhere (no gradient reaches the forbidden entries)."""
    return where(allowed, scores, -np.inf)


def _lengths(bounds: Sequence[int] | np.ndarray, n_tokens: int) -> np.ndarray:
    bounds = np.asarray(bounds, dtype=np.int64)
    if (bounds.ndim != 1 or len(bounds) == 0 or bounds[0] != 0 or bounds[-1] != n_tokens
            or (np.diff(bounds) < 0).any()):
        raise ValueError(f"bounds must be non-decreasing sentence offsets from 0 to n_tokens={n_tokens} "
                         f"(n_sentences + 1 values), got {bounds[:5].tolist()}... of length {len(bounds)}")
    return np.diff(bounds)


@dataclass(frozen=True)
class _Layout:
    """Non-empty sentences longest first, time-major: position t of the first ``running[t]`` of them sits at
    rows ``offsets[t] : offsets[t] + running[t]`` of ``emissions[order_rows]``."""

    sentences: np.ndarray  # indices of the non-empty sentences, longest first
    running: np.ndarray  # (longest,) sentences with a token at position t
    offsets: np.ndarray  # (longest + 1,) where position t's rows begin in the time-major order
    rows: np.ndarray  # (n_tokens,) the token (sentence-major row) at each time-major row


def _layout(bounds: Sequence[int] | np.ndarray, n_tokens: int) -> _Layout:
    lengths = _lengths(bounds, n_tokens)
    order = np.argsort(-lengths, kind="stable")
    order = order[lengths[order] > 0]
    longest = int(lengths[order[0]]) if len(order) else 0
    running = (lengths[order][None, :] > np.arange(longest)[:, None]).sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(running)])
    firsts = np.asarray(bounds, dtype=np.int64)[order]
    rows = np.concatenate([firsts[:k] + t for t, k in enumerate(running)]) if longest else np.zeros(0, np.int64)
    return _Layout(order, running, offsets, rows)


# ----------------------------------------------------------------------------- the loss, in the engine

def log_partition(emissions: Tensor, bounds: Sequence[int] | np.ndarray, transitions: Tensor, start: Tensor,
                  end: Tensor) -> Tensor:
    """log Z per sentence (n_sentences,) by the forward algorithm: a_0 = start + e_0,
    a_t[j] = logsumexp_i(a_{t-1}[i] + A[i, j]) + e_t[j], log Z = logsumexp_j(a_{n-1}[j] + end[j]).

    An empty sentence has Z = 1 (log Z = 0): it holds one path, the empty one, of score 0.
    """
    layout = _layout(bounds, emissions.shape[0])
    n_sentences = len(bounds) - 1
    if not len(layout.sentences):
        return Tensor(np.zeros(n_sentences, dtype=emissions.dtype))
    steps = emissions[layout.rows]  # time-major: each position's rows are one slice
    alpha = steps[0:layout.running[0]] + start
    finished = []
    for t in range(1, len(layout.running)):
        k = int(layout.running[t])
        if k < alpha.shape[0]:  # the shortest sentences ended at t - 1
            finished.append(alpha[k:])
            alpha = alpha[:k]
        pairs = alpha.reshape(k, -1, 1) + transitions  # (k, T, T): from tag i to tag j
        alpha = logsumexp(pairs, axis=1) + steps[layout.offsets[t]:layout.offsets[t] + k]
    finished.append(alpha)
    # the finished blocks, last first, hold the sentences in layout order
    log_z = logsumexp(concat(finished[::-1], axis=0) + end, axis=1)
    if len(layout.sentences) == n_sentences:
        return log_z[np.argsort(layout.sentences)]
    zero = Tensor(np.zeros(1, dtype=emissions.dtype))
    place = np.full(n_sentences, len(layout.sentences))  # empty sentences read the zero after the others
    place[layout.sentences] = np.arange(len(layout.sentences))
    return concat([log_z, zero])[place]


def path_scores(emissions: Tensor, bounds: Sequence[int] | np.ndarray, tags: np.ndarray, transitions: Tensor,
                start: Tensor, end: Tensor) -> Tensor:
    """s(y) per sentence (n_sentences,) for the tag ids ``tags`` (n_tokens,): the sum of e[t, y_t], of
    A[y_{t-1}, y_t] within the sentence, start[y_0] and end[y_{n-1}], as products with count matrices."""
    n_tokens, n_tags = emissions.shape
    lengths = _lengths(bounds, n_tokens)
    tags = np.asarray(tags, dtype=np.int64)
    sentence = np.repeat(np.arange(len(lengths)), lengths)
    chosen = np.zeros((n_tokens, n_tags), dtype=emissions.dtype)
    chosen[np.arange(n_tokens), tags] = 1
    membership = np.zeros((len(lengths), n_tokens), dtype=emissions.dtype)
    membership[sentence, np.arange(n_tokens)] = 1
    unary = membership @ (emissions * chosen).sum(axis=1)
    inner = np.ones(n_tokens, dtype=bool)
    inner[np.asarray(bounds)[:-1][lengths > 0]] = False  # a sentence's first token has no transition into it
    pair_counts = np.zeros((len(lengths), n_tags * n_tags), dtype=emissions.dtype)
    steps = np.flatnonzero(inner)
    np.add.at(pair_counts, (sentence[steps], tags[steps - 1] * n_tags + tags[steps]), 1)
    first_counts = np.zeros((len(lengths), n_tags), dtype=emissions.dtype)
    last_counts = np.zeros((len(lengths), n_tags), dtype=emissions.dtype)
    full = lengths > 0
    first_counts[full, tags[np.asarray(bounds)[:-1][full]]] = 1
    last_counts[full, tags[np.asarray(bounds)[1:][full] - 1]] = 1
    return (unary + pair_counts @ transitions.reshape(n_tags * n_tags) + first_counts @ start
            + last_counts @ end)


def nll(emissions: Tensor, bounds: Sequence[int] | np.ndarray, tags: np.ndarray, transitions: Tensor,
        start: Tensor, end: Tensor, allowed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> Tensor:
    """The sentence-level negative log-likelihood, mean over sentences of log Z - s(gold path).

    ``allowed`` (transitions, starts, ends) masks the scores for log Z; the gold paths, valid by
    construction, are scored with the raw ones (a zero count times -inf would be NaN).
    """
    n_sentences = max(len(bounds) - 1, 1)
    if allowed is None:
        constrained = (transitions, start, end)
    else:
        constrained = tuple(masked(scores, mask) for scores, mask in zip((transitions, start, end), allowed,
                                                                          strict=True))
    total = (log_partition(emissions, bounds, *constrained).sum()
             - path_scores(emissions, bounds, tags, transitions, start, end).sum())
    return total * (1.0 / n_sentences)


# ----------------------------------------------------------------------------- NumPy: marginals, spans

def _lse(x: np.ndarray, axis: int) -> np.ndarray:
    """log sum exp over ``axis``, -inf where every entry is -inf (no warning, no NaN)."""
    top = x.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(x - top).sum(axis=axis)) + np.squeeze(top, axis)


def _cumulative(terms: np.ndarray, lead: int) -> tuple[np.ndarray, np.ndarray]:
    """Prefix sums of the finite ``terms`` and prefix counts of the infinite ones, after ``lead`` zeros."""
    bad = ~np.isfinite(terms)
    zeros = np.zeros(lead)
    return (np.concatenate([zeros, np.cumsum(np.where(bad, 0.0, terms))]),
            np.concatenate([zeros, np.cumsum(bad)]))


@dataclass(frozen=True)
class Lattice:
    """Forward and backward log-scores of concatenated sentences: ``alpha[t, j]`` sums the paths of tokens
    0..t ending in j (e_t included), ``beta[t, j]`` the paths of tokens t+1..n-1 after j at t (plus end);
    ``log_z`` per sentence, ``sentence`` per token."""

    alpha: np.ndarray
    beta: np.ndarray
    log_z: np.ndarray
    sentence: np.ndarray


def forward_backward(emissions: np.ndarray, bounds: Sequence[int] | np.ndarray, chain: Chain) -> Lattice:
    """alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + A[i, j]) + e_t[j]; beta_t[i] = logsumexp_j(A[i, j] + e_{t+1}[j]
    + beta_{t+1}[j]) with beta_{n-1} = end; log Z = logsumexp(alpha_{n-1} + end), for all sentences at once."""
    emissions = np.asarray(emissions, dtype=np.float64)
    n_tokens, n_tags = emissions.shape
    layout = _layout(bounds, n_tokens)
    lengths = _lengths(bounds, n_tokens)
    steps = emissions[layout.rows]
    trans, start, end = (np.asarray(a, dtype=np.float64) for a in (chain.transitions, chain.start, chain.end))
    alpha = np.empty_like(steps)
    beta = np.empty_like(steps)
    rows = [slice(layout.offsets[t], layout.offsets[t] + k) for t, k in enumerate(layout.running)]
    if len(rows):
        alpha[rows[0]] = start + steps[rows[0]]
    for t in range(1, len(rows)):
        k = int(layout.running[t])
        alpha[rows[t]] = _lse(alpha[rows[t - 1]][:k, :, None] + trans, axis=1) + steps[rows[t]]
    for t in range(len(rows) - 1, -1, -1):
        k = int(layout.running[t])
        beta[rows[t]] = end  # sentences whose last token is t
        after = int(layout.running[t + 1]) if t + 1 < len(rows) else 0
        if after:
            beta[rows[t]][:after] = _lse(trans + (steps[rows[t + 1]] + beta[rows[t + 1]])[:, None, :], axis=2)
    log_z = np.zeros(len(lengths))
    out_alpha = np.empty_like(alpha)
    out_beta = np.empty_like(beta)
    out_alpha[layout.rows] = alpha
    out_beta[layout.rows] = beta
    full = lengths > 0
    last = np.asarray(bounds, dtype=np.int64)[1:][full] - 1
    log_z[full] = _lse(out_alpha[last] + end, axis=1)
    return Lattice(out_alpha, out_beta, log_z, np.repeat(np.arange(len(lengths)), lengths))


def log_partition_np(emissions: np.ndarray, bounds: Sequence[int] | np.ndarray, chain: Chain) -> np.ndarray:
    """log Z per sentence, in NumPy (float64)."""
    return forward_backward(emissions, bounds, chain).log_z


def marginals(emissions: np.ndarray, bounds: Sequence[int] | np.ndarray, chain: Chain) -> np.ndarray:
    """p(y_t = j) = exp(alpha_t[j] + beta_t[j] - log Z) per token and tag (n_tokens, T); rows sum to 1."""
    lattice = forward_backward(emissions, bounds, chain)
    return np.exp(lattice.alpha + lattice.beta - lattice.log_z[lattice.sentence][:, None])


def span_log_probs(emissions: np.ndarray, bounds: Sequence[int] | np.ndarray, chain: Chain, starts: np.ndarray,
                   ends: np.ndarray, tags: np.ndarray, next_allowed: np.ndarray | None = None,
                   lattice: Lattice | None = None) -> np.ndarray:
    """log p(y_a..y_{b-1} = tags[a:b]) for each span [a, b) of one sentence (token offsets into the
    concatenated ``emissions``; ``tags`` holds a tag id at each token the spans cover), also requiring the
    tag at b, if the sentence goes on, to be one that ``next_allowed[k]`` (n_spans, T) allows:

    log p = logsumexp_i(alpha_{a-1}[i] + A[i, y_a]) (or start[y_a] at a sentence start)
            + sum_{a<=t<b} e_t[y_t] + sum_{a<t<b} A[y_{t-1}, y_t]
            + logsumexp_{j allowed}(A[y_{b-1}, j] + e_b[j] + beta_b[j]) (or end[y_{b-1}] at its end) - log Z.
    """
    emissions = np.asarray(emissions, dtype=np.float64)
    n_tokens, n_tags = emissions.shape
    if lattice is None:
        lattice = forward_backward(emissions, bounds, chain)
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    if not len(starts):
        return np.zeros(0)
    bounds = np.asarray(bounds, dtype=np.int64)
    sentence = lattice.sentence[starts]
    if (ends <= starts).any() or (ends > bounds[sentence + 1]).any():
        raise ValueError("each span [start, end) must hold at least one token and lie within one sentence")
    trans = np.asarray(chain.transitions, dtype=np.float64)
    tags = np.asarray(tags, dtype=np.int64)
    # the span's own score, by cumulative sums along the given tags (entries outside the spans are unused);
    # forbidden (-inf) terms are counted apart, so that one outside a span cannot spoil the sums
    safe = np.clip(tags, 0, n_tags - 1)
    unary, unary_bad = _cumulative(emissions[np.arange(n_tokens), safe], 1)
    moves, moves_bad = _cumulative(trans[safe[:-1], safe[1:]], 2)
    long = ends - starts > 1
    inner = unary[ends] - unary[starts] + np.where(long, moves[ends] - moves[np.minimum(starts + 1, n_tokens)], 0.0)
    forbidden = (unary_bad[ends] > unary_bad[starts]) | (
        long & (moves_bad[ends] > moves_bad[np.minimum(starts + 1, n_tokens)]))
    inner = np.where(forbidden, -np.inf, inner)
    first, last = tags[starts], tags[ends - 1]
    at_start = starts == bounds[sentence]
    left = np.where(at_start, np.asarray(chain.start, dtype=np.float64)[first], 0.0)
    inside = ~at_start
    if inside.any():
        left[inside] = _lse(lattice.alpha[starts[inside] - 1] + trans[:, first[inside]].T, axis=1)
    at_end = ends == bounds[sentence + 1]
    right = np.where(at_end, np.asarray(chain.end, dtype=np.float64)[last], 0.0)
    going = ~at_end
    if going.any():
        following = trans[last[going]] + emissions[ends[going]] + lattice.beta[ends[going]]
        if next_allowed is not None:
            following = np.where(np.asarray(next_allowed, dtype=bool)[going], following, -np.inf)
        right[going] = _lse(following, axis=1)
    return left + inner + right - lattice.log_z[sentence]
