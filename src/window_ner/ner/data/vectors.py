"""Pretrained word vectors: GloVe text, word2vec text and word2vec binary, plain or compressed.

Given the words a model needs, :func:`load_vectors` streams the file and parses numbers only on the lines
of those words; every line is still checked for its number of values. Numbers are parsed a block of
rows at a time by NumPy, and line by line only to name the culprit when a block fails.

:func:`vocab_matrix` then makes the embedding matrix of a vocabulary: pretrained rows where the file
has the word (or its lowercase form), random rows elsewhere, zeros for padding.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import lzma
import os
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from window_ner.errors import InputError
from window_ner.files import bounded_lines
from window_ner.ner.data.vocab import PAD, RESERVED, Vocab

FORMATS = ("auto", "glove", "word2vec", "word2vec-binary")
BLOCK = 8192  # rows parsed at once: large enough for NumPy to dominate, small enough to bound memory
READ_SIZE = 1 << 20  # bytes read at a time from word2vec binary files
MAX_DIM = 100_000  # dimensions a word2vec header may announce
MAX_LINE = 1 << 20  # bytes in a text line, or in a binary record's word: more is not a vectors file
MAX_KEPT_ERRORS = 100
_BOM = b"\xef\xbb\xbf"


class VectorsFormatError(InputError):
    """A vector file is malformed; ``str()`` reads ``file:line: what was expected``."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str, unit: str = "line"):
        self.path = os.fspath(path)
        self.line = line
        self.message = message
        self.unit = unit
        where = "" if line is None else f":{line}" if unit == "line" else f": {unit} {line}"
        super().__init__(f"{self.path}{where}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        # the default pickling passes only the formatted text back to __init__
        return (type(self), (self.path, self.line, self.message, self.unit))


class Coverage(NamedTuple):
    """How many words have a vector: by exact match, through their lowercase form, or not at all."""

    exact: int
    lowercase: int
    missing: int


class Vectors:
    """Words and their vectors (``matrix[i]`` belongs to ``words[i]``), with what loading found.

    When loaded for a vocabulary, ``words`` are the vocabulary's words that got a vector (in vocabulary
    order), ``found_exact``/``found_lowercase`` say how, and ``missing`` counts the others; without a
    vocabulary ``words`` are all the file's words in file order and every one counts as found.
    ``skipped`` counts malformed lines dropped by a non-strict load.
    """

    def __init__(self, words: list[str], matrix: np.ndarray, *, found_exact: int | None = None,
                 found_lowercase: int = 0, missing: int = 0, skipped: int = 0, duplicates: int = 0,
                 path: str | None = None, format: str | None = None,
                 errors: list[VectorsFormatError] | None = None):
        if matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ValueError(f"matrix of shape {matrix.shape} does not hold one row for each of the "
                             f"{len(words)} words")
        self.words = words
        self.matrix = matrix
        self.found_exact = len(words) - found_lowercase if found_exact is None else found_exact
        self.found_lowercase = found_lowercase
        self.missing = missing
        self.skipped = skipped
        self.duplicates = duplicates
        self.path = path
        self.format = format
        self.errors = errors or []
        self._index: dict[str, int] | None = None

    @property
    def dim(self) -> int:
        """Number of values per vector."""
        return int(self.matrix.shape[1])

    @property
    def found(self) -> int:
        """Requested words that got a vector (exactly or through their lowercase form)."""
        return self.found_exact + self.found_lowercase

    @property
    def index(self) -> dict[str, int]:
        """Word to row of ``matrix``."""
        if self._index is None:
            self._index = {w: i for i, w in enumerate(self.words)}
        return self._index

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        row = self.index.get(word)
        if row is None:
            raise KeyError(f"no vector for {word!r}; check `word in vectors` first or use vocab_matrix()")
        return self.matrix[row]

    def __repr__(self) -> str:
        return (f"Vectors({len(self):,} words x {self.dim}, found {self.found_exact:,} exact + "
                f"{self.found_lowercase:,} lowercase, {self.missing:,} missing, from {self.path})")

    def rows_for(self, words: Iterable[str], lowercase_fallback: bool = True) -> tuple[np.ndarray, Coverage]:
        """Row of each word in ``matrix`` (-1 when absent), trying the lowercase form second."""
        index = self.index
        rows, exact, lower = [], 0, 0
        for word in words:
            row = index.get(word, -1)
            if row >= 0:
                exact += 1
            elif lowercase_fallback:
                row = index.get(word.lower(), -1)
                lower += row >= 0
            rows.append(row)
        out = np.asarray(rows, dtype=np.int64)
        return out, Coverage(exact, lower, int(np.sum(out < 0)))

    def coverage(self, vocab: Vocab | Iterable[str], lowercase_fallback: bool = True) -> Coverage:
        """How many of the vocabulary's words (reserved ids excluded) have a vector here."""
        return self.rows_for(_wanted_words(vocab), lowercase_fallback)[1]

    def vocab_matrix(self, vocab: Vocab, rng: np.random.Generator, init: str = "uniform",
                     scale: float | None = None, lowercase_fallback: bool = True) -> np.ndarray:
        """The (len(vocab), dim) embedding matrix of ``vocab``; see :func:`vocab_matrix`."""
        return vocab_matrix(self, vocab, rng, init=init, scale=scale, lowercase_fallback=lowercase_fallback)


def vocab_matrix(vectors: Vectors, vocab: Vocab, rng: np.random.Generator, init: str = "uniform",
                 scale: float | None = None, lowercase_fallback: bool = True) -> np.ndarray:
    """The (len(vocab), dim) embedding matrix: pretrained rows where known, random rows elsewhere.

    Words without a vector (and the reserved ``<unk> <s> </s>``) are drawn from ``rng``: ``init`` is
    "uniform" (in [-scale, scale]), "normal" (standard deviation ``scale``) or "zeros". By default the
    scale matches the spread of the pretrained values, so new rows look like the others. The ``<pad>``
    row is zeros.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy Generator (np.random.default_rng(seed)), not "
                        f"{type(rng).__name__}")
    if init not in ("uniform", "normal", "zeros"):
        raise ValueError(f"init must be 'uniform', 'normal' or 'zeros', not {init!r}")
    dtype = vectors.matrix.dtype
    std = float(vectors.matrix.std()) if vectors.matrix.size else 0.1
    if scale is None:
        # uniform on [-a, a] has standard deviation a / sqrt(3)
        scale = std * np.sqrt(3.0) if init == "uniform" else std
    shape = (len(vocab), vectors.dim)
    if init == "uniform":
        out = rng.uniform(-scale, scale, size=shape).astype(dtype)
    elif init == "normal":
        out = (rng.standard_normal(size=shape) * scale).astype(dtype)
    else:
        out = np.zeros(shape, dtype=dtype)
    rows, _ = vectors.rows_for(vocab.words[len(RESERVED):], lowercase_fallback)
    found = np.flatnonzero(rows >= 0)
    out[found + len(RESERVED)] = vectors.matrix[rows[found]]
    out[PAD] = 0
    return out


def _wanted_words(vocab: Vocab | Iterable[str]) -> list[str]:
    if isinstance(vocab, Vocab):
        return vocab.words[len(RESERVED):]
    if isinstance(vocab, str):
        raise TypeError("pass a Vocab or a collection of words, not a single string")
    return list(dict.fromkeys(vocab))  # unique, first-seen order


def _zip_member(path: str | os.PathLike[str]) -> tuple[Path, str | None] | None:
    """(archive, member or None) when ``path`` is a zip file, or names a file inside one
    (``glove.6B.zip/glove.6B.50d.txt``); None otherwise."""
    path = Path(path)
    if path.is_file():
        return (path, None) if zipfile.is_zipfile(path) else None
    for archive in path.parents:
        if archive.is_file():
            return (archive, path.relative_to(archive).as_posix()) if zipfile.is_zipfile(archive) else None
    return None


def _open_zip(path: str | os.PathLike[str], archive: Path, member: str | None) -> IO[bytes]:
    """A member of a zip archive (GloVe ships as one): the one named, or the archive's only file."""
    bundle = zipfile.ZipFile(archive)
    names = [info.filename for info in bundle.infolist() if not info.is_dir()]
    if member is None:
        if len(names) != 1:
            listed = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
            bundle.close()
            raise VectorsFormatError(path, None, f"the zip archive holds {len(names)} files ({listed}); name "
                                     f"one as {archive}/{names[0] if names else 'FILE'}", "file")
        member = names[0]
    if member not in names:
        bundle.close()
        raise FileNotFoundError(errno.ENOENT, f"no file {member!r} in the zip archive (it holds "
                                f"{', '.join(names[:6])})", os.fspath(path))
    stream = bundle.open(member)
    bundle.close()  # the member's stream keeps the archive's file open until it is closed itself
    return stream  # type: ignore[return-value]


def _open(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a possibly compressed file for binary reading; the magic bytes decide, not the suffix. A zip
    archive of one file, or a path into a zip archive, opens that file."""
    in_zip = _zip_member(path)
    if in_zip is not None:
        return _open_zip(path, *in_zip)
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _word2vec_header(line: bytes) -> tuple[int, int] | None:
    """(count, dim) when a first line is a word2vec header "count dim"."""
    fields = line.split()
    if len(fields) == 2 and all(f.isdigit() and len(f) <= 18 for f in fields):  # longer is no count (nor int64)
        return int(fields[0]), int(fields[1])
    return None


def _text_values(line: bytes) -> int:
    """How many numbers follow the word on a line of text (0 when it is not such a line: binary data)."""
    fields = line.split()
    try:
        fields[0].decode("utf-8")
        for value in fields[1:]:
            float(value)
    except (ValueError, IndexError):
        return 0
    return len(fields) - 1


class _Loader:
    """One pass over one vector file; holds the counters and the parsed blocks."""

    def __init__(self, path: str | os.PathLike[str], dim: int | None, fmt: str, encoding: str,
                 dtype: Any, strict: bool):
        self.path = path
        self.dim = dim
        self.dim_reason = f"as dim={dim} asks" if dim is not None else ""
        self.format = fmt
        self.encoding = encoding
        self.dtype = np.dtype(dtype)
        self.strict = strict
        self.skipped = 0
        self.errors: list[VectorsFormatError] = []
        self.unit = "line"
        self.count: int | None = None  # vectors announced by a word2vec header
        self.start_line = 1
        self.blocks: list[np.ndarray] = []
        self.bad_rows: set[int] = set()
        self.pending: list[bytes] = []
        self.pending_where: list[int] = []
        self.rows = 0

    def problem(self, where: int | None, message: str) -> None:
        error = VectorsFormatError(self.path, where, message, self.unit)
        if self.strict:
            raise error
        self.skipped += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(error)

    def detect(self) -> None:
        """Settle the format, the dimension and where the vectors begin."""
        with _open(self.path) as f:
            first = f.readline(MAX_LINE + 1)
            if len(first) > MAX_LINE:
                raise self.too_long(1)
            first = first.removeprefix(_BOM)
            header = _word2vec_header(first) if self.format != "glove" else None
            if not first.strip():
                raise VectorsFormatError(self.path, 1, "the file is empty (or starts with a blank line); "
                                         "expected 'word v1 v2 ...' lines or a word2vec 'count dim' header")
            if header is None:
                if self.format in ("word2vec", "word2vec-binary"):
                    raise VectorsFormatError(self.path, 1, f"expected a word2vec header 'count dim', found "
                                             f"{first[:60]!r}; pass format='glove' for files without one")
                self.format = "glove"
                return
            count, dim = header
            if not 0 < dim <= MAX_DIM:
                raise VectorsFormatError(self.path, 1, f"the header says {dim:,} dimensions; expected 1 to "
                                         f"{MAX_DIM:,} (is this a word2vec file?)")
            if self.dim is not None and dim != self.dim:
                raise VectorsFormatError(self.path, 1, f"the header says {dim} dimensions but dim={self.dim} "
                                         "was asked for")
            self.count, self.dim, self.start_line = count, dim, 2
            self.dim_reason = "as the header on line 1 says"
            if self.format == "auto":
                second = f.readline(64 + 40 * dim)  # a text record of `dim` numbers fits in this
                values = _text_values(second)
                self.format = "word2vec" if count == 0 or values == dim else "word2vec-binary"
                if self.format == "word2vec-binary" and second.endswith(b"\n") and values:
                    raise VectorsFormatError(self.path, 2, f"expected {dim} values after the word (as the header "
                                             f"on line 1 says), found {values}")

    def too_long(self, where: int) -> VectorsFormatError:
        return VectorsFormatError(self.path, where, f"the {self.unit} is longer than {MAX_LINE:,} bytes (a word "
                                  "and its values take a few kilobytes): this is not a vectors file", self.unit)

    def records(self, f: IO[bytes]) -> Iterator[tuple[int, bytes, bytes]]:
        """(line or record number, word bytes, value bytes) for every well-formed record."""
        if self.format == "word2vec-binary":
            self.unit = "record"
            return self._binary_records(f)
        return self._text_records(f)

    def _text_records(self, f: IO[bytes]) -> Iterator[tuple[int, bytes, bytes]]:
        dim = self.dim
        for lineno, raw in enumerate(bounded_lines(f, MAX_LINE, self.too_long), 1):
            if lineno < self.start_line:
                continue
            if lineno == 1:
                raw = raw.removeprefix(_BOM)  # a UTF-8 byte-order mark is not part of the first word
            line = raw.rstrip()  # newline, CR and the trailing space word2vec's C tool writes
            if not line:
                continue
            word, _, rest = line.partition(b" ")
            if not word:
                self.problem(lineno, "the line starts with whitespace, so its word is empty; expected "
                             "'word v1 v2 ...' separated by single spaces")
                continue
            if dim is None:
                dim = self.dim = len(rest.split())
                self.dim_reason = f"as on line {lineno}"
                if dim == 0:
                    raise VectorsFormatError(self.path, lineno, "expected a word followed by its values "
                                             "separated by spaces, found no values")
            elif not rest or rest.count(b" ") + 1 != dim:
                n = len(rest.split())  # also accepts runs of spaces and tabs between values
                if n != dim:
                    self.problem(lineno, f"expected {dim} values after the word ({self.dim_reason}), "
                                 f"found {n}")
                    continue
            yield lineno, word, rest

    def _binary_records(self, f: IO[bytes]) -> Iterator[tuple[int, bytes, bytes]]:
        assert self.dim is not None and self.count is not None
        size = 4 * self.dim
        f.readline()  # the header
        buf, pos = b"", 0
        for record in range(1, self.count + 1):
            while True:
                space = buf.find(b" ", pos)
                if space >= 0 and len(buf) - space - 1 >= size:
                    break
                if space < 0 and len(buf) - pos > MAX_LINE:
                    raise self.too_long(record)
                more = f.read(READ_SIZE)
                if not more:
                    if not buf[pos:].strip():
                        raise VectorsFormatError(self.path, None, f"the header announces {self.count} "
                                                 f"vectors but the file ends after {record - 1}")
                    raise VectorsFormatError(self.path, record, f"the file ends inside this record: expected "
                                             f"a word, a space and {size} bytes ({self.dim} float32 values)",
                                             "record")
                buf, pos = buf[pos:] + more, 0
            word = buf[pos:space].lstrip(b"\n")  # word2vec's C tool ends each record with a newline
            payload = buf[space + 1:space + 1 + size]
            pos = space + 1 + size
            if not word:
                self.problem(record, "the word is empty")
                continue
            yield record, word, payload
        if (buf[pos:] + f.read(READ_SIZE)).strip():
            self.problem(None, f"there is data after the {self.count} vectors the header announces")

    def keep(self, where: int, payload: bytes) -> int:
        """Queue a record's values for parsing; returns its row."""
        self.pending.append(payload)
        self.pending_where.append(where)
        row = self.rows
        self.rows += 1
        if len(self.pending) >= BLOCK:
            self.flush()
        return row

    def flush(self) -> None:
        """Parse the queued rows into a block."""
        if not self.pending:
            return
        assert self.dim is not None
        k, first = len(self.pending), self.rows - len(self.pending)
        if self.format == "word2vec-binary":
            block = np.frombuffer(b"".join(self.pending), dtype="<f4").reshape(k, self.dim).astype(self.dtype)
        else:
            block = self._parse_text(self.pending)
        finite = np.isfinite(block).all(axis=1)
        for i in np.flatnonzero(~finite):
            if first + i not in self.bad_rows:
                self.bad_rows.add(first + int(i))
                self.problem(self.pending_where[i], "the vector holds a value that is not finite (nan/inf)")
        self.blocks.append(block)
        self.pending, self.pending_where = [], []

    def _parse_text(self, rests: list[bytes]) -> np.ndarray:
        assert self.dim is not None
        k = len(rests)
        try:
            # parse as float64 then round, as the line-by-line path below does
            values = np.fromstring(b"\n".join(rests), dtype=np.float64, sep=" ")
            if values.size == k * self.dim:
                with np.errstate(over="ignore"):  # 1e39 becomes inf in float32: the finiteness check reports it
                    return values.reshape(k, self.dim).astype(self.dtype)
        except (ValueError, DeprecationWarning):
            pass  # NumPy < 2.3 warns and stops early instead of raising: the size check catches it
        # a value is not a number: find which, line by line
        out = np.zeros((k, self.dim), dtype=self.dtype)
        first = self.rows - k
        for i, rest in enumerate(rests):
            fields = rest.split()
            if len(fields) != self.dim:  # single spaces counted right, but other whitespace split the values
                self.bad_rows.add(first + i)
                self.problem(self.pending_where[i], f"expected {self.dim} values after the word "
                             f"({self.dim_reason}), found {len(fields)}")
                continue
            for value in fields:
                try:
                    float(value)
                except ValueError:
                    self.bad_rows.add(first + i)
                    self.problem(self.pending_where[i], f"value {value.decode(errors='replace')!r} is not a "
                                 f"number; expected {self.dim} numbers after the word")
                    break
            else:
                with np.errstate(over="ignore"):
                    out[i] = [float(v) for v in fields]
        return out

    def matrix(self) -> np.ndarray:
        self.flush()
        if not self.blocks:
            return np.zeros((0, self.dim or 0), dtype=self.dtype)
        return np.concatenate(self.blocks) if len(self.blocks) > 1 else self.blocks[0]


def load_vectors(path: str | os.PathLike[str], vocab: Vocab | Iterable[str] | None = None, *,
                 dim: int | None = None, format: str = "auto", encoding: str = "utf-8",
                 lowercase_fallback: bool = True, dtype: Any = np.float32, strict: bool = True) -> Vectors:
    """Read word vectors, keeping only the words of ``vocab`` when one is given.

    ``format`` is "auto" (a "count dim" first line means word2vec, text or binary by content; otherwise
    GloVe), "glove", "word2vec" or "word2vec-binary"; gzip, bz2 and xz files are opened by their magic
    bytes, and a zip archive of one file, or a path into one (``glove.6B.zip/glove.6B.50d.txt``, as GloVe
    ships), by its member. A word missing from the file is looked up in lowercase too when ``lowercase_fallback`` (an
    exact match always wins). Malformed lines raise :class:`VectorsFormatError` naming the line; with
    ``strict=False`` they are skipped and counted in ``Vectors.skipped``. Repeated words keep their first
    vector.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    if dim is not None and dim < 1:
        raise ValueError(f"dim must be positive, not {dim}")
    try:
        return _load(path, vocab, dim, format, encoding, lowercase_fallback, dtype, strict)
    except EOFError as error:  # gzip, bz2 and lzma raise it for a truncated stream
        raise VectorsFormatError(path, None, f"the compressed file ends early ({error}): it is truncated; "
                                 "get a fresh copy") from error
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError) as error:  # a damaged archive or compressed stream
        raise VectorsFormatError(path, None, f"the compressed data is damaged ({error}); get a fresh copy",
                                 "file") from error
    except OSError as error:
        if error.errno is not None:  # a real I/O error (no such file, permission): reported as such
            raise
        # gzip's BadGzipFile (bad CRC, unknown method) and bz2's "Invalid data stream" carry no errno
        raise VectorsFormatError(path, None, f"the compressed data is damaged ({error}); get a fresh copy",
                                 "file") from error


def _load(path: str | os.PathLike[str], vocab: Vocab | Iterable[str] | None, dim: int | None, format: str,
          encoding: str, lowercase_fallback: bool, dtype: Any, strict: bool) -> Vectors:
    loader = _Loader(path, dim, format, encoding, dtype, strict)
    loader.detect()
    wanted = _wanted_words(vocab) if vocab is not None else None
    wanted_set = set(wanted) if wanted is not None else set()
    lower_map: dict[str, list[str]] = {}  # lowercase form -> wanted words that differ from it
    if wanted is not None and lowercase_fallback:
        for word in wanted:
            low = word.lower()
            if low != word:
                lower_map.setdefault(low, []).append(word)
    assigned: dict[str, int] = {}  # word -> row of the parsed values
    exact: set[str] = set()
    duplicates = records = 0

    with _open(path) as f:
        for where, word_bytes, payload in loader.records(f):
            records += 1
            try:
                word = word_bytes.decode(encoding)
            except UnicodeDecodeError as e:
                loader.problem(where, f"the word {word_bytes!r} is not valid {encoding} ({e.reason}); pass "
                               "the file's encoding=...")
                continue
            if wanted is None:
                if word in assigned:
                    duplicates += 1
                    continue
                assigned[word] = loader.keep(where, payload)
                continue
            need_exact = word in wanted_set and word not in exact
            if word in exact:
                duplicates += 1
            fallbacks = [w for w in lower_map.get(word, ()) if w not in assigned]
            if not need_exact and not fallbacks:
                continue
            row = loader.keep(where, payload)
            if need_exact:
                assigned[word] = row  # replaces a lowercase stand-in seen earlier
                exact.add(word)
            for w in fallbacks:
                assigned[w] = row
    matrix = loader.matrix()
    if loader.count is not None and records + loader.skipped < loader.count and loader.format == "word2vec":
        loader.problem(None, f"the header announces {loader.count} vectors but the file holds "
                       f"{records + loader.skipped}")
    if loader.dim is None or (records == 0 and loader.skipped == 0):
        raise VectorsFormatError(path, None, "no vectors found; expected 'word v1 v2 ...' lines")
    bad = loader.bad_rows
    if wanted is None:
        words = [w for w, r in assigned.items() if r not in bad]
        rows = [r for r in assigned.values() if r not in bad]
        found_exact, found_lower, missing = len(words), 0, 0
    else:
        words = [w for w in wanted if w in assigned and assigned[w] not in bad]
        rows = [assigned[w] for w in words]
        found_exact = sum(1 for w in words if w in exact)
        found_lower = len(words) - found_exact
        missing = len(wanted) - len(words)
    if rows != list(range(matrix.shape[0])):  # all rows in order: skip the copy
        matrix = matrix[np.asarray(rows, dtype=np.int64)]
    return Vectors(words, matrix, found_exact=found_exact, found_lowercase=found_lower, missing=missing,
                   skipped=loader.skipped, duplicates=duplicates, path=os.fspath(path), format=loader.format,
                   errors=loader.errors)
