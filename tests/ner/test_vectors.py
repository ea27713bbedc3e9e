"""Loading GloVe / word2vec vectors (text, binary, compressed), bad files, and the embedding matrix."""

import bz2
import gzip
import lzma
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from window_ner.ner.data.conll import read_conll
from window_ner.ner.data.vectors import Vectors, VectorsFormatError, load_vectors, vocab_matrix
from window_ner.ner.data.vocab import PAD, UNK, Vocab

WORDS = ["the", "paris", "Paris", "1996", "écoute"]
MATRIX = np.array([[0.418, 0.24968, -0.41242],
                   [1.0, -2.0, 3.5],
                   [9.0, 9.0, 9.0],
                   [-1e-05, 0.0, 2.0],
                   [0.5, 0.25, -0.125]], dtype=np.float32)


def glove_text(words=WORDS, matrix=MATRIX) -> bytes:
    lines = [f"{w} {' '.join(repr(float(v)) for v in row)}\n" for w, row in zip(words, matrix, strict=True)]
    return "".join(lines).encode()


def word2vec_text(words=WORDS, matrix=MATRIX) -> bytes:
    # the word2vec C tool writes a space after every value
    lines = [f"{w} {''.join(f'{float(v)} ' for v in row)}\n" for w, row in zip(words, matrix, strict=True)]
    return f"{len(words)} {matrix.shape[1]}\n{''.join(lines)}".encode()


def word2vec_binary(words=WORDS, matrix=MATRIX, newline=True) -> bytes:
    out = [f"{len(words)} {matrix.shape[1]}\n".encode()]
    for w, row in zip(words, matrix, strict=True):
        out.append(w.encode() + b" " + row.astype("<f4").tobytes() + (b"\n" if newline else b""))
    return b"".join(out)


def write(tmp_path: Path, data: bytes, name: str = "vectors.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def check_all(vectors: Vectors) -> None:
    assert vectors.words == WORDS
    assert vectors.dim == 3
    assert vectors.matrix.dtype == np.float32
    np.testing.assert_array_equal(vectors.matrix, MATRIX)
    assert (vectors.found, vectors.missing, vectors.skipped) == (5, 0, 0)


# --- formats -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("maker, fmt", [(glove_text, "glove"), (word2vec_text, "word2vec"),
                                        (word2vec_binary, "word2vec-binary")])
@pytest.mark.parametrize("compress", [None, gzip.compress, bz2.compress, lzma.compress])
def test_formats_are_detected(tmp_path, maker, fmt, compress):
    data = maker()
    # the suffix says nothing: compression is recognised by its magic bytes
    path = write(tmp_path, compress(data) if compress else data, "vectors.dat")
    vectors = load_vectors(path)
    check_all(vectors)
    assert vectors.format == fmt
    check_all(load_vectors(path, format=fmt))


def test_word2vec_binary_without_newlines_between_records(tmp_path):
    check_all(load_vectors(write(tmp_path, word2vec_binary(newline=False))))


def test_crlf_and_blank_lines(tmp_path):
    data = glove_text().replace(b"\n", b"\r\n") + b"\r\n\r\n"
    check_all(load_vectors(write(tmp_path, data)))


def test_dtype(tmp_path):
    vectors = load_vectors(write(tmp_path, b"the 0.418 0.24968 -1e-05\n"), dtype=np.float64)
    assert vectors.matrix.dtype == np.float64
    assert vectors.matrix.tolist() == [[0.418, 0.24968, -1e-05]]


# --- a vocabulary ------------------------------------------------------------------------------------

def test_only_the_vocabulary_words_are_kept(tmp_path):
    vectors = load_vectors(write(tmp_path, glove_text()), ["1996", "the", "zebra"])
    assert vectors.words == ["1996", "the"]  # vocabulary order
    np.testing.assert_array_equal(vectors.matrix, MATRIX[[3, 0]])
    assert (vectors.found_exact, vectors.found_lowercase, vectors.missing) == (2, 0, 1)
    assert "zebra" not in vectors and "paris" not in vectors


def test_a_vocab_object(tmp_path):
    vocab = Vocab.build([["The", "PARIS", "zebra"]])
    vectors = load_vectors(write(tmp_path, glove_text()), vocab)
    assert vectors.words == ["the", "paris"]
    assert vectors.missing == 1


def test_lowercase_fallback_and_exact_match_wins(tmp_path):
    path = write(tmp_path, glove_text())
    vectors = load_vectors(path, ["Paris", "The", "ÉCOUTE", "THE"])
    # "Paris" is in the file (after "paris"): exact wins; the others fall back to their lowercase form
    assert vectors.words == ["Paris", "The", "ÉCOUTE", "THE"]
    np.testing.assert_array_equal(vectors["Paris"], MATRIX[2])
    np.testing.assert_array_equal(vectors["The"], MATRIX[0])
    np.testing.assert_array_equal(vectors["ÉCOUTE"], MATRIX[4])
    assert (vectors.found_exact, vectors.found_lowercase, vectors.missing) == (1, 3, 0)
    without = load_vectors(path, ["Paris", "The"], lowercase_fallback=False)
    assert without.words == ["Paris"] and without.missing == 1


def test_repeated_words_keep_their_first_vector(tmp_path):
    data = glove_text() + b"the 7 7 7\n"
    vectors = load_vectors(write(tmp_path, data))
    assert vectors.duplicates == 1
    np.testing.assert_array_equal(vectors["the"], MATRIX[0])
    np.testing.assert_array_equal(load_vectors(tmp_path / "vectors.txt", ["the"])["the"], MATRIX[0])


# --- bad files ---------------------------------------------------------------------------------------

def error_of(path: Path, **options) -> VectorsFormatError:
    with pytest.raises(VectorsFormatError) as info:
        load_vectors(path, **options)
    return info.value


def test_ragged_line(tmp_path):
    path = write(tmp_path, glove_text() + b"extra 1 2\n" + b"more 1 2 3\n", "glove.txt")
    error = error_of(path)
    assert str(error).endswith("glove.txt:6: expected 3 values after the word (as on line 1), found 2")
    assert isinstance(error, ValueError)
    # also when the bad line's word is not needed: every line is checked
    assert error_of(path, vocab=["the"]).line == 6
    vectors = load_vectors(path, strict=False)
    assert vectors.words == WORDS + ["more"] and vectors.skipped == 1
    assert [e.line for e in vectors.errors] == [6]


def test_ragged_against_the_header_and_dim(tmp_path):
    data = word2vec_text().replace(b"1996 ", b"1996 4.0 ")
    error = error_of(write(tmp_path, data))
    assert error.line == 5 and "expected 3 values" in str(error) and "header" in str(error)
    error = error_of(write(tmp_path, glove_text(), "g.txt"), dim=50)
    assert error.line == 1 and "dim=50" in str(error)


def test_value_that_is_not_a_number(tmp_path):
    path = write(tmp_path, glove_text().replace(b"3.5", b"3.5x"))
    error = error_of(path)
    assert str(error).endswith("vectors.txt:2: value '3.5x' is not a number; expected 3 numbers after the "
                               "word")
    vectors = load_vectors(path, strict=False)
    assert "paris" not in vectors and vectors.skipped == 1 and len(vectors) == 4
    # a vocabulary that needs other words never parses that line
    assert load_vectors(path, ["the"]).words == ["the"]


def test_not_finite_values(tmp_path):
    path = write(tmp_path, glove_text().replace(b"3.5", b"nan"))
    assert "not finite" in str(error_of(path))
    assert load_vectors(path, strict=False).skipped == 1


@pytest.mark.parametrize("data", [b"", b"\n\n", b"0 50\n"])
def test_empty_file(tmp_path, data):
    error = error_of(write(tmp_path, data, "empty.txt"))
    assert "empty.txt" in str(error)
    assert "empty" in str(error) or "no vectors" in str(error)


def test_invalid_utf8_word(tmp_path):
    path = write(tmp_path, glove_text() + b"caf\xe9 1 2 3\n")
    error = error_of(path)
    assert error.line == 6 and "not valid utf-8" in str(error)
    assert load_vectors(path, encoding="latin-1").words[-1] == "café"
    assert load_vectors(path, strict=False).skipped == 1


def test_empty_word(tmp_path):
    assert error_of(write(tmp_path, glove_text() + b" 1 2 3\n")).line == 6


def test_header_announces_more_vectors_than_the_file_holds(tmp_path):
    path = write(tmp_path, word2vec_text().replace(b"5 3\n", b"9 3\n"))
    assert "announces 9 vectors but the file holds 5" in str(error_of(path))
    binary = write(tmp_path, word2vec_binary().replace(b"5 3\n", b"9 3\n"), "v.bin")
    assert "announces 9 vectors but the file ends after 5" in str(error_of(binary))


def test_truncated_binary_names_the_record(tmp_path):
    error = error_of(write(tmp_path, word2vec_binary()[:-7], "v.bin"))
    assert "v.bin: record 5:" in str(error) and "ends inside this record" in str(error)


def test_binary_with_trailing_garbage(tmp_path):
    path = write(tmp_path, word2vec_binary() + b"junk", "v.bin")
    assert "data after the 5 vectors" in str(error_of(path))


def test_forced_word2vec_on_a_glove_file(tmp_path):
    assert "format='glove'" in str(error_of(write(tmp_path, glove_text()), format="word2vec"))


def test_bad_arguments(tmp_path):
    path = write(tmp_path, glove_text())
    with pytest.raises(ValueError, match="format must be one of"):
        load_vectors(path, format="fasttext")
    with pytest.raises(TypeError, match="not a single string"):
        load_vectors(path, "the")


def test_error_survives_pickling(tmp_path):
    error = error_of(write(tmp_path, glove_text() + b"x 1\n"))
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


# --- the embedding matrix ----------------------------------------------------------------------------

def test_vocab_matrix(tmp_path):
    vectors = load_vectors(write(tmp_path, glove_text()))
    vocab = Vocab.build([["the", "zebra", "1996"]], lowercase=False, extra_words=["Paris"])
    matrix = vocab_matrix(vectors, vocab, np.random.default_rng(0))
    assert matrix.shape == (len(vocab), 3) and matrix.dtype == np.float32
    assert not matrix[PAD].any()
    np.testing.assert_array_equal(matrix[vocab.index("the")], MATRIX[0])
    np.testing.assert_array_equal(matrix[vocab.index("1996")], MATRIX[3])
    np.testing.assert_array_equal(matrix[vocab.index("Paris")], MATRIX[2])  # exact, not the "paris" row
    random_rows = matrix[[UNK, vocab.index("zebra")]]
    assert random_rows.any()
    assert np.abs(random_rows).max() <= vectors.matrix.std() * np.sqrt(3) + 1e-6
    again = vectors.vocab_matrix(vocab, np.random.default_rng(0))
    np.testing.assert_array_equal(matrix, again)  # reproducible from the seed
    zeros = vocab_matrix(vectors, vocab, np.random.default_rng(0), init="zeros")
    assert not zeros[vocab.index("zebra")].any() and not zeros[UNK].any()
    normal = vocab_matrix(vectors, vocab, np.random.default_rng(0), init="normal", scale=0.01)
    assert np.abs(normal[vocab.index("zebra")]).max() < 0.1
    assert vectors.coverage(vocab) == (3, 0, 1)


def test_vocab_matrix_bad_arguments(tmp_path):
    vectors = load_vectors(write(tmp_path, glove_text()))
    vocab = Vocab.build([["the"]])
    with pytest.raises(TypeError, match="default_rng"):
        vocab_matrix(vectors, vocab, 0)
    with pytest.raises(ValueError, match="init must be"):
        vocab_matrix(vectors, vocab, np.random.default_rng(0), init="xavier")


# --- the real GloVe file -----------------------------------------------------------------------------

def test_real_glove_covers_conll2003_as_the_readme_says(conll2003_dir, glove_path):
    splits = [read_conll(conll2003_dir / f"{split}.txt") for split in ("train", "dev", "test")]
    tokens = [s.tokens for sentences in splits for s in sentences]
    vocab = Vocab.build(tokens)  # lowercased, like GloVe 6B
    assert len(vocab) - 4 == 26_869
    vectors = load_vectors(glove_path, vocab)
    assert vectors.dim == 50 and vectors.format == "glove"
    assert (vectors.found_exact, vectors.found_lowercase, vectors.missing) == (22_947, 0, 3_922)
    assert vectors["the"][:3].tolist() == pytest.approx([0.418, 0.24968, -0.41242])


def test_real_glove_for_the_train_vocabulary(conll2003_dir, glove_path):
    # Its speed (target < 3 s) is measured by benchmarks/bench_data.py, not here.
    vocab = Vocab.build(s.tokens for s in read_conll(conll2003_dir / "train.txt"))
    vectors = load_vectors(glove_path, vocab)
    assert vectors.found > 0.85 * (len(vocab) - 4)


def test_real_glove_whole_file(glove_path):
    vectors = load_vectors(glove_path)
    assert vectors.matrix.shape == (103_441, 50)
    assert vectors.words[0] == "the" and vectors.duplicates == 0


def test_truncated_gzip_names_the_file(tmp_path):
    whole = gzip.compress(b"".join(f"w{i} 0.1 0.2 0.3\n".encode() for i in range(2000)))
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(VectorsFormatError, match=r"cut\.txt\.gz.*truncated"):
        load_vectors(path)


@pytest.mark.parametrize("make", [glove_text, word2vec_text, word2vec_binary])
def test_a_utf8_byte_order_mark_is_not_part_of_the_first_word(tmp_path: Path, make) -> None:
    check_all(load_vectors(write(tmp_path, b"\xef\xbb\xbf" + make())))


def _glove_zip(tmp_path: Path, members: dict[str, bytes]) -> Path:
    archive = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return archive


def test_a_zip_archive_of_one_file_and_a_path_into_an_archive_are_read(tmp_path):
    (tmp_path / "one").mkdir()
    one = _glove_zip(tmp_path / "one", {"glove.6B.50d.txt": glove_text()})
    assert load_vectors(one).words == WORDS
    archive = _glove_zip(tmp_path, {"glove.6B.50d.txt": glove_text(), "glove.6B.100d.txt": b"a 1 2\n"})
    vectors = load_vectors(f"{archive}/glove.6B.50d.txt")
    assert vectors.words == WORDS
    np.testing.assert_array_equal(vectors.matrix, MATRIX)


def test_a_zip_archive_of_several_files_asks_for_one_by_name(tmp_path):
    archive = _glove_zip(tmp_path, {"glove.6B.50d.txt": glove_text(), "glove.6B.100d.txt": b"a 1 2\n"})
    with pytest.raises(VectorsFormatError, match=r"holds 2 files \(glove.6B.50d.txt, glove.6B.100d.txt\); name one "
                                                  r"as .*glove.6B.zip/glove.6B.50d.txt"):
        load_vectors(archive)
    with pytest.raises(FileNotFoundError, match="no file 'nope.txt' in the zip archive"):
        load_vectors(f"{archive}/nope.txt")


def test_a_damaged_zip_archive_is_a_clear_error(tmp_path):
    archive = _glove_zip(tmp_path, {"glove.6B.50d.txt": glove_text() * 50})
    data = bytearray(archive.read_bytes())
    data[100] ^= 0xFF  # inside the compressed member: its CRC check fails
    archive.write_bytes(bytes(data))
    with pytest.raises(VectorsFormatError, match="the compressed data is damaged"):
        load_vectors(archive)
