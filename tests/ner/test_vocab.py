"""The vocabulary: reserved ids, counting, normalisation, JSON."""

import json

import numpy as np
import pytest

from window_ner.ner.data.vocab import BOS, EOS, PAD, UNK, Vocab

TRAIN = [["The", "cat", "sat", "."], ["the", "Cat", "ran", "in", "1996", "."], ["THE", "end", "."]]


def json_round_trip(data):
    return json.loads(json.dumps(data))


# --- vocabulary --------------------------------------------------------------------------------------

def test_reserved_ids():
    vocab = Vocab.build(TRAIN)
    assert (PAD, UNK, BOS, EOS) == (0, 1, 2, 3)
    assert vocab.words[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    # the reserved names are not words: text that happens to spell them is unknown
    assert vocab.lookup(["<pad>", "<s>", "</s>", "<unk>"]).tolist() == [UNK] * 4
    assert "<s>" not in vocab


def test_most_frequent_first_and_lowercased():
    vocab = Vocab.build(TRAIN)
    assert vocab.words[4:] == ["the", ".", "cat", "sat", "ran", "in", "1996", "end"]
    assert len(vocab) == 12
    assert vocab.index("THE") == vocab.index("the") == 4
    assert "CAT" in vocab and "dog" not in vocab and 3 not in vocab


def test_lookup_unknown_and_dtype():
    vocab = Vocab.build(TRAIN)
    ids = vocab.lookup(["The", "dog", "sat"])
    assert ids.dtype == np.int64
    assert ids.tolist() == [4, UNK, 7]
    assert vocab.lookup([]).shape == (0,)


def test_min_count():
    vocab = Vocab.build(TRAIN, min_count=2)
    assert vocab.words[4:] == ["the", ".", "cat"]
    assert vocab.lookup(["sat"]).tolist() == [UNK]
    with pytest.raises(ValueError, match="min_count"):
        Vocab.build(TRAIN, min_count=0)


def test_cased_vocabulary():
    vocab = Vocab.build(TRAIN, lowercase=False)
    assert {"The", "the", "THE", "Cat", "cat"} <= set(vocab.words)
    assert vocab.lookup(["Cat", "CAT"]).tolist() == [vocab.index("Cat"), UNK]


def test_digit_normalisation_is_applied_at_build_and_lookup():
    vocab = Vocab.build(TRAIN, normalize_digits=True)
    assert "0000" in vocab.words and "1996" not in vocab.words
    assert vocab.lookup(["2024"]).tolist() == [vocab.index("0000")]
    assert vocab.normalize("A1-b2") == "a0-b0"


def test_extra_words_come_after_training_words_whatever_their_count():
    vocab = Vocab.build(TRAIN, min_count=2, extra_words=["paris", "The", "sat", "<s>", "paris"])
    assert vocab.words[4:] == ["the", ".", "cat", "paris", "sat"]


def test_max_size():
    assert Vocab.build(TRAIN, max_size=2, extra_words=["x"]).words[4:] == ["the", ".", "x"]


def test_json_round_trip():
    vocab = Vocab.build(TRAIN, min_count=1, lowercase=False, normalize_digits=True)
    again = Vocab.from_dict(json_round_trip(vocab.to_dict()))
    assert again == vocab
    assert again.words == vocab.words
    assert again.lookup(["The", "2000", "zzz"]).tolist() == vocab.lookup(["The", "2000", "zzz"]).tolist()
    with pytest.raises(ValueError, match="Vocab.to_dict"):
        Vocab.from_dict({"type": "something else"})


def test_constructor_rejects_duplicates_and_unnormalised_words():
    with pytest.raises(ValueError, match="twice"):
        Vocab(["a", "a"])
    with pytest.raises(ValueError, match="reserved"):
        Vocab(["<unk>"])
    with pytest.raises(ValueError, match="not normalised"):
        Vocab(["Paris"])
    assert Vocab(["Paris"], lowercase=False).words[4:] == ["Paris"]


def test_build_rejects_a_bare_string():
    with pytest.raises(TypeError, match="lists of tokens"):
        Vocab.build(["The cat sat"])


# --- features ----------------------------------------------------------------------------------------
