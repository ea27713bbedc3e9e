"""Crashes the fuzzers found (tools/fuzz.py and test_properties.py), each as its smallest input: the reader
must refuse it with an InputError (a clear message) or give a valid result; any other exception is the bug."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy

from tests.fuzz._harness import load_fuzz_tool
from window_ner import nn
from window_ner.errors import InputError
from window_ner.ner.data.conll import Sentence, load_conll, write_conll
from window_ner.ner.data.vectors import load_vectors
from window_ner.ner.inference.tagger import Tagger

fuzz = load_fuzz_tool()
GLOVE = b"the 0.1 0.2\nparis 1.0 2.0\n"
FIXTURES = Path(__file__).resolve().parents[1] / "ner" / "fixtures"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ----- vectors --------------------------------------------------------------------------------------------

def _corrupt_gzip_crc() -> bytes:
    packed = gzip.compress(GLOVE, mtime=0)
    return packed[:-8] + b"\0\0\0\0" + packed[-4:]  # the CRC-32 of the trailer zeroed


def _unknown_gzip_method() -> bytes:
    packed = bytearray(gzip.compress(GLOVE, mtime=0))
    packed[2] = 9  # compression method 9: only 8 (deflate) exists
    return bytes(packed)


def _corrupt_deflate() -> bytes:
    packed = bytearray(gzip.compress(GLOVE, mtime=0))
    packed[12] ^= 0xFF  # the first byte of the deflate stream
    return bytes(packed)


def _corrupt_bz2() -> bytes:
    packed = bytearray(bz2.compress(GLOVE))
    packed[10] ^= 0xFF
    return bytes(packed)


def _corrupt_xz() -> bytes:
    packed = bytearray(lzma.compress(GLOVE))
    packed[len(packed) // 2] ^= 0xFF
    return bytes(packed)


@pytest.mark.parametrize("make", [_corrupt_gzip_crc, _unknown_gzip_method, _corrupt_deflate, _corrupt_bz2, _corrupt_xz],
                         ids=["gzip-crc", "gzip-method", "gzip-deflate", "bz2", "xz"])
def test_a_corrupt_compressed_vectors_file_is_refused_as_a_truncated_one_is(make: Any, tmp_path: Path) -> None:
    # found: gzip.BadGzipFile (CRC, method), zlib.error, OSError('Invalid data stream'), lzma.LZMAError
    with pytest.raises(InputError):
        load_vectors(write(tmp_path, "vectors.gz", make()))


def test_a_word2vec_header_with_a_count_too_long_to_parse_is_refused(tmp_path: Path) -> None:
    # found: ValueError "Exceeds the limit (4300 digits) for integer string conversion"
    with pytest.raises(InputError):
        load_vectors(write(tmp_path, "vectors.txt", b"1" * 4301 + b" 2\nthe 0.1 0.2\n"))


def test_a_word2vec_header_with_an_absurd_dimension_is_refused(tmp_path: Path) -> None:
    # found: OverflowError "cannot fit 'int' into an index-sized integer" (readline of 40 bytes per value)
    with pytest.raises(InputError):
        load_vectors(write(tmp_path, "vectors.txt", b"1 " + b"9" * 30 + b"\nthe 0.1 0.2\n"))


@pytest.mark.parametrize("data", [b"a 1\nb\n", b"a 1\nb \n", b"0 0\nthe"],
                         ids=["word-alone", "word-and-space", "no-newline"])
def test_a_word_without_its_value_in_a_one_dimensional_file_is_refused(data: bytes, tmp_path: Path) -> None:
    # found: ValueError "could not broadcast input array from shape (0,) into shape (1,)" in _parse_text
    with pytest.raises(InputError):
        load_vectors(write(tmp_path, "vectors.txt", data), format="glove")


@pytest.mark.parametrize("data", [b"2 0\nthe\nparis\n", b"1 0\nthe \n"], ids=["text", "text-trailing-space"])
def test_a_word2vec_header_of_zero_dimensions_is_refused(data: bytes, tmp_path: Path) -> None:
    # found: Vectors of 0 dimensions, which load_vectors(dim=0) itself refuses and no model can use
    path = write(tmp_path, "vectors.txt", data)
    try:
        vectors = load_vectors(path)
    except InputError:
        return
    assert vectors.dim >= 1, f"loaded {vectors!r}"


# ----- CoNLL writer -> reader -----------------------------------------------------------------------------

@pytest.mark.parametrize("sentences", [
    [Sentence(["a b"])],  # one column: no tab to keep the space in
    [Sentence(["O"]), Sentence(["a b"])],
    [Sentence(["-DOCSTART-", "x"], ["O", "O"])],  # a token that reads as a document boundary
    [Sentence(["\ufeffx"], ["O"])],  # the first token of a file starting with a byte-order mark
], ids=["space-one-column", "space-second-sentence", "docstart-token", "bom-first-token"])
def test_write_conll_refuses_or_round_trips_every_sentence(sentences: list[Sentence], tmp_path: Path) -> None:
    # found by the round-trip property: the file written reads back as other tokens, or not at all
    buffer = io.StringIO()
    try:
        write_conll(buffer, sentences)
    except ValueError:  # a sentence a CoNLL file cannot hold may be refused, as a tab in a token is
        return
    path = write(tmp_path, "written.conll", buffer.getvalue().encode())
    labelled = sentences[0].tags is not None
    again = load_conll(path, tag_column=-1 if labelled else None)
    assert [(s.tokens, s.tags) for s in again] == [(s.tokens, s.tags) for s in sentences]


# ----- model files ----------------------------------------------------------------------------------------

def tiny() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The tensors and metadata of a small valid model of today's format."""
    return nn.io.load(fuzz.scratch_file("tiny.safetensors", fuzz.tiny_model()))


def with_metadata(tmp_path: Path, tensors: dict[str, np.ndarray], metadata_json: str) -> Path:
    payload = safetensors.numpy.save(tensors, metadata={nn.io.METADATA_KEY: metadata_json})
    return write(tmp_path, "model.safetensors", payload)


def edited(tmp_path: Path, section: str, **changes: Any) -> Path:
    """The tiny model with ``changes`` made to its "model" or "encoder" metadata."""
    tensors, metadata = tiny()
    metadata[section].update(changes)
    return with_metadata(tmp_path, tensors, json.dumps(metadata, allow_nan=True))


def load_and_tag(path: Path) -> None:
    """Refused with an InputError, or loaded into a tagger that tags."""
    try:
        tagger = Tagger.load(path)
    except InputError:
        return
    fuzz.check_tagger(tagger)


def test_deeply_nested_model_metadata_is_refused(tmp_path: Path) -> None:
    # found: RecursionError in json.loads (nn/io.py, the window-ner metadata)
    tensors, _ = tiny()
    path = with_metadata(tmp_path, tensors, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError):
        nn.io.load(path)
    with pytest.raises(InputError):
        Tagger.load(path)


def test_a_deeply_nested_safetensors_header_is_refused(tmp_path: Path) -> None:
    # found: RecursionError in json.loads (nn/io.py, the safetensors header)
    header = b"[" * 100_000 + b"]" * 100_000
    path = write(tmp_path, "model.safetensors", struct.pack("<Q", len(header)) + header)
    with pytest.raises(InputError):
        nn.io.load(path)


def test_an_infinite_data_offset_in_the_header_is_refused(tmp_path: Path) -> None:
    # found: OverflowError "cannot convert float infinity to integer" (int(info["data_offsets"][1]))
    header = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 1e400]}}'
    path = write(tmp_path, "model.safetensors", struct.pack("<Q", len(header)) + header + b"\0" * 4)
    with pytest.raises(InputError):
        nn.io.load(path)


@pytest.mark.parametrize("metadata_json", ["null", "[1]", '"text"', "3"])
def test_model_metadata_that_is_not_an_object_is_refused(metadata_json: str, tmp_path: Path) -> None:
    # found: nn.io.load returned None, a list, a str or an int as the metadata it types as a dict
    tensors, _ = tiny()
    path = with_metadata(tmp_path, tensors, metadata_json)
    try:
        _, metadata = nn.io.load(path)
    except InputError:
        return
    assert isinstance(metadata, dict), f"metadata {metadata!r}"


@pytest.mark.parametrize("changes", [
    {"hidden": [float("inf")]},  # OverflowError in ModelOptions (int(h))
    {"word_dim": float("inf")},  # OverflowError in nn.Embedding
    {"vocab_size": 10**13},  # MemoryError: 582 TiB asked for
    {"hidden": [10**12]},  # MemoryError
    {"window": 10**9},  # MemoryError
], ids=["hidden-inf", "word-dim-inf", "vocab-size-huge", "hidden-huge", "window-huge"])
def test_model_sizes_that_cannot_be_built_are_refused(changes: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InputError):
        Tagger.load(edited(tmp_path, "model", **changes))


@pytest.mark.parametrize("changes", [
    {"window": 2},  # the model's window is 1: ValueError from matmul when tagging
    {"window": -1},  # ValueError from windows()
    {"window": "1"},  # TypeError from windows()
    {"features": {"caps": {"type": "caps"}}},  # the model also has suffix2: KeyError when tagging
], ids=["window-differs", "window-negative", "window-string", "feature-missing"])
def test_an_encoder_that_does_not_fit_its_model_is_refused_at_load(changes: dict[str, Any], tmp_path: Path) -> None:
    load_and_tag(edited(tmp_path, "encoder", **changes))


def test_a_one_byte_flip_naming_another_feature_is_refused_at_load(tmp_path: Path) -> None:
    # found by atheris: "suffix2" -> "suffix3" in the encoder of a 0.1 model loads, then KeyError when tagging
    data = (FIXTURES / "v0.1.0-softmax.safetensors").read_bytes()
    flipped = data.replace(b'\\"suffix2\\": {\\"type', b'\\"suffix3\\": {\\"type', 1)
    assert len(flipped) == len(data) and flipped != data
    load_and_tag(write(tmp_path, "model.safetensors", flipped))


def test_finite_weights_that_overflow_are_refused_at_load_or_tag(tmp_path: Path) -> None:
    # found by atheris: output weights near the float32 maximum load (they are finite), the scores overflow to
    # +-inf and tagging raises ValueError("log_probs contains NaN") from decode
    tensors, metadata = tiny()
    head = tensors["head.U"]
    head[:] = np.resize(np.array([3e38, -3e38], dtype=np.float32), head.size).reshape(head.shape)
    load_and_tag(with_metadata(tmp_path, tensors, json.dumps(metadata)))


def test_a_value_split_by_a_vertical_tab_is_a_wrong_count_not_a_crash(tmp_path: Path) -> None:
    # found by atheris: "-0.\x0b25" passes the single-space count (3 values) but splits into 4 at the \x0b
    data = b"3 3\nthe -1.75 -1.5 -1.25 \nParis -1.0 -0.75 -0.5 \n1996 -0.\x0b25 0.0 0.25 \n"
    with pytest.raises(InputError, match=r":4: expected 3 values after the word .*found 4"):
        load_vectors(write(tmp_path, "vectors.txt", data))
