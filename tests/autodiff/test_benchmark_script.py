"""benchmarks/bench_engine.py compares like with like: its hand-written NumPy step computes what ours does."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_engine.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_engine", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hand_written_step_gives_the_same_parameters_as_ours(bench: ModuleType, dtype: type) -> None:
    assert bench.same_result(bench.OurStep(dtype), bench.HandStep(dtype), dtype, steps=3)


def test_hand_written_step_is_not_trivially_equal(bench: ModuleType) -> None:
    ours, hand = bench.OurStep(np.float64), bench.HandStep(np.float64)
    start = {k: v.copy() for k, v in hand.values().items()}
    ours()
    hand()
    assert all(not np.allclose(hand.values()[k], start[k]) for k in ("W1", "W2", "b2"))


def test_every_primitive_case_runs(bench: ModuleType) -> None:
    for _name, count, ours, numpy_forward, numpy_both in bench.primitive_cases(np.float32):
        assert count >= 1
        ours()
        numpy_forward()
        numpy_both()
