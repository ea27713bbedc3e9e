"""The word vocabulary and the per-token features that go beside the word vector.

Word ids 0-3 are reserved: :data:`PAD` (padding), :data:`UNK` (unknown word), :data:`BOS` and :data:`EOS`
(what a window sees beyond the left and right edge of its sentence). Words are normalised the same way
when the vocabulary is built and when it is used; by default they are lowercased (GloVe 6B is uncased)
and digits are kept, since GloVe has vectors for real numbers such as "1996".

A feature maps every token to a small id; id 0 is kept for padding beyond a sentence's edges. Features
follow the :class:`Featurizer` protocol, so the model and encoder handle new ones without changes: add a
class and register a builder in :data:`FEATURES`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np

PAD, UNK, BOS, EOS = 0, 1, 2, 3
RESERVED = ("<pad>", "<unk>", "<s>", "</s>")
FEATURE_PAD = 0  # every feature's id for the padding beyond a sentence's edges
FEATURE_UNK = 1  # id of keys not seen in training, for features with a learned key vocabulary

_DIGIT = re.compile(r"\d")
_CACHE = 1 << 16  # distinct words whose feature id is remembered; a corpus has a few tens of thousands


def normalize_word(word: str, lowercase: bool = True, normalize_digits: bool = False) -> str:
    """The form a word is stored under: optionally lowercased, optionally every digit made '0'."""
    if lowercase:
        word = word.lower()
    if normalize_digits:
        word = _DIGIT.sub("0", word)
    return word


class Vocab:
    """Words to ids; ids 0-3 are the reserved ``<pad> <unk> <s> </s>``, unknown words map to UNK."""

    def __init__(self, words: Iterable[str], *, lowercase: bool = True, normalize_digits: bool = False):
        self.lowercase = lowercase
        self.normalize_digits = normalize_digits
        self.words: list[str] = list(RESERVED)
        self._index: dict[str, int] = {}
        for word in words:
            if word in self._index or word in RESERVED:
                raise ValueError(f"the word {word!r} is given twice or is a reserved name; pass unique words "
                                 "without the reserved ones (use Vocab.build to count and deduplicate)")
            if self.normalize(word) != word:
                raise ValueError(f"the word {word!r} is not normalised (it would be looked up as "
                                 f"{self.normalize(word)!r}); build the vocabulary with Vocab.build")
            self._index[word] = len(self.words)
            self.words.append(word)

    @classmethod
    def build(cls, token_lists: Iterable[Iterable[str]], min_count: int = 1, lowercase: bool = True,
              normalize_digits: bool = False, extra_words: Iterable[str] | None = None,
              max_size: int | None = None) -> Vocab:
        """A vocabulary of the training words seen ``min_count`` times, most frequent first.

        ``extra_words`` (e.g. the words of a pretrained embedding file) are added after them whatever
        their count, so that dev/test words unseen in training still find their pretrained vector;
        ``max_size`` caps the number of training words (reserved and extra words not counted).
        """
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, not {min_count}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            if isinstance(tokens, str):
                raise TypeError("token_lists must hold lists of tokens, not strings; wrap a single sentence "
                                "in a list")
            counts.update(normalize_word(t, lowercase, normalize_digits) for t in tokens)
        # sorted() is stable, so words of equal count keep their first-seen order: builds are reproducible
        ranked = sorted(counts.items(), key=lambda wc: -wc[1])
        kept = [w for w, c in ranked if c >= min_count and w not in RESERVED]
        if max_size is not None:
            kept = kept[:max_size]
        seen = set(kept)
        for word in extra_words or ():
            word = normalize_word(word, lowercase, normalize_digits)
            if word not in seen and word not in RESERVED:
                seen.add(word)
                kept.append(word)
        return cls(kept, lowercase=lowercase, normalize_digits=normalize_digits)

    def normalize(self, word: str) -> str:
        """The form under which ``word`` is stored and looked up."""
        return normalize_word(word, self.lowercase, self.normalize_digits)

    def index(self, word: str) -> int:
        """Id of one word (UNK when unknown)."""
        return self._index.get(self.normalize(word), UNK)

    def lookup(self, tokens: Sequence[str]) -> np.ndarray:
        """Ids of the tokens as an int64 array; unknown words get UNK."""
        get, norm = self._index.get, self.normalize
        if self.lowercase and not self.normalize_digits:
            return np.fromiter((get(t.lower(), UNK) for t in tokens), dtype=np.int64, count=len(tokens))
        return np.fromiter((get(norm(t), UNK) for t in tokens), dtype=np.int64, count=len(tokens))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        """Whether a word (after normalisation) has its own id; reserved names are not words."""
        return isinstance(word, str) and self.normalize(word) in self._index

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocab) and self.words == other.words and self.lowercase == other.lowercase
                and self.normalize_digits == other.normalize_digits)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking container: not hashable

    def __repr__(self) -> str:
        return (f"Vocab({len(self):,} ids, lowercase={self.lowercase}, "
                f"normalize_digits={self.normalize_digits})")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (the reserved ids are implied)."""
        return {"type": "vocab", "version": 1, "lowercase": self.lowercase,
                "normalize_digits": self.normalize_digits, "words": self.words[len(RESERVED):]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocab:
        """The vocabulary saved by :meth:`to_dict`."""
        if data.get("type") != "vocab" or data.get("version") != 1:
            raise ValueError(f"not a saved vocabulary (type {data.get('type')!r}, version "
                             f"{data.get('version')!r}); expected the output of Vocab.to_dict()")
        return cls(data["words"], lowercase=data["lowercase"], normalize_digits=data["normalize_digits"])


@runtime_checkable
class Featurizer(Protocol):
    """A per-token feature: ``size`` ids (0 is padding), computed by ``featurizer(tokens)``."""

    name: str

    @property
    def size(self) -> int:
        """Number of ids, padding included (the height of the feature's embedding table)."""
        ...

    def __call__(self, tokens: Sequence[str]) -> np.ndarray:
        """The feature's id for each token, as an int64 array."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description for :func:`feature_from_dict`."""
        ...


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


class CapsFeature:
    """Capitalisation feature: 0 pad, 1 lower, 2 all caps, 3 initial capital, 4 mixed, 5 no letters."""

    name = "caps"
    size = 6

    def __call__(self, tokens: Sequence[str]) -> np.ndarray:
        return caps_feature(tokens)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description."""
        return {"type": "caps"}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CapsFeature)

    __hash__ = object.__hash__


class KeyedFeature:
    """A feature whose ids come from a key per word (a suffix, a shape) and a vocabulary of keys.

    The keys seen in training get ids from 2 on; 0 is padding and 1 is for keys never seen.
    Subclasses define :meth:`key` and the serialised ``type``.
    """

    type = ""

    def __init__(self, keys: Iterable[str]):
        self.keys = list(keys)
        self._ids = {k: i for i, k in enumerate(self.keys, start=2)}
        if len(self._ids) != len(self.keys):
            raise ValueError("feature keys must be unique")
        # a cache per object, so that a feature rebuilt with other keys never reuses stale ids
        self._id = lru_cache(maxsize=_CACHE)(self._compute_id)

    @property
    def name(self) -> str:
        """The feature's name, as used in :data:`FEATURES`."""
        return self.type

    def key(self, word: str) -> str:
        """The key of one word."""
        raise NotImplementedError

    def _compute_id(self, word: str) -> int:
        return self._ids.get(self.key(word), FEATURE_UNK)

    @property
    def size(self) -> int:
        """Number of ids: padding, unknown, then the keys."""
        return len(self.keys) + 2

    def __call__(self, tokens: Sequence[str]) -> np.ndarray:
        get = self._id
        return np.fromiter((get(t) for t in tokens), dtype=np.int64, count=len(tokens))

    @classmethod
    def _count(cls, key: Callable[[str], str], token_lists: Iterable[Iterable[str]],
               min_count: int) -> list[str]:
        counts: Counter[str] = Counter(key(t) for tokens in token_lists for t in tokens)
        return [k for k, c in sorted(counts.items(), key=lambda kc: -kc[1]) if c >= min_count]

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()  # type: ignore[attr-defined]

    def __reduce__(self) -> tuple[Any, ...]:
        # the per-object cache cannot be pickled; rebuild from the description instead
        return (feature_from_dict, (self.to_dict(),))  # type: ignore[attr-defined]

    __hash__ = object.__hash__


class SuffixFeature(KeyedFeature):
    """The last ``n`` characters of the lowercased word (the whole word when shorter)."""

    type = "suffix"

    def __init__(self, n: int, keys: Iterable[str]):
        if n < 1:
            raise ValueError(f"suffix length must be at least 1, not {n}")
        self.n = n
        super().__init__(keys)

    @property
    def name(self) -> str:
        """``suffix2``, ``suffix3``, ..."""
        return f"suffix{self.n}"

    def key(self, word: str) -> str:
        """The lowercased last ``n`` characters."""
        return word[-self.n:].lower()

    @classmethod
    def fit(cls, token_lists: Iterable[Iterable[str]], n: int = 2, min_count: int = 1) -> SuffixFeature:
        """Suffixes seen at least ``min_count`` times in the training tokens."""
        return cls(n, cls._count(lambda w: w[-n:].lower(), token_lists, min_count))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description."""
        return {"type": self.type, "n": self.n, "keys": self.keys}


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


class ShapeFeature(KeyedFeature):
    """The word's short shape (see :func:`word_shape`), with a vocabulary of shapes seen in training."""

    type = "shape"

    def key(self, word: str) -> str:
        """The word's shape."""
        return word_shape(word)

    @classmethod
    def fit(cls, token_lists: Iterable[Iterable[str]], min_count: int = 1) -> ShapeFeature:
        """Shapes seen at least ``min_count`` times in the training tokens."""
        return cls(cls._count(word_shape, token_lists, min_count))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description."""
        return {"type": self.type, "keys": self.keys}


FeatureBuilder = Callable[[Sequence[Sequence[str]], int], Featurizer]

FEATURES: dict[str, FeatureBuilder] = {
    "caps": lambda token_lists, min_count: CapsFeature(),
    "suffix2": lambda token_lists, min_count: SuffixFeature.fit(token_lists, 2, min_count),
    "suffix3": lambda token_lists, min_count: SuffixFeature.fit(token_lists, 3, min_count),
    "shape": lambda token_lists, min_count: ShapeFeature.fit(token_lists, min_count),
}


def make_feature(name: str, token_lists: Sequence[Sequence[str]] = (), min_count: int = 1) -> Featurizer:
    """The feature ``name`` of :data:`FEATURES`, fitted on the training tokens when it learns keys."""
    if name not in FEATURES:
        raise ValueError(f"unknown feature {name!r}; choose from {', '.join(sorted(FEATURES))}")
    return FEATURES[name](token_lists, min_count)


def feature_from_dict(data: dict[str, Any]) -> Featurizer:
    """The feature saved by its ``to_dict()``."""
    kind = data.get("type")
    if kind == "caps":
        return CapsFeature()
    if kind == "suffix":
        return SuffixFeature(int(data["n"]), data["keys"])
    if kind == "shape":
        return ShapeFeature(data["keys"])
    raise ValueError(f"unknown saved feature type {kind!r}; expected 'caps', 'suffix' or 'shape'")
