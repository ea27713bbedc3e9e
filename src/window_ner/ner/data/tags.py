"""Tag schemes (IO, IOB1, IOB2, IOBES, BILOU): entity spans, conversion, validation and tag sets.

Spans are read with the chunk rules of the CoNLL ``conlleval`` script, so that any tag sequence (valid
or not) yields the same entities that conlleval counts. For IOB1/IOB2 input (tags ``O``, ``B-X``,
``I-X``) the result is identical to conlleval.pl (version 2004-01-26). conlleval.pl itself has no rules
for ``S-`` and only partial ones for ``E-``; here ``E-``/``S-`` always end a chunk and ``B-``/``S-``
always start one, the usual IOBES reading. BILOU's ``L-``/``U-`` are read as ``E-``/``S-``. A tag
without a prefix (``PER``, as in plain IO files) is read as ``I-PER``; ``O`` is outside.

Scheme names are case-insensitive; ``BIO`` means IOB2 and ``BIOES`` means IOBES.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from window_ner.errors import InputError

__all__ = [
    "SCHEMES",
    "Span",
    "TagSchemeError",
    "allowed_ends",
    "allowed_starts",
    "allowed_transitions",
    "check_tag",
    "convert",
    "detect_scheme",
    "from_spans",
    "is_valid_tag",
    "normalize_scheme",
    "spans",
    "tag_checker",
    "tag_set",
    "tag_type",
    "validate",
]

Span = tuple[int, int, str]  # (start, end exclusive, entity type)

SCHEMES = ("IO", "IOB1", "IOB2", "IOBES", "BILOU")
_ALIASES = {"BIO": "IOB2", "BIOES": "IOBES", "IOBES": "IOBES", "BIOUL": "BILOU"}

# Prefixes each scheme may use, in the order tag_set lists them.
_PREFIXES = {
    "IO": ("I",),
    "IOB1": ("B", "I"),
    "IOB2": ("B", "I"),
    "IOBES": ("B", "I", "E", "S"),
    "BILOU": ("B", "I", "L", "U"),
}
_PREFIX_TEXT = {
    "IO": "O or I- followed by a type (or a bare type)",
    "IOB1": "O or B-/I- followed by a type",
    "IOB2": "O or B-/I- followed by a type",
    "IOBES": "O or B-/I-/E-/S- followed by a type",
    "BILOU": "O or B-/I-/L-/U- followed by a type",
}
# BILOU is IOBES with other letters; a bare type is IO's inside tag.
_CANONICAL_PREFIX = {"B": "B", "I": "I", "E": "E", "S": "S", "L": "E", "U": "S", "": "I", "O": "O"}


class TagSchemeError(InputError):
    """A tag or tag sequence that does not follow the expected tagging scheme."""


def normalize_scheme(scheme: str) -> str:
    """The canonical name of a scheme (``IO``, ``IOB1``, ``IOB2``, ``IOBES`` or ``BILOU``)."""
    name = str(scheme).upper()
    name = _ALIASES.get(name, name)
    if name not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}: use one of {', '.join(SCHEMES)} (or BIO, BIOES)")
    return name


def _prefix_and_type(tag: str) -> tuple[str, str]:
    """(prefix, type) as written: 'O' -> ('O', ''), 'B-PER' -> ('B', 'PER'), 'PER' -> ('', 'PER')."""
    if tag == "O":
        return "O", ""
    # The first hyphen separates prefix and type, as in conlleval since 2004 (types may hold hyphens).
    prefix, sep, kind = tag.partition("-")
    if not sep:
        return "", tag
    if prefix == "O":
        return "O-", kind  # 'O-X' is no tag of any scheme; keep it apart from the outside tag
    return prefix, kind


def tag_type(tag: str) -> str:
    """The entity type of a tag ('B-PER' -> 'PER', bare 'PER' -> 'PER'), or 'O' for the outside tag."""
    prefix, kind = _prefix_and_type(tag)
    return "O" if prefix == "O" else kind


def check_tag(tag: str) -> None:
    """Raise ValueError unless some scheme can read ``tag`` (O, a bare type, or a B-/I-/E-/S-/L-/U- prefix and
    a type)."""
    _chunk_parse(tag)


# ----- spans: conlleval's chunk rules -----

_parse_cache: dict[str, tuple[str, str]] = {}


def _chunk_parse(tag: str) -> tuple[str, str]:
    """(canonical prefix B/I/E/S/O, type) for the span reader; rejects tags it cannot read."""
    found = _parse_cache.get(tag)
    if found is not None:
        return found
    if not isinstance(tag, str):
        raise TypeError(f"tags must be strings, got {type(tag).__name__} {tag!r}")
    prefix, kind = _prefix_and_type(tag)
    canonical = _CANONICAL_PREFIX.get(prefix)
    if canonical is None or (canonical != "O" and not kind):
        raise ValueError(f"cannot read tag {tag!r}: expected O, a bare type, or B-/I-/E-/S-/L-/U- "
                         "followed by a type")
    if not kind.isprintable() or any(ch.isspace() for ch in kind):
        raise ValueError(f"cannot read tag {tag!r}: an entity type is a name, without spaces or control "
                         "characters")
    if len(_parse_cache) < 100_000:  # tag vocabularies are tiny; the bound only guards odd inputs
        _parse_cache[tag] = (canonical, kind)
    return canonical, kind


def _ends_chunk(prev: str, cur: str, prev_type: str, cur_type: str) -> bool:
    """Whether a chunk open at the previous token ends before the current one (conlleval's endOfChunk)."""
    if prev in ("E", "S"):
        return True
    if prev in ("B", "I") and cur in ("B", "S", "O"):
        return True
    return prev != "O" and prev_type != cur_type


def _starts_chunk(prev: str, cur: str, prev_type: str, cur_type: str) -> bool:
    """Whether a chunk starts at the current token (conlleval's startOfChunk)."""
    if cur in ("B", "S"):
        return True
    if cur in ("I", "E") and prev in ("O", "E", "S"):
        return True
    return cur != "O" and prev_type != cur_type


def spans(tags: Sequence[str]) -> list[Span]:
    """Entity spans ``(start, end_exclusive, type)`` of one sentence, counted as conlleval counts chunks."""
    out: list[Span] = []
    open_at = -1
    open_type = ""
    prev, prev_type = "O", ""  # a sentence boundary is an O token for conlleval
    for i, tag in enumerate(tags):
        cur, cur_type = _chunk_parse(tag)
        if open_at >= 0 and _ends_chunk(prev, cur, prev_type, cur_type):
            out.append((open_at, i, open_type))
            open_at = -1
        if _starts_chunk(prev, cur, prev_type, cur_type):
            if open_at >= 0:  # cannot happen with these rules; kept so a span is never lost silently
                out.append((open_at, i, open_type))
            open_at, open_type = i, cur_type
        prev, prev_type = cur, cur_type
    if open_at >= 0:
        out.append((open_at, len(tags), open_type))
    return out


def from_spans(entity_spans: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Tags of a sentence of ``length`` tokens holding ``entity_spans`` (non-overlapping) in ``scheme``."""
    scheme = normalize_scheme(scheme)
    tags = ["O"] * length
    prev_end, prev_type = -1, None
    for start, end, kind in sorted(entity_spans):
        if not (0 <= start < end <= length):
            raise ValueError(f"span ({start}, {end}, {kind!r}) does not fit a sentence of {length} tokens")
        if start < prev_end:
            raise ValueError(f"span ({start}, {end}, {kind!r}) overlaps the previous span; spans must be "
                             "disjoint")
        if not kind or kind == "O":
            raise ValueError(f"span ({start}, {end}) has no entity type (got {kind!r})")
        size = end - start
        if scheme == "IO":
            # IO cannot mark where two adjacent entities of one type meet: they merge (lossy).
            tags[start:end] = [f"I-{kind}"] * size
        elif scheme == "IOB1":
            # B- only where the entity directly follows another one of the same type.
            first = "B" if (start == prev_end and kind == prev_type) else "I"
            tags[start:end] = [f"{first}-{kind}"] + [f"I-{kind}"] * (size - 1)
        elif scheme == "IOB2":
            tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (size - 1)
        else:
            begin, end_p, single = ("B", "E", "S") if scheme == "IOBES" else ("B", "L", "U")
            if size == 1:
                tags[start] = f"{single}-{kind}"
            else:
                tags[start:end] = [f"{begin}-{kind}"] + [f"I-{kind}"] * (size - 2) + [f"{end_p}-{kind}"]
        prev_end, prev_type = end, kind
    return tags


# ----- single tags -----

def is_valid_tag(tag: str, scheme: str) -> bool:
    """Whether ``tag`` is a tag of ``scheme`` (``O`` or an allowed prefix and a non-empty type)."""
    return _is_tag_of(tag, normalize_scheme(scheme))


def _is_tag_of(tag: str, scheme: str) -> bool:
    """``is_valid_tag`` for a scheme already normalised (the callers below check tag after tag)."""
    if not isinstance(tag, str):
        return False
    prefix, kind = _prefix_and_type(tag)
    if prefix == "O":
        return True
    if prefix == "":
        # Bare types are IO's inside tags; a hyphen-less "O..." word is still a type, not outside.
        return scheme == "IO" and bool(kind)
    return prefix in _PREFIXES[scheme] and bool(kind)


def _not_a_tag(tag: str, scheme: str, where: str = "", hint: str = "") -> TagSchemeError:
    return TagSchemeError(f"{where}tag {tag!r} is not an {scheme} tag (expected {_PREFIX_TEXT[scheme]}){hint}")


def tag_checker(scheme: str) -> Callable[[str], None]:
    """A function that raises ValueError for any single tag that is not a ``scheme`` tag."""
    scheme = normalize_scheme(scheme)

    def check(tag: str) -> None:
        if not _is_tag_of(tag, scheme):
            raise _not_a_tag(tag, scheme)

    return check


# ----- sequences -----

def _canonical(tag: str) -> tuple[str, str]:
    """(prefix, type) of a valid ``scheme`` tag with BILOU letters and bare IO tags mapped to B/I/E/S/O."""
    prefix, kind = _prefix_and_type(tag)
    return _CANONICAL_PREFIX[prefix], kind


def _may_follow(scheme: str, prev: tuple[str, str] | None, cur: tuple[str, str]) -> bool:
    """Whether ``cur`` may follow ``prev`` (``None``: sentence start) in a valid ``scheme`` sequence."""
    cur_p, cur_t = cur
    if scheme == "IO":
        return True
    if scheme == "IOB1":
        # B- exists only to split two adjacent entities of the same type.
        return cur_p != "B" or (prev is not None and prev[0] in ("B", "I") and prev[1] == cur_t)
    if scheme == "IOB2":
        return cur_p != "I" or (prev is not None and prev[0] in ("B", "I") and prev[1] == cur_t)
    # IOBES / BILOU (canonical letters): inside an entity only I-/E- of its type may come next.
    if prev is None or prev[0] in ("O", "E", "S"):
        return cur_p in ("O", "B", "S")
    return cur_p in ("I", "E") and cur_t == prev[1]


def _may_end(scheme: str, last: tuple[str, str]) -> bool:
    """Whether a sentence may end with ``last`` (IOBES/BILOU entities must be closed)."""
    return scheme not in ("IOBES", "BILOU") or last[0] in ("O", "E", "S")


def _expected(scheme: str, prev: str | None, prev_c: tuple[str, str] | None, tag: str) -> str:
    """What a valid sequence would have instead, in words, for error messages."""
    letters = {"E": "L", "S": "U"} if scheme == "BILOU" else {"E": "E", "S": "S"}
    cur_t = _prefix_and_type(tag)[1]
    if scheme == "IOB1":
        return (f"B-{cur_t} only directly after I-{cur_t} or B-{cur_t} (it splits two adjacent {cur_t} "
                f"entities); start an entity with I-{cur_t}")
    if scheme == "IOB2":
        return f"I-{cur_t} only after B-{cur_t} or I-{cur_t}; start an entity with B-{cur_t}"
    if prev_c is None or prev_c[0] in ("O", "E", "S"):
        where = "at sentence start" if prev is None else f"after {prev!r}"
        return f"O, B- or {letters['S']}- {where}"
    return f"I-{prev_c[1]} or {letters['E']}-{prev_c[1]} after {prev!r} (the entity is still open)"


def first_violation(tags: Sequence[str], scheme: str) -> tuple[int, str] | None:
    """The first position where ``tags`` is not a valid ``scheme`` sequence, and why; None when valid."""
    scheme = normalize_scheme(scheme)
    prev: str | None = None
    prev_c: tuple[str, str] | None = None
    for i, tag in enumerate(tags):
        if not _is_tag_of(tag, scheme):
            return i, str(_not_a_tag(tag, scheme))
        cur = _canonical(tag)
        if not _may_follow(scheme, prev_c, cur):
            where = "at sentence start" if prev is None else f"after {prev!r}"
            return i, (f"tag {tag!r} {where} is not allowed in {scheme} "
                       f"(expected {_expected(scheme, prev, prev_c, tag)})")
        prev, prev_c = tag, cur
    if prev_c is not None and not _may_end(scheme, prev_c):
        letters = "L-/U-" if scheme == "BILOU" else "E-/S-"
        return len(tags) - 1, (f"the sentence ends with {prev!r}, an open entity; in {scheme} an entity must "
                               f"end with an {letters} tag")
    return None


def validate(tags: Sequence[str], scheme: str) -> None:
    """Raise TagSchemeError naming the first position where ``tags`` is not a valid ``scheme`` sequence."""
    violation = first_violation(tags, scheme)
    if violation is not None:
        raise TagSchemeError(f"position {violation[0]}: {violation[1]}")


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str:
    """Guess the scheme of a corpus: IOBES/BILOU by their letters, IOB1 if an I- tag opens an entity,
    IOB2 if B- tags are used otherwise, IO for bare types.

    A corpus with only ``O`` and ``I-`` tags is reported as IOB1 (it is valid IO too, and both read the
    same spans); a corpus with no entity tags at all is reported as IOB2.
    """
    letters: set[str] = set()
    i_opens = False
    for sequence in tag_sequences:
        prev, prev_type = "O", ""
        for tag in sequence:
            if not isinstance(tag, str):
                raise TypeError(f"tags must be strings, got {type(tag).__name__} {tag!r}")
            prefix, kind = _prefix_and_type(tag)
            if prefix not in _CANONICAL_PREFIX or (prefix != "O" and not kind):
                raise TagSchemeError(f"cannot detect the tag scheme: tag {tag!r} is not O, a bare type, or "
                                     "B-/I-/E-/S-/L-/U- followed by a type")
            letters.add(prefix)
            # An I- that opens an entity is IOB1 (IOB2 would use B- there).
            if prefix == "I" and (prev == "O" or prev_type != kind):
                i_opens = True
            prev, prev_type = _CANONICAL_PREFIX[prefix], kind
    if "" in letters and letters - {"", "O"}:
        raise TagSchemeError("cannot detect the tag scheme: bare types (like 'PER') are mixed with prefixed "
                             "tags (like 'B-PER'); use one style")
    if letters & {"L", "U"} and letters & {"E", "S"}:
        raise TagSchemeError("cannot detect the tag scheme: both IOBES (E-/S-) and BILOU (L-/U-) tags occur")
    if "" in letters:
        return "IO"
    if letters & {"E", "S"}:
        return "IOBES"
    if letters & {"L", "U"}:
        return "BILOU"
    if i_opens:
        return "IOB1"
    return "IOB2"


def convert(tags: Sequence[str], source: str, target: str, strict: bool = False) -> list[str]:
    """``tags`` re-written from ``source`` to ``target`` scheme, keeping the conlleval spans.

    Every tag must be a ``source`` tag; with ``strict`` the whole sequence must also be valid ``source``
    (otherwise, like conlleval, odd sequences such as IOB1 ``O B-X`` are read leniently). Converting to IO
    merges adjacent entities of the same type, which IO cannot separate.
    """
    source = normalize_scheme(source)
    target = normalize_scheme(target)
    tags = list(tags)
    if strict:
        validate(tags, source)
    else:
        for i, tag in enumerate(tags):
            if not _is_tag_of(tag, source):
                raise _not_a_tag(tag, source, f"position {i}: ",
                                 "; is the source scheme right? detect_scheme() can guess it")
    return from_spans(spans(tags), len(tags), target)


# ----- tag sets and transition constraints -----

def tag_set(types: Iterable[str], scheme: str) -> list[str]:
    """All tags of ``scheme`` for the entity ``types``: ``O`` first, then per sorted type in prefix order."""
    scheme = normalize_scheme(scheme)
    kinds = sorted(set(types))
    for kind in kinds:
        if not isinstance(kind, str) or not kind or kind == "O":
            raise ValueError(f"entity type {kind!r} is not usable: types are non-empty strings "
                             "other than 'O'")
    return ["O"] + [f"{prefix}-{kind}" for kind in kinds for prefix in _PREFIXES[scheme]]


def _canonical_all(tags: Sequence[str], scheme: str) -> list[tuple[str, str]]:
    out = []
    for i, tag in enumerate(tags):
        if not _is_tag_of(tag, scheme):
            raise _not_a_tag(tag, scheme, f"tag list entry {i}: ",
                             f"; build the list with tag_set(types, {scheme!r})")
        out.append(_canonical(tag))
    return out


def allowed_transitions(tags: Sequence[str], scheme: str) -> np.ndarray:
    """Boolean (n_tags, n_tags) matrix: ``[i, j]`` is True when ``tags[j]`` may follow ``tags[i]``."""
    scheme = normalize_scheme(scheme)
    parsed = _canonical_all(tags, scheme)
    matrix = np.zeros((len(parsed), len(parsed)), dtype=bool)
    for i, a in enumerate(parsed):
        matrix[i] = [_may_follow(scheme, a, b) for b in parsed]
    return matrix


def allowed_starts(tags: Sequence[str], scheme: str) -> np.ndarray:
    """Boolean (n_tags,) vector: which tags may open a sentence (not IOB2 I-, IOB1 B-, IOBES I-/E-)."""
    scheme = normalize_scheme(scheme)
    return np.array([_may_follow(scheme, None, t) for t in _canonical_all(tags, scheme)], dtype=bool)


def allowed_ends(tags: Sequence[str], scheme: str) -> np.ndarray:
    """Boolean (n_tags,) vector: which tags may close a sentence (IOBES/BILOU: not B- or I-)."""
    scheme = normalize_scheme(scheme)
    return np.array([_may_end(scheme, t) for t in _canonical_all(tags, scheme)], dtype=bool)
