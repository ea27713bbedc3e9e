"""Initialisers: each draws from an explicit ``np.random.Generator`` and returns a new array.

Values are drawn in float64 and then cast, so one seed gives the same numbers for every dtype, and the same
seed always gives bit-identical parameters. Inside :func:`skipped`, the random initialisers draw nothing and
return uninitialised arrays, for a module whose every parameter is loaded from a file right after.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["fan_in_and_out", "xavier_uniform", "xavier_normal", "uniform", "normal", "zeros", "skipped"]

Shape = int | tuple[int, ...]


def _shape(shape: Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)


def _generator(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        kind = type(rng).__name__
        raise TypeError(f"pass an np.random.Generator (np.random.default_rng(seed)), not {kind}")
    return rng


_SKIPPED = contextvars.ContextVar("window_ner_init_skipped", default=False)


@contextlib.contextmanager
def skipped() -> Iterator[None]:
    """Inside the block, random initialisers return ``np.empty`` arrays of the right shape and dtype: the
    numbers a module would draw only to have them overwritten by ``load_state_dict`` cost most of a cold
    start. Use it only when every parameter is loaded next (``strict=True`` makes sure)."""
    token = _SKIPPED.set(True)
    try:
        yield
    finally:
        _SKIPPED.reset(token)


def _draw(rng: Any, kind: str, a: float, b: float, shape: Shape, dtype: Any) -> np.ndarray:
    """``rng.<kind>(a, b, shape)`` cast to ``dtype``; nothing drawn inside :func:`skipped`."""
    generator = _generator(rng)
    if _SKIPPED.get():
        return np.empty(_shape(shape), dtype=dtype)
    return getattr(generator, kind)(a, b, _shape(shape)).astype(dtype)


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
    return _draw(rng, "uniform", -bound, bound, shape, dtype)


def xavier_normal(shape: Shape, rng: np.random.Generator, gain: float = 1.0,
                  dtype: Any = np.float32) -> np.ndarray:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_out(shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _draw(rng, "normal", 0.0, std, shape, dtype)


def uniform(shape: Shape, rng: np.random.Generator, low: float = -1.0, high: float = 1.0,
            dtype: Any = np.float32) -> np.ndarray:
    """U(low, high); ``uniform(shape, rng, -r, r)`` is the lecture's small symmetric range."""
    if not low <= high:
        raise ValueError(f"uniform needs low <= high, got {low} > {high}")
    return _draw(rng, "uniform", low, high, shape, dtype)


def normal(shape: Shape, rng: np.random.Generator, mean: float = 0.0, std: float = 1.0,
           dtype: Any = np.float32) -> np.ndarray:
    """N(mean, std^2)."""
    if std < 0:
        raise ValueError(f"normal needs std >= 0, got {std}")
    return _draw(rng, "normal", mean, std, shape, dtype)


def zeros(shape: Shape, dtype: Any = np.float32) -> np.ndarray:
    """All zeros (biases)."""
    return np.zeros(_shape(shape), dtype=dtype)
