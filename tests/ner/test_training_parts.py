"""Sentence and window batches, the loop's progress, hooks, and the registries training reads."""

from __future__ import annotations

import numpy as np
import pytest

from tests.ner.test_train import small_corpus, small_model
from window_ner.errors import InputError
from window_ner.ner.training.batches import SentenceBatches, WindowBatches
from window_ner.ner.training.hooks import SCHEDULES, Hook
from window_ner.ner.training.loop import (
    OPTIMIZERS,
    TrainConfig,
    TrainState,
    make_optimizer,
    train,
    train_while_improving,
)


def test_sentence_batches_cover_every_token_once_with_a_mask_per_sentence() -> None:
    _, data = small_corpus()
    batching = SentenceBatches(data, batch_size=64)
    batches = list(batching.epoch(np.random.default_rng(0)))
    assert len(batches) == len(batching)
    tokens = np.concatenate([b.tokens for b in batches])
    assert sorted(tokens.tolist()) == list(range(len(data)))
    for batch in batches:
        assert batch.mask is not None and batch.mask.sum() == len(batch)
        padded = np.full(batch.mask.shape, -1)
        padded[batch.mask] = batch.tokens
        for row, length in zip(padded, batch.mask.sum(axis=1), strict=True):
            first = row[0]
            assert row[:length].tolist() == list(range(first, first + length))  # one whole sentence
            assert first in data.starts  # starting where its sentence starts


def test_window_batches_are_a_permutation_cut_into_batch_size_pieces() -> None:
    _, data = small_corpus()
    batches = list(WindowBatches(data, 100).epoch(np.random.default_rng(0)))
    assert [len(b) for b in batches[:-1]] == [100] * (len(batches) - 1)
    np.testing.assert_array_equal(np.concatenate([b.tokens for b in batches]),
                                  np.random.default_rng(0).permutation(len(data)))


def test_the_loop_yields_each_batch_then_the_epoch_and_stops_when_a_hook_says_so() -> None:
    _, data = small_corpus()
    model = small_model()
    config = TrainConfig(epochs=3, batch_size=512)
    state = TrainState(model, make_optimizer(list(model.parameters()), config), config, WindowBatches(data, 512))
    seen = []
    for progress in train_while_improving(state, data):
        seen.append("epoch" if progress.log is not None else "batch")
        if progress.log is not None and progress.log.epoch == 2:
            state.stop = True
    per_epoch = len(state.batching)
    assert seen == (["batch"] * per_epoch + ["epoch"]) * 2


def test_a_users_hook_sees_every_moment_and_sentence_batching_trains(tmp_path) -> None:
    class Recorder(Hook):
        def __init__(self) -> None:
            self.events: list[str] = []

        def on_start(self, state) -> None:
            self.events.append("start")

        def on_batch(self, state, loss: float) -> None:
            assert np.isfinite(loss)
            self.events.append("batch")

        def on_epoch(self, state, log) -> None:
            self.events.append(f"epoch {log.epoch}")

        def on_end(self, state) -> None:
            self.events.append("end")

    _, data = small_corpus()
    recorder = Recorder()
    logs = train(small_model(), data, TrainConfig(epochs=2, batching="sentences"), progress=False, hooks=[recorder])
    assert len(logs) == 2 and logs[1].train_loss < logs[0].train_loss
    assert recorder.events[0] == "start" and recorder.events[-1] == "end"
    assert recorder.events.count("epoch 1") == 1 and "batch" in recorder.events


def test_training_choices_are_registry_names_and_an_unknown_one_lists_them() -> None:
    assert OPTIMIZERS.names() == ["adam", "adamw", "sgd", "adagrad"]
    assert SCHEDULES.names() == ["constant", "step", "plateau", "linear"]
    with pytest.raises(InputError, match="unknown schedule 'cosine'; choose from constant, step, plateau, linear"):
        TrainConfig(schedule="cosine")
    with pytest.raises(InputError, match="unknown batching 'documents'"):
        TrainConfig(batching="documents")
