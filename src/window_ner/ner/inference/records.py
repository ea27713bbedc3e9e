"""Records to tag in bulk: lines of raw text or JSON objects, read as a stream with their line numbers and
tagged a chunk at a time.

A record is one text with where it came from; a JSON record (``{"id": ..., "text": ...}``) keeps all its
other fields, which go through to the result untouched. A line that cannot be a record (not UTF-8, not
JSON, no ``"text"`` string) comes out of :func:`read_records` as a :class:`BadRecord`, not an exception, so
that the caller decides: stop with its message, or skip it and count it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from window_ner.errors import InputError
from window_ner.files import bounded_lines

__all__ = ["BadRecord", "Record", "RECORD_FORMATS", "MAX_LINE", "chunked", "parse_record", "read_records",
           "tag_records"]

RECORD_FORMATS = ("text", "jsonl")
MAX_LINE = 64 << 20  # bytes in one record: a longer line is not text to tag (/dev/zero has no line end)
TEXT_FIELD = "text"


@dataclass(frozen=True, slots=True)
class Record:
    """One text to tag: its input line (1-based), the text, and for a JSON record the whole object."""

    line: int
    text: str
    fields: dict[str, Any] | None = None


class BadRecord(InputError):
    """A line that is no record: names the input, the line and what is wrong with it."""

    def __init__(self, source: str, line: int, reason: str):
        self.source, self.line, self.reason = source, line, reason
        super().__init__(f"{source}:{line}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.source, self.line, self.reason))


def parse_record(raw: bytes, line: int, fmt: str, source: str) -> Record | BadRecord | None:
    """The record of one input line (None for a blank line of JSON input), or what is wrong with it."""
    try:
        text = raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as error:
        return BadRecord(source, line, f"not UTF-8 text ({error.reason} at byte {error.start + 1}); convert "
                                       "the input to UTF-8")
    text = text.rstrip("\r\n")
    if fmt == "text":
        return Record(line, text)
    if not text.strip():
        return None
    try:
        fields = json.loads(text)
    except ValueError as error:
        return BadRecord(source, line, f"not a JSON object ({error}); expected one object per line, such as "
                                       '{"id": 1, "text": "..."}')
    if not isinstance(fields, dict):
        return BadRecord(source, line, f"a JSON {type(fields).__name__}, not an object; expected one object per "
                                       'line, such as {"id": 1, "text": "..."}')
    value = fields.get(TEXT_FIELD)
    if not isinstance(value, str):
        what = "has no \"text\" field" if value is None else f"has a \"text\" of type {type(value).__name__}"
        return BadRecord(source, line, f"the object {what}; expected the text to tag as a string under \"text\"")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # "\ud800" is valid JSON, but no text
        return BadRecord(source, line, "the \"text\" holds a lone surrogate escape (such as \\ud800), which is "
                                       "no character")
    return Record(line, value, fields)


def read_records(stream: IO[bytes], source: str, fmt: str = "text") -> Iterator[Record | BadRecord]:
    """The records of a binary stream, line by line: ``text`` (each line one text; a lone CR ends a line
    too) or ``jsonl`` (each non-blank line a JSON object with a ``"text"`` string)."""
    if fmt not in RECORD_FORMATS:
        raise InputError(f"unknown record format {fmt!r}; choose {' or '.join(RECORD_FORMATS)}")

    def too_long(number: int) -> BadRecord:
        return BadRecord(source, number, f"the line is longer than {MAX_LINE:,} bytes; split the text into "
                                         "shorter lines (one paragraph or document each)")

    for number, raw in enumerate(bounded_lines(stream, MAX_LINE, too_long), 1):
        record = parse_record(raw, number, fmt, source)
        if isinstance(record, Record) and fmt == "text" and "\r" in record.text:  # old-Mac line ends inside
            yield from (Record(number, part) for part in record.text.split("\r"))
        elif record is not None:
            yield record


def chunked(records: Iterable[Record], max_chars: int = 200_000, max_records: int = 2_000) -> Iterator[list[Record]]:
    """Consecutive records in lists of at most ``max_records`` and about ``max_chars`` characters of text."""
    chunk: list[Record] = []
    size = 0
    for record in records:
        chunk.append(record)
        size += len(record.text)
        if size >= max_chars or len(chunk) >= max_records:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def tag_records(tagger: Any, records: list[Record]) -> list[dict[str, Any]]:
    """One result per record: its JSON fields (or ``{"text": ...}``) with ``"entities"`` added, each entity
    with character offsets into the record's text, label and probability."""
    entities = tagger.tag_texts([record.text for record in records])
    results = []
    for record, found in zip(records, entities, strict=True):
        base = record.fields if record.fields is not None else {TEXT_FIELD: record.text}
        results.append({**base, "entities": [entity.to_dict() for entity in found]})
    return results
