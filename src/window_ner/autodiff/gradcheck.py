"""Check backpropagation against finite differences; compute full Jacobians."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from window_ner.autodiff.tensor import RowSparseGrad, Tensor, no_grad


class GradcheckError(AssertionError):
    """The engine's gradient and the finite-difference estimate disagree."""


def _dense(grad: Any, shape: tuple[int, ...]) -> np.ndarray:
    if grad is None:
        return np.zeros(shape)
    return grad.to_dense() if isinstance(grad, RowSparseGrad) else np.asarray(grad)


def _as_tensors(inputs: Tensor | Sequence[Tensor]) -> list[Tensor]:
    return [inputs] if isinstance(inputs, Tensor) else list(inputs)


# A direction's failure is traced to an entry by checking entries one by one: all of them up to this many,
# a random sample of this many beyond (two forward passes per entry).
_SEARCH_LIMIT = 10_000


def _worst_entry(x: np.ndarray, original: np.ndarray, analytic: np.ndarray, loss: Callable[[], float],
                 eps: float, rtol: float, indices: np.ndarray) -> tuple[tuple[int, ...], float, float, float]:
    """(index, engine, finite differences, excess error) of the entry among flat ``indices`` that disagrees most."""
    positions = [tuple(int(j) for j in np.unravel_index(int(flat), x.shape)) for flat in indices]
    numeric = np.empty(len(positions))
    for k, index in enumerate(positions):  # x may be any view: write through its own indices
        x[index] = original[index] + eps
        up = loss()
        x[index] = original[index] - eps
        down = loss()
        x[index] = original[index]
        numeric[k] = (up - down) / (2 * eps)
    engine = np.array([analytic[index] for index in positions], dtype=np.float64)
    error = np.abs(engine - numeric) - rtol * np.abs(numeric)
    k = int(np.argmax(error))
    return positions[k], float(engine[k]), float(numeric[k]), float(error[k])


def _check_directions(i: int, x: np.ndarray, original: np.ndarray, analytic: np.ndarray,
                      loss: Callable[[], float], rng: np.random.Generator, eps: float, rtol: float, atol: float,
                      directions: int) -> None:
    """Along random directions d, the central difference of ``loss`` must equal <analytic, d>; on a failure,
    the message also names the entry that disagrees most."""
    for k in range(directions):
        d = rng.standard_normal(x.shape)
        x[...] = original + eps * d
        up = loss()
        x[...] = original - eps * d
        down = loss()
        x[...] = original
        numeric = (up - down) / (2 * eps)
        exact = float(np.sum(analytic * d))
        if not np.isclose(exact, numeric, rtol=rtol, atol=atol * max(1.0, float(np.abs(d).sum()))):
            sampled = x.size > _SEARCH_LIMIT
            indices = rng.choice(x.size, _SEARCH_LIMIT, replace=False) if sampled else np.arange(x.size)
            index, engine, finite, _ = _worst_entry(x, original, analytic, loss, eps, rtol, indices)
            among = f" of {_SEARCH_LIMIT} sampled" if sampled else ""
            raise GradcheckError(
                f"input {i} {tuple(x.shape)}: along random direction {k} the engine gives {exact!r}, "
                f"finite differences give {numeric!r}; the worst entry{among} is {index}: engine {engine!r}, "
                f"finite differences {finite!r}"
            )


def _check_entries(i: int, x: np.ndarray, original: np.ndarray, analytic: np.ndarray,
                   loss: Callable[[], float], eps: float, rtol: float, atol: float) -> None:
    """Entry by entry, the central difference of ``loss`` must equal the analytic gradient."""
    index, engine, finite, error = _worst_entry(x, original, analytic, loss, eps, rtol, np.arange(x.size))
    if error > atol:
        raise GradcheckError(
            f"input {i} {tuple(x.shape)}: worst entry {index}: engine {engine!r}, finite differences {finite!r}"
        )


def gradcheck(
    f: Callable[..., Tensor],
    inputs: Tensor | Sequence[Tensor],
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    directions: int = 3,
    max_entries: int = 200,
    seed: int = 0,
) -> bool:
    """Compare the engine's gradients of ``f(*inputs)`` with central differences in float64.

    The output is reduced to a scalar L = sum(f(x) * v) for a random v. For each input that requires a
    gradient: along ``directions`` random directions d, (L(x + eps d) - L(x - eps d)) / 2 eps must equal
    <grad, d> (cheap for any size); and for inputs of at most ``max_entries`` elements, entry by entry too.
    Returns True; raises ``GradcheckError`` naming the input, the worst entry (its index, the engine's value
    and the finite difference) otherwise, also when a random direction is what failed.
    """
    tensors = _as_tensors(inputs)
    checked = [i for i, t in enumerate(tensors) if t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires a gradient")
    for i in checked:
        if tensors[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck needs float64 inputs (input {i} is {tensors[i].dtype}): float32 rounding hides "
                "errors smaller than about 1e-4; build the inputs with dtype=np.float64"
            )
    rng = np.random.default_rng(seed)
    out = f(*tensors)
    weights = rng.standard_normal(out.shape)

    def loss() -> float:
        with no_grad():
            return float(np.sum(f(*tensors).data * weights))

    for i in checked:
        tensors[i].grad = None
    out.backward(weights)
    analytic = {i: _dense(tensors[i].grad, tensors[i].shape) for i in checked}

    for i in checked:
        x = tensors[i].data
        original = x.copy()
        try:
            _check_directions(i, x, original, analytic[i], loss, rng, eps, rtol, atol, directions)
            if x.size <= max_entries:
                _check_entries(i, x, original, analytic[i], loss, eps, rtol, atol)
        finally:
            x[...] = original
    return True


def jacobian(f: Callable[[Tensor], Tensor], x: Tensor) -> np.ndarray:
    """The full Jacobian d f(x) / dx, of shape ``f(x).shape + x.shape``, one backward pass per output."""
    source = Tensor(x.data, requires_grad=True)
    out = f(source)
    result = np.zeros(out.shape + source.shape, dtype=np.result_type(out.dtype, source.dtype))
    if not out.requires_grad:
        return result
    for index in np.ndindex(out.shape):
        upstream = np.zeros(out.shape, dtype=out.dtype)
        upstream[index] = 1
        source.grad = None
        out.backward(upstream, retain_graph=True)
        result[index] = _dense(source.grad, source.shape)
    return result
