"""Reading and writing CoNLL column files: one token per line, blank lines between sentences.

The reader streams (one line at a time) and checks the file as it goes: every token line must have the
same number of columns (the number most of the first token lines have, so that a bad first line is the
one blamed), no column may be empty, and every line must decode in the given
encoding. Problems raise :class:`ConllFormatError` naming ``file:line``; with ``strict=False`` the
sentence holding a bad line is dropped instead (a sentence with a token missing would silently shift
every window and could break its tag sequence) and the reader counts what it dropped.

Columns are separated by runs of spaces, or by tabs when a line holds a tab (then a field may contain
spaces, and spaces around a tab are dropped). The writer uses spaces, and tabs on a line where a field holds
a space, so that every file it writes reads back the same. ``-DOCSTART-`` lines mark document boundaries;
only their first field is looked at.

This module only moves strings around: whether a tag belongs to a scheme is decided by the tags module,
which can be plugged in through the ``tag_check`` and ``validate`` hooks.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from window_ner.errors import InputError
from window_ner.files import bounded_lines, open_atomic

DOCSTART = "-DOCSTART-"
MAX_KEPT_ERRORS = 100  # non-strict reading keeps the first errors for reports, not one per bad line
MAX_LINE = 1 << 20  # bytes; a longer line is not a token line (and /dev/zero has no end of line)
COLUMN_SAMPLE = 100  # token lines read ahead to learn the file's usual number of columns


class ConllFormatError(InputError):
    """A CoNLL file is malformed; ``str()`` reads ``file:line: what was expected``."""

    def __init__(self, path: str | os.PathLike[str], line: int, message: str):
        self.path = os.fspath(path)
        self.line = line
        self.message = message
        super().__init__(f"{self.path}:{line}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # the default pickling passes only the formatted text back to __init__
        return (type(self), (self.path, self.line, self.message))


@dataclass(slots=True)
class Sentence:
    """One sentence of a CoNLL file: tokens, tags (None for unlabelled input) and the other columns.

    ``columns`` holds the remaining columns in file order, one list per column (for CoNLL-2003: POS,
    chunk); ``doc`` is the index of the document holding the sentence and ``line`` the 1-based line
    where it starts (0 for sentences that were not read from a file).
    """

    tokens: list[str]
    tags: list[str] | None = None
    columns: list[list[str]] = field(default_factory=list)
    doc: int = 0
    line: int = 0

    def __len__(self) -> int:
        return len(self.tokens)


def _columns(line: str) -> list[str]:
    """Fields of a line: tab-separated if it holds a tab, else separated by runs of spaces."""
    if "\t" in line:
        return [f.strip(" ") for f in line.split("\t")]
    fields = line.split(" ")
    if "" in fields:  # runs of spaces; a leading space still shows up as an empty first field
        fields = fields[:1] + [f for f in fields[1:] if f]
    return fields


class ConllReader:
    """An iterable over the sentences of a CoNLL file that counts what it read and what it skipped.

    Iterating reads the file again from the start and resets the counters: ``sentences``, ``tokens``,
    ``documents``, and in non-strict mode ``skipped_lines`` (malformed lines), ``skipped_sentences``
    (sentences dropped because they held one) and ``errors`` (the first few errors, for reports).

    ``tag_check(tag)`` is called for each distinct tag and ``validate(tags)`` for each sentence's tag
    list; a ValueError from either is reported at the tag's line (or the sentence's first line).
    """

    def __init__(self, path: str | os.PathLike[str], *, token_column: int = 0, tag_column: int | None = -1,
                 encoding: str = "utf-8", strict: bool = True, docstart: str = DOCSTART,
                 tag_check: Callable[[str], object] | None = None,
                 validate: Callable[[list[str]], object] | None = None):
        if tag_column is not None and tag_column == token_column:
            raise ValueError(f"{os.fspath(path)}: the token and tag columns are both {token_column}; give "
                             "the tag column another number (from Python, tag_column=None reads a file "
                             "without tags)")
        "".encode(encoding)  # an unknown encoding name fails here, before any reading (LookupError)
        self.path = path
        self.token_column = token_column
        self.tag_column = tag_column
        self.encoding = encoding
        self.strict = strict
        self.docstart = docstart
        self.tag_check = tag_check
        self.validate = validate
        self._reset()

    def _reset(self) -> None:
        self.sentences = 0
        self.tokens = 0
        self.documents = 0
        self.skipped_lines = 0
        self.skipped_sentences = 0
        self.errors: list[ConllFormatError] = []

    def __iter__(self) -> Iterator[Sentence]:
        self._reset()
        return self._read()

    def _problem(self, line: int, message: str) -> None:
        """Raise in strict mode; otherwise count the bad line and keep the error for reports."""
        error = ConllFormatError(self.path, line, message)
        if self.strict:
            raise error
        self.skipped_lines += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(error)

    def _resolve(self, column: int, what: str, option: str, ncols: int, line: int) -> int:
        index = column + ncols if column < 0 else column
        if not 0 <= index < ncols:
            # a setting that cannot fit the file would fail on every line: always an error
            plural = "s" if ncols != 1 else ""
            raise ConllFormatError(self.path, line, f"the {what} column {column} does not exist: the line "
                                   f"has {ncols} column{plural}; set the {what} column "
                                   f"({option}=, --{option.replace('_', '-')})")
        return index

    def _usual_columns(self, head: list[bytes]) -> tuple[int, int]:
        """The most common number of columns among the first token lines, and the first line that has it."""
        counts: dict[int, list[int]] = {}
        seen = 0
        for lineno, raw in enumerate(head, 1):
            line = raw.decode(self.encoding, errors="replace").lstrip("\ufeff").rstrip(" \t\r\n")
            fields = _columns(line) if line else []
            if fields and fields[0] != self.docstart:
                counts.setdefault(len(fields), []).append(lineno)
                seen += 1
                if seen == COLUMN_SAMPLE:
                    break
        if not counts:
            return 0, 0
        ncols = max(counts, key=lambda n: (len(counts[n]), -counts[n][0]))  # ties: the earliest count
        return ncols, counts[ncols][0]

    def _read(self) -> Iterator[Sentence]:
        rows: list[list[str]] = []
        start = 0  # line where the current sentence begins
        bad = False  # the current sentence holds a malformed line (non-strict mode)
        doc = -1  # -1 until the first -DOCSTART-, or the first sentence of a file without them
        resolved = False  # the token and tag columns are resolved at the first token line
        token_i = tag_i = 0
        extra: list[int] = []
        good_tags: set[str] = set()  # tag_check is a per-tag test: remember the tags that passed
        lineno = 0

        def finish() -> Iterator[Sentence]:
            nonlocal rows, bad
            if not rows:
                return
            if bad:
                self.skipped_sentences += 1
            else:
                tags = [r[tag_i] for r in rows] if self.tag_column is not None else None
                sentence = Sentence([r[token_i] for r in rows], tags,
                                    [[r[c] for r in rows] for c in extra], max(doc, 0), start)
                if self._validated(sentence):
                    self.sentences += 1
                    self.tokens += len(rows)
                    yield sentence
            rows, bad = [], False

        with open(self.path, "rb") as f:
            lines = bounded_lines(f, MAX_LINE, lambda number: ConllFormatError(
                self.path, number, f"the line is longer than {MAX_LINE:,} bytes: this is not a CoNLL file of "
                "one token per line"))
            head = list(itertools.islice(lines, COLUMN_SAMPLE * 4))  # read ahead, then replay: f may be a pipe
            ncols, first_line = self._usual_columns(head)
            for lineno, raw in enumerate(itertools.chain(head, lines), 1):
                if b"\x00" in raw and "16" not in self.encoding and "32" not in self.encoding:
                    raise ConllFormatError(self.path, lineno, "the line holds a NUL byte, which no CoNLL text "
                                           "has: is this a binary file?")
                try:
                    text = raw.decode(self.encoding)
                except UnicodeDecodeError as e:
                    # decoding per line is what lets the error name its line
                    self._problem(lineno, f"bytes {raw[e.start:e.end]!r} at column {e.start + 1} are not "
                                  f"valid {self.encoding}; convert the file to UTF-8 (from Python: pass its encoding=)")
                    if not rows:
                        start = lineno
                        doc = max(doc, 0)
                    rows.append([])
                    bad = True
                    continue
                if lineno == 1 and text.startswith("\ufeff"):
                    text = text[1:]  # byte-order mark written by some editors
                line = text.rstrip(" \t\r\n")
                if "\r" in line:
                    raise ConllFormatError(self.path, lineno, "a carriage return (CR) inside the line: the file "
                                           "has old-Mac line ends; convert them to LF (or CR LF)")
                if not line:
                    yield from finish()
                    continue
                fields = _columns(line)
                if fields[0] == self.docstart:
                    yield from finish()
                    doc += 1
                    continue
                if not rows:
                    start = lineno
                    doc = max(doc, 0)
                rows.append(fields)
                if not resolved:
                    resolved = True
                    ncols = ncols or len(fields)
                    at = first_line or lineno  # a line that has the usual number of columns
                    token_i = self._resolve(self.token_column, "token", "token_column", ncols, at)
                    if self.tag_column is not None:
                        tag_i = self._resolve(self.tag_column, "tag", "tag_column", ncols, at)
                        if tag_i == token_i:
                            raise ConllFormatError(self.path, at, f"the tag column {self.tag_column} is "
                                                   f"the token column: the line has {ncols} column"
                                                   f"{'s' if ncols != 1 else ''}, and a labelled file needs a "
                                                   "token and a tag on each line")
                    used = {token_i, tag_i} if self.tag_column is not None else {token_i}
                    extra = [c for c in range(ncols) if c not in used]
                if len(fields) != ncols:
                    bad = True
                    self._problem(lineno, f"expected {ncols} columns (as on line {first_line}), found "
                                  f"{len(fields)}")
                elif "" in fields:
                    bad = True
                    where = fields.index("")
                    what = "the token" if where == token_i else f"column {where + 1}"
                    self._problem(lineno, f"{what} is empty; expected {ncols} non-empty columns separated by "
                                  "spaces or tabs (is there a stray space or tab?)")
                elif self.tag_check is not None and self.tag_column is not None:
                    tag = fields[tag_i]
                    if tag not in good_tags:
                        try:
                            self.tag_check(tag)
                        except ValueError as e:
                            bad = True
                            self._problem(lineno, str(e))
                        else:
                            good_tags.add(tag)
            yield from finish()
        self.documents = doc + 1
        if self.sentences == 0:
            if self.skipped_sentences:
                first = self.errors[0] if self.errors else ""
                raise ConllFormatError(self.path, max(lineno, 1), f"no sentences left: all "
                                       f"{self.skipped_sentences} were skipped as malformed (first: {first})")
            raise ConllFormatError(self.path, max(lineno, 1), "no sentences: the file is empty or holds "
                                   "only blank and -DOCSTART- lines; expected token lines with blank lines "
                                   "between sentences")

    def _validated(self, sentence: Sentence) -> bool:
        """Run the sentence-level hook; False when the sentence is dropped (non-strict mode)."""
        if self.validate is None or sentence.tags is None:
            return True
        try:
            self.validate(sentence.tags)
        except ValueError as e:
            self._problem(sentence.line, f"{e} (in the sentence starting on this line)")
            self.skipped_sentences += 1
            return False
        return True


def read_conll(path: str | os.PathLike[str], *, token_column: int = 0, tag_column: int | None = -1,
               encoding: str = "utf-8", strict: bool = True, docstart: str = DOCSTART,
               tag_check: Callable[[str], object] | None = None,
               validate: Callable[[list[str]], object] | None = None) -> Iterator[Sentence]:
    """Stream the sentences of a CoNLL file (see :class:`ConllReader` for the options and counters)."""
    return iter(ConllReader(path, token_column=token_column, tag_column=tag_column, encoding=encoding,
                            strict=strict, docstart=docstart, tag_check=tag_check, validate=validate))


def load_conll(path: str | os.PathLike[str], **options: Any) -> list[Sentence]:
    """All sentences of a CoNLL file as a list; ``options`` are those of :func:`read_conll`."""
    return list(read_conll(path, **options))


def _check_fields(fields: list[str], number: int) -> None:
    """Fields a CoNLL line can hold: non-empty, no tab or line end, no space at either end (a space inside
    is kept by writing the line tab-separated)."""
    for f in fields:
        if not f or any(c in f for c in "\t\r\n\x00") or f != f.strip(" "):
            raise ValueError(f"sentence {number}: field {f!r} is empty, holds a tab, line end or NUL, or starts or "
                             "ends with a space, which a CoNLL file cannot represent; clean the tokens first")


def _lines(sentences: Iterable[Sentence | Sequence[str]], predictions: Iterable[Sequence[str]] | None,
           extra_columns: bool, docstart: bool | str) -> Iterator[str]:
    """The text of a CoNLL file, line by line (each ending in a newline)."""
    preds = iter(predictions) if predictions is not None else None
    width = 0
    previous_doc: int | None = None
    number = 0
    for number, item in enumerate(sentences, 1):
        sentence = item if isinstance(item, Sentence) else Sentence(list(item))
        n = len(sentence.tokens)
        if n == 0:
            raise ValueError(f"sentence {number} has no tokens, and a CoNLL file cannot hold an empty "
                             "sentence; drop empty sentences before writing")
        columns: list[Sequence[str]] = [sentence.tokens]
        if extra_columns:
            columns.extend(sentence.columns)
        if sentence.tags is not None:
            columns.append(sentence.tags)
        if preds is not None:
            predicted = next(preds, None)
            if predicted is None:
                raise ValueError(f"there are fewer predictions than sentences (none for sentence {number}); "
                                 "pass one tag list per sentence")
            columns.append(predicted)
        for i, column in enumerate(columns):
            if len(column) != n:
                raise ValueError(f"sentence {number} has {n} tokens but {len(column)} values in output "
                                 f"column {i + 1}; every column needs one value per token")
        if width == 0:
            width = len(columns)
        elif len(columns) != width:
            raise ValueError(f"sentence {number} would have {len(columns)} columns but the first has "
                             f"{width}; every line of a CoNLL file needs the same number")
        if docstart and sentence.doc != previous_doc:
            if isinstance(docstart, str):
                yield docstart + "\n\n"
            else:  # CoNLL-2003 style: -X- in the token-attribute columns, O in the tag columns
                tag_cols = (sentence.tags is not None) + (preds is not None)
                yield " ".join([DOCSTART] + ["-X-"] * (width - 1 - tag_cols) + ["O"] * tag_cols) + "\n\n"
            previous_doc = sentence.doc
        if number == 1 and sentence.tokens[0].startswith("\ufeff"):
            raise ValueError(f"sentence 1 starts with a byte-order mark ({sentence.tokens[0]!r}), which a reader "
                             "drops from the start of a file; remove it from the token")
        for fields in zip(*columns, strict=True):  # lengths were checked above
            line = " ".join(fields)
            if (line.count(" ") != width - 1 or "\t" in line or "\n" in line or "\r" in line or "\x00" in line
                    or "" in fields):
                _check_fields(list(fields), number)
                if width == 1:
                    raise ValueError(f"sentence {number}: the token {fields[0]!r} holds a space, which a file of one "
                                     "column cannot keep (it reads as two columns); clean the tokens first")
                line = "\t".join(fields)  # a field holds a space: the reader splits this line at tabs
            if fields[0] == DOCSTART:
                raise ValueError(f"sentence {number}: a token {DOCSTART} would read back as a document boundary, "
                                 "not a token; rename it")
            yield line + "\n"
        yield "\n"
    if preds is not None and next(preds, None) is not None:
        raise ValueError(f"there are more predictions than the {number} sentences; pass one tag list per "
                         "sentence")


def write_conll(dest: str | os.PathLike[str] | TextIO, sentences: Iterable[Sentence | Sequence[str]],
                predictions: Iterable[Sequence[str]] | None = None, *, extra_columns: bool = True,
                docstart: bool | str = False, encoding: str = "utf-8") -> None:
    """Write sentences as ``token [other columns] [gold] [predicted]`` lines, as conlleval reads them.

    ``sentences`` are :class:`Sentence` objects or plain token lists; ``predictions`` (one tag list per
    sentence) adds a last column. ``docstart=True`` writes a ``-DOCSTART-`` line (``-X-``/``O`` filled
    to the column count) wherever ``Sentence.doc`` changes; a string is written as that line instead.
    ``dest`` is a path, written atomically (a temporary file in the same folder, then renamed), or an
    open text file such as ``sys.stdout``.
    """
    lines = _lines(sentences, predictions, extra_columns, docstart)
    if hasattr(dest, "write"):
        for line in lines:
            dest.write(line)  # type: ignore[union-attr]
        return
    path = Path(dest)  # type: ignore[arg-type]
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist; create it first")
    with open_atomic(path, "w", encoding=encoding, newline="\n") as handle:
        handle.writelines(lines)  # a bad sentence raises part-way: the old file stays

