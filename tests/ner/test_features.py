"""The feature extractors: capitalisation, suffixes, word shape; the registry; JSON; their modules."""

import copy
import json
import pickle

import numpy as np
import pytest

from window_ner.autodiff import Tensor
from window_ner.ner.model.features import (
    FEATURES,
    CapsFeature,
    Feature,
    ShapeFeature,
    Suffix2Feature,
    Suffix3Feature,
    caps_feature,
    caps_id,
    feature_from_dict,
    make_feature,
    word_shape,
)

TRAIN = [["The", "cat", "sat", "."], ["the", "Cat", "ran", "in", "1996", "."], ["THE", "end", "."]]


def json_round_trip(data):
    return json.loads(json.dumps(data))


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
    assert feature.ids(["The"]).tolist() == [3]
    assert caps_feature([]).shape == (0,)


def test_suffix_feature():
    feature = Suffix2Feature.fit(TRAIN)
    assert feature.name == "suffix2"
    assert feature.keys[:3] == ["he", "at", "."]  # 3 each, in first-seen order; "The"/"THE" count as "he"
    assert feature.size == len(feature.keys) + 2
    ids = feature.ids(["THE", "bat", "xyz", "."])
    assert ids.tolist() == [2, 3, 1, 4]  # an unseen suffix gets 1; 0 is padding
    assert 0 not in feature.ids(["a", "ab", "abc"]).tolist()
    assert Suffix3Feature.fit(TRAIN, min_count=2).keys == ["the", ".", "cat"]


def test_shape_feature():
    assert [word_shape(w) for w in ["Smith", "U.S.", "1996-08-22", "McDonald's", "cat", "", "X1"]] == [
        "Xx", "X.X.", "d-d-d", "XxXx'x", "x", "", "Xd"]
    feature = ShapeFeature.fit(TRAIN)
    assert feature.ids(["Dog", "ZZ9"]).tolist() == [feature.keys.index("Xx") + 2, 1]


@pytest.mark.parametrize("name", FEATURES.names())
def test_every_registered_feature_serialises_and_follows_the_protocol(name):
    feature = make_feature(name, TRAIN)
    assert isinstance(feature, Feature)
    assert feature.name == name
    again = feature_from_dict(json_round_trip(feature.to_dict()))
    assert again == feature and again.name == name and again.size == feature.size
    tokens = ["The", "cat", "Zebra", "99", "!"]
    if hasattr(feature, "values"):  # numbers from a first pass over documents (doc), not ids: its own tests
        with pytest.raises(TypeError):
            feature.ids(tokens)
        return
    ids = feature.ids(tokens)
    assert ids.dtype == np.int64 and ids.shape[0] == 5 and ids.ndim in (1, 2)  # (n,) or (n, k) for chars
    assert ids.tolist() == again.ids(tokens).tolist()
    assert ((ids >= 0) & (ids < feature.size)).all()
    assert (ids.reshape(5, -1)[:, 0] >= 1).all()  # 0 pads positions past a sentence's edge, never a token
    assert feature.default_dim >= 1
    for clone in (pickle.loads(pickle.dumps(feature)), copy.deepcopy(feature)):
        assert clone == feature and clone.ids(tokens).tolist() == ids.tolist()


def test_unknown_features():
    with pytest.raises(ValueError, match="unknown feature .colour.; choose from caps, suffix2, suffix3, shape"):
        make_feature("colour")
    with pytest.raises(ValueError, match="unknown feature"):
        feature_from_dict({"type": "colour"})


def test_a_features_module_turns_id_windows_into_one_vector_per_position():
    feature = make_feature("shape", TRAIN)
    module = feature.module(feature.size, 4, np.random.default_rng(0))
    windows = np.array([[0, 2, 3], [2, 3, 0]])
    out = module(windows)
    assert isinstance(out, Tensor) and out.shape == (2, 12)
    np.testing.assert_array_equal(out.data[0, 4:8], module.weight.data[2])


def test_a_registered_name_cannot_be_taken_twice():
    with pytest.raises(ValueError, match="registered already"):
        FEATURES.register("caps")(CapsFeature)
