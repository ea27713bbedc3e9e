"""Optimisers with torch.optim's names, defaults and update formulas, plus row-sparse ("lazy") updates.

Each optimiser applies one update rule (a "kernel") to arrays in place. A dense gradient runs the kernel on
the whole parameter; a ``RowSparseGrad`` gathers the touched rows of the parameter and of its state, runs
the same kernel on them and scatters them back: no (vocab x d) temporary, and the arithmetic of a touched
row is exactly that of the dense update. Rows that are not touched are not changed at all, which is what
the dense update would do for SGD without momentum and for Adagrad without weight decay; for the other
cases each class's docstring states how the sparse update differs. State is kept in the parameter's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from window_ner.autodiff import RowSparseGrad, Tensor

__all__ = ["Optimizer", "SGD", "Adagrad", "AdaGrad", "Adam", "AdamW", "clip_grad_norm"]


class Optimizer:
    """Base class: holds the parameters, the learning rate ``lr`` (schedules change it) and per-parameter
    state; ``step()`` updates every parameter that has a gradient."""

    _hyper: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[Tensor], lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list: pass model.parameters()")
        seen: set[int] = set()
        for i, param in enumerate(self.params):
            if not isinstance(param, Tensor):
                raise TypeError(f"parameter {i} is a {type(param).__name__}, not a Tensor")
            if id(param) in seen:
                raise ValueError(f"parameter {i} appears twice in the parameter list")
            seen.add(id(param))
        if lr < 0:
            raise ValueError(f"invalid learning rate {lr}: must be >= 0")
        self.lr = float(lr)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``.grad = None``)."""
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for param, state in zip(self.params, self.state, strict=True):
            grad = param.grad
            if grad is None:
                continue
            if grad.dtype != param.dtype:
                grad = grad.astype(param.dtype)
            if isinstance(grad, RowSparseGrad):
                self._update_rows(param.data, grad.rows, grad.values, state)
            else:
                self._update_dense(param.data, grad, state)

    def _update_dense(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def _update_rows(self, param: np.ndarray, rows: np.ndarray, grad: np.ndarray,
                     state: dict[str, Any]) -> None:
        raise NotImplementedError

    # ----- state -----
    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and per-parameter state (copies), by parameter position."""
        return {
            "hyper": {name: getattr(self, name) for name in self._hyper},
            "state": [{k: _copy(v) for k, v in s.items() if k != "scratch"} for s in self.state],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned, for the same parameters in the same order."""
        states = state_dict["state"]
        if len(states) != len(self.params):
            raise ValueError(f"optimizer state holds {len(states)} parameters, this optimizer has "
                             f"{len(self.params)}: build it with the same parameter list")
        for i, (param, saved) in enumerate(zip(self.params, states, strict=True)):
            for key, value in saved.items():
                if isinstance(value, np.ndarray) and value.shape != param.shape:
                    raise ValueError(f"optimizer state {key!r} of parameter {i} has shape {value.shape}, "
                                     f"the parameter has {param.shape}")
        for name, value in state_dict["hyper"].items():
            setattr(self, name, value)
        pairs = zip(self.params, states, strict=True)
        self.state = [{k: _copy(v, p.dtype) for k, v in s.items()} for p, s in pairs]

    def __repr__(self) -> str:
        hyper = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyper)
        return f"{type(self).__name__}({len(self.params)} parameters, {hyper})"


def _copy(value: Any, dtype: Any = None) -> Any:
    return np.array(value, dtype=dtype) if isinstance(value, np.ndarray) else value


def _scratch(state: dict[str, Any], like: np.ndarray) -> np.ndarray:
    """A reusable buffer the size of the parameter, so a dense step allocates nothing."""
    buffer = state.get("scratch")
    if buffer is None:
        buffer = state["scratch"] = np.empty_like(like)
    return buffer


def _moment(state: dict[str, Any], key: str, like: np.ndarray, fill: float = 0.0) -> np.ndarray:
    buffer = state.get(key)
    if buffer is None:
        buffer = state[key] = np.full_like(like, fill)
    return buffer


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD.

    g = grad + weight_decay * p; with momentum: buf = g at the first step, then
    buf = momentum * buf + (1 - dampening) * g, and g = g + momentum * buf (nesterov) or g = buf;
    p = p - lr * g.

    Row-sparse gradients: without momentum the update equals the dense one exactly (weight decay, if any,
    is applied to the touched rows only). With momentum it is "lazy momentum": only touched rows' buffers
    decay and update, untouched rows do not coast on their old momentum as they would in the dense update;
    a row's buffer starts at zero (so its first update is (1 - dampening) * g, except at the parameter's
    first step, where buf = g as in the dense rule).
    """

    _hyper = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"momentum ({momentum}) and weight_decay ({weight_decay}) must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.weight_decay, self.nesterov = float(weight_decay), bool(nesterov)

    def _kernel(self, param: np.ndarray, grad: np.ndarray, buf: np.ndarray | None, first: bool,
                scratch: np.ndarray) -> None:
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        if buf is not None:
            if first:
                buf[...] = grad
            else:
                buf *= self.momentum
                np.multiply(grad, 1.0 - self.dampening, out=scratch)
                buf += scratch
            grad = grad + self.momentum * buf if self.nesterov else buf
        np.multiply(grad, self.lr, out=scratch)
        param -= scratch

    def _update_dense(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        first = "momentum_buffer" not in state
        buf = _moment(state, "momentum_buffer", param) if self.momentum else None
        self._kernel(param, grad, buf, first, _scratch(state, param))

    def _update_rows(self, param: np.ndarray, rows: np.ndarray, grad: np.ndarray,
                     state: dict[str, Any]) -> None:
        param_rows = param.take(rows, axis=0)
        if not self.momentum:
            self._kernel(param_rows, grad, None, False, np.empty_like(grad))
        else:
            first = "momentum_buffer" not in state
            buffer = _moment(state, "momentum_buffer", param)
            buf_rows = buffer.take(rows, axis=0)
            self._kernel(param_rows, grad, buf_rows, first, np.empty_like(grad))
            buffer[rows] = buf_rows
        param[rows] = param_rows


class Adagrad(Optimizer):
    """Adagrad, as torch.optim.Adagrad.

    t = step number; g = grad + weight_decay * p; clr = lr / (1 + (t - 1) lr_decay); G = G + g^2
    (G starts at initial_accumulator_value); p = p - clr * g / (sqrt(G) + eps).

    Row-sparse gradients: without weight decay the update equals the dense one exactly (an untouched row
    has g = 0: G and p stay as they are). With weight decay, the decay reaches touched rows only.
    t counts the steps at which the parameter had a gradient, sparse or dense.
    """

    _hyper = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(params, lr)
        if lr_decay < 0 or weight_decay < 0 or initial_accumulator_value < 0 or eps < 0:
            raise ValueError("lr_decay, weight_decay, initial_accumulator_value and eps must be >= 0")
        self.lr_decay, self.weight_decay = float(lr_decay), float(weight_decay)
        self.initial_accumulator_value, self.eps = float(initial_accumulator_value), float(eps)

    def _kernel(self, param: np.ndarray, grad: np.ndarray, total: np.ndarray, step: int,
                scratch: np.ndarray) -> None:
        if self.weight_decay:
            grad = grad + self.weight_decay * param
        clr = self.lr / (1 + (step - 1) * self.lr_decay)
        np.multiply(grad, grad, out=scratch)
        total += scratch
        np.sqrt(total, out=scratch)
        scratch += self.eps
        np.divide(grad, scratch, out=scratch)
        scratch *= clr
        param -= scratch

    def _begin(self, state: dict[str, Any], param: np.ndarray) -> tuple[np.ndarray, int]:
        state["step"] = state.get("step", 0) + 1
        return _moment(state, "sum", param, self.initial_accumulator_value), state["step"]

    def _update_dense(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        total, step = self._begin(state, param)
        self._kernel(param, grad, total, step, _scratch(state, param))

    def _update_rows(self, param: np.ndarray, rows: np.ndarray, grad: np.ndarray,
                     state: dict[str, Any]) -> None:
        total, step = self._begin(state, param)
        param_rows, total_rows = param.take(rows, axis=0), total.take(rows, axis=0)
        self._kernel(param_rows, grad, total_rows, step, np.empty_like(grad))
        total[rows] = total_rows
        param[rows] = param_rows


AdaGrad = Adagrad


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (L2 weight decay added to the gradient; AdamW decouples it).

    t = step number; g = grad + weight_decay * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    Row-sparse gradients give "lazy Adam" (torch.optim.SparseAdam, TensorFlow's LazyAdam): only the touched
    rows' m and v decay and update, and only touched rows move. Dense Adam would also decay every other
    row's m and v and keep moving those rows by their remaining momentum. The bias correction uses t, the
    parameter's global step count (steps at which it had any gradient), not a per-row count, so a row first
    touched at step t > 1 takes a smaller first step than dense Adam's first step would be. Weight decay
    reaches touched rows only. When every row is touched at every step, lazy and dense Adam are identical.
    """

    _hyper = ("lr", "betas", "eps", "weight_decay")
    _decoupled = False

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"eps ({eps}) and weight_decay ({weight_decay}) must be >= 0")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def _kernel(self, param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
                step: int, scratch: np.ndarray) -> None:
        beta1, beta2 = self.betas
        if self.weight_decay:
            if self._decoupled:
                param *= 1.0 - self.lr * self.weight_decay
            else:
                grad = grad + self.weight_decay * param
        exp_avg *= beta1
        np.multiply(grad, 1.0 - beta1, out=scratch)
        exp_avg += scratch
        exp_avg_sq *= beta2
        np.multiply(grad, grad, out=scratch)
        scratch *= 1.0 - beta2
        exp_avg_sq += scratch
        np.sqrt(exp_avg_sq, out=scratch)
        scratch *= 1.0 / math.sqrt(1.0 - beta2**step)
        scratch += self.eps
        np.divide(exp_avg, scratch, out=scratch)
        scratch *= self.lr / (1.0 - beta1**step)
        param -= scratch

    def _begin(self, state: dict[str, Any], param: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        state["step"] = state.get("step", 0) + 1
        return _moment(state, "exp_avg", param), _moment(state, "exp_avg_sq", param), state["step"]

    def _update_dense(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> None:
        exp_avg, exp_avg_sq, step = self._begin(state, param)
        self._kernel(param, grad, exp_avg, exp_avg_sq, step, _scratch(state, param))

    def _update_rows(self, param: np.ndarray, rows: np.ndarray, grad: np.ndarray,
                     state: dict[str, Any]) -> None:
        exp_avg, exp_avg_sq, step = self._begin(state, param)
        param_rows = param.take(rows, axis=0)
        avg_rows, sq_rows = exp_avg.take(rows, axis=0), exp_avg_sq.take(rows, axis=0)
        self._kernel(param_rows, grad, avg_rows, sq_rows, step, np.empty_like(grad))
        exp_avg[rows] = avg_rows
        exp_avg_sq[rows] = sq_rows
        param[rows] = param_rows


class AdamW(Adam):
    """AdamW, as torch.optim.AdamW: Adam with decoupled weight decay p = p (1 - lr weight_decay) first.

    Row-sparse gradients: lazy Adam as in ``Adam``; the decay reaches touched rows only.
    """

    _decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


def clip_grad_norm(params: Iterable[Tensor], max_norm: float) -> float:
    """Scale all gradients by max_norm / (norm + 1e-6) when their joint 2-norm exceeds max_norm.

    The norm is over every gradient entry together (a ``RowSparseGrad`` counts its values: its other rows
    are zero). Returns the norm before clipping, as torch.nn.utils.clip_grad_norm_.
    """
    params = [p for p in params if p.grad is not None]
    squares = 0.0
    for param in params:
        values = param.grad.values if isinstance(param.grad, RowSparseGrad) else param.grad
        flat = values.reshape(-1)
        squares += float(np.dot(flat, flat))
    total = math.sqrt(squares)
    factor = max_norm / (total + 1e-6)
    if factor < 1.0:
        for param in params:
            grad = param.grad
            if isinstance(grad, RowSparseGrad):
                param.grad = grad.scale(factor)
            else:
                grad *= factor  # dense leaf gradients own their memory (engine guarantee)
    return total
