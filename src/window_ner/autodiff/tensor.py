"""Tensor: an array, its gradient, and the op that made it.

A tensor made by an op remembers its parents and a backward rule. The rule receives the upstream gradient
and returns one downstream gradient per parent (None where a parent needs none). It captures arrays, never
the output tensor, so a graph holds no reference cycles and is freed by reference counting.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

BackwardRule = Callable[[np.ndarray], Sequence[Any]]
# Up to this many table rows x ids, an embedding gradient is summed by one one-hot product (no sort).
_ONE_HOT_LIMIT = 1 << 16


class _GradMode(threading.local):
    enabled = True  # a class default: looking it up never fails, so it stays cheap on the hot path


_mode = _GradMode()
# Every tensor gets the next number at birth. A tensor is always born after its parents, so sorting by
# this number is a topological order: the backward pass needs no separate graph search.
_birth = itertools.count()


def is_grad_enabled() -> bool:
    """True unless inside a ``no_grad()`` block (per thread)."""
    return _mode.enabled


class no_grad:
    """Context manager (and decorator) inside which ops record no graph."""

    def __enter__(self) -> None:
        self._previous = is_grad_enabled()
        _mode.enabled = False

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self._previous

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


def _stable_order(ids: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, ids[order]): the stable ascending order of non-negative ``ids`` below ``bound``.

    Each id is sorted with its position in its low bits: every key is distinct, so a plain (SIMD) sort of
    the keys gives the stable order, faster than a stable argsort.
    """
    shift = max(ids.size - 1, 1).bit_length()
    if bound > np.iinfo(np.int64).max >> shift:  # keys would overflow: sort the ids themselves
        order = np.argsort(ids, kind="stable")
        return order, ids[order]
    keys = np.sort((ids.astype(np.int64) << shift) | np.arange(ids.size, dtype=np.int64))
    return keys & ((1 << shift) - 1), keys >> shift


def _unsupported(what: str) -> TypeError:
    return TypeError(f"{what}: call .to_dense() for the full gradient array, or work on .values, the gradients "
                     "of the rows listed in .rows")


def _refuse(op: str) -> Callable[..., Any]:
    def refuse(self: RowSparseGrad, *args: Any) -> Any:
        raise _unsupported(f"{op} is not defined on a RowSparseGrad (+, -, and * or / by a number are)")

    return refuse


class RowSparseGrad:
    """Gradient of an embedding table: the unique rows touched and their summed gradients.

    ``rows`` are unique and sorted; ``values[i]`` is the gradient of row ``rows[i]``; every other row's
    gradient is zero. Dense equivalent: ``to_dense()``. It adds to and subtracts from arrays and other
    row-sparse gradients and scales by a number, so ``L -= 0.1 * L.grad`` (in ``no_grad()``) changes only the
    touched rows; anything else raises an error saying to call ``to_dense()``.
    """

    __slots__ = ("rows", "values", "shape")

    def __init__(self, rows: np.ndarray, values: np.ndarray, shape: tuple[int, ...]):
        self.rows = rows
        self.values = values
        self.shape = tuple(shape)

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    @classmethod
    def from_ids(cls, ids: np.ndarray, grads: np.ndarray, shape: tuple[int, ...],
                 padding_idx: int | None = None) -> RowSparseGrad:
        """Sum the gradient rows of repeated ids once: ``values[i]`` is the sum of the gradient rows of every
        occurrence of ``rows[i]``; ``rows`` are unique and sorted. Occurrences of ``padding_idx`` are left
        out: that row's gradient is zero, and it is not among ``rows``."""
        flat_ids = ids.reshape(-1)
        count = flat_ids.size
        width = math.prod(shape[1:])
        if shape[0] * count <= _ONE_HOT_LIMIT:  # a small table (a feature's few ids): one product
            occurrences = np.bincount(flat_ids, minlength=shape[0])
            if padding_idx is not None:
                occurrences[padding_idx] = 0
            rows = np.flatnonzero(occurrences)
            slot = np.full(shape[0], rows.size, dtype=np.intp)  # padding ids land in one extra slot, dropped
            slot[rows] = np.arange(rows.size)
            one_hot = np.zeros((rows.size + 1, count), dtype=grads.dtype)
            one_hot[slot[flat_ids], np.arange(count)] = 1
            values = one_hot[:-1] @ grads.reshape(count, width)
            return cls(rows.astype(np.int64, copy=False), values.reshape(rows.size, *shape[1:]), shape)
        flat_grads = grads.reshape(count, width)
        order, sorted_ids = _stable_order(flat_ids, shape[0])
        first = np.empty(count, dtype=bool)  # first occurrence of its id in sorted order
        first[0] = True
        np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=first[1:])
        repeat = ~first
        if padding_idx is not None:
            kept = sorted_ids != padding_idx
            first &= kept
            repeat &= kept
        values = flat_grads[order[first]]
        repeats = np.flatnonzero(repeat)
        if repeats.size:  # add each repeat into its id's row (1-D add.at: the 2-D form is slower)
            row_of_repeat = np.cumsum(first)[repeats] - 1
            targets = ((row_of_repeat * width)[:, None] + np.arange(width)).reshape(-1)
            np.add.at(values.reshape(-1), targets, flat_grads[order[repeats]].reshape(-1))
        rows = sorted_ids[first].astype(np.int64, copy=False)
        return cls(rows, values.reshape(rows.size, *shape[1:]), shape)

    def to_dense(self) -> np.ndarray:
        dense = np.zeros(self.shape, dtype=self.values.dtype)
        dense[self.rows] = self.values
        return dense

    def astype(self, dtype: np.dtype) -> RowSparseGrad:
        return RowSparseGrad(self.rows, self.values.astype(dtype, copy=False), self.shape)

    def scale(self, factor: float) -> RowSparseGrad:
        """The gradient times ``factor``, in its own dtype."""
        return RowSparseGrad(self.rows, self.values * self.values.dtype.type(factor), self.shape)

    def _factor(self, other: Any, op: str) -> Any:
        """``other`` if it is a plain number (or 0-d array), else a TypeError saying what to call instead."""
        if isinstance(other, numbers.Real) or (isinstance(other, (np.ndarray, np.generic)) and other.ndim == 0):
            return other
        raise _unsupported(f"a RowSparseGrad can be multiplied or divided ({op}) by a number, not by "
                           f"{type(other).__name__!r}")

    def __mul__(self, other: Any) -> RowSparseGrad:
        return self.scale(self._factor(other, "*"))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> RowSparseGrad:
        return self.scale(1 / self._factor(other, "/"))

    def __neg__(self) -> RowSparseGrad:
        return self.scale(-1)

    def __add__(self, other: RowSparseGrad | np.ndarray) -> RowSparseGrad | np.ndarray:
        if isinstance(other, RowSparseGrad):
            if other.shape != self.shape:
                raise ValueError(f"cannot add row-sparse gradients of shapes {self.shape} and {other.shape}")
            rows = np.concatenate((self.rows, other.rows))
            values = np.concatenate((self.values, other.values))
            return RowSparseGrad.from_ids(rows, values, self.shape)
        dense = np.array(other, dtype=np.result_type(other, self.values), copy=True)
        dense[self.rows] += self.values
        return dense

    __radd__ = __add__

    def __sub__(self, other: RowSparseGrad | np.ndarray) -> RowSparseGrad | np.ndarray:
        return self + (-other)

    def __rsub__(self, other: np.ndarray) -> np.ndarray:
        return -self + other

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy's side of ``array + grad``, ``array - grad``, ``number * grad`` and ``array -= grad`` (which
        changes only the touched rows); any other ufunc refuses, saying what to call instead."""
        left, right = inputs if len(inputs) == 2 else (None, None)
        if method == "__call__" and ufunc in (np.add, np.subtract) and right is self and isinstance(left, np.ndarray):
            out = kwargs.get("out", ())
            if kwargs.keys() == {"out"} and len(out) == 1 and out[0] is left:  # in place: the touched rows only
                left[self.rows] = ufunc(left[self.rows], self.values)
                return left
            if not kwargs:
                return self + left if ufunc is np.add else -self + left
        if method == "__call__" and not kwargs and ufunc is np.multiply and (left is self or right is self):
            return self * (left if right is self else right)
        raise _unsupported(f"NumPy's {ufunc.__name__} is not defined on a RowSparseGrad (+, -, and * or / by a "
                           "number are)")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise _unsupported("a RowSparseGrad is not an array")

    __pow__ = __rpow__ = _refuse("**")
    __matmul__ = __rmatmul__ = _refuse("@")
    __rtruediv__ = _refuse("a number / RowSparseGrad")
    __getitem__ = _refuse("indexing")

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes the class lacks: .sum(), .T, .reshape() of an ndarray, say
        raise AttributeError(
            f"a RowSparseGrad has no .{name}: it holds only the touched rows (.rows, .values); "
            "call .to_dense() for the full array"
        )

    def __repr__(self) -> str:
        return f"RowSparseGrad(shape={self.shape}, rows={self.rows.size}, dtype={self.values.dtype})"


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        return np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
    # Python scalars and lists default to float32, the training dtype.
    return np.asarray(data, dtype=np.float32 if dtype is None else dtype)


class Tensor:
    """An ``np.ndarray`` (``.data``) with a gradient (``.grad``) and the graph that produced it.

    Python numbers and lists become float32, the training dtype (``Tensor(2.0).dtype`` is float32); a Python
    number that an op meets takes the tensor's dtype (``t * 0.5`` keeps t's); NumPy arrays keep theirs. Pass
    ``dtype=np.float64`` for a gradient check. ``name`` labels the tensor in pictures, traces and errors.
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_op", "_seq", "name",
                 "__weakref__")
    # Makes ``ndarray + Tensor`` defer to ``Tensor.__radd__`` instead of looping element by element.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None):
        self.data = _to_array(data, dtype)
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(f"only floating-point tensors can require a gradient, not {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._parents: tuple = ()
        self._backward: BackwardRule | None = None
        self._op = "leaf"
        self._seq = next(_birth)
        self.name = name

    # ----- in-place updates: torch's manual step ``p -= lr * p.grad`` inside no_grad() -----
    def _in_place(self, other: Any, ufunc: np.ufunc) -> Tensor:
        if is_grad_enabled() and (self.requires_grad or getattr(other, "requires_grad", False)):
            # the graph would not see the change (and a rebound name would drop a module's parameter)
            raise RuntimeError("in-place update of a tensor that takes part in a gradient: do it inside "
                               "no_grad(), as an optimiser step does, or write x = x - y for a new tensor")
        if isinstance(other, RowSparseGrad):
            if ufunc not in (np.add, np.subtract):
                raise _unsupported(f"in-place {ufunc.__name__} by a RowSparseGrad is not defined (+= and -= are)")
            if other.shape != self.shape:
                raise ValueError(f"a row-sparse gradient of shape {other.shape} cannot update a tensor of shape "
                                 f"{self.shape}")
            # only the touched rows change; they are unique, so a fancy-index assignment loses no update
            self.data[other.rows] = ufunc(self.data[other.rows], other.values)
            return self
        ufunc(self.data, other.data if isinstance(other, Tensor) else other, out=self.data)
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._in_place(other, np.add)

    def __isub__(self, other: Any) -> Tensor:
        return self._in_place(other, np.subtract)

    def __imul__(self, other: Any) -> Tensor:
        return self._in_place(other, np.multiply)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._in_place(other, np.true_divide)

    # ----- array-like attributes -----
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that recorded a graph."""
        return self._backward is None

    @property
    def op(self) -> str:
        """Name of the op that made this tensor ("leaf" for user-made tensors)."""
        return self._op

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The tensors this one was computed from, as recorded in the graph."""
        return tuple(p for p in self._parents if p is not None)

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, outside any graph."""
        return Tensor(self.data)

    def retain_grad(self) -> Tensor:
        """Keep this intermediate tensor's gradient in ``.grad`` during backward.

        Its rule is wrapped so that it first adds its upstream gradient (a copy) to ``.grad``: the engine
        itself never checks for retained tensors. Leaves keep their gradient anyway.
        """
        rule = self._backward
        if rule is None or getattr(rule, "retains", False):
            return self
        node = weakref.ref(self)  # the rule must not hold its own tensor: no reference cycle

        def keep_then(upstream: np.ndarray) -> Sequence[Any]:
            tensor = node()
            if tensor is not None:
                tensor.grad = np.array(upstream) if tensor.grad is None else tensor.grad + upstream
            return rule(upstream)

        keep_then.retains = True
        keep_then.rule = rule  # the op's own rule, which a trace may call again without touching .grad
        self._backward = keep_then
        return self

    # ``backward(gradient=None, retain_graph=False)`` is ``engine.backward`` itself, bound in engine.py; the
    # operators (a + b, -a, a[i]) and methods (t.exp(), t.sum(), t.T) are the ops themselves, bound onto this
    # class as each op is registered (registry.py). A wrapper method would add a call to every op.

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{grad})"


def operand(x: Any) -> tuple[Any, Tensor | None, bool]:
    """(value, graph node, needs a gradient) of an op's operand: ``(t.data, t, t.requires_grad)`` for a tensor,
    ``(x, None, False)`` for a plain number or array (its parent slot in ``make`` is then None)."""
    if isinstance(x, Tensor):
        return x.data, x, x.requires_grad
    return x, None, False


def make(data: np.ndarray, parents: tuple[Tensor | None, ...], backward: BackwardRule, op: str) -> Tensor:
    """The output of a primitive: its forward value, and the graph edge back to its inputs.

    - ``data``: the forward value, an array computed with NumPy from the inputs' ``.data``.
    - ``parents``: the op's operands in order; None for an operand that is a plain number or array.
    - ``backward``: the local-gradient rule. Given the upstream gradient g = dL/d(output), an array of
      ``data``'s shape, it returns one downstream gradient dL/d(parent) per parent, in order: upstream
      gradient x local gradient, g times the Jacobian d(output)/d(parent) (for an elementwise f, whose
      Jacobian is diag(f'(x)): ``g * f'(x)``). None means no gradient (a parent that is None, say).
    - ``op``: the op's name, shown in graphs.

    The rule may capture the arrays it needs (inputs, the forward value), never the output tensor itself: the
    output holds the rule, and the graph must hold no reference cycles. The engine does the rest: it sums
    the gradients of a tensor used more than once (fan-out), sums a gradient given in the output's broadcast
    shape back to its parent's shape (so ``a + b`` may return ``(g, g)``), casts it to the parent's dtype, and
    skips parents that do not require a gradient (a rule may return None for them to save the work). Parents
    and rule are recorded only if some parent requires a gradient outside ``no_grad()``.
    """
    out = _new_tensor(Tensor)
    out.data = data
    out.grad = None
    out._op = op
    out._seq = next(_birth)
    out.name = None
    if _mode.enabled:
        for parent in parents:
            if parent is not None and parent.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                return out
    out.requires_grad = False
    out._parents = ()
    out._backward = None
    return out


_new_tensor = Tensor.__new__
