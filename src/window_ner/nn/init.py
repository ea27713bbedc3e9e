"""Initialisers: each draws from an explicit ``np.random.Generator`` and returns a new array.

Values are drawn in float64 and then cast, so one seed gives the same numbers for every dtype, and the same
seed always gives bit-identical parameters.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["fan_in_and_out", "xavier_uniform", "xavier_normal", "uniform", "normal", "zeros"]

Shape = int | tuple[int, ...]


def _shape(shape: Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)


def _generator(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        kind = type(rng).__name__
        raise TypeError(f"pass an np.random.Generator (np.random.default_rng(seed)), not {kind}")
    return rng


def fan_in_and_out(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight stored as (out, in, ...) like the lecture's W in z = W x + b."""
    shape = _shape(shape)
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def xavier_uniform(shape: Shape, rng: np.random.Generator, gain: float = 1.0,
                   dtype: Any = np.float32) -> np.ndarray:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_out(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _generator(rng).uniform(-bound, bound, _shape(shape)).astype(dtype)


def xavier_normal(shape: Shape, rng: np.random.Generator, gain: float = 1.0,
                  dtype: Any = np.float32) -> np.ndarray:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_out(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _generator(rng).normal(0.0, std, _shape(shape)).astype(dtype)


def uniform(shape: Shape, rng: np.random.Generator, low: float = -1.0, high: float = 1.0,
            dtype: Any = np.float32) -> np.ndarray:
    """U(low, high); ``uniform(shape, rng, -r, r)`` is the lecture's small symmetric range."""
    if not low <= high:
        raise ValueError(f"uniform needs low <= high, got {low} > {high}")
    return _generator(rng).uniform(low, high, _shape(shape)).astype(dtype)


def normal(shape: Shape, rng: np.random.Generator, mean: float = 0.0, std: float = 1.0,
           dtype: Any = np.float32) -> np.ndarray:
    """N(mean, std^2)."""
    if std < 0:
        raise ValueError(f"normal needs std >= 0, got {std}")
    return _generator(rng).normal(mean, std, _shape(shape)).astype(dtype)


def zeros(shape: Shape, dtype: Any = np.float32) -> np.ndarray:
    """All zeros (biases)."""
    return np.zeros(_shape(shape), dtype=dtype)
