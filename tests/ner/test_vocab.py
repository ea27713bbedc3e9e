"""The vocabulary (reserved ids, counting, normalisation, JSON) and the word features."""

import copy
import json
import pickle

import numpy as np
import pytest

from window_ner.ner.vocab import (
    BOS,
    EOS,
    FEATURES,
    PAD,
    UNK,
    CapsFeature,
    Featurizer,
    ShapeFeature,
    SuffixFeature,
    Vocab,
    caps_feature,
    caps_id,
    feature_from_dict,
    make_feature,
    word_shape,
)

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

@pytest.mark.parametrize("word, expected", [
    ("cat", 1), ("über", 1), ("東京", 1), ("e-mail", 1),
    ("EU", 2), ("U.S.", 2), ("I", 2), ("A1", 2),
    ("Paris", 3), ("Smith's", 3), ("Élodie", 3),
    ("McDonald", 4), ("iPhone", 4), ("Jean-Pierre", 4), ("eBay", 4),
    ("1996", 5), (".", 5), ("1996-08-22", 5), ("", 5),
])
def test_caps_classes(word, expected):
    assert caps_id(word) == expected


def test_caps_feature():
    ids = caps_feature(["The", "EU", "said", "3", "iPod"])
    assert ids.dtype == np.int64
    assert ids.tolist() == [3, 2, 1, 5, 4]
    feature = make_feature("caps")
    assert isinstance(feature, CapsFeature) and feature.size == 6 and feature.name == "caps"
    assert feature(["The"]).tolist() == [3]
    assert caps_feature([]).shape == (0,)


def test_suffix_feature():
    feature = SuffixFeature.fit(TRAIN, n=2)
    assert feature.name == "suffix2"
    assert feature.keys[:3] == ["he", "at", "."]  # 3 each, in first-seen order; "The"/"THE" count as "he"
    assert feature.size == len(feature.keys) + 2
    ids = feature(["THE", "bat", "xyz", "."])
    assert ids.tolist() == [2, 3, 1, 4]  # an unseen suffix gets 1; 0 is padding
    assert 0 not in feature(["a", "ab", "abc"]).tolist()
    assert SuffixFeature.fit(TRAIN, n=3, min_count=2).keys == ["the", ".", "cat"]


def test_shape_feature():
    assert [word_shape(w) for w in ["Smith", "U.S.", "1996-08-22", "McDonald's", "cat", "", "X1"]] == [
        "Xx", "X.X.", "d-d-d", "XxXx'x", "x", "", "Xd"]
    feature = ShapeFeature.fit(TRAIN)
    assert feature(["Dog", "ZZ9"]).tolist() == [feature.keys.index("Xx") + 2, 1]


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_every_registered_feature_serialises_and_follows_the_protocol(name):
    feature = make_feature(name, TRAIN)
    assert isinstance(feature, Featurizer)
    assert feature.name == name
    again = feature_from_dict(json_round_trip(feature.to_dict()))
    assert again == feature and again.name == name and again.size == feature.size
    tokens = ["The", "cat", "Zebra", "99", "!"]
    ids = feature(tokens)
    assert ids.dtype == np.int64 and ids.shape == (5,)
    assert ids.tolist() == again(tokens).tolist()
    assert ((ids >= 1) & (ids < feature.size)).all()
    for clone in (pickle.loads(pickle.dumps(feature)), copy.deepcopy(feature)):
        assert clone == feature and clone(tokens).tolist() == ids.tolist()


def test_unknown_features():
    with pytest.raises(ValueError, match="choose from caps, shape, suffix2, suffix3"):
        make_feature("colour")
    with pytest.raises(ValueError, match="unknown saved feature"):
        feature_from_dict({"type": "colour"})
