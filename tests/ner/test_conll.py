"""Reading and writing CoNLL files: the real corpus counts, round trips, and every kind of bad input."""

import io
import os
import pickle
import sys
from collections import Counter
from pathlib import Path

import pytest

from window_ner.ner.data.conll import ConllFormatError, ConllReader, Sentence, load_conll, read_conll, write_conll

SAMPLE = """-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- O O

BRUSSELS NNP I-NP I-LOC
1996-08-22 CD I-NP O

"""


def write(tmp_path: Path, text: str | bytes, name: str = "data.txt") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_bytes(text.encode("utf-8"))
    else:
        path.write_bytes(text)
    return path


# --- the real corpus ---------------------------------------------------------------------------------

@pytest.mark.parametrize("split, sentences, tokens, documents", [
    ("train", 14_041, 203_621, 946),
    ("dev", 3_250, 51_362, 216),
    ("test", 3_453, 46_435, 231),
])
def test_conll2003_official_counts(conll2003_dir, split, sentences, tokens, documents):
    reader = ConllReader(conll2003_dir / f"{split}.txt")
    read = list(reader)
    assert len(read) == reader.sentences == sentences
    assert sum(len(s) for s in read) == reader.tokens == tokens
    assert reader.documents == documents
    assert read[-1].doc == documents - 1
    assert all(s.tags is not None and len(s.tags) == len(s.tokens) for s in read)
    assert all(len(s.columns) == 2 for s in read)
    assert not any(t == "-DOCSTART-" for s in read for t in s.tokens)
    assert reader.skipped_lines == reader.skipped_sentences == 0


def test_conll2003_train_tag_counts(conll2003_dir):
    counts = Counter(tag for s in read_conll(conll2003_dir / "train.txt") for tag in s.tags)
    assert counts == {"O": 169_578, "I-PER": 11_128, "I-ORG": 10_001, "I-LOC": 8_286, "I-MISC": 4_556,
                      "B-MISC": 37, "B-ORG": 24, "B-LOC": 11}


def test_conll2003_first_sentence_and_quirk_line(conll2003_dir):
    sentences = load_conll(conll2003_dir / "train.txt")
    first = sentences[0]
    assert first.tokens[:3] == ["EU", "rejects", "German"]
    assert first.tags[:3] == ["I-ORG", "O", "I-MISC"]
    assert first.columns[0][:3] == ["NNP", "VBZ", "JJ"]
    assert (first.doc, first.line) == (0, 3)
    # README: line 152428 is "Atlanta NNP I-NP B-MISC"
    holder = next(s for s in sentences if s.line <= 152_428 < s.line + len(s))
    assert holder.tokens[152_428 - holder.line] == "Atlanta"
    assert holder.tags[152_428 - holder.line] == "B-MISC"


def test_conll2003_test_split_round_trips_byte_for_byte(conll2003_dir, tmp_path):
    original = (conll2003_dir / "test.txt").read_bytes()
    out = tmp_path / "test.txt"
    write_conll(out, read_conll(conll2003_dir / "test.txt"), docstart=True)  # "-DOCSTART- -X- -X- O"
    # the original ends with one more blank line than we write
    assert out.read_bytes().rstrip(b"\n") == original.rstrip(b"\n")


def test_conll2003_train_round_trips_byte_for_byte(conll2003_dir, tmp_path):
    out = tmp_path / "train.txt"
    write_conll(out, read_conll(conll2003_dir / "train.txt"), docstart="-DOCSTART- -X- O O")
    assert out.read_bytes() == (conll2003_dir / "train.txt").read_bytes()


# --- layout ------------------------------------------------------------------------------------------

def test_sentences_documents_and_lines(tmp_path):
    sentences = load_conll(write(tmp_path, SAMPLE))
    assert [s.tokens for s in sentences] == [["EU", "rejects", "German", "."], ["Peter", "Blackburn"],
                                             ["BRUSSELS", "1996-08-22"]]
    assert [s.tags for s in sentences] == [["I-ORG", "O", "I-MISC", "O"], ["I-PER", "I-PER"], ["I-LOC", "O"]]
    assert sentences[0].columns == [["NNP", "VBZ", "JJ", "."], ["I-NP", "I-VP", "I-NP", "O"]]
    assert [s.doc for s in sentences] == [0, 0, 1]
    assert [s.line for s in sentences] == [3, 8, 13]


def test_file_without_docstart_is_one_document(tmp_path):
    reader = ConllReader(write(tmp_path, "a O\nb O\n\nc O\n"))
    sentences = list(reader)
    assert [s.doc for s in sentences] == [0, 0]
    assert reader.documents == 1


def test_sentences_before_the_first_docstart_form_their_own_document(tmp_path):
    sentences = load_conll(write(tmp_path, "a O\n\n-DOCSTART- O\n\nb O\n"))
    assert [s.doc for s in sentences] == [0, 1]


def test_docstart_matches_the_first_field_only_and_ends_a_sentence(tmp_path):
    sentences = load_conll(write(tmp_path, "a O\n-DOCSTART- anything here\nb O\n"))
    assert [s.tokens for s in sentences] == [["a"], ["b"]]
    assert [s.doc for s in sentences] == [0, 1]


@pytest.mark.parametrize("text", [
    "a X O\nb Y B-PER\n\nc Z O",  # no final newline
    "a X O\r\nb Y B-PER\r\n\r\nc Z O\r\n",  # CRLF
    "\n\na X O\nb Y B-PER\n\n\n\nc Z O\n\n\n\n",  # extra blank lines everywhere
    "a\tX\tO\nb\tY\tB-PER\n\nc\tZ\tO\n",  # tabs
    "a  X O \nb Y   B-PER\n \t \nc Z O\n",  # runs of spaces, trailing spaces, whitespace-only separator
    "\ufeffa X O\nb Y B-PER\n\nc Z O\n",  # byte-order mark
])
def test_tolerated_layouts(tmp_path, text):
    sentences = load_conll(write(tmp_path, text))
    assert [s.tokens for s in sentences] == [["a", "b"], ["c"]]
    assert [s.tags for s in sentences] == [["O", "B-PER"], ["O"]]
    assert [s.columns for s in sentences] == [[["X", "Y"]], [["Z"]]]


def test_tab_separated_fields_may_hold_spaces(tmp_path):
    sentences = load_conll(write(tmp_path, "New York\tB-LOC\n"))
    assert sentences[0].tokens == ["New York"]


def test_token_and_tag_columns_can_be_chosen(tmp_path):
    path = write(tmp_path, "1 Paris NNP B-LOC\n2 is VBZ O\n")
    sentence = load_conll(path, token_column=1, tag_column=3)[0]
    assert sentence.tokens == ["Paris", "is"]
    assert sentence.tags == ["B-LOC", "O"]
    assert sentence.columns == [["1", "2"], ["NNP", "VBZ"]]
    assert load_conll(path, token_column=1, tag_column=-2)[0].tags == ["NNP", "VBZ"]


def test_unlabelled_input(tmp_path):
    sentence = load_conll(write(tmp_path, "Paris NNP\nis VBZ\n"), tag_column=None)[0]
    assert sentence.tags is None
    assert sentence.columns == [["NNP", "VBZ"]]
    one_column = load_conll(write(tmp_path, "Paris\nis\n", "tokens.txt"), tag_column=None)[0]
    assert (one_column.tokens, one_column.tags, one_column.columns) == (["Paris", "is"], None, [])


def test_reading_streams_and_iterating_again_restarts(tmp_path):
    path = write(tmp_path, "a O\n\nb O\n\nc O X\n")  # the last sentence is malformed
    assert next(read_conll(path)).tokens == ["a"]  # no need to read the bad line to get the first sentence
    reader = ConllReader(path, strict=False)
    assert len(list(reader)) == 2
    assert len(list(reader)) == 2
    assert (reader.sentences, reader.skipped_lines, reader.skipped_sentences) == (2, 1, 1)


# --- bad input ----------------------------------------------------------------------------------------

def error_of(path: Path, **options) -> ConllFormatError:
    with pytest.raises(ConllFormatError) as info:
        load_conll(path, **options)
    return info.value


def test_wrong_number_of_columns(tmp_path):
    error = error_of(write(tmp_path, "a X O\nb Y O\n\nc O\n", "train.txt"))
    assert str(error).endswith("train.txt:4: expected 3 columns (as on line 1), found 2")
    assert (error.line, os.path.basename(error.path)) == (4, "train.txt")
    assert isinstance(error, ValueError)


def test_error_survives_pickling(tmp_path):
    error = error_of(write(tmp_path, "a X O\nb O\n"))
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.line, copy.message) == (str(error), error.line, error.message)


@pytest.mark.parametrize("text, line, expected", [
    ("a O\n O\n", 2, "the token is empty"),
    ("a\tX\tO\nb\t\tO\n", 2, "column 2 is empty"),
])
def test_empty_token_or_column(tmp_path, text, line, expected):
    error = error_of(write(tmp_path, text))
    assert error.line == line
    assert expected in str(error)
    assert f"data.txt:{line}:" in str(error)


def test_invalid_utf8_reports_its_line(tmp_path):
    error = error_of(write(tmp_path, b"a O\n\nb O\nc\xff\xfe O\n"))
    assert error.line == 4
    assert "data.txt:4:" in str(error) and "not valid utf-8" in str(error) and "encoding" in str(error)
    # the right encoding reads it
    assert load_conll(tmp_path / "data.txt", encoding="latin-1")[1].tokens == ["b", "c\xff\xfe"]


@pytest.mark.parametrize("text", ["", "\n\n\n", "-DOCSTART- -X- O O\n\n", "\r\n"])
def test_file_without_sentences(tmp_path, text):
    error = error_of(write(tmp_path, text, "empty.txt"))
    assert "empty.txt:" in str(error) and "no sentences" in str(error)


def test_missing_columns_for_the_options(tmp_path):
    error = error_of(write(tmp_path, "a O\n"), tag_column=3)
    assert "data.txt:1:" in str(error) and "tag column 3 does not exist" in str(error)
    assert "tag_column=, --tag-column" in str(error)
    error = error_of(write(tmp_path, "a\n"))  # the default tag column -1 is the token column here
    assert "data.txt:1:" in str(error) and "tag column -1 is the token column: the line has 1 column," in str(error)
    with pytest.raises(ValueError, match=r"data.txt: the token and tag columns are both 1.*tag_column=None"):
        ConllReader(tmp_path / "data.txt", token_column=1, tag_column=1)


def test_old_mac_line_ends_are_an_error_not_one_long_line(tmp_path):
    error = error_of(write(tmp_path, "Paris B-LOC\rBerlin B-LOC\r\r"))
    assert "data.txt:1:" in str(error) and "carriage return" in str(error)


def test_tab_separated_fields_may_hold_spaces_and_read_back_after_writing(tmp_path):
    path = write(tmp_path, "He\tO\nvisited \tO\nNew York\tB-LOC\n\n")
    sentences = load_conll(path)
    assert sentences[0].tokens == ["He", "visited", "New York"]  # spaces around a tab are dropped
    write_conll(tmp_path / "out.txt", sentences, [["O", "O", "B-LOC"]])
    assert (tmp_path / "out.txt").read_text().splitlines() == ["He O O", "visited O O", "New York\tB-LOC\tB-LOC", ""]
    again = load_conll(tmp_path / "out.txt", tag_column=-2)
    assert again[0].tokens == sentences[0].tokens and again[0].tags == sentences[0].tags


def test_tag_check_reports_file_and_line(tmp_path):
    def iob2_only(tag: str) -> None:
        if tag != "O" and not tag.startswith(("B-", "I-")):
            raise ValueError(f"tag {tag!r} is not an IOB2 tag")

    path = write(tmp_path, "a O\nb B-PER\n\nc X-FOO\n")
    error = error_of(path, tag_check=iob2_only)
    assert str(error).endswith("data.txt:4: tag 'X-FOO' is not an IOB2 tag")
    reader = ConllReader(path, strict=False, tag_check=iob2_only)
    assert [s.tokens for s in reader] == [["a", "b"]]
    assert (reader.skipped_lines, reader.skipped_sentences) == (1, 1)


def test_validate_hook_reports_the_sentence_start(tmp_path):
    def no_leading_i(tags: list[str]) -> None:
        if tags[0].startswith("I-"):
            raise ValueError("I- tag cannot start a sentence in IOB2")

    path = write(tmp_path, "a B-PER\n\nb O\nc I-PER\n\nd I-LOC\ne O\n")
    error = error_of(path, validate=no_leading_i)
    assert error.line == 6 and "cannot start a sentence" in str(error)
    reader = ConllReader(path, strict=False, validate=no_leading_i)
    assert [s.tokens for s in reader] == [["a"], ["b", "c"]]
    assert (reader.skipped_lines, reader.skipped_sentences) == (1, 1)


def test_non_strict_drops_sentences_with_bad_lines_and_counts_them(tmp_path):
    text = "a X O\nb X O\n\nc O\nd X O\ne\n\nf X O\n\ng\xff X O\n\nh X O\n"
    reader = ConllReader(write(tmp_path, text.encode("latin-1")), strict=False)
    sentences = list(reader)
    assert [s.tokens for s in sentences] == [["a", "b"], ["f"], ["h"]]
    assert [s.line for s in sentences] == [1, 8, 12]
    assert reader.skipped_lines == 3
    assert reader.skipped_sentences == 2
    assert [e.line for e in reader.errors] == [4, 6, 10]
    assert reader.tokens == 4


def test_non_strict_with_nothing_left_still_raises(tmp_path):
    with pytest.raises(ConllFormatError, match="all 1 were skipped"):
        load_conll(write(tmp_path, "a X O\nb O\n"), strict=False)


def test_unknown_encoding_fails_before_reading(tmp_path):
    with pytest.raises(LookupError):
        ConllReader(write(tmp_path, "a O\n"), encoding="no-such-codec")


# --- writing ------------------------------------------------------------------------------------------

def test_round_trip(tmp_path):
    sentences = load_conll(write(tmp_path, SAMPLE))
    out = tmp_path / "out.txt"
    write_conll(out, sentences, docstart=True)
    assert load_conll(out) == sentences
    assert out.read_text().startswith("-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\n")


def test_predictions_format_for_conlleval(tmp_path):
    sentences = load_conll(write(tmp_path, SAMPLE))
    predicted = [["I-ORG", "O", "O", "O"], ["I-PER", "O"], ["I-LOC", "O"]]
    buffer = io.StringIO()
    write_conll(buffer, sentences, predicted, extra_columns=False)
    assert buffer.getvalue().split("\n\n")[:2] == ["EU I-ORG I-ORG\nrejects O O\nGerman I-MISC O\n. O O",
                                                   "Peter I-PER I-PER\nBlackburn I-PER O"]
    out = tmp_path / "pred.txt"
    write_conll(out, sentences, predicted)
    assert out.read_text().splitlines()[0] == "EU NNP I-NP I-ORG I-ORG"
    again = load_conll(out, tag_column=-1)
    assert [s.tags for s in again] == predicted
    assert [s.columns[-1] for s in again] == [s.tags for s in sentences]


def test_plain_token_lists_and_stdout(capsys):
    write_conll(sys.stdout, [["Paris", "is"], ["Hi"]], [["B-LOC", "O"], ["O"]])
    assert capsys.readouterr().out == "Paris B-LOC\nis O\n\nHi O\n\n"


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "out.txt"
    old_umask = os.umask(0o022)
    try:
        write_conll(out, [Sentence(["a"], ["O"])])
    finally:
        os.umask(old_umask)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    assert out.stat().st_mode & 0o777 == 0o644  # what open() gives a new file under this umask
    out.chmod(0o600)
    write_conll(out, [Sentence(["a"], ["O"])])
    assert out.stat().st_mode & 0o777 == 0o600  # a replaced file keeps its permissions
    # a failure part-way leaves the old file as it was and no temporary file
    with pytest.raises(ValueError, match="fewer predictions"):
        write_conll(out, [Sentence(["b"], ["O"]), Sentence(["c"], ["O"])], [["O"]])
    assert out.read_text() == "a O\n\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_write_into_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="create it first"):
        write_conll(tmp_path / "nope" / "out.txt", [["a"]])


@pytest.mark.parametrize("sentences, predictions, message", [
    ([Sentence(["a\tb"], ["O"])], None, "holds a tab"),
    ([Sentence(["a "], ["O"])], None, "ends with a space"),
    ([Sentence([""], ["O"])], None, "is empty"),
    ([Sentence([], [])], None, "no tokens"),
    ([Sentence(["a", "b"], ["O"])], None, "2 tokens but 1 values"),
    ([Sentence(["a"], ["O"]), Sentence(["b"], None)], None, "same number"),
    ([Sentence(["a"], ["O"])], [["O"], ["O"]], "more predictions"),
    ([Sentence(["a"], ["O"])], [["O", "O"]], "1 tokens but 2 values"),
])
def test_write_rejects_what_a_conll_file_cannot_hold(tmp_path, sentences, predictions, message):
    with pytest.raises(ValueError, match=message):
        write_conll(tmp_path / "out.txt", sentences, predictions)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, line, expected", [
    ("EU NNP\nrejects VBZ B-NP O\nGerman JJ B-NP B-MISC\n", 1, "expected 4 columns (as on line 2), found 2"),
    ("-DOCSTART- O\n\nEU NNP\nrejects VBZ O\ncall NN O\n", 3, "expected 3 columns (as on line 4), found 2"),
    ("a X O\nb O\n", 2, "expected 3 columns (as on line 1), found 2"),  # a tie: the first line sets the count
])
def test_a_bad_first_line_is_the_one_blamed(tmp_path, text, line, expected):
    error = error_of(write(tmp_path, text))
    assert (error.line, error.message) == (line, expected)
