"""The gazetteer feature: which tokens lie inside a listed phrase (a city, a country, a name), of which types.

A gazetteer file holds UTF-8 lines ``TYPE<TAB>phrase`` (``LOC\tNew York``); a phrase's tokens are separated
by spaces and match tokens of the text one for one. Blank lines and lines starting with ``#`` are skipped.

Matching runs over each sentence on its own (the encoder passes the sentences to :meth:`ids_by_sentence`, so
no phrase matches across a sentence boundary), left to right, longest match first: at each token the longest
phrase that starts there wins, whether it matches exactly or only lowercased, and the scan goes on after it;
at equal length an exact match beats a lowercased one. A token inside a match gets one id for the
combination (types of the matched phrase, position B/I/E/S in it, exact or lowercased). When a phrase is
listed under several types ("Washington" as LOC and PER), its id is that set of types: one id per token
keeps the feature a plain embedding, and the set says more than any one type picked by a rule. Id 0 is
padding and 1 "no match".

The phrases are saved in the model file (``to_dict``, grouped by type), so a trained model tags with them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from window_ner.errors import InputError
from window_ner.files import bounded_lines
from window_ner.ner.data.text import canonical_word
from window_ner.ner.model.features import FEATURES, Feature

__all__ = ["GAZETTEER", "POSITIONS", "GazetteerFeature", "check_gazetteer_option", "read_gazetteer"]

GAZETTEER = "gazetteer"  # the feature's registered name
POSITIONS = "BIES"  # a token's place in its matched phrase: begin, inside, end, single token
NO_MATCH = 1
MAX_LINE = 1 << 16  # bytes; a longer line is not a phrase


@FEATURES.register(GAZETTEER)
class GazetteerFeature(Feature):
    """Ids of (types, B/I/E/S, exact or lowercased) for tokens inside the longest matching listed phrase."""

    name = GAZETTEER
    default_dim = 10

    def __init__(self, phrases: Mapping[str, Iterable[str]] | None = None):
        """``phrases``: type -> phrases (tokens separated by spaces)."""
        self.phrases: dict[str, list[str]] = {}
        for kind, listed in sorted((phrases or {}).items()):
            if not isinstance(kind, str) or not kind or kind != kind.strip() or any(c.isspace() for c in kind):
                raise InputError(f"a gazetteer type must be a word such as LOC, not {kind!r}")
            if isinstance(listed, str):
                raise InputError(f"the gazetteer's {kind} phrases must be a list of strings, not one string")
            self.phrases[kind] = sorted({" ".join(_tokens(p)) for p in listed} - {""})
        exact: dict[tuple[str, ...], set[str]] = {}
        lower: dict[tuple[str, ...], set[str]] = {}
        for kind, listed in self.phrases.items():
            for phrase in listed:
                key = tuple(phrase.split(" "))
                exact.setdefault(key, set()).add(kind)
                lower.setdefault(tuple(t.lower() for t in key), set()).add(kind)
        # every set of types a match can carry gets its ids, in a fixed order
        self.type_sets = sorted({tuple(sorted(s)) for s in (*exact.values(), *lower.values())},
                                key=lambda s: (len(s), s))
        index = {s: i for i, s in enumerate(self.type_sets)}
        self._exact = {key: index[tuple(sorted(s))] for key, s in exact.items()}
        self._lower = {key: index[tuple(sorted(s))] for key, s in lower.items()}
        lengths: dict[str, set[int]] = {}
        for key in self._lower:
            lengths.setdefault(key[0], set()).add(len(key))
        self._lengths = {first: sorted(ls, reverse=True) for first, ls in lengths.items()}  # longest first

    @classmethod
    def fit(cls, token_lists: Iterable[Sequence[str]] = (), min_count: int = 1) -> GazetteerFeature:
        """An empty gazetteer (the phrases come from a file, see :func:`read_gazetteer`, not from training)."""
        return cls()

    @property
    def size(self) -> int:
        """Padding, no match, then 4 positions x 2 kinds of match for each set of types."""
        return 2 + len(self.type_sets) * len(POSITIONS) * 2

    def id_of(self, types: Sequence[str], position: str, exact: bool) -> int:
        """The id of a token at ``position`` (B, I, E or S) of a match of ``types``, exact or lowercased."""
        which = self.type_sets.index(tuple(sorted(types)))
        return 2 + (which * len(POSITIONS) + POSITIONS.index(position)) * 2 + (0 if exact else 1)

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        """The ids of one sentence's tokens."""
        out = np.full(len(tokens), NO_MATCH, dtype=np.int64)
        if not self._lengths:
            return out
        lowered = [t.lower() for t in tokens]
        n, i = len(tokens), 0
        while i < n:
            match = self._longest(tokens, lowered, i, n)
            if match is None:
                i += 1
                continue
            length, which, kind = match
            base = 2 + which * len(POSITIONS) * 2 + kind
            if length == 1:
                out[i] = base + 3 * 2  # S
            else:
                out[i] = base  # B
                out[i + 1:i + length - 1] = base + 2  # I
                out[i + length - 1] = base + 2 * 2  # E
            i += length
        return out

    def _longest(self, tokens: Sequence[str], lowered: list[str], i: int, n: int) -> tuple[int, int, int] | None:
        """(length, type set, 0 exact or 1 lowercased) of the longest phrase starting at token ``i``."""
        for length in self._lengths.get(lowered[i], ()):
            if i + length > n:
                continue
            which = self._exact.get(tuple(tokens[i:i + length]))
            if which is not None:
                return length, which, 0
            which = self._lower.get(tuple(lowered[i:i + length]))
            if which is not None:
                return length, which, 1
        return None

    def ids_by_sentence(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """The ids of every token of ``sentences``, concatenated; no phrase matches across two sentences."""
        if not sentences:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([self.ids(sentence) for sentence in sentences])

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "phrases": self.phrases}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GazetteerFeature:
        phrases = data.get("phrases", {})
        if not isinstance(phrases, dict):
            raise InputError(f"the saved gazetteer's phrases must map types to lists, not {type(phrases).__name__}")
        return cls(phrases)

    def __repr__(self) -> str:
        counts = ", ".join(f"{kind} {len(p):,}" for kind, p in self.phrases.items())
        return f"GazetteerFeature({counts or 'no phrases'}; {self.size} ids)"


def _tokens(phrase: str) -> list[str]:
    """A phrase's tokens in the form they are matched under (see ``canonical_word``)."""
    return [t if t.isascii() else canonical_word(t) for t in phrase.split()]


def read_gazetteer(path: str | os.PathLike[str]) -> GazetteerFeature:
    """The gazetteer of a file of ``TYPE<TAB>phrase`` lines; a malformed line raises naming ``file:line``."""
    path = Path(path)
    phrases: dict[str, list[str]] = {}
    with open(path, "rb") as stream:
        lines = bounded_lines(stream, MAX_LINE, lambda number: InputError(
            f"{path}:{number}: the line is longer than {MAX_LINE:,} bytes: expected TYPE<TAB>phrase"))
        for number, raw in enumerate(lines, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(f"{path}:{number}: bytes {raw[e.start:e.end]!r} at column {e.start + 1} are not "
                                 "valid UTF-8; convert the file to UTF-8") from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            kind, tab, phrase = line.partition("\t")
            if not tab:
                raise InputError(f"{path}:{number}: expected TYPE<TAB>phrase (e.g. 'LOC<TAB>New York'), but the "
                                 f"line has no tab: {line[:60]!r}")
            kind = kind.strip()
            if not kind or any(c.isspace() for c in kind):
                raise InputError(f"{path}:{number}: expected TYPE<TAB>phrase with a type of one word such as LOC, "
                                 f"not {kind!r}")
            if "\t" in phrase:
                raise InputError(f"{path}:{number}: expected TYPE<TAB>phrase with one tab, but the line has "
                                 f"{line.count(chr(9))}; separate the phrase's tokens by spaces")
            if not phrase.strip():
                raise InputError(f"{path}:{number}: expected TYPE<TAB>phrase, but the phrase after {kind!r} is empty")
            phrases.setdefault(kind, []).append(phrase)
    if not phrases:
        raise InputError(f"{path}: the gazetteer holds no phrase: expected lines TYPE<TAB>phrase")
    return GazetteerFeature(phrases)


def check_gazetteer_option(features: Sequence[str], path: Path | None) -> None:
    """Raise unless a gazetteer file is given exactly when the gazetteer feature is chosen."""
    if GAZETTEER in features and path is None:
        raise InputError("the gazetteer feature needs its phrases: give --gazetteer FILE (lines TYPE<TAB>phrase; "
                         "tools/build_gazetteer.py builds one)")
    if path is not None and GAZETTEER not in features:
        raise InputError(f"--gazetteer {path} is given but the gazetteer feature is not chosen: add it to "
                         "--features (e.g. --features caps,gazetteer)")
