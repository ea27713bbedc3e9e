"""benchmarks/bench_engine.py compares like with like: its hand-written NumPy step computes what ours does."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tests._benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("bench_engine")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hand_written_step_gives_the_same_parameters_as_ours(bench: ModuleType, dtype: type) -> None:
    assert bench.same_result(bench.OurStep(dtype), bench.HandStep(dtype), dtype, steps=3)


def test_hand_written_step_is_not_trivially_equal(bench: ModuleType) -> None:
    ours, hand = bench.OurStep(np.float64), bench.HandStep(np.float64)
    start = {k: v.copy() for k, v in hand.values().items()}
    ours()
    hand()
    assert all(not np.allclose(hand.values()[k], start[k]) for k in ("W1", "W2", "b2"))


@pytest.mark.parametrize("length", [1, 3])
def test_by_hand_graphs_give_the_gradients_ours_give(bench: ModuleType, length: int) -> None:
    """Each primitive's by-hand backward computes what our engine computes, so the overhead compares like
    with like."""
    start = bench.Tensor(np.random.default_rng(0).standard_normal(bench.SHAPE), requires_grad=True)
    for primitive in bench.primitives(np.float64):
        if length > 1 and not primitive.chains:
            continue
        _, by_hand = bench.graph_runs(primitive, length, start)
        y = start
        for _ in range(length):
            y = primitive.ours(y)
        y.backward(None if y.data.size == 1 else np.ones(bench.SHAPE))
        grad_start, grad_leaf = by_hand()
        np.testing.assert_allclose(start.grad, np.broadcast_to(grad_start, bench.SHAPE), rtol=1e-12)
        if primitive.leaf is not None:
            np.testing.assert_allclose(primitive.leaf.grad, grad_leaf, rtol=1e-12)
            primitive.leaf.grad = None  # add and mul share their leaf
        start.grad = None


def test_by_hand_mixed_chain_gives_the_gradients_ours_give(bench: ModuleType) -> None:
    rng = np.random.default_rng(1)
    start = bench.Tensor(rng.standard_normal(bench.SHAPE), requires_grad=True)
    b = bench.Tensor(1 + 0.01 * rng.standard_normal(bench.SHAPE), requires_grad=True)
    _, by_hand = bench.mixed_chain(start, b)
    y = start
    for k in range(bench.CHAIN_LENGTH // 2):
        y = bench.ops.tanh(y) if k % 2 else y * b
        y = y + b
    y.backward(np.ones(bench.SHAPE))
    grad_start, grad_b = by_hand()
    np.testing.assert_allclose(start.grad, grad_start, rtol=1e-12)
    np.testing.assert_allclose(b.grad, grad_b, rtol=1e-12)


def test_every_primitive_case_runs(bench: ModuleType) -> None:
    names = []
    for name, count, ours, by_hand in bench.primitive_cases(np.float32):
        assert count >= 1
        ours()
        by_hand()
        names.append(name)
    assert len(names) == len(set(names)) > 10
