"""Per-token features beside the word vector (capitalisation, suffixes, word shape), one registry of them.

A feature has two halves. Its extractor turns tokens into ids (``ids(tokens)``: one id per token, shape
``(n,)``, or several, shape ``(n, k)``, e.g. a word's characters), learns what it needs from the training
tokens (``fit``) and is saved as JSON (``to_dict``/``from_dict``). Its module (``module(size, dim)``) turns a
batch of id windows into one vector per window position, which joins the window vector x. Id 0 is padding
(beyond a sentence's edges), id 1 a key never seen in training.

Adding a feature is one class in this file, registered with ``@FEATURES.register("name")``, and its test:
the encoder, the model, the saved file and the command line's ``--features`` choices all read the registry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from window_ner import nn
from window_ner.autodiff import Tensor
from window_ner.errors import InputError
from window_ner.registry import Registry

__all__ = ["FEATURES", "FEATURE_PAD", "FEATURE_UNK", "Feature", "CapsFeature", "SuffixFeature",
           "Suffix2Feature", "Suffix3Feature", "ShapeFeature", "IdEmbedding", "caps_id", "caps_feature",
           "word_shape", "make_feature", "feature_from_dict"]

FEATURE_PAD = 0  # every feature's id for the padding beyond a sentence's edges
FEATURE_UNK = 1  # id of keys not seen in training, for features with a learned key vocabulary
_CACHE = 1 << 16  # distinct words whose feature id is remembered; a corpus has a few tens of thousands


class Feature:
    """Base of the feature extractors: ``name``, ``size`` ids (0 is padding), ``ids(tokens)``, a module."""

    name: ClassVar[str] = ""
    default_dim: ClassVar[int] = 20  # length of the feature's vector per window position

    @classmethod
    def fit(cls, token_lists: Iterable[Sequence[str]], min_count: int = 1) -> Feature:
        """The feature learned from the training tokens (keys seen ``min_count`` times)."""
        raise NotImplementedError

    @property
    def size(self) -> int:
        """Number of ids, padding included (the height of the feature's embedding table)."""
        raise NotImplementedError

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        """The feature's ids for each token: int64, shape (n,) or (n, k)."""
        raise NotImplementedError

    @staticmethod
    def module(size: int, dim: int, rng: np.random.Generator, dtype: Any = np.float32) -> nn.Module:
        """The module from id windows (B, width) to their vectors, flattened to (B, width * dim)."""
        return IdEmbedding(size, dim, rng=rng, dtype=dtype)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description for :func:`feature_from_dict`."""
        return {"type": self.name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feature:
        """The feature described by :meth:`to_dict`."""
        return cls()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()  # type: ignore[attr-defined]

    def __reduce__(self) -> tuple[Any, ...]:
        # per-object caches cannot be pickled; rebuild from the description instead
        return (feature_from_dict, (self.to_dict(),))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.size} ids)"


FEATURES: Registry[type[Feature]] = Registry("feature")


class IdEmbedding(nn.Embedding):
    """One learned vector per id; a window of ids (B, width) becomes the (B, width * dim) concatenation."""

    def forward(self, ids: Any) -> Tensor:
        return super().forward(ids).reshape(ids.shape[0], -1)


CAPS_LOWER, CAPS_ALL, CAPS_INITIAL, CAPS_MIXED, CAPS_NONE = 1, 2, 3, 4, 5


@lru_cache(maxsize=_CACHE)
def caps_id(word: str) -> int:
    """Capitalisation class: 1 no capitals, 2 all capitals, 3 initial capital, 4 mixed, 5 no letters."""
    if not any(c.isalpha() for c in word):
        return CAPS_NONE
    if not any(c.isupper() for c in word):
        return CAPS_LOWER  # includes scripts without case
    if not any(c.islower() for c in word):
        return CAPS_ALL  # "EU", "U.S.", also a lone "I" or "A"
    if word[0].isupper() and not any(c.isupper() for c in word[1:]):
        return CAPS_INITIAL
    return CAPS_MIXED  # "McDonald", "iPhone", "Jean-Pierre"


def caps_feature(tokens: Sequence[str]) -> np.ndarray:
    """Capitalisation class of each token (see :func:`caps_id`) as an int64 array."""
    return np.fromiter((caps_id(t) for t in tokens), dtype=np.int64, count=len(tokens))


@FEATURES.register("caps")
class CapsFeature(Feature):
    """Capitalisation: 0 pad, 1 lower, 2 all caps, 3 initial capital, 4 mixed, 5 no letters."""

    name = "caps"
    default_dim = 5

    @classmethod
    def fit(cls, token_lists: Iterable[Sequence[str]] = (), min_count: int = 1) -> CapsFeature:
        return cls()  # nothing to learn

    @property
    def size(self) -> int:
        return 6

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        return caps_feature(tokens)


class KeyedFeature(Feature):
    """A feature whose ids come from a key per word (a suffix, a shape) and a vocabulary of keys.

    The keys seen in training get ids from 2 on; 0 is padding and 1 is for keys never seen.
    Subclasses define :meth:`key_of`.
    """

    def __init__(self, keys: Iterable[str]):
        self.keys = list(keys)
        self._ids = {k: i for i, k in enumerate(self.keys, start=2)}
        if len(self._ids) != len(self.keys):
            raise InputError(f"the {self.name} feature's keys must be unique")
        # a cache per object, so that a feature rebuilt with other keys never reuses stale ids
        self._id = lru_cache(maxsize=_CACHE)(self._compute_id)

    def _compute_id(self, word: str) -> int:
        return self._ids.get(self.key(word), FEATURE_UNK)

    @property
    def size(self) -> int:
        """Number of ids: padding, unknown, then the keys."""
        return len(self.keys) + 2

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        get = self._id
        return np.fromiter((get(t) for t in tokens), dtype=np.int64, count=len(tokens))

    @classmethod
    def fit(cls, token_lists: Iterable[Sequence[str]], min_count: int = 1) -> KeyedFeature:
        """Keys seen at least ``min_count`` times in the training tokens, most frequent first."""
        key = cls.key_of
        counts: Counter[str] = Counter(key(t) for tokens in token_lists for t in tokens)
        return cls([k for k, c in sorted(counts.items(), key=lambda kc: -kc[1]) if c >= min_count])

    @classmethod
    def key_of(cls, word: str) -> str:
        """The key of one word."""
        raise NotImplementedError

    def key(self, word: str) -> str:
        """The key of one word (the class's rule)."""
        return self.key_of(word)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "keys": self.keys}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeyedFeature:
        return cls(data["keys"])


class SuffixFeature(KeyedFeature):
    """The last ``n`` characters of the lowercased word (the whole word when shorter)."""

    n: ClassVar[int] = 0

    @classmethod
    def key_of(cls, word: str) -> str:
        return word[-cls.n:].lower()


@FEATURES.register("suffix2")
class Suffix2Feature(SuffixFeature):
    """The lowercased last two characters."""

    name, n = "suffix2", 2


@FEATURES.register("suffix3")
class Suffix3Feature(SuffixFeature):
    """The lowercased last three characters."""

    name, n = "suffix3", 3


@lru_cache(maxsize=_CACHE)
def word_shape(word: str) -> str:
    """Short word shape: capitals X, lowercase x, digits d, other characters kept, runs collapsed.

    "Smith" -> "Xx", "U.S." -> "X.X.", "1996-08-22" -> "d-d-d", "McDonald's" -> "XxXx'x".
    """
    out: list[str] = []
    for c in word:
        s = "X" if c.isupper() else "x" if c.isalpha() else "d" if c.isdigit() else c
        if not out or out[-1] != s:
            out.append(s)
    return "".join(out)


@FEATURES.register("shape")
class ShapeFeature(KeyedFeature):
    """The word's short shape (see :func:`word_shape`), with a vocabulary of shapes seen in training."""

    name = "shape"

    @classmethod
    def key_of(cls, word: str) -> str:
        return word_shape(word)


def make_feature(name: str, token_lists: Sequence[Sequence[str]] = (), min_count: int = 1) -> Feature:
    """The registered feature ``name``, fitted on the training tokens."""
    return FEATURES.get(name).fit(token_lists, min_count)


def feature_from_dict(data: dict[str, Any]) -> Feature:
    """The feature saved by its ``to_dict()``."""
    return FEATURES.get(data.get("type")).from_dict(data)

from window_ner.ner.model import chars as _chars  # noqa: E402, F401  (registers "chars")
from window_ner.ner.model import context as _context  # noqa: E402, F401  (registers "doc")
from window_ner.ner.model import gazetteer as _gazetteer  # noqa: E402, F401  (registers "gazetteer")
