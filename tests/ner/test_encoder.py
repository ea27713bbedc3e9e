"""Encoder: token lists to windows of word and feature ids, gold tags to target ids, and back to JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from window_ner.ner.data.labels import SchemeLabels, TypeLabels
from window_ner.ner.data.vocab import BOS, EOS, UNK
from window_ner.ner.model.encoder import Encoder, _feature_windows
from window_ner.ner.model.features import FEATURE_PAD

SENTENCES = [["Paris", "is", "nice"], ["New", "York", "City", "is", "big"], ["EU"]]
GOLD_IOB2 = [["B-LOC", "O", "O"], ["B-LOC", "I-LOC", "I-LOC", "O", "O"], ["B-ORG"]]


def build(scheme: str = "IOBES", binary_type: str | None = None, **options: object) -> Encoder:
    labels = TypeLabels(binary_type) if binary_type else SchemeLabels.fit(GOLD_IOB2, "IOB2", scheme)
    return Encoder.build(SENTENCES, labels, **{"window": 2, **options})


def test_build_makes_the_tag_set_in_the_models_scheme() -> None:
    encoder = build()
    assert encoder.tags == ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-ORG", "I-ORG", "E-ORG", "S-ORG"]
    assert build(scheme="IOB2").tags == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
    assert encoder.feature_sizes == {"caps": 6}


def test_windows_hold_the_neighbours_and_stop_at_sentence_edges() -> None:
    encoder = build()
    data = encoder.encode(SENTENCES)
    ids = [encoder.vocab.lookup(s) for s in SENTENCES]
    assert data.word_windows.shape == (9, 5)
    assert len(data) == 9
    np.testing.assert_array_equal(data.starts, [0, 3, 8, 9])
    np.testing.assert_array_equal(data.lengths, [3, 5, 1])
    np.testing.assert_array_equal(data.word_windows[:, 2], np.concatenate(ids))
    paris, is_, nice = ids[0]
    np.testing.assert_array_equal(data.word_windows[0], [BOS, BOS, paris, is_, nice])
    np.testing.assert_array_equal(data.word_windows[2], [paris, is_, nice, EOS, EOS])
    new, york, city, is2, big = ids[1]
    np.testing.assert_array_equal(data.word_windows[3], [BOS, BOS, new, york, city])  # nothing of sentence 1
    np.testing.assert_array_equal(data.word_windows[5], [new, york, city, is2, big])
    np.testing.assert_array_equal(data.word_windows[8], [BOS, BOS, ids[2][0], EOS, EOS])


def test_feature_windows_pad_with_the_feature_padding_id() -> None:
    data = build().encode(SENTENCES)
    caps = data.feature_windows["caps"]
    assert caps.shape == data.word_windows.shape
    # Paris: initial capital (3); is, nice: lower case (1); EU: all capitals (2)
    np.testing.assert_array_equal(caps[0], [FEATURE_PAD, FEATURE_PAD, 3, 1, 1])
    np.testing.assert_array_equal(caps[8], [FEATURE_PAD, FEATURE_PAD, 2, FEATURE_PAD, FEATURE_PAD])


def test_words_are_lowercased_and_unknown_words_map_to_unk() -> None:
    encoder = build()
    data = encoder.encode([["PARIS", "Zanzibar"]])
    assert data.word_windows[0, 2] == encoder.vocab.index("paris")
    assert data.word_windows[1, 2] == UNK


def test_targets_are_gold_tags_converted_to_the_models_scheme() -> None:
    encoder = build()
    data = encoder.encode(SENTENCES, GOLD_IOB2, "IOB2")
    expected = ["S-LOC", "O", "O", "B-LOC", "I-LOC", "E-LOC", "O", "O", "S-ORG"]
    assert [encoder.tags[i] for i in data.targets] == expected


def test_iob1_gold_is_converted_too() -> None:
    encoder = build()
    iob1 = [["I-LOC", "O", "O"], ["I-LOC", "I-LOC", "I-LOC", "O", "O"], ["I-ORG"]]
    data = encoder.encode(SENTENCES, iob1, "IOB1")
    assert [encoder.tags[i] for i in data.targets][:6] == ["S-LOC", "O", "O", "B-LOC", "I-LOC", "E-LOC"]


def test_without_gold_targets_are_minus_one() -> None:
    data = build().encode(SENTENCES)
    assert np.all(data.targets == -1)


def test_a_tag_unseen_in_training_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="S-PER.*not seen"):  # named in the model's scheme
        build().encode([["Ann"]], [["B-PER"]], "IOB2")


def test_binary_targets_say_whether_the_token_is_of_the_type() -> None:
    encoder = build(binary_type="LOC")
    assert encoder.tags == ["O", "LOC"]
    data = encoder.encode(SENTENCES, GOLD_IOB2, "IOB2")
    np.testing.assert_array_equal(data.targets, [1, 0, 0, 1, 1, 1, 0, 0, 0])


def test_window_size_and_features_are_configurable() -> None:
    encoder = build(window=0, feature_names=())
    data = encoder.encode(SENTENCES)
    assert data.word_windows.shape == (9, 1)
    assert data.feature_windows == {}
    encoder = build(window=1, feature_names=("caps", "suffix2"))
    data = encoder.encode(SENTENCES)
    assert set(data.feature_windows) == {"caps", "suffix2"}
    assert data.feature_windows["suffix2"].shape == (9, 3)


def test_a_batch_encodes_as_its_sentences_one_by_one() -> None:
    encoder = build(feature_names=("caps", "suffix3", "shape"))
    batch = [["Rome", "fell"], [], ["The", "EU", "met", "in", "Bonn", "."], ["x"]]
    together = encoder.encode(batch)
    alone = [encoder.encode([sentence]) for sentence in batch]
    np.testing.assert_array_equal(together.word_windows, np.concatenate([a.word_windows for a in alone]))
    for name in ("caps", "suffix3", "shape"):
        np.testing.assert_array_equal(together.feature_windows[name],
                                      np.concatenate([a.feature_windows[name] for a in alone]))
    np.testing.assert_array_equal(together.lengths, [2, 0, 6, 1])


def test_gold_tags_that_do_not_line_up_with_the_tokens_are_an_error() -> None:
    encoder = build()
    with pytest.raises(ValueError, match="sentence 2 has 5 tokens but 4 gold tags"):
        encoder.encode(SENTENCES, [GOLD_IOB2[0], GOLD_IOB2[1][:4], GOLD_IOB2[2] + ["O"]], "IOB2")
    with pytest.raises(ValueError, match="3 sentences but 2 gold tag lists"):
        encoder.encode(SENTENCES, GOLD_IOB2[:2], "IOB2")


def test_empty_input_encodes_to_nothing() -> None:
    data = build().encode([])
    assert len(data) == 0
    assert data.word_windows.shape[1] == 5
    np.testing.assert_array_equal(data.starts, [0])


def test_json_round_trip_encodes_identically() -> None:
    encoder = build(feature_names=("caps", "suffix3", "shape"), binary_type=None)
    copy = Encoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert copy.tags == encoder.tags and copy.labels == encoder.labels and copy.window == encoder.window
    text = [["Berlin", "and", "Lyon", "ate", "soup", "!"]]
    a, b = encoder.encode(text), copy.encode(text)
    np.testing.assert_array_equal(a.word_windows, b.word_windows)
    assert set(a.feature_windows) == set(b.feature_windows)
    for name in a.feature_windows:
        np.testing.assert_array_equal(a.feature_windows[name], b.feature_windows[name])
    binary = Encoder.from_dict(json.loads(json.dumps(build(binary_type="LOC").to_dict())))
    assert binary.labels == TypeLabels("LOC") and binary.tags == ["O", "LOC"]


def test_a_feature_with_several_ids_per_token_gets_windows_of_id_rows() -> None:
    ids = np.array([[5, 6], [7, 8], [9, 10]])  # e.g. two characters per token; sentences [0, 1] and [2]
    out = _feature_windows(ids, np.array([0, 2]), 1)
    assert out.shape == (3, 3, 2)
    np.testing.assert_array_equal(out[0], [[FEATURE_PAD] * 2, [5, 6], [7, 8]])
    np.testing.assert_array_equal(out[2], [[FEATURE_PAD] * 2, [9, 10], [FEATURE_PAD] * 2])


def test_a_word_is_matched_in_its_nfc_form_without_invisible_joiners() -> None:
    labels = SchemeLabels.fit([["B-LOC", "O"]], "IOB2", "IOBES")
    encoder = Encoder.build([["S\u00e3o", "Berlin"]], labels, feature_names=("caps", "suffix3", "shape"))
    same = encoder.encode([["S\u00e3o", "Berlin"]])
    other_forms = encoder.encode([["Sa\u0303o", "Ber\u200dlin"]])
    assert UNK not in same.word_windows[:, 2]
    np.testing.assert_array_equal(other_forms.word_windows, same.word_windows)
    for name in ("caps", "suffix3", "shape"):
        np.testing.assert_array_equal(other_forms.feature_windows[name], same.feature_windows[name])
    decomposed_training = Encoder.build([["Sa\u0303o", "Berlin"]], labels)
    assert decomposed_training.vocab.words == encoder.vocab.words  # built from the same forms
