"""Unicode forms: the same word written with other code points is the same word.

"Zoé" can arrive precomposed (U+00E9) or decomposed ("e" + U+0301), and an invisible format character (a
zero-width joiner, a soft hyphen) can sit inside "Berlin". Two functions deal with it:

* :func:`skeleton` gives the text the tokenizer reads: every combining mark and invisible joiner is folded
  into the character before it, so that tokens never break inside a word, with the map back to the
  original's character offsets (tokens keep pointing into the text the user gave);
* :func:`canonical_word` gives the form a token is matched under (vocabulary, features): NFC, with the
  invisible format characters removed.

ASCII text, by far the most common input, goes through both untouched and at no cost.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache

__all__ = ["canonical_word", "original_span", "skeleton"]

# Invisible characters that may sit inside a word: soft hyphen, zero-width non-joiner and joiner, word
# joiner, zero-width no-break space (a byte-order mark in the middle of a text).
INVISIBLE = "\u00ad\u200c\u200d\u2060\ufeff"
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")


@cache
def _attached() -> re.Pattern[str]:
    """A character class of every code point that belongs to the character before it: combining marks
    (categories Mn, Mc, Me) and the invisible joiners. Built on first use (about 30 ms), from the running
    Python's Unicode database."""
    ranges: list[str] = []
    start = previous = -2
    planes = (range(0x300, 0x20000), range(0xE0100, min(0xE01F0, sys.maxunicode + 1)))
    for code in (c for plane in planes for c in plane):
        if unicodedata.category(chr(code))[0] != "M":
            continue
        if code != previous + 1:
            if start >= 0:
                ranges.append(_range(start, previous))
            start = code
        previous = code
    ranges.append(_range(start, previous))
    return re.compile("[" + "".join(ranges) + INVISIBLE + "]")


def _range(first: int, last: int) -> str:
    return re.escape(chr(first)) if first == last else f"{re.escape(chr(first))}-{re.escape(chr(last))}"


def skeleton(text: str) -> tuple[str, list[int] | None]:
    """The text with each combining mark and invisible joiner folded into the character before it (the NFC
    character they make together, else the bare base; a mark that follows a space or starts the text stays
    itself), and for each character of the result, its index in ``text``; ``None`` when nothing was folded.

    :func:`original_span` maps a span of the skeleton back to ``text``, with the marks that follow its last
    character.
    """
    if text.isascii():
        return text, None
    attached = _attached()
    if attached.search(text) is None:
        return text, None
    starts: list[int] = []
    pieces: list[str] = []
    last = 0
    for match in attached.finditer(text):
        begin = match.start()
        if begin == 0 or text[begin - 1].isspace():
            begin += 1  # a mark with no character to sit on stands for itself (and the rest of the run)
        if begin > last:  # the base characters since the last dropped one
            pieces.append(text[last:begin])
            starts.extend(range(last, begin))
            # the base with its marks, where NFC makes one character of them ("A" + ring is "Å"): so the
            # tokenizer sees what it sees in the composed text, not a bare "A" (which "A." would make an initial)
            composed = unicodedata.normalize("NFC", _INVISIBLE_RE.sub("", text[begin - 1:match.end()]))
            if len(composed) == 1:
                pieces[-1] = pieces[-1][:-1] + composed
        last = match.end()
    pieces.append(text[last:])
    starts.extend(range(last, len(text)))
    return "".join(pieces), starts


def original_span(starts: list[int], text_length: int, start: int, end: int) -> tuple[int, int]:
    """The span of ``text`` that the skeleton's span ``[start, end)`` covers, marks after it included."""
    real_end = starts[end] if end < len(starts) else text_length
    return starts[start], real_end


def canonical_word(word: str) -> str:
    """The form a token is matched under: NFC, without invisible joiners (unless nothing else is left)."""
    if word.isascii():
        return word
    form = unicodedata.normalize("NFC", _INVISIBLE_RE.sub("", word))
    return form or word
