"""The chars feature: character ids per word, the character CNN module, and a model that trains with it."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest

from window_ner.autodiff import Tensor, concat, gradcheck, masked_max, unfold
from window_ner.errors import InputError
from window_ner.ner.experiment import Experiment, run_experiment, sample_corpus
from window_ner.ner.inference.tagger import Tagger
from window_ner.ner.model.chars import WORD_BEGIN, WORD_END, CharCNN, CharsFeature
from window_ner.ner.model.classifier import ModelOptions
from window_ner.ner.model.features import FEATURE_PAD, FEATURE_UNK, FEATURES, feature_from_dict, make_feature
from window_ner.ner.training.loop import TrainConfig

TRAIN = [["The", "cat", "sat", "."], ["EU", "rejects", "German", "call"]]


# ------------------------------------------------------------------ the primitives


def test_masked_max_sends_the_gradient_to_the_winning_position_only() -> None:
    x = Tensor(np.array([[1.0, 5.0], [3.0, 2.0], [9.0, 9.0]]), requires_grad=True, dtype=np.float64)
    mask = np.array([True, True, False])  # the last position is padding
    out = masked_max(x, mask)
    np.testing.assert_array_equal(out.data, [3.0, 5.0])
    out.backward(np.array([10.0, 20.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 20.0], [10.0, 0.0], [0.0, 0.0]])


def test_padding_never_wins_the_masked_max_however_large() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5, 4))
    lengths = np.array([1, 2, 5, 3, 4, 1])
    mask = np.arange(5) < lengths[:, None]
    x[~mask] = 1e6
    out = masked_max(Tensor(x), mask)
    expected = np.stack([x[i, :n].max(axis=0) for i, n in enumerate(lengths)])
    np.testing.assert_array_equal(out.data, expected)


def test_masked_max_refuses_a_row_without_a_position_and_a_mask_of_another_shape() -> None:
    with pytest.raises(ValueError, match="at least one true position"):
        masked_max(Tensor(np.zeros((2, 3, 4))), np.array([[True, False, False], [False, False, False]]))
    with pytest.raises(ValueError, match="shape"):
        masked_max(Tensor(np.zeros((2, 3, 4))), np.ones((2, 4), dtype=bool))


def test_unfold_then_a_product_is_a_one_dimensional_convolution() -> None:
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 7, 3)), rng.standard_normal((3, 3, 4))  # width 3, 3 inputs, 4 filters
    out = unfold(Tensor(x), 3) @ Tensor(w.reshape(9, 4))
    expected = np.stack([sum(x[:, t + j] @ w[j] for j in range(3)) for t in range(5)], axis=1)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="width"):
        unfold(Tensor(x), 8)


def test_the_char_cnn_passes_a_float64_gradient_check() -> None:
    feature = CharsFeature.fit(TRAIN)
    module = CharCNN(feature.size, 4, 3, 3, rng=np.random.default_rng(2), dtype=np.float64)
    ids = np.stack([feature.ids(["The", "cat", "EU"]), feature.ids(["cat", "a", "German"])])
    ids[1, 1] = FEATURE_PAD  # a padding position beyond a sentence's edge

    padding_row = Tensor(np.zeros((1, 4)), dtype=np.float64)  # the padding row never trains: keep it fixed

    def run(rows: Tensor, weights: Tensor, bias: Tensor) -> Tensor:
        module.chars.weight = concat([padding_row, rows], axis=0)
        module.conv.W, module.conv.b = weights, bias
        return module(ids)

    params = [Tensor(p.data.copy(), requires_grad=True, dtype=np.float64)
              for p in (module.chars.weight[1:], module.conv.W, module.conv.b)]
    assert gradcheck(run, params)


# ------------------------------------------------------------------ the feature


def test_ids_mark_the_word_pad_it_and_truncate_it() -> None:
    feature = CharsFeature(["a", "b", "c"], max_len=5)
    ids = feature.ids(["ab", "abcz", "", "cabbage"])
    assert ids.dtype == np.int64 and ids.shape == (4, 5)
    a, b, c = 4, 5, 6
    assert ids.tolist() == [[WORD_BEGIN, a, b, WORD_END, FEATURE_PAD],
                            [WORD_BEGIN, a, b, c, WORD_END][:4] + [WORD_END],  # truncated to 3 characters
                            [WORD_BEGIN, WORD_END, FEATURE_PAD, FEATURE_PAD, FEATURE_PAD],
                            [WORD_BEGIN, c, a, b, WORD_END]]
    assert feature.ids(["z"]).tolist() == [[WORD_BEGIN, FEATURE_UNK, WORD_END, 0, 0]]
    assert feature.size == 3 + 4


def test_the_feature_is_registered_and_fits_the_training_characters() -> None:
    assert FEATURES.get("chars") is CharsFeature
    feature = make_feature("chars", TRAIN)
    assert set(feature.chars) == set("".join(t for s in TRAIN for t in s))
    assert feature.chars[:2] == ["a", "e"]  # most frequent first (4 each), ties in character order
    assert CharsFeature.fit(TRAIN, min_count=4).chars == ["a", "e"]
    assert CharsFeature.fit(TRAIN, min_count=3).chars == ["a", "e", "c", "t"]


def test_the_feature_round_trips_through_json_and_pickle() -> None:
    feature = CharsFeature.fit(TRAIN, min_count=1)
    feature = CharsFeature(feature.chars, max_len=12)
    again = feature_from_dict(json.loads(json.dumps(feature.to_dict())))
    tokens = ["German", "Zürich", "x" * 30]
    assert again == feature and again.max_len == 12
    np.testing.assert_array_equal(again.ids(tokens), feature.ids(tokens))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(feature)).ids(tokens), feature.ids(tokens))


@pytest.mark.parametrize("data", [{"type": "chars", "chars": "abc"}, {"type": "chars", "chars": ["ab"]},
                                  {"type": "chars", "chars": ["a", "a"]}, {"type": "chars", "max_len": 2}])
def test_a_damaged_description_is_an_input_error(data: dict) -> None:
    with pytest.raises(InputError):
        feature_from_dict(data)


def test_the_module_gives_one_vector_per_position_computed_from_the_word_alone() -> None:
    feature = CharsFeature.fit(TRAIN)
    module = feature.module(feature.size, 7, np.random.default_rng(3))
    windows = np.stack([feature.ids(["The", "cat", "sat"]), feature.ids(["cat", "EU", "The"])])
    windows[0, 0] = FEATURE_PAD
    out = module(windows)
    assert out.shape == (2, 3 * 7) and out.dtype == np.float32
    vectors = out.data.reshape(2, 3, 7)
    np.testing.assert_array_equal(vectors[0, 1], vectors[1, 0])  # "cat" in two windows
    alone = module.words(feature.ids(["EU"])).data[0]
    np.testing.assert_allclose(vectors[1, 1], alone, rtol=1e-6)
    out.sum().backward()
    assert module.conv.W.grad.shape == module.conv.W.shape
    assert FEATURE_PAD not in module.chars.weight.grad.rows  # padding's row never moves


def test_a_longer_max_len_or_trailing_padding_does_not_change_a_words_vector() -> None:
    short, long = CharsFeature(list("abc"), max_len=8), CharsFeature(list("abc"), max_len=20)
    module = short.module(short.size, 5, np.random.default_rng(4))
    words = ["abcab", "a", "cc"]
    np.testing.assert_allclose(module.words(short.ids(words)).data, module.words(long.ids(words)).data, rtol=1e-6)


# ------------------------------------------------------------------ a model with characters


def test_a_model_with_caps_and_chars_trains_tags_saves_and_loads_identically(tmp_path) -> None:
    exp = Experiment(train_path=sample_corpus("train"), dev_path=sample_corpus("dev"), out=tmp_path,
                     model=ModelOptions(features=("caps", "chars"), dropout_input=0.0, dropout_hidden=0.0),
                     training=TrainConfig(epochs=2, patience=0, seed=1), progress=False)
    results, tagger = run_experiment(exp, log=io.StringIO())
    assert results["dev"]["f1"] > 0.2
    assert "chars" in tagger.encoder.features and "chars" in tagger.model.features
    sentences = [["Angela", "Merkel", "flew", "to", "Paris", "."], ["EU", "rejects", "German", "call"]]
    loaded = Tagger.load(tmp_path)
    assert loaded.encoder.features["chars"] == tagger.encoder.features["chars"]
    assert loaded.predict(sentences) == tagger.predict(sentences)
    np.testing.assert_array_equal(loaded.log_probs(loaded.encoder.encode(sentences)),
                                  tagger.log_probs(tagger.encoder.encode(sentences)))
