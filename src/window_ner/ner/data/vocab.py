"""The word vocabulary: words to ids, with the reserved padding, unknown and sentence-edge ids.

Word ids 0-3 are reserved: :data:`PAD` (padding), :data:`UNK` (unknown word), :data:`BOS` and :data:`EOS`
(what a window sees beyond the left and right edge of its sentence). Words are normalised the same way
when the vocabulary is built and when it is used; by default they are lowercased (GloVe 6B is uncased)
and digits are kept, since GloVe has vectors for real numbers such as "1996".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from window_ner.errors import InputError

PAD, UNK, BOS, EOS = 0, 1, 2, 3
RESERVED = ("<pad>", "<unk>", "<s>", "</s>")

_DIGIT = re.compile(r"\d")


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
        given = list(words)
        self.words: list[str] = [*RESERVED, *given]
        self._index: dict[str, int] = dict(zip(given, range(len(RESERVED), len(self.words)), strict=True))
        if len(self._index) != len(given) or not self._index.keys().isdisjoint(RESERVED):
            seen: set[str] = set(RESERVED)
            word = next(w for w in given if w in seen or seen.add(w))  # type: ignore[func-returns-value]
            raise InputError(f"the word {word!r} is given twice or is a reserved name; pass unique words "
                             "without the reserved ones (use Vocab.build to count and deduplicate)")
        joined = "\n".join(given)  # one pass in C: a vocabulary of 400,000 words loads in milliseconds
        if self.normalize(joined) != joined:
            word = next(w for w in given if self.normalize(w) != w)
            raise InputError(f"the word {word!r} is not normalised (it would be looked up as "
                             f"{self.normalize(word)!r}); build the vocabulary with Vocab.build")

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
            raise InputError(f"min_count must be at least 1, not {min_count}")
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
            raise InputError(f"not a saved vocabulary (type {data.get('type')!r}, version "
                             f"{data.get('version')!r}); expected the output of Vocab.to_dict()")
        return cls(data["words"], lowercase=data["lowercase"], normalize_digits=data["normalize_digits"])
