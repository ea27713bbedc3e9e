"""Property tests of the readers and the tokenizer (issue 18): any bytes or text either read into a valid result
or raise InputError, never another exception; valid files read back what was written.

The targets and the checks of a valid result live in tools/fuzz.py, which also runs them coverage-guided for
longer; here Hypothesis drives them with structured inputs: valid files, mutated valid files, edge sizes.

Repeatable in CI: each test is derandomized (its examples follow from its name and the code) and keeps no
example database, so a red run is red again on any machine at the same commit, and a fresh clone behaves as
a warm one. WINDOW_NER_FUZZ_SCALE=20 runs 20 times the examples with random seeds instead: an exploration,
whose failures Hypothesis prints with the input that made them.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz._harness import load_fuzz_tool
from window_ner import nn
from window_ner.ner.data.conll import Sentence, load_conll, write_conll
from window_ner.ner.data.vectors import load_vectors

fuzz = load_fuzz_tool()
SCALE = float(os.environ.get("WINDOW_NER_FUZZ_SCALE", "1"))


def budget(examples: int) -> settings:
    return settings(max_examples=max(1, round(examples * SCALE)), deadline=None, derandomize=SCALE == 1,
                    database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], header: int = 0) -> bytes:
    """A seed after a few byte flips, insertions, deletions or a truncation (half of them in the first
    ``header`` bytes, where a file's structure is)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        end = min(header, len(data)) if header and draw(st.booleans()) else len(data)
        at = draw(st.integers(0, max(end - 1, 0)))
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[at] = draw(st.sampled_from([0, 0x20, 0x0A, 0x0D, 0x09, 0x7F, 0x80, 0xFF, ord("9"), ord("-")]))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        else:
            del data[at:]
    return bytes(data)


# ----- CoNLL ----------------------------------------------------------------------------------------------

# A field may hold any character but a tab or a line end, and no space at either end (write_conll's contract).
_FIELD_CHARS = st.characters(codec="utf-8", exclude_characters="\t\n\r")
_FIELD_PIECES = st.sampled_from(["O", "B-PER", "I-LOC", "NNP", "-X-", "-DOCSTART-", "\ufeff", "#", "a b", "é",
                                 "東京", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u00a0", "''", "."])
conll_fields = st.lists(st.one_of(_FIELD_PIECES, st.text(_FIELD_CHARS, min_size=1, max_size=6)),
                        min_size=1, max_size=3).map("".join).filter(lambda f: f == f.strip(" "))


@st.composite
def conll_files(draw: st.DrawFn) -> tuple[list[Sentence], bool]:
    """Sentences a CoNLL file can hold: the same number of columns throughout, documents numbered 0, 1, ..."""
    labelled = draw(st.booleans())
    n_extra = draw(st.integers(0, 2))
    sentences: list[Sentence] = []
    doc = 0
    for _ in range(draw(st.integers(1, 5))):
        length = draw(st.integers(1, 4))
        column = st.lists(conll_fields, min_size=length, max_size=length)
        doc += bool(sentences) and draw(st.booleans())
        sentences.append(Sentence(draw(column), draw(column) if labelled else None,
                                  [draw(column) for _ in range(n_extra)], doc))
    return sentences, labelled


@budget(80)
@given(conll_files())
def test_conll_sentences_written_read_back_the_same(case: tuple[list[Sentence], bool]) -> None:
    sentences, labelled = case
    buffer = io.StringIO()
    try:
        write_conll(buffer, sentences, docstart=True)
    except ValueError as error:  # a few tokens no CoNLL file can hold are refused, never written wrong
        assert re.search(fuzz.WRITE_REFUSALS, str(error)), error
        return
    path = fuzz.scratch() / "written.conll"
    path.write_bytes(buffer.getvalue().encode())
    again = load_conll(path, tag_column=-1 if labelled else None)
    assert [(s.tokens, s.tags, s.columns, s.doc) for s in again] == \
        [(s.tokens, s.tags, s.columns, s.doc) for s in sentences]


_CONLL_PIECES = st.sampled_from([b"EU", b"B-ORG", b"I-PER", b"O", b"E-LOC", b"S-MISC", b"B-", b"-X-", b"NNP",
                                 b"-DOCSTART-", b" ", b"  ", b"\t", b" \t ", b"\n", b"\n\n", b"\r\n", b"\r",
                                 b"\xef\xbb\xbf", b"\xff", b"\xc3", b"\xc3\xa9", b"\x00"])
conll_like = st.lists(st.one_of(_CONLL_PIECES, st.binary(max_size=3)), max_size=60).map(b"".join)


@budget(100)
@given(st.one_of(st.binary(max_size=600), conll_like, mutated(fuzz.conll_seeds())))
def test_conll_reader_reads_or_refuses_any_bytes(data: bytes) -> None:
    fuzz.fuzz_conll(data)


# ----- vectors --------------------------------------------------------------------------------------------

# Words hold no ASCII whitespace (the format's separators); a leading byte-order mark is dropped by design.
vector_words = st.text(st.characters(codec="utf-8", exclude_characters=" \t\n\r\x0b\x0c"), min_size=1,
                       max_size=8).filter(lambda w: not w.startswith("\ufeff"))
COMPRESS = {"plain": bytes, "gzip": lambda d: gzip.compress(d, mtime=0), "bz2": bz2.compress, "xz": lzma.compress}


def vector_file(words: list[str], matrix: np.ndarray, fmt: str) -> bytes:
    rows = list(zip(words, matrix, strict=True))
    if fmt == "glove":
        return "".join(f"{w} {' '.join(repr(float(v)) for v in row)}\n" for w, row in rows).encode()
    header = f"{len(words)} {matrix.shape[1]}\n".encode()
    if fmt == "word2vec":  # the word2vec C tool writes a space after every value
        return header + "".join(f"{w} {''.join(f'{float(v)} ' for v in row)}\n" for w, row in rows).encode()
    return header + b"".join(w.encode() + b" " + row.astype("<f4").tobytes() + b"\n" for w, row in rows)


@st.composite
def vector_sets(draw: st.DrawFn) -> tuple[list[str], np.ndarray]:
    words = draw(st.lists(vector_words, min_size=1, max_size=6, unique=True))
    dim = draw(st.integers(1, 5))
    values = st.floats(width=32, allow_nan=False, allow_infinity=False)
    matrix = np.array(draw(st.lists(values, min_size=len(words) * dim, max_size=len(words) * dim)),
                      dtype=np.float32).reshape(len(words), dim)
    return words, matrix


@budget(100)
@given(vector_sets(), st.sampled_from(["glove", "word2vec", "word2vec-binary"]), st.sampled_from(list(COMPRESS)))
def test_vectors_written_read_back_the_same(vectors: tuple[list[str], np.ndarray], fmt: str,
                                            compression: str) -> None:
    words, matrix = vectors
    path = fuzz.scratch() / "written.vec"
    path.write_bytes(COMPRESS[compression](vector_file(words, matrix, fmt)))
    # "auto" cannot tell a 1-value GloVe line "1996 5" from a word2vec header, nor always binary from text
    formats = [fmt, "auto"] if fmt == "word2vec" or (fmt == "glove" and matrix.shape[1] > 1) else [fmt]
    for asked in formats:
        loaded = load_vectors(path, format=asked)
        assert loaded.words == words and loaded.format == fmt
        np.testing.assert_array_equal(loaded.matrix, matrix)
        subset = load_vectors(path, [words[-1], "not-a-word"], format=asked)
        assert subset.words == [words[-1]] and subset.missing == 1
        np.testing.assert_array_equal(subset.matrix, matrix[-1:])


# Sizes at the edges: 0, past an index-sized integer (2**63), past Python's int-parsing limit (4300 digits).
sizes = st.one_of(st.integers(0, 6), st.integers(0, 2**70), st.sampled_from([2**63 - 1, 2**63])).map(b"%d".__mod__)
sizes |= st.just(b"1" + b"0" * 4400)  # as bytes: Python itself refuses to print an int that long
_VECTOR_PIECES = st.sampled_from([b"the", b"Paris", b" ", b"  ", b"\t", b"\n", b"\r\n", b"1", b"-0.5", b"1e-3",
                                  b"nan", b"inf", b"1e999", b"0x1p3", b"1_0", b"\xff", b"\xef\xbb\xbf", b"\x00"])


@st.composite
def vector_like(draw: st.DrawFn) -> bytes:
    header = draw(sizes) + b" " + draw(sizes) + b"\n" if draw(st.booleans()) else b""
    body = b"".join(draw(st.lists(st.one_of(_VECTOR_PIECES, st.binary(max_size=4)), max_size=40)))
    return header + body


@st.composite
def compressed_mutants(draw: st.DrawFn) -> bytes:
    """A valid vectors file, compressed, then damaged: corrupt streams must be refused as truncated ones are."""
    plain = draw(st.sampled_from(fuzz.vectors_seeds()[:3]))
    packed = COMPRESS[draw(st.sampled_from(["gzip", "bz2", "xz"]))](plain)
    return draw(mutated([packed], header=len(packed)))


@budget(80)
@given(st.one_of(st.binary(max_size=300), vector_like(), mutated(fuzz.vectors_seeds(), header=16),
                 compressed_mutants()))
def test_vectors_reader_reads_or_refuses_any_bytes(data: bytes) -> None:
    fuzz.fuzz_vectors(data)


# ----- tokenizer ------------------------------------------------------------------------------------------

_TEXT_PIECES = st.sampled_from(
    ["Paris", "U.S.", "Mr.", "Inc.", "don't", "it's", "O'Brien", "1,000.5", "2-1", "$5", "US$", "%", ".", "...",
     "!", "?", "'", '"', "“", "”", "‘", "’", "(", ")", "--", "&", "@", "http://a.b/c", "www.x.y", "x@y.zz",
     "1.", "10=", "+0.05", "-5", ".500", "-", "+", "n't", "'s", "Zürich", "東京", "\u0301", "\u200b", "_", " ",
     "  ", "\t", "\n", "\n\n", "\r", "\u00a0", "\u2028", "\x1c", "\x85", "\ud800", "A.", "J."])
any_text = st.one_of(st.text(st.characters(exclude_categories=())),  # every code point, lone surrogates too
                     st.lists(st.one_of(_TEXT_PIECES, st.text(max_size=4)), max_size=40).map("".join))


@budget(300)
@given(any_text)
def test_tokenizer_never_raises_and_keeps_offsets(text: str) -> None:
    fuzz.check_tokenization(text)


@budget(10)
@given(st.lists(_TEXT_PIECES, min_size=1, max_size=3).map("".join))
def test_tokenizer_takes_linear_time_on_long_repetitive_text(piece: str) -> None:
    text = piece * (20_000 // len(piece) + 1)
    started = time.perf_counter()
    fuzz.check_tokenization(text)
    # measured: 0.2 s at most on these inputs; a regular expression that backtracks takes minutes
    assert time.perf_counter() - started < 5, f"{piece!r} repeated to {len(text)} characters"


# ----- model files ----------------------------------------------------------------------------------------

MODEL_SEEDS = fuzz.model_seeds()


def _header_end(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little")


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from([-1, 0, 2**31, 2**63, 10**30]),
              st.floats(), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def json_paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value (only the first items of a list: vocabularies are long and alike)."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value[:3]) if isinstance(value, list) else ()
    for key, item in items:
        yield from json_paths(item, (*path, key))


@st.composite
def rewritten(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one to three places replaced, deleted, or given a new key or item."""
    document = json.loads(json.dumps(document))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(json_paths(document))))
        if not path:
            document = draw(json_values)
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        kind = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if kind == "replace":
            parent[path[-1]] = draw(json_values)
        elif kind == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(json_values)
        else:
            parent.append(draw(json_values))
    return document


@budget(150)
@given(st.sampled_from(MODEL_SEEDS).flatmap(lambda seed: st.tuples(
    st.just(seed), st.one_of(st.integers(0, _header_end(seed) - 1), st.integers(0, len(seed) - 1)),
    st.integers(1, 255))))
def test_a_model_file_with_one_byte_changed_loads_or_is_refused(case: tuple[bytes, int, int]) -> None:
    seed, at, xor = case
    fuzz.fuzz_model(seed[:at] + bytes([seed[at] ^ xor]) + seed[at + 1:])


@budget(60)
@given(st.sampled_from(MODEL_SEEDS).flatmap(lambda seed: st.tuples(st.just(seed), st.integers(0, len(seed) - 1))))
def test_a_truncated_model_file_is_refused(case: tuple[bytes, int]) -> None:
    seed, length = case
    fuzz.fuzz_model(seed[:length])


@budget(150)
@given(st.sampled_from(MODEL_SEEDS).flatmap(
    lambda seed: st.tuples(st.just(seed), rewritten(fuzz.safetensors_header(seed)))))
def test_a_model_file_with_its_header_rewritten_loads_or_is_refused(case: tuple[bytes, Any]) -> None:
    seed, header = case
    fuzz.fuzz_model(fuzz.with_header(seed, header))


# today's tiny model and a 0.1 model (upgraded as it loads), as (tensors, metadata)
LOADED_SEEDS = [nn.io.load(fuzz.scratch_file("seed.safetensors", seed)) for seed in MODEL_SEEDS[:2]]


@budget(200)
@given(st.sampled_from(LOADED_SEEDS).flatmap(
    lambda loaded: st.tuples(st.just(loaded[0]), rewritten(loaded[1]))))
def test_a_model_file_with_its_metadata_rewritten_loads_or_is_refused(case: tuple[dict[str, np.ndarray], Any]) -> None:
    tensors, metadata = case
    encoded = json.dumps(metadata, allow_nan=True)
    fuzz.fuzz_model(safetensors.numpy.save(tensors, metadata={nn.io.METADATA_KEY: encoded}))


@budget(60)
@given(st.one_of(st.binary(max_size=200), mutated(MODEL_SEEDS[:1], header=400)))
def test_model_loader_reads_or_refuses_any_bytes(data: bytes) -> None:
    fuzz.fuzz_model(data)
