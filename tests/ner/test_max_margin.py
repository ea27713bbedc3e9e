"""The lecture's max-margin loss for the binary model: J = max(0, 1 - s + s_c) against corrupt windows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli.test_cli import run
from window_ner.errors import InputError
from window_ner.ner.data.labels import TypeLabels
from window_ner.ner.experiment import sample_corpus
from window_ner.ner.inference.tagger import Tagger
from window_ner.ner.model.classifier import ModelConfig, WindowClassifier
from window_ner.ner.model.heads import BinaryHead


def _model(loss: str, seed: int = 0) -> WindowClassifier:
    config = ModelConfig(vocab_size=40, word_dim=4, hidden=(6,), features=(), feature_sizes={}, head="binary",
                         head_options=BinaryHead.Options("LOC", loss=loss), dropout_input=0, dropout_hidden=0)
    return WindowClassifier(config, TypeLabels("LOC"), np.random.default_rng(seed), dtype=np.float64)


def test_the_loss_is_the_hinge_of_each_true_window_against_its_corrupt_copy() -> None:
    model = _model("max-margin")
    rng = np.random.default_rng(1)
    windows = rng.integers(4, 40, size=(12, 5))
    targets = np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0])
    model.head._corrupt_rng = np.random.default_rng(5)
    loss = model.head.batch_loss(model, (windows, {}), targets)
    # replay the head's draws: the corrupt centre words come from the other windows' centres
    corrupt = windows[targets == 1].copy()
    corrupt[:, 2] = np.random.default_rng(5).choice(windows[targets != 1, 2], size=3)
    s = model(windows[targets == 1], {}).data
    s_c = model(corrupt, {}).data
    assert set(corrupt[:, 2]) <= set(windows[targets != 1, 2])
    assert loss.item() == pytest.approx(np.maximum(0, 1 - s + s_c).mean(), rel=1e-12)


def test_a_batch_without_a_true_window_has_zero_loss_and_zero_gradient() -> None:
    model = _model("max-margin")
    loss = model.head.batch_loss(model, (np.full((4, 5), 7), {}), np.zeros(4, dtype=np.int64))
    loss.backward()
    grads = [p.grad.values if hasattr(p.grad, "values") else p.grad for p in model.parameters() if p.grad is not None]
    assert loss.item() == 0 and grads and all(not np.any(g) for g in grads)


def test_the_logistic_model_draws_the_same_numbers_as_before() -> None:
    ours, plain = _model("logistic"), _model("logistic")
    assert all(np.array_equal(a, b) for a, b in zip(ours.state_dict().values(), plain.state_dict().values(),
                                                    strict=True))
    assert ours.head._corrupt_rng is None


def test_an_unknown_loss_is_refused() -> None:
    with pytest.raises(InputError, match="max-margin"):
        BinaryHead.Options("LOC", loss="hinge")


def test_training_with_max_margin_from_the_cli_lowers_the_loss_and_saves_the_choice(
        capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    code, out, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                         "--binary", "LOC", "--loss", "max-margin", "--epochs", "4", "--out", tmp_path / "m",
                         "--no-progress", "--dropout-input", "0", "--dropout-hidden", "0")
    assert code == 0, err
    losses = [json.loads(line)["train_loss"] for line in (tmp_path / "m" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]
    tagger = Tagger.load(tmp_path / "m")
    assert tagger.model.head.options.loss == "max-margin"
    assert tagger("He lives in Paris .") is not None


def test_loss_without_binary_is_one_line_exit_2(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--loss", "max-margin", "--out", tmp_path / "m")
    assert code == 2 and "--binary" in err
