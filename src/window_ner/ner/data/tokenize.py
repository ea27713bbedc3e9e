"""Rule-based English tokenizer and sentence splitter following the CoNLL-2003 (Reuters) conventions.

Every token keeps its character offsets into the original string, so ``text[token.start:token.end] ==
token.text`` always holds and tagged spans can be mapped back to the raw text. Combining marks and
invisible joiners never split a word: "Sa\u0303o" and "Ber\u200dlin" are one token each (see the text
module, which also gives the NFC form a token is matched under).

Conventions (matching the tokenisation of the CoNLL-2003 English data):

* punctuation is split off: ``, ; : ( ) [ ] { } " ? !`` and the sentence-final period; typographic quotes
  (“ ” ‘ and a quoting ’) are separate tokens; runs such as ``...`` and ``--`` stay together;
* abbreviations keep their period: a list of common ones (``Mr.``, ``Inc.``, ``Jan.``, ``vs.`` ...), single
  capital initials (``J.``) and letter-dot forms (``U.S.``, ``a.m.``);
* numbers stay whole (``1,000.50``, ``2-1``, ``3/4``, ``1996-08-22``, ``2:29.34``, ``+0.05``, ``.500``); a
  currency sign is its own token (``$`` ``5``) except prefixed forms such as ``C$`` or ``US$``; ``%`` is split
  off; a hyphen or plus ending a word before a space stays on it (``6- 3`` in tennis scores, ``AA+``);
* hyphenated words (``right-wing``), in-word apostrophes (``O'Brien``) and ampersands (``S&P``) stay whole;
* the possessive and other clitics are split as in the Penn Treebank: ``Germany's`` -> ``Germany 's``,
  ``don't`` -> ``do n't``, ``they're`` -> ``they 're``;
* URLs and e-mail addresses are single tokens;
* a number followed by ``.`` or ``=`` at the start of a line (``1. Schumacher``, ``10= Ertl``) is a list or
  rank marker and stays whole (the only rule that depends on context beyond the token itself).

Space-joined CoNLL-2003 sentences re-tokenise to their original tokens for 99.5-99.8 % of the sentences.

Sentences end after ``.``, ``!``, ``?`` or ``...`` (plus any closing quotes or brackets) when the next token
starts with a capital letter, a digit, an opening quote or bracket, or at the end of the text; a blank line
always ends a sentence. Abbreviations never end a sentence, except company and name suffixes (``Inc.``,
``Ltd.``, ``Jr.`` ...) followed by a capitalised word.

API: :func:`tokenize` returns a list of :class:`TextSentence` (``.tokens``, ``.start``, ``.end``; also usable as a
sequence of :class:`Token`); :func:`tokenize_sentence` gives the flat token list of a text without splitting;
:func:`split_sentences` and :func:`sentence_spans` give the sentences as strings or character spans.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import overload

from window_ner.ner.data.text import original_span, skeleton

__all__ = [
    "ABBREVIATIONS", "TextSentence", "Token", "sentence_spans", "split_sentences", "tokenize",
    "tokenize_sentence",
]


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its text and its character span ``[start, end)`` in the original string."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TextSentence:
    """A sentence: its tokens and the character span from its first token's start to its last token's end.

    It behaves like a read-only sequence of :class:`Token` (``len``, iteration, indexing, slicing).
    """

    tokens: tuple[Token, ...]
    start: int
    end: int

    def __len__(self) -> int:
        return len(self.tokens)

    def __iter__(self) -> Iterator[Token]:
        return iter(self.tokens)

    @overload
    def __getitem__(self, index: int) -> Token: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Token, ...]: ...

    def __getitem__(self, index: int | slice) -> Token | tuple[Token, ...]:
        return self.tokens[index]

    @property
    def words(self) -> list[str]:
        """The token strings."""
        return [token.text for token in self.tokens]


# ----------------------------------------------------------------------------------------------------------
# Abbreviations that keep their period (matched case-sensitively, as whole words).  "Title" ones never end a
# sentence; "suffix" ones (company forms, Jr., US state abbreviations) end it when a capitalised word follows.
_TITLE_ABBREVIATIONS = (
    "Mr", "Mrs", "Ms", "Messrs", "Dr", "Prof", "St", "Ste", "Mt", "Ft", "Gen", "Col", "Lt", "Maj", "Capt",
    "Cmdr", "Sgt", "Cpl", "Adm", "Gov", "Sen", "Rep", "Rev", "Fr", "Hon", "Pres", "Supt", "Insp", "Det",
    "No", "Nos", "Vol", "approx", "vs", "etc", "cf", "Univ", "Assn", "Dept", "Ave", "Blvd", "Rd",
    "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
    "Tue", "Tues", "Thu", "Thur", "Thurs",
)
_SUFFIX_ABBREVIATIONS = (
    "Inc", "Corp", "Co", "Cos", "Ltd", "Bros", "Jr", "Sr", "Plc",
    "Ala", "Ariz", "Ark", "Calif", "Colo", "Conn", "Fla", "Ga", "Kan", "Kans", "Ky", "Md", "Mich", "Minn",
    "Mont", "Neb", "Nev", "Okla", "Ore", "Tenn", "Tex", "Va", "Vt", "Wis", "Wyo",
)
#: The abbreviations kept whole with their period (besides initials like "J." and forms like "U.S.").
ABBREVIATIONS: frozenset[str] = frozenset(a + "." for a in _TITLE_ABBREVIATIONS + _SUFFIX_ABBREVIATIONS)
_SUFFIXES = frozenset(a + "." for a in _SUFFIX_ABBREVIATIONS)

_L = r"[^\W\d_]"  # a letter (any script)
_A = r"[^\W_]"  # a letter or a digit
_APOS = "'\u2019"  # straight and typographic apostrophes
_CLITIC_BODY = rf"(?:[sSmMdD]|re|RE|Re|ve|VE|ll|LL)(?!{_A})"
_NT = rf"[nN][{_APOS}][tT](?!{_A})"
# A connector inside a word, always followed by a letter or digit: "-", "&", "/"; "," and ":" only between
# digits; "." (so "1.5", "reuters.com"); an apostrophe unless it starts a clitic ("O'Brien", "o'clock").
_JOIN = rf"(?:[-&/]|(?<=\d)[,:](?=\d)|\.|[{_APOS}](?!{_CLITIC_BODY}))(?={_A})"
_WORD = rf"{_A}+(?:{_JOIN}{_A}+)*"
_URL_CHAR = r"[^\s<>\"“”‘’«»()\[\]{}]"

_TOKEN_RE = re.compile(
    "|".join(
        (
            # URLs (a trailing sentence punctuation mark is left out) and e-mail addresses.
            rf"(?:(?:https?|ftp)://|www\.){_URL_CHAR}*[^\s<>\"“”‘’«»()\[\]{{}}.,;:!?'’]",
            rf"[\w.+-]{{1,64}}@{_A}[\w-]*(?:\.[\w-]+)*\.{_A}+",
            # A list or rank marker at the start of a line: "1. Schumacher", "10= Ertl".
            r"(?m:^)\d{1,3}[.=](?=\s)",
            # Letter-dot abbreviations, possibly heading a compound: "U.S.", "a.m.", "U.S.-based".
            rf"(?:{_L}\.){{2,}}(?:-{_WORD})?",
            # Known abbreviations and capital initials ("J."), not when a letter or digit follows the period.
            rf"(?:{'|'.join(sorted((a[:-1] for a in ABBREVIATIONS), key=lambda a: (-len(a), a)))})\.(?!{_A})",
            rf"[A-Z]\.(?!{_A})",
            # The stem before "n't" ("do|n't", "ca|n't"), then "n't" and the other clitics ("'s", "'re" ...).
            rf"{_A}+?(?={_NT})",
            _NT,
            rf"[{_APOS}]{_CLITIC_BODY}",
            # Prefixed currency signs: "C$", "US$", "HK$".
            r"[A-Z]{1,2}\$",
            # Signed numbers and bare decimals at the start of a word: "+0.05", "-5", ".500".
            rf"(?:(?<=[\s(\[])|^)(?:[+\-−]\.?|\.)\d{_A}*(?:{_JOIN}{_A}+)*",
            # Ordinary words and numbers; a "-" or "+" ending a word before a space stays on it ("6- 3",
            # "AA+"); a compound ending in a letter-dot abbreviation keeps its period ("Russian-U.S.").
            rf"{_WORD}(?:(?<=-{_L}\.{_L})\.(?!{_A})|[-+](?!\S))?",
            # Runs of a repeated mark ("...", "--", "**"), then any other single character.
            r"(?P<run>[.\-*=~#_])(?P=run)+|\S",
        )
    )
)

_TERMINALS = frozenset({".", "!", "?", "...", "…"})
_CLOSERS = frozenset({")", "]", "}", "”", "’", "»", "'"})
_QUOTES = frozenset({'"'})
_OPENERS = frozenset({'"', "“", "‘", "'", "(", "[", "{", "«", "¿", "¡"})


def tokenize_sentence(text: str, offset: int = 0) -> list[Token]:
    """Tokens of ``text`` without sentence splitting; offsets are shifted by ``offset``."""
    base, starts = skeleton(text)
    tokens = _tokens(base)
    if starts is not None:
        tokens = _in_original(tokens, text, starts)
    if offset:
        return [Token(t.text, t.start + offset, t.end + offset) for t in tokens]
    return tokens


def _tokens(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def _in_original(tokens: list[Token], text: str, starts: list[int]) -> list[Token]:
    """Tokens of a skeleton (see window_ner.ner.data.text) as spans of the original text."""
    spans = (original_span(starts, len(text), t.start, t.end) for t in tokens)
    return [Token(text[start:end], start, end) for start, end in spans]


def _starts_sentence(word: str) -> bool:
    first = word[0]
    return first.isupper() or first.isdigit() or first in _OPENERS


def _blank_line(text: str, start: int, end: int) -> bool:
    """Whether the whitespace ``text[start:end]`` between two tokens contains a blank line."""
    return text.count("\n", start, end) >= 2


def _is_terminal(word: str) -> bool:
    return word in _TERMINALS or (word[0] == "." and not word.strip("."))


def _boundaries(text: str, tokens: list[Token]) -> list[int]:
    """Indices ``i`` such that a sentence ends after ``tokens[i - 1]`` (the last one is ``len(tokens)``)."""
    cuts: list[int] = []
    n = len(tokens)
    quotes = 0  # straight double quotes seen in the current sentence (odd: a quotation is open)
    i = 0
    while i < n:
        word = tokens[i].text
        if word in _QUOTES:
            quotes += 1
        end = i + 1
        if _is_terminal(word) or (word in _SUFFIXES and end < n and tokens[end].text[0].isupper()):
            # Closing brackets and quotes after the terminal belong to the sentence it ends.
            while end < n and not _blank_line(text, tokens[end - 1].end, tokens[end].start):
                following = tokens[end].text
                if following in _QUOTES and quotes % 2 == 1:
                    quotes += 1
                elif following not in _CLOSERS:
                    break
                end += 1
            if end == n or _starts_sentence(tokens[end].text):
                cuts.append(end)
                quotes = 0
        if end < n and (not cuts or cuts[-1] != end) and _blank_line(text, tokens[end - 1].end,
                                                                      tokens[end].start):
            cuts.append(end)
            quotes = 0
        i = end
    if not cuts or cuts[-1] != n:
        cuts.append(n)
    return cuts


def tokenize(text: str) -> list[TextSentence]:
    """Split ``text`` into sentences of tokens; each token's ``text`` equals ``text[start:end]``."""
    base, starts = skeleton(text)
    tokens = _tokens(base)
    if not tokens:
        return []
    cuts = _boundaries(base, tokens)
    if starts is not None:
        tokens = _in_original(tokens, text, starts)
    sentences = []
    begin = 0
    for cut in cuts:
        if cut > begin:
            chunk = tuple(tokens[begin:cut])
            sentences.append(TextSentence(chunk, chunk[0].start, chunk[-1].end))
            begin = cut
    return sentences


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text`` (from first to last token)."""
    return [(sentence.start, sentence.end) for sentence in tokenize(text)]


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` as substrings (surrounding whitespace excluded)."""
    return [text[start:end] for start, end in sentence_spans(text)]
