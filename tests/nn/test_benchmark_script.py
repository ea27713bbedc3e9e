"""benchmarks/bench_train_step.py measures what it says: its batches look like text (or the worst case), and
its hand-written NumPy floor computes the gradients our engine computes."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tests._benchmarks import load_benchmark
from window_ner import nn


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("bench_train_step")


def distinct_word_ids(batches: list) -> float:
    return float(np.mean([np.unique(words[words > 0]).size for words, _, _ in batches]))


def test_text_like_batches_repeat_ids_as_text_does_and_uniform_ones_do_not(bench: ModuleType) -> None:
    text = bench.make_batches(np.random.default_rng(0), 8, ids="text")
    uniform = bench.make_batches(np.random.default_rng(0), 8, ids="uniform")
    assert 650 < distinct_word_ids(text) < 800  # CoNLL-2003 train batches of 256 windows: 723
    assert distinct_word_ids(uniform) > 1100
    words, caps, targets = text[0]
    assert words.shape == caps.shape == (bench.BATCH, bench.WIDTH) and targets.shape == (bench.BATCH,)
    assert words.max() < bench.VOCAB and (words == 0).any()  # padding at sentence edges
    with pytest.raises(ValueError, match="ids must be"):
        bench.make_batches(np.random.default_rng(0), 1, ids="zipf")


def test_hand_written_floor_computes_our_gradients(bench: ModuleType) -> None:
    model = bench.Window(np.random.default_rng(3), sparse=True)
    batch = bench.make_batches(np.random.default_rng(4), 1)[0]
    expected = bench.numpy_forward_backward(model)(batch)
    words, caps, targets = batch
    nn.cross_entropy(model(words, caps), targets).backward()
    for name, param in model.named_parameters():
        if isinstance(expected[name], tuple):  # a table: (rows, summed values)
            rows, values = expected[name]
            np.testing.assert_array_equal(param.grad.rows, rows)
            np.testing.assert_allclose(param.grad.values, values, rtol=1e-4, atol=1e-6)
        else:
            np.testing.assert_allclose(param.grad, expected[name], rtol=1e-4, atol=1e-6)
