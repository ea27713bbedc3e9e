"""The window classifier against the lecture's formulas, in float64 against finite differences, and its embeddings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from window_ner import nn
from window_ner.autodiff import RowSparseGrad, gradcheck, no_grad
from window_ner.errors import InputError
from window_ner.memory import available_bytes
from window_ner.ner.data.labels import SchemeLabels, TypeLabels
from window_ner.ner.data.tags import tag_set
from window_ner.ner.model.classifier import ModelConfig, ModelOptions, WindowClassifier
from window_ner.ner.model.encoder import EncodedCorpus
from window_ner.ner.training.loop import TrainConfig, batch_loss, train

ACTIVATIONS = nn.ACTIVATIONS.names()

VOCAB, N_TAGS, WORD_DIM, CAPS_DIM, BATCH = 12, 5, 4, 3, 6
ACTIVATION_FN = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "hardtanh": lambda z: np.clip(z, -1.0, 1.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}


def tiny_config(binary: bool = False, **overrides: object) -> ModelConfig:
    settings: dict = {"vocab_size": VOCAB, "word_dim": WORD_DIM, "window": 1, "features": ("caps",),
                      "feature_sizes": {"caps": 6}, "feature_dims": {"caps": CAPS_DIM}, "hidden": (7,),
                      "dropout_input": 0.0, "dropout_hidden": 0.0}
    if binary:
        settings.update(head="binary", head_options={"type": "LOC"})
    settings.update(overrides)
    return ModelConfig(**settings)


def tiny_labels(config: ModelConfig) -> SchemeLabels | TypeLabels:
    return TypeLabels("LOC") if config.head == "binary" else SchemeLabels(tag_set(["LOC"], "IOBES"), "IOBES")


def tiny_model(seed: int = 0, dtype: type = np.float64, **overrides: object) -> WindowClassifier:
    config = tiny_config(**overrides)
    model = WindowClassifier(config, tiny_labels(config), np.random.default_rng(seed), dtype=dtype)
    for param in model.parameters():  # b and c start at zero: make them matter in the checks
        if np.all(param.data == 0) and param.ndim == 1:
            param.data[...] = np.random.default_rng(seed + 1).standard_normal(param.shape)
    return model


def batch(seed: int = 0, width: int = 3, n: int = BATCH, binary: bool = False) -> EncodedCorpus:
    """Random windows of word ids 1..VOCAB-1 (no padding id) and caps ids, with random targets."""
    rng = np.random.default_rng(seed)
    words = rng.integers(1, VOCAB, size=(n, width))
    caps = rng.integers(0, 6, size=(n, width))
    targets = rng.integers(0, 2 if binary else N_TAGS, size=n)
    return EncodedCorpus(words, {"caps": caps}, targets, np.array([0, n]))


def manual_scores(model: WindowClassifier, data: EncodedCorpus) -> np.ndarray:
    """The lecture's formulas in plain NumPy: x = [window vectors]; z = W x + b; h = f(z); U h + c or u . h."""
    n = len(data)
    x = np.concatenate([model.words.weight.data[data.word_windows].reshape(n, -1),
                        model.features["caps"].weight.data[data.feature_windows["caps"]].reshape(n, -1)], axis=1)
    f = ACTIVATION_FN[model.config.activation]
    h = x
    for layer in model.layers:
        h = f(h @ layer.W.data.T + layer.b.data)
    if model.config.head == "binary":
        return h @ model.head.u.data
    return h @ model.head.U.data.T + model.head.c.data


def scores(model: WindowClassifier, data: EncodedCorpus) -> np.ndarray:
    with no_grad():
        return model(data.word_windows, data.feature_windows).data


def test_parameters_carry_the_lectures_names_and_shapes() -> None:
    model = tiny_model()
    params = dict(model.named_parameters())
    input_dim = 3 * (WORD_DIM + CAPS_DIM)
    assert model.config.input_dim == input_dim
    assert params["layers.0.W"].shape == (7, input_dim)
    assert params["layers.0.b"].shape == (7,)
    assert params["head.U"].shape == (N_TAGS, 7)
    assert params["head.c"].shape == (N_TAGS,)
    assert params["words.weight"].shape == (VOCAB, WORD_DIM)
    assert params["features.caps.weight"].shape == (6, CAPS_DIM)
    assert "head.u" not in params


def test_binary_model_has_u_and_no_softmax_layer() -> None:
    model = tiny_model(binary=True)
    params = dict(model.named_parameters())
    assert params["head.u"].shape == (7,)
    assert "U" not in params and "c" not in params
    assert scores(model, batch()).shape == (BATCH,)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_forward_is_f_of_wx_plus_b_then_softmax_scores(activation: str) -> None:
    model = tiny_model(activation=activation)
    data = batch()
    out = scores(model, data)
    assert out.shape == (BATCH, N_TAGS)
    np.testing.assert_allclose(out, manual_scores(model, data), rtol=1e-12, atol=1e-12)


def test_activations_give_different_models() -> None:
    data = batch()
    outputs = [scores(tiny_model(activation=a), data) for a in ACTIVATIONS]
    for i in range(len(outputs)):
        for j in range(i + 1, len(outputs)):
            assert not np.allclose(outputs[i], outputs[j])


def test_binary_score_is_u_dot_h_and_loss_is_minus_log_sigma() -> None:
    model = tiny_model(binary=True)
    data = batch(binary=True)
    s = manual_scores(model, data)
    np.testing.assert_allclose(scores(model, data), s, rtol=1e-12)
    y = data.targets
    sigma = 1 / (1 + np.exp(-s))
    expected = -np.mean(y * np.log(sigma) + (1 - y) * np.log(1 - sigma))
    assert batch_loss(model, data, np.arange(BATCH)).item() == pytest.approx(expected, rel=1e-10)


def test_multiclass_loss_is_softmax_cross_entropy() -> None:
    model = tiny_model()
    data = batch()
    s = manual_scores(model, data)
    log_p = s - s.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    expected = -np.mean(log_p[np.arange(BATCH), data.targets])
    assert batch_loss(model, data, np.arange(BATCH)).item() == pytest.approx(expected, rel=1e-10)


def test_two_hidden_layers() -> None:
    model = tiny_model(hidden=(8, 6))
    params = dict(model.named_parameters())
    assert params["layers.0.W"].shape == (8, model.config.input_dim)
    assert params["layers.1.W"].shape == (6, 8)
    assert params["layers.1.b"].shape == (6,)
    assert params["head.U"].shape == (N_TAGS, 6)
    data = batch()
    np.testing.assert_allclose(scores(model, data), manual_scores(model, data), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradcheck_of_the_whole_models_loss(activation: str) -> None:
    model = tiny_model(activation=activation)
    data = batch()
    index = np.arange(BATCH)
    inputs = [model.layers[0].W, model.layers[0].b, model.head.U, model.head.c, model.words.weight,
              model.features["caps"].weight]
    assert gradcheck(lambda *_: batch_loss(model, data, index), inputs)


def test_gradcheck_binary_model_and_two_hidden_layers() -> None:
    model = tiny_model(binary=True, hidden=(5, 4))
    data = batch(binary=True)
    index = np.arange(BATCH)
    inputs = [model.layers[0].W, model.layers[0].b, model.layers[1].W, model.layers[1].b, model.head.u,
              model.words.weight]
    assert gradcheck(lambda *_: batch_loss(model, data, index), inputs)


def test_gradcheck_notices_a_wrong_gradient() -> None:
    """The check above can fail: a loss whose backward misses a term is caught."""
    model = tiny_model()
    data = batch()
    index = np.arange(BATCH)

    def wrong_loss(*_: object):  # the value depends on W through a path the graph does not see
        return batch_loss(model, data, index) + float(np.sum(model.layers[0].W.data ** 2))

    with pytest.raises(AssertionError):
        gradcheck(wrong_loss, [model.layers[0].W])


def test_fine_tuned_embeddings_get_row_sparse_gradient_on_the_batch_words_only() -> None:
    model = tiny_model()
    data = batch(n=4)
    batch_loss(model, data, np.arange(4)).backward()
    grad = model.words.weight.grad
    assert isinstance(grad, RowSparseGrad)
    np.testing.assert_array_equal(grad.rows, np.unique(data.word_windows))
    assert grad.values.shape == (len(np.unique(data.word_windows)), WORD_DIM)
    assert np.all(np.abs(grad.values).sum(axis=1) > 0)
    dense = grad.to_dense()
    untouched = np.setdiff1d(np.arange(VOCAB), data.word_windows)
    assert untouched.size > 0
    assert np.all(dense[untouched] == 0)


def test_word_vectors_initialise_the_table() -> None:
    vectors = np.random.default_rng(3).standard_normal((VOCAB, WORD_DIM))
    model = WindowClassifier(tiny_config(), tiny_labels(tiny_config()),
                             np.random.default_rng(0), word_vectors=vectors, dtype=np.float64)
    np.testing.assert_array_equal(model.words.weight.data, vectors)
    with pytest.raises(ValueError, match="shape"):
        WindowClassifier(tiny_config(), tiny_labels(tiny_config()),
                             np.random.default_rng(0), word_vectors=vectors[:, :2])


def test_frozen_embeddings_get_no_gradient_and_do_not_move() -> None:
    model = tiny_model(dtype=np.float32, freeze_embeddings=True)
    data = batch(n=64)
    before_words = model.words.weight.data.copy()
    before_w = model.layers[0].W.data.copy()
    batch_loss(model, data, np.arange(64)).backward()
    assert model.words.weight.grad is None
    assert model.layers[0].W.grad is not None
    # an optimiser over every parameter, frozen ones included, must leave them alone
    nn.Adam(list(model.parameters()), lr=0.1).step()
    np.testing.assert_array_equal(model.words.weight.data, before_words)
    assert not np.array_equal(model.layers[0].W.data, before_w)
    # and so must the training loop
    train(model, data, TrainConfig(epochs=2, batch_size=16, patience=0), progress=False)
    np.testing.assert_array_equal(model.words.weight.data, before_words)


def test_fine_tuned_embeddings_move_during_training() -> None:
    model = tiny_model(dtype=np.float32)
    data = batch(n=64)
    before = model.words.weight.data.copy()
    train(model, data, TrainConfig(epochs=1, batch_size=16, patience=0), progress=False)
    moved = np.flatnonzero(np.any(model.words.weight.data != before, axis=1))
    np.testing.assert_array_equal(moved, np.unique(data.word_windows))


def test_dropout_only_in_training_mode() -> None:
    model = tiny_model(dropout_input=0.5, dropout_hidden=0.5)
    plain = tiny_model()  # same seed: same parameters, no dropout
    for mine, theirs in zip(model.parameters(), plain.parameters(), strict=True):
        np.testing.assert_array_equal(mine.data, theirs.data)
    data = batch()
    model.train()
    first, second = scores(model, data), scores(model, data)
    assert not np.allclose(first, second)
    model.eval()
    first, second = scores(model, data), scores(model, data)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, scores(plain.eval(), data), rtol=1e-12)


def test_float32_by_default_and_float64_on_request() -> None:
    assert all(p.dtype == np.float32 for p in WindowClassifier(tiny_config(), tiny_labels(tiny_config()),
                             np.random.default_rng(0)).parameters())
    assert all(p.dtype == np.float64 for p in tiny_model().parameters())


def test_config_checks_and_round_trip() -> None:
    with pytest.raises(ValueError, match="activation"):
        tiny_config(activation="swish")
    with pytest.raises(ValueError, match="window"):
        tiny_config(window=-1)
    config = tiny_config(hidden=[8, 6], binary=True, dropout_input=0.2)
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert ModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config  # as the model file
    assert config.hidden == (8, 6)
    assert config.width == 3


def test_parameter_count_is_the_models_own() -> None:
    labels = SchemeLabels.fit([["B-PER", "I-PER", "O"]], "IOB2", "IOBES")
    config = ModelConfig(vocab_size=97, word_dim=7, window=2, hidden=(11, 5), features=("caps", "suffix3"),
                         feature_sizes={"caps": 6, "suffix3": 40}, feature_dims={"caps": 3})
    model = WindowClassifier(config, labels, np.random.default_rng(0))
    assert config.parameter_count(97, config.feature_sizes, len(labels.tags)) == sum(
        p.size for p in model.parameters())


def test_a_model_too_big_for_the_memory_is_refused_naming_its_sizes() -> None:
    options = ModelOptions(hidden=(10_000_000,))
    with pytest.raises(InputError, match=r"about 2\.\d+ TB of memory .* --hidden 10000000, --window 2, --word-dim 50;"
                                         r" batches of --batch-size 256\), but only 8 GB is available"):
        options.check_fits(0, {}, 2, 256, available=8 * 10**9)
    ModelOptions().check_fits(400_000, {"caps": 6}, 17, 256, available=8 * 10**9)  # the default fits
    options.check_fits(0, {}, 2, 256, available=None)  # unknown: no check


def test_available_memory_is_read_from_this_machine() -> None:
    available = available_bytes()
    assert available is None or 0 < available < 1 << 60
