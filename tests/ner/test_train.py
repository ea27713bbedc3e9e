"""Training: reproducible bit for bit, early stopping, metrics.jsonl, clean Ctrl-C, and a loss that goes down."""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.ner._trained import EPOCHS, multiclass_model
from window_ner import nn
from window_ner.ner.data.conll import load_conll
from window_ner.ner.data.labels import SchemeLabels
from window_ner.ner.experiment import Experiment, run_experiment, sample_corpus
from window_ner.ner.model.classifier import ModelConfig, ModelOptions, WindowClassifier
from window_ner.ner.model.encoder import EncodedCorpus, Encoder
from window_ner.ner.training.hooks import Hook
from window_ner.ner.training.loop import TrainConfig, TrainingDiverged, make_optimizer, train


@cache
def small_corpus() -> tuple[Encoder, EncodedCorpus]:
    """The first 150 sentences of the sample corpus, encoded (fast enough for many short trainings)."""
    sentences = load_conll(sample_corpus("train"))[:150]
    tokens, gold = [s.tokens for s in sentences], [s.tags for s in sentences]
    encoder = Encoder.build(tokens, SchemeLabels.fit(gold, "IOB2", "IOBES"))
    return encoder, encoder.encode(tokens, gold, "IOB2")


def small_model(seed: int = 0) -> WindowClassifier:
    encoder, _ = small_corpus()
    config = ModelConfig(vocab_size=len(encoder.vocab), word_dim=10, features=("caps",), feature_sizes={"caps": 6},
                         feature_dims={"caps": 3}, hidden=(16,), dropout_input=0.0, dropout_hidden=0.3)
    return WindowClassifier(config, encoder.labels, np.random.default_rng(seed))


def states_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


class FakeDev:
    """An evaluate callable returning the given F1 per epoch; remembers the parameters it saw."""

    def __init__(self, f1s: list[float], interrupt_at: int | None = None):
        self.f1s = f1s
        self.interrupt_at = interrupt_at
        self.states: list[dict[str, np.ndarray]] = []

    def __call__(self, model: WindowClassifier) -> dict[str, float]:
        epoch = len(self.states) + 1
        if epoch == self.interrupt_at:
            raise KeyboardInterrupt
        self.states.append(model.state_dict())
        f1 = self.f1s[epoch - 1]
        return {"precision": f1, "recall": f1, "f1": f1}


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="lr must be a positive number, not nan"):
        TrainConfig(lr=float("nan"))
    for name in ("patience", "clip", "weight_decay", "momentum"):
        with pytest.raises(ValueError, match=f"{name} must be a number >= 0, not -1"):
            TrainConfig(**{name: -1})
    for decay in (0.0, 1.0, -2.0):
        with pytest.raises(ValueError, match=r"lr_decay must be in \(0, 1\)"):
            TrainConfig(lr_decay=decay)
    config = TrainConfig(epochs=3, optimizer="sgd", lr=0.1)
    assert TrainConfig.from_dict({**config.to_dict(), "unknown": 1}) == config


@pytest.mark.parametrize(("name", "kind"), [("adam", nn.Adam), ("adamw", nn.AdamW), ("sgd", nn.SGD),
                                             ("adagrad", nn.Adagrad)])
def test_make_optimizer(name: str, kind: type) -> None:
    params = list(small_model().parameters())
    optimizer = make_optimizer(params, TrainConfig(optimizer=name, lr=0.05))
    assert isinstance(optimizer, kind)
    assert optimizer.lr == 0.05


def test_same_seed_gives_the_same_model_bit_for_bit() -> None:
    def run(seed: int) -> dict[str, np.ndarray]:
        exp = Experiment(train_path=sample_corpus("train"), dev_path=sample_corpus("dev"),
                         training=TrainConfig(epochs=2, patience=0, seed=seed),
                         model=ModelOptions(dropout_input=0.2, dropout_hidden=0.5), progress=False)
        _, tagger = run_experiment(exp, log=io.StringIO())
        return tagger.model.state_dict()

    first, second = run(1), run(1)
    assert states_equal(first, second)
    assert not states_equal(first, run(2))


def test_early_stopping_stops_and_restores_the_best_parameters() -> None:
    _, data = small_corpus()
    model = small_model()
    dev = FakeDev([0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01, 0.0])
    saved: list[dict[str, Any]] = []
    logs = train(model, data, TrainConfig(epochs=8, patience=2, batch_size=64), evaluate=dev,
                 save_best=lambda m, info: saved.append(info), progress=False)
    assert [log.epoch for log in logs] == [1, 2, 3]  # two epochs without improvement, then stop
    assert [log.best for log in logs] == [True, False, False]
    assert [info["epoch"] for info in saved] == [1]
    assert states_equal(model.state_dict(), dev.states[0])
    assert not states_equal(dev.states[0], dev.states[2])  # training did change the model meanwhile
    assert not model.training


def test_patience_zero_trains_every_epoch_and_keeps_the_best() -> None:
    _, data = small_corpus()
    model = small_model()
    dev = FakeDev([0.1, 0.3, 0.2, 0.25])
    saved: list[int] = []
    logs = train(model, data, TrainConfig(epochs=4, patience=0, batch_size=64), evaluate=dev,
                 save_best=lambda m, info: saved.append(info["epoch"]), progress=False)
    assert len(logs) == 4
    assert saved == [1, 2]
    assert states_equal(model.state_dict(), dev.states[1])


def test_keyboard_interrupt_stops_cleanly_and_keeps_the_best_model(tmp_path: Path) -> None:
    _, data = small_corpus()
    model = small_model()
    dev = FakeDev([0.5, 0.9, 0.9], interrupt_at=2)
    saved: list[tuple[int, dict[str, np.ndarray]]] = []
    logs = train(model, data, TrainConfig(epochs=5, patience=0, batch_size=64), evaluate=dev,
                 save_best=lambda m, info: saved.append((info["epoch"], m.state_dict())), out_dir=tmp_path,
                 progress=False)
    assert [log.epoch for log in logs] == [1]
    assert logs.interrupted
    assert [epoch for epoch, _ in saved] == [1]
    assert states_equal(saved[0][1], dev.states[0])
    assert states_equal(model.state_dict(), dev.states[0])  # epoch 2's updates were rolled back
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["epoch"] == 1


def test_keyboard_interrupt_while_saving_keeps_the_saved_epoch_as_the_best(tmp_path: Path) -> None:
    _, data = small_corpus()
    model = small_model()
    dev = FakeDev([0.5, 0.9, 0.95])
    saved: list[int] = []

    def save_best(current: WindowClassifier, info: dict[str, Any]) -> None:
        if info["epoch"] == 2:
            raise KeyboardInterrupt  # Ctrl-C while the file of epoch 2 was being written (atomically)
        saved.append(info["epoch"])

    logs = train(model, data, TrainConfig(epochs=3, patience=0, batch_size=64), evaluate=dev, save_best=save_best,
                 progress=False)
    assert logs.interrupted and [log.epoch for log in logs] == [1]
    assert saved == [1]
    assert states_equal(model.state_dict(), dev.states[0])  # what the model file holds


def test_keyboard_interrupt_in_the_first_epoch_leaves_an_earlier_run_as_it_was(tmp_path: Path) -> None:
    _, data = small_corpus()
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n')
    logs = train(small_model(), data, TrainConfig(epochs=3, batch_size=64), evaluate=FakeDev([], interrupt_at=1),
                 out_dir=tmp_path, progress=False)
    assert logs == [] and logs.interrupted
    assert (tmp_path / "metrics.jsonl").read_text() == '{"epoch": 1}\n'


def test_progress_off_a_terminal_prints_one_line_per_epoch_and_no_bar(capsys: pytest.CaptureFixture[str]) -> None:
    _, data = small_corpus()
    train(small_model(), data, TrainConfig(epochs=2, patience=0, batch_size=64), evaluate=FakeDev([0.5, 0.4]),
          progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 2 and "\r" not in captured.err
    assert lines[0].startswith("epoch 1: loss ") and "dev F1 50.00 (best)" in lines[0]
    assert lines[1].startswith("epoch 2: loss ") and lines[1].split("dev F1 ")[1].startswith("40.00,")


def test_keyboard_interrupt_before_any_epoch_returns_no_logs() -> None:
    _, data = small_corpus()
    model = small_model()
    before = model.state_dict()
    logs = train(model, data, TrainConfig(epochs=3, batch_size=64), evaluate=FakeDev([], interrupt_at=1),
                 progress=False)
    assert logs == []
    assert not states_equal(model.state_dict(), before)  # nothing to restore: the trained weights stay


def test_metrics_jsonl_has_one_line_per_epoch(tmp_path: Path) -> None:
    _, data = small_corpus()
    dev = FakeDev([0.2, 0.4, 0.6])
    logs = train(small_model(), data, TrainConfig(epochs=3, patience=0, batch_size=64, schedule="step", lr_decay=0.5),
                 evaluate=dev, out_dir=tmp_path / "run", progress=False)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    for line, log, f1 in zip(lines, logs, [0.2, 0.4, 0.6], strict=True):
        assert line["seconds"] > 0
        # both are rounded (seconds to the millisecond): their product is the number of training tokens
        assert abs(line["tokens_per_s"] * line["seconds"] - len(data)) <= 0.0006 * line["tokens_per_s"] + 1
        assert line["train_loss"] == log.train_loss > 0
        assert line["dev"] == {"precision": f1, "recall": f1, "f1": f1}
    assert [line["lr"] for line in lines] == pytest.approx([1e-3, 5e-4, 2.5e-4])


def test_metrics_of_a_real_run_hold_dev_precision_recall_f1() -> None:
    trained = multiclass_model()
    lines = [json.loads(line) for line in (trained.folder / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == EPOCHS
    for line in lines:
        assert {"seconds", "tokens_per_s", "train_loss", "dev"} <= line.keys()
        assert {"precision", "recall", "f1"} <= line["dev"].keys()
        assert 0 <= line["dev"]["f1"] <= 1
    f1s = [line["dev"]["f1"] for line in lines]
    assert [line["best"] for line in lines] == [f1 > max(f1s[:i], default=-1) for i, f1 in enumerate(f1s)]
    assert trained.results["best_epoch"] == 1 + f1s.index(max(f1s))


def test_loss_decreases_over_epochs_on_the_sample_corpus() -> None:
    trained = multiclass_model()
    losses = [json.loads(line)["train_loss"] for line in (trained.folder / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == EPOCHS
    assert all(later < earlier for earlier, later in zip(losses, losses[1:], strict=False))
    assert losses[-1] < 0.7 * losses[0]
    assert trained.results["dev"]["f1"] > 0.5  # and it learned to find entities


def test_without_evaluate_the_lowest_loss_epoch_counts_as_best() -> None:
    _, data = small_corpus()
    logs = train(small_model(), data, TrainConfig(epochs=3, patience=0, batch_size=64), progress=False)
    assert all(log.dev is None for log in logs)
    assert [log.best for log in logs] == [True, True, True]


@pytest.mark.parametrize("schedule", ["step", "plateau", "linear"])
def test_schedules_change_the_learning_rate(schedule: str) -> None:
    """Each schedule moves the rate the way its name says; the per-epoch log records it."""
    _, data = small_corpus()
    config = TrainConfig(epochs=4, batch_size=64, schedule=schedule, lr=1e-2, lr_decay=0.5, patience=0)
    logs = train(small_model(), data, config, evaluate=FakeDev([0.5, 0.4, 0.3, 0.2]), progress=False)
    rates = [entry.lr for entry in logs]
    if schedule == "step":
        assert rates == pytest.approx([1e-2, 5e-3, 2.5e-3, 1.25e-3])
    elif schedule == "plateau":  # dev F1 falls every epoch: after two bad epochs (patience 1) it halves
        assert rates[0] == rates[1] == rates[2] == pytest.approx(1e-2) and rates[3] == pytest.approx(5e-3)
    else:  # the rate each epoch ends with: full after the warm-up epoch, then falling to 0 at the very end
        assert rates[0] > rates[1] > rates[2] > rates[3] == 0


@pytest.mark.parametrize("lr", [1e30, 100.0])
def test_a_diverging_run_stops_with_a_clear_error_and_saves_nothing(lr: float) -> None:
    _, data = small_corpus()
    saved: list[int] = []
    with pytest.raises(TrainingDiverged, match=r"training diverged: the loss reached .* at epoch 1, batch \d+ .*--lr"):
        train(small_model(), data, TrainConfig(epochs=2, lr=lr, batch_size=64), evaluate=FakeDev([0.1, 0.2]),
              save_best=lambda m, info: saved.append(info["epoch"]), progress=False)
    assert saved == []


def test_parameters_that_are_no_longer_finite_stop_training_before_the_epoch_is_saved() -> None:
    _, data = small_corpus()

    class PoisonAfterTheLastBatch(Hook):  # the loss never sees it: only the parameter check can
        batches = 0

        def on_batch(self, state: Any, loss: float) -> None:
            self.batches += 1
            if self.batches == state.batches_per_epoch:
                state.model.words.weight.data[0, 0] = np.nan

    saved: list[int] = []
    with pytest.raises(TrainingDiverged, match=r"parameter 'words.weight' holds NaN or infinite values after epoch 1"):
        train(small_model(), data, TrainConfig(epochs=2, batch_size=64), evaluate=FakeDev([0.1, 0.2]),
              save_best=lambda m, info: saved.append(info["epoch"]), progress=False,
              hooks=[PoisonAfterTheLastBatch()])
    assert saved == []


def test_a_normal_run_does_not_count_as_diverged() -> None:
    _, data = small_corpus()
    logs = train(small_model(), data, TrainConfig(epochs=2, lr=0.1, batch_size=64), progress=False)
    assert len(logs) == 2
