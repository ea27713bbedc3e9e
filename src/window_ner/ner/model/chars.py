"""The character feature: a vector per word from its characters, by a convolution and max-over-time pooling.

Each word becomes ``max_len`` character ids: a begin marker, its characters (the first ``max_len - 2``), an
end marker, then padding. For a window of words (B, width, max_len), the module looks up a vector per
character (``char_dim``), convolves ``n_filters`` filters of ``filter_width`` characters over each word
(``unfold`` then one product: im2col) and keeps each filter's largest response over the word's positions
(``masked_max``: padding never wins, and the max routes the gradient to the winning position only), then
tanh: one vector of ``n_filters`` numbers per word, the feature's dim.

A word's vector depends on the word alone, so the module computes it once per distinct word of a batch and
copies it to the word's occurrences (a batch of windows holds each word up to ``width`` times).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from window_ner import nn
from window_ner.autodiff import Tensor, embedding, linear, masked_max, tanh, unfold
from window_ner.errors import InputError
from window_ner.ner.model.features import _CACHE, FEATURE_PAD, FEATURE_UNK, FEATURES, Feature

__all__ = ["CHARS", "CharsFeature", "CharCNN", "WORD_BEGIN", "WORD_END"]

CHARS = "chars"  # the feature's registered name
WORD_BEGIN, WORD_END = 2, 3  # ids of the markers around a word's characters; its characters start at 4
_FIRST_CHAR = 4


@FEATURES.register(CHARS)
class CharsFeature(Feature):
    """Character ids per word, (n, max_len): 0 padding, 1 unknown character, 2 and 3 the word's begin and end."""

    name = CHARS
    default_dim = 30  # filters, so the length of a word's vector
    char_dim: ClassVar[int] = 25  # length of a character's vector
    filter_width: ClassVar[int] = 3  # characters each filter spans
    default_max_len: ClassVar[int] = 20

    def __init__(self, chars: Iterable[str] = (), max_len: int = default_max_len):
        self.chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in self.chars):
            raise InputError("the chars feature's characters must be strings of one character each")
        if len(set(self.chars)) != len(self.chars):
            raise InputError("the chars feature's characters must be unique")
        if not isinstance(max_len, int) or max_len < self.filter_width:
            raise InputError(f"the chars feature's max_len must be an integer of at least {self.filter_width} (the "
                             f"filter width), not {max_len!r}")
        self.max_len = max_len
        self._ids = {c: i for i, c in enumerate(self.chars, start=_FIRST_CHAR)}
        # a cache per object, as KeyedFeature's: another vocabulary never reuses stale rows
        self._row = lru_cache(maxsize=_CACHE)(self._compute_row)

    @classmethod
    def fit(cls, token_lists: Iterable[Sequence[str]], min_count: int = 1) -> CharsFeature:
        """The characters seen at least ``min_count`` times in the training tokens, most frequent first."""
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            for token in tokens:
                counts.update(token)
        return cls([c for c, n in sorted(counts.items(), key=lambda cn: (-cn[1], cn[0])) if n >= min_count])

    @property
    def size(self) -> int:
        """Padding, unknown, the two markers, then the characters."""
        return len(self.chars) + _FIRST_CHAR

    def _compute_row(self, word: str) -> np.ndarray:
        row = np.zeros(self.max_len, dtype=np.int64)
        kept = word[:self.max_len - 2]
        row[0] = WORD_BEGIN
        row[1:len(kept) + 1] = [self._ids.get(c, FEATURE_UNK) for c in kept]
        row[len(kept) + 1] = WORD_END
        return row

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        """(n, max_len) character ids, one row per token."""
        row = self._row
        out = np.zeros((len(tokens), self.max_len), dtype=np.int64)
        for i, token in enumerate(tokens):
            out[i] = row(token)
        return out

    @classmethod
    def module(cls, size: int, dim: int, rng: np.random.Generator, dtype: Any = np.float32) -> nn.Module:
        """A :class:`CharCNN` with ``dim`` filters of the class's width over ``char_dim``-long character vectors."""
        return CharCNN(size, cls.char_dim, dim, cls.filter_width, rng=rng, dtype=dtype)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "chars": self.chars, "max_len": self.max_len}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharsFeature:
        chars = data.get("chars", [])
        if not isinstance(chars, list):
            raise InputError(f"the saved chars feature's characters must be a list, not {type(chars).__name__}")
        return cls(chars, data.get("max_len", cls.default_max_len))

    def __repr__(self) -> str:
        return f"CharsFeature({len(self.chars)} characters, max_len {self.max_len})"


class CharCNN(nn.Module):
    """Character ids (B, width, k) -> (B, width * n_filters): per word tanh(max_t (W [c_t; ...; c_t+w-1] + b))."""

    def __init__(self, n_chars: int, char_dim: int, n_filters: int, filter_width: int,
                 rng: np.random.Generator | int | None = None, dtype: Any = np.float32):
        super().__init__()
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.filter_width, self.n_filters = int(filter_width), int(n_filters)
        # N(0, 0.3^2): vectors of about unit length over 25 numbers
        self.chars = nn.Embedding(n_chars, char_dim, padding_idx=FEATURE_PAD, rng=rng, dtype=dtype, std=0.3)
        self.conv = nn.Linear(self.filter_width * char_dim, self.n_filters, rng=rng, dtype=dtype)

    def words(self, char_ids: np.ndarray) -> Tensor:
        """One vector per row of character ids (n, k): (n, n_filters)."""
        lengths = np.count_nonzero(char_ids, axis=1)
        longest = max(int(lengths.max(initial=0)), self.filter_width)
        char_ids = char_ids[:, :longest]  # the columns past every word's end are padding only
        steps = longest - self.filter_width + 1
        # a window may start at t when it lies inside the word; a word shorter than a filter keeps t = 0
        mask = np.arange(steps) < np.maximum(lengths - self.filter_width + 1, 1)[:, None]
        responses = linear(unfold(self.chars(char_ids), self.filter_width), self.conv.W, self.conv.b)
        return tanh(masked_max(responses, mask))

    def forward(self, char_ids: Any) -> Tensor:
        char_ids = np.asarray(char_ids)
        batch, width, k = char_ids.shape
        rows = np.ascontiguousarray(char_ids.reshape(batch * width, k))
        keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * k)))[:, 0]
        _, first, occurrence = np.unique(keys, return_index=True, return_inverse=True)
        vectors = self.words(rows[first])
        return embedding(vectors, occurrence.reshape(-1), sparse=False).reshape(batch, width * self.n_filters)

    def extra_repr(self) -> str:
        return f"filters={self.n_filters}, width={self.filter_width}"
