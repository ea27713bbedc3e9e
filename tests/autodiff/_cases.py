"""The table of gradient-check cases: op name -> cases, for every op and operator of the engine.

Every primitive registered with ``@primitive`` (window_ner.autodiff.registry.PRIMITIVES) needs cases under
its name, and every operator it is bound to needs cases under the operator's symbol (``OPERATORS``):
``uncovered()`` lists what lacks them, and test_ops_gradcheck.py fails while that list is not empty.

A case is a function of tensors, the float64 values to feed it (every one becomes a leaf that requires a
gradient), and optionally a NumPy reference for the forward value. Input values keep clear of the points
where an op is not differentiable (ties, kinks, clip boundaries, the edge of a domain) by at least 0.1, far
more than the finite-difference step of gradcheck.

Array constants inside a case are cast to the dtype of the tensors they meet, so the same case can be run
in float32 and float64 (test_dtype.py) without NumPy promoting the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from window_ner.autodiff import functional, ops
from window_ner.autodiff.registry import PRIMITIVES, Primitive
from window_ner.autodiff.tensor import Tensor

# Tensor attribute a primitive is bound to -> the name its cases are listed under (as the user writes it).
OPERATORS: dict[str, str] = {
    "__add__": "+", "__radd__": "+", "__sub__": "-", "__rsub__": "-", "__mul__": "*", "__rmul__": "*",
    "__truediv__": "/", "__rtruediv__": "/", "__pow__": "**", "__rpow__": "**", "__matmul__": "@",
    "__rmatmul__": "@", "__neg__": "unary -", "__getitem__": "[]", "T": ".T",
}

UNARY_SHAPES: list[tuple[int, ...]] = [(), (3,), (2, 3)]
BINARY_SHAPES: list[tuple[tuple[int, ...], tuple[int, ...]]] = [
    ((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)), ((3,), (2, 3)),
]


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    fn: Callable[..., Tensor]
    inputs: tuple[np.ndarray, ...]
    reference: Callable[..., np.ndarray] | None = None
    shapes: tuple[tuple[int, ...], ...] = ()

    @property
    def id(self) -> str:
        return f"{self.name}[{self.label}]"


_rng = np.random.default_rng(20240501)


def smooth(shape: tuple[int, ...]) -> np.ndarray:
    return _rng.uniform(-1.5, 1.5, size=shape)


def positive(shape: tuple[int, ...]) -> np.ndarray:
    return _rng.uniform(0.5, 2.0, size=shape)


def away(shape: tuple[int, ...], points: tuple[float, ...] = (0.0,), gap: float = 0.1,
         low: float = -2.0, high: float = 2.0) -> np.ndarray:
    """Uniform values in [low, high], each at least ``gap`` from every point in ``points``."""
    values = _rng.uniform(low, high, size=shape)
    while True:
        near = np.zeros(np.shape(values), dtype=bool)
        for p in points:
            near |= np.abs(values - p) < gap
        if not near.any():
            return np.asarray(values)
        values = np.where(near, _rng.uniform(low, high, size=shape), values)


def distinct(shape: tuple[int, ...]) -> np.ndarray:
    """Values that differ pairwise by at least 0.2, in random order: no ties for max and min."""
    size = int(np.prod(shape))
    return (_rng.permutation(size) * 0.25 + _rng.uniform(0.0, 0.05, size=size) - size * 0.125).reshape(shape)


def apart(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays whose broadcast entries differ by at least 0.1 everywhere (maximum, minimum)."""
    while True:
        a, b = smooth(shape_a), smooth(shape_b)
        if np.min(np.abs(np.subtract(a, b)), initial=np.inf) >= 0.1:
            return a, b


def _like(constant: np.ndarray, t: Tensor) -> np.ndarray:
    return np.asarray(constant, dtype=t.dtype)


CASES: dict[str, list[Case]] = {}


def add_case(name: str, label: str, fn: Callable[..., Tensor], inputs: tuple[np.ndarray, ...],
             reference: Callable[..., np.ndarray] | None = None) -> None:
    shapes = tuple(np.shape(x) for x in inputs)
    CASES.setdefault(name, []).append(Case(name, label, fn, tuple(np.asarray(x) for x in inputs), reference,
                                           shapes))


def _shape_label(*shapes: tuple[int, ...]) -> str:
    return ",".join(str(s).replace(" ", "") for s in shapes)


# ------------------------------------------------------------------ elementwise unary ops

UNARY: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[np.ndarray], np.ndarray],
                       Callable[[tuple[int, ...]], np.ndarray]]] = {
    "exp": (ops.exp, np.exp, smooth),
    "log": (ops.log, np.log, positive),
    "sqrt": (ops.sqrt, np.sqrt, positive),
    "abs": (ops.abs, np.abs, away),
    "tanh": (ops.tanh, np.tanh, smooth),
    "sigmoid": (ops.sigmoid, lambda v: 1 / (1 + np.exp(-v)), smooth),
    "relu": (ops.relu, lambda v: np.maximum(v, 0), away),
    "neg": (ops.neg, np.negative, smooth),
    "unary -": (lambda a: -a, np.negative, smooth),
    "hardtanh": (functional.hardtanh, lambda v: np.clip(v, -1, 1), lambda s: away(s, (-1.0, 1.0))),
}
for _name, (_fn, _ref, _sample) in UNARY.items():
    for _shape in UNARY_SHAPES:
        add_case(_name, _shape_label(_shape), _fn, (_sample(_shape),), _ref)

add_case("hardtanh", "lo=-0.5,hi=2", lambda a: functional.hardtanh(a, -0.5, 2.0),
         (away((2, 3), (-0.5, 2.0)),), lambda v: np.clip(v, -0.5, 2.0))
for _label, _lo, _hi in (("lo,hi", -0.5, 0.5), ("lo only", 0.0, None), ("hi only", None, 0.3)):
    _points = tuple(p for p in (_lo, _hi) if p is not None)
    for _shape in UNARY_SHAPES:
        add_case("clip", f"{_label};{_shape_label(_shape)}",
                 lambda a, lo=_lo, hi=_hi: ops.clip(a, lo, hi), (away(_shape, _points),),
                 lambda v, lo=_lo, hi=_hi: np.clip(v, lo, hi))

# ------------------------------------------------------------------ elementwise binary ops

BINARY: dict[str, tuple[Callable[[Tensor, Tensor], Tensor], Callable[..., np.ndarray],
                        Callable[[tuple[int, ...], tuple[int, ...]], tuple[np.ndarray, np.ndarray]]]] = {
    "add": (ops.add, np.add, lambda sa, sb: (smooth(sa), smooth(sb))),
    "sub": (ops.sub, np.subtract, lambda sa, sb: (smooth(sa), smooth(sb))),
    "mul": (ops.mul, np.multiply, lambda sa, sb: (smooth(sa), smooth(sb))),
    "div": (ops.div, np.divide, lambda sa, sb: (smooth(sa), away(sb, (0.0,), 0.4))),
    "power": (ops.power, np.power, lambda sa, sb: (positive(sa), smooth(sb))),
    "maximum": (ops.maximum, np.maximum, apart),
    "minimum": (ops.minimum, np.minimum, apart),
    "+": (lambda a, b: a + b, np.add, lambda sa, sb: (smooth(sa), smooth(sb))),
    "-": (lambda a, b: a - b, np.subtract, lambda sa, sb: (smooth(sa), smooth(sb))),
    "*": (lambda a, b: a * b, np.multiply, lambda sa, sb: (smooth(sa), smooth(sb))),
    "/": (lambda a, b: a / b, np.divide, lambda sa, sb: (smooth(sa), away(sb, (0.0,), 0.4))),
    "**": (lambda a, b: a**b, np.power, lambda sa, sb: (positive(sa), smooth(sb))),
}
for _name, (_fn, _ref, _sample) in BINARY.items():
    for _sa, _sb in BINARY_SHAPES:
        add_case(_name, _shape_label(_sa, _sb), _fn, _sample(_sa, _sb), _ref)
        if _sa != _sb:  # the same pair the other way round
            add_case(_name, _shape_label(_sb, _sa), _fn, _sample(_sb, _sa), _ref)

# One operand a constant (Python number or array): only the tensor gets a gradient; reflected operators.
_C = np.array([0.7, -1.2, 1.9])
for _name, _fn, _ref, _sample in (
    ("add", lambda a: ops.add(a, 2.5), lambda v: v + 2.5, smooth),
    ("add", lambda a: ops.add(_like(_C, a), a), lambda v: _C + v, smooth),
    ("sub", lambda a: ops.sub(2.5, a), lambda v: 2.5 - v, smooth),
    ("mul", lambda a: ops.mul(a, _like(_C, a)), lambda v: v * _C, smooth),
    ("div", lambda a: ops.div(2.0, a), lambda v: 2.0 / v, lambda s: away(s, (0.0,), 0.4)),
    ("power", lambda a: ops.power(a, 3), lambda v: v**3, smooth),
    ("power", lambda a: ops.power(2.0, a), lambda v: 2.0**v, smooth),
    ("maximum", lambda a: ops.maximum(a, 0.0), lambda v: np.maximum(v, 0.0), away),
    ("minimum", lambda a: ops.minimum(a, _like(_C, a)), lambda v: np.minimum(v, _C),
     lambda s: _C + away(s, (0.0,))),
    ("+", lambda a: 2.5 + a, lambda v: 2.5 + v, smooth),
    ("+", lambda a: _like(_C, a) + a, lambda v: _C + v, smooth),
    ("-", lambda a: 2.5 - a, lambda v: 2.5 - v, smooth),
    ("-", lambda a: _like(_C, a) - a, lambda v: _C - v, smooth),
    ("*", lambda a: a * 2.0, lambda v: v * 2.0, smooth),
    ("*", lambda a: _like(_C, a) * a, lambda v: _C * v, smooth),
    ("/", lambda a: a / 4.0, lambda v: v / 4.0, smooth),
    ("/", lambda a: 2.0 / a, lambda v: 2.0 / v, lambda s: away(s, (0.0,), 0.4)),
    ("**", lambda a: a**2, lambda v: v**2, smooth),
    ("**", lambda a: a**0.5, np.sqrt, positive),
    ("**", lambda a: 2.0**a, lambda v: 2.0**v, smooth),
):
    add_case(_name, "with a constant", _fn, (_sample((3,)),), _ref)

# ------------------------------------------------------------------ matmul and @

_MATMUL_SHAPES = [
    ("matrix@matrix", (2, 3), (3, 4)),
    ("matrix@vector", (2, 3), (3,)),
    ("vector@matrix", (3,), (3, 4)),
    ("vector@vector", (3,), (3,)),
    ("batch@matrix", (5, 2, 3), (3, 4)),
    ("batch@batch", (5, 2, 3), (5, 3, 4)),
    ("matrix@batch", (2, 3), (5, 3, 4)),
    ("broadcast batch dims", (2, 1, 2, 3), (4, 3, 2)),
    ("vector@batch", (3,), (5, 3, 4)),
    ("batch@vector", (5, 2, 3), (3,)),
]
for _label, _sa, _sb in _MATMUL_SHAPES:
    add_case("matmul", _label, ops.matmul, (smooth(_sa), smooth(_sb)), np.matmul)
    add_case("@", _label, lambda a, b: a @ b, (smooth(_sa), smooth(_sb)), np.matmul)
for _label, _sx in (("vector", (3,)), ("batch of rows", (4, 3)), ("batch of batches", (2, 4, 3))):
    add_case("linear", _label, ops.linear, (smooth(_sx), smooth((5, 3)), smooth((5,))),
             lambda x, w, b: x @ w.T + b)
add_case("linear", "no bias", ops.linear, (smooth((4, 3)), smooth((5, 3))), lambda x, w: x @ w.T)
_M = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
add_case("@", "array@tensor", lambda x: _like(_M, x) @ x, (smooth((3, 4)),), lambda v: _M @ v)
add_case("@", "tensor@array", lambda x: x @ _like(_M.T, x), (smooth((4, 3)),), lambda v: v @ _M.T)

# ------------------------------------------------------------------ where

_COND = np.array([[True, False, True], [False, False, True]])
add_case("where", "(2,3),(2,3)", lambda a, b: ops.where(_COND, a, b), (smooth((2, 3)), smooth((2, 3))),
         lambda a, b: np.where(_COND, a, b))
add_case("where", "(2,3),(3,)", lambda a, b: ops.where(_COND, a, b), (smooth((2, 3)), smooth((3,))),
         lambda a, b: np.where(_COND, a, b))
add_case("where", "cond(2,1),(1,3),()", lambda a, b: ops.where(_COND[:, :1], a, b),
         (smooth((1, 3)), smooth(())), lambda a, b: np.where(_COND[:, :1], a, b))
add_case("where", "scalar", lambda a, b: ops.where(np.array(True), a, b), (smooth(()), smooth(())),
         lambda a, b: a)
add_case("where", "tensor condition, constant", lambda a: ops.where(Tensor(_COND), a, 0.0), (smooth((2, 3)),),
         lambda a: np.where(_COND, a, 0.0))

# ------------------------------------------------------------------ reductions

_AXES = [(None, False), (0, False), (1, False), (-1, False), ((0, 1), False), (0, True), (None, True)]
for _axis, _keep in _AXES:
    _label = f"axis={_axis},keepdims={_keep}"
    add_case("sum", _label, lambda a, ax=_axis, k=_keep: ops.sum(a, ax, k), (smooth((2, 3)),),
             lambda v, ax=_axis, k=_keep: np.sum(v, axis=ax, keepdims=k))
    add_case("mean", _label, lambda a, ax=_axis, k=_keep: functional.mean(a, ax, k), (smooth((2, 3)),),
             lambda v, ax=_axis, k=_keep: np.mean(v, axis=ax, keepdims=k))
    add_case("max", _label, lambda a, ax=_axis, k=_keep: ops.max(a, ax, k), (distinct((2, 3)),),
             lambda v, ax=_axis, k=_keep: np.max(v, axis=ax, keepdims=k))
    add_case("min", _label, lambda a, ax=_axis, k=_keep: ops.min(a, ax, k), (distinct((2, 3)),),
             lambda v, ax=_axis, k=_keep: np.min(v, axis=ax, keepdims=k))
for _name, _fn, _ref in (("sum", ops.sum, np.sum), ("mean", functional.mean, np.mean),
                         ("max", ops.max, np.max), ("min", ops.min, np.min)):
    add_case(_name, "()", _fn, (smooth(()),), _ref)
    add_case(_name, "(3,)", _fn, (distinct((3,)),), _ref)
    add_case(_name, "(2,3,4) axis=(0,2)", lambda a, f=_fn: f(a, (0, 2)), (distinct((2, 3, 4)),),
             lambda v, r=_ref: r(v, axis=(0, 2)))
add_case("sum", "via method, broadcast result", lambda a: a.sum(axis=0) * a, (smooth((2, 3)),),
         lambda v: v.sum(axis=0) * v)

# ------------------------------------------------------------------ shape ops

for _label, _src, _dst in (("(2,3)->(3,2)", (2, 3), (3, 2)), ("(2,3)->(-1,)", (2, 3), (-1,)),
                           ("()->(1,1)", (), (1, 1)), ("(6,)->(2,1,3)", (6,), (2, 1, 3)),
                           ("(3,)->(3,)", (3,), (3,))):
    add_case("reshape", _label, lambda a, s=_dst: ops.reshape(a, s), (smooth(_src),),
             lambda v, s=_dst: v.reshape(s))
add_case("reshape", "method *args", lambda a: a.reshape(3, 2) * 1.5, (smooth((2, 3)),),
         lambda v: v.reshape(3, 2) * 1.5)

for _label, _shape, _axes in (("(2,3) reversed", (2, 3), ()), ("(2,3,4) (2,0,1)", (2, 3, 4), (2, 0, 1)),
                              ("(2,3,4) (1,0,2)", (2, 3, 4), (1, 0, 2)), ("(3,)", (3,), ()), ("()", (), ())):
    add_case("transpose", _label, lambda a, ax=_axes: ops.transpose(a, ax), (smooth(_shape),),
             lambda v, ax=_axes: np.transpose(v, ax or None))
add_case("transpose", "method", lambda a: a.transpose(1, 2, 0), (smooth((2, 3, 4)),),
         lambda v: v.transpose(1, 2, 0))
for _label, _shape in (("(2,3)", (2, 3)), ("(2,3,4)", (2, 3, 4)), ("(3,)", (3,)), ("()", ())):
    add_case(".T", _label, lambda a: a.T, (smooth(_shape),), lambda v: v.T)

for _label, _src, _dst in (("(3,)->(2,3)", (3,), (2, 3)), ("(2,1)->(2,3)", (2, 1), (2, 3)),
                           ("()->(2,3)", (), (2, 3)), ("(1,3)->(4,2,3)", (1, 3), (4, 2, 3)),
                           ("(3,)->(3,)", (3,), (3,))):
    add_case("broadcast_to", _label, lambda a, s=_dst: ops.broadcast_to(a, s), (smooth(_src),),
             lambda v, s=_dst: np.broadcast_to(v, s))

for _label, _shape, _axis in (("(1,3,1) all", (1, 3, 1), None), ("(1,3,1) axis 0", (1, 3, 1), 0),
                              ("(1,3,1) axis -1", (1, 3, 1), -1), ("(1,) all", (1,), None)):
    add_case("squeeze", _label, lambda a, ax=_axis: ops.squeeze(a, ax), (smooth(_shape),),
             lambda v, ax=_axis: np.squeeze(v, ax))
for _label, _shape, _axis in (("(3,) axis 0", (3,), 0), ("(3,) axis -1", (3,), -1), ("() axis 0", (), 0),
                              ("(2,3) axis 1", (2, 3), 1)):
    add_case("unsqueeze", _label, lambda a, ax=_axis: ops.unsqueeze(a, ax), (smooth(_shape),),
             lambda v, ax=_axis: np.expand_dims(v, ax))

_MASK = np.array([[True, False, True], [False, False, False], [True, True, False], [False, True, True]])
_INDICES = [
    ("slice", np.s_[1:]),
    ("strided slice", np.s_[:, ::2]),
    ("int", np.s_[1]),
    ("negative ints", np.s_[-1, 2]),
    ("repeated int list", [0, 0, 3]),
    ("repeated int array", np.array([2, 2, 2, 0])),
    ("column array, repeated", np.s_[:, [1, 1, 0]]),
    ("pairs of arrays, repeated", ([0, 1, 1, 0], [2, 2, 0, 2])),
    ("slice and array", np.s_[1:3, np.array([0, 0])]),
    ("negative array", np.array([-1, 3, -4])),
    ("new axis", np.s_[..., None]),
    ("boolean mask", _MASK),
    ("2-D int array", np.array([[0, 1], [1, 1]])),
]
for _label, _index in _INDICES:
    add_case("getitem", _label, lambda a, i=_index: ops.getitem(a, i), (smooth((4, 3)),),
             lambda v, i=_index: v[i])
    add_case("[]", _label, lambda a, i=_index: a[i], (smooth((4, 3)),), lambda v, i=_index: v[i])
add_case("getitem", "() with ...", lambda a: ops.getitem(a, ...), (smooth(()),), lambda v: v[...])
add_case("getitem", "(3,) repeated", lambda a: ops.getitem(a, [1, 1, 2, 1]), (smooth((3,)),),
         lambda v: v[[1, 1, 2, 1]])
add_case("[]", "tensor index", lambda a: a[Tensor(np.array([3, 3, 0]))], (smooth((4, 3)),),
         lambda v: v[[3, 3, 0]])

for _label, _shapes, _axis in (("axis 0", [(2, 3), (1, 3), (3, 3)], 0), ("axis 1", [(2, 1), (2, 3)], 1),
                               ("axis -1", [(2, 2), (2, 1), (2, 3)], -1), ("(3,),(2,)", [(3,), (2,)], 0),
                               ("3-D axis 1", [(2, 1, 2), (2, 3, 2)], 1), ("one input", [(2, 3)], 0)):
    add_case("concat", _label, lambda *ts, ax=_axis: ops.concat(ts, ax), tuple(smooth(s) for s in _shapes),
             lambda *vs, ax=_axis: np.concatenate(vs, axis=ax))
for _label, _shape, _axis in (("(2,3) axis 0", (2, 3), 0), ("(2,3) axis 1", (2, 3), 1),
                              ("(2,3) axis 2", (2, 3), 2), ("(2,3) axis -1", (2, 3), -1),
                              ("() axis 0", (), 0), ("(3,) axis -2", (3,), -2)):
    add_case("stack", _label, lambda *ts, ax=_axis: ops.stack(ts, ax),
             tuple(smooth(_shape) for _ in range(3)), lambda *vs, ax=_axis: np.stack(vs, axis=ax))
add_case("concat", "constant and tensor", lambda a: ops.concat([_like(_C, a), a], 0), (smooth((2,)),),
         lambda v: np.concatenate([_C, v]))

# ------------------------------------------------------------------ fused primitives

for _label, _ids, _sparse in (("sparse, repeated ids", np.array([0, 2, 2, 4]), True),
                              ("dense, repeated ids", np.array([0, 2, 2, 4]), False),
                              ("sparse, 2-D windows", np.array([[1, 1, 3], [3, 0, 1]]), True),
                              ("dense, 2-D windows", np.array([[1, 1, 3], [3, 0, 1]]), False),
                              ("sparse, one id", np.array(3), True)):
    add_case("embedding", _label, lambda t, i=_ids, s=_sparse: ops.embedding(t, i, sparse=s),
             (smooth((5, 3)),), lambda v, i=_ids: v[i])
add_case("embedding", "table also used densely",
         lambda t: ops.embedding(t, np.array([1, 1, 4])).sum() + (t * t).sum(), (smooth((5, 3)),),
         lambda v: v[[1, 1, 4]].sum() + (v * v).sum())


def _xent_reference(logits: np.ndarray, targets: np.ndarray, reduction: str) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    losses = -np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
    return {"none": losses, "sum": losses.sum(), "mean": losses.mean()}[reduction]


for _label, _shape, _targets in (("(4,5)", (4, 5), np.array([0, 3, 3, 4])),
                                 ("(2,3,4)", (2, 3, 4), np.array([[0, 1, 3], [2, 2, 0]])),
                                 ("(5,) one position", (5,), np.array(2))):
    for _reduction in ("mean", "sum", "none"):
        add_case("softmax_cross_entropy", f"{_label} {_reduction}",
                 lambda z, t=_targets, r=_reduction: ops.softmax_cross_entropy(z, t, r),
                 (smooth(_shape) * 2,),
                 lambda v, t=_targets, r=_reduction: _xent_reference(v, t, r))


def _logsumexp_reference(v: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    m = v.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(v - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis)


for _label, _shape, _axis, _keep in (("(2,3) axis -1", (2, 3), -1, False), ("(2,3) axis 0", (2, 3), 0, False),
                                     ("(2,3) keepdims", (2, 3), 1, True), ("(4,)", (4,), 0, False),
                                     ("(2,3,4) axis 1", (2, 3, 4), 1, False)):
    add_case("logsumexp", _label, lambda a, ax=_axis, k=_keep: functional.logsumexp(a, ax, k),
             (smooth(_shape) * 2,), lambda v, ax=_axis, k=_keep: _logsumexp_reference(v, ax, k))
for _label, _shape, _axis in (("(2,3) axis -1", (2, 3), -1), ("(2,3) axis 0", (2, 3), 0), ("(4,)", (4,), 0),
                              ("(2,3,4) axis 1", (2, 3, 4), 1)):
    add_case("log_softmax", _label, lambda a, ax=_axis: functional.log_softmax(a, ax), (smooth(_shape) * 2,),
             lambda v, ax=_axis: v - _logsumexp_reference(v, ax, True))
    add_case("softmax", _label, lambda a, ax=_axis: functional.softmax(a, ax), (smooth(_shape) * 2,),
             lambda v, ax=_axis: np.exp(v - _logsumexp_reference(v, ax, True)))

# ------------------------------------------------------------------ character convolution


def _unfold_reference(v: np.ndarray, width: int) -> np.ndarray:
    steps = v.shape[-2] - width + 1
    return np.concatenate([v[..., j:j + steps, :] for j in range(width)], axis=-1)


for _label, _shape, _width in (("(5,2) width 3", (5, 2), 3), ("(2,6,3) width 2", (2, 6, 3), 2),
                               ("(2,3,4,2) width 3", (2, 3, 4, 2), 3), ("(4,3) width 1", (4, 3), 1),
                               ("(3,2) width = length", (3, 2), 3)):
    add_case("unfold", _label, lambda a, w=_width: ops.unfold(a, w), (smooth(_shape),),
             lambda v, w=_width: _unfold_reference(v, w))
add_case("unfold", "then @ convolves", lambda a, w: ops.unfold(a, 3) @ w, (smooth((2, 6, 3)), smooth((9, 4))),
         lambda v, w: _unfold_reference(v, 3) @ w)


def _masked_max_reference(v: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None], v, -np.inf).max(axis=-2)


_LENGTHS = np.array([[4, 1, 2], [3, 4, 1]])  # true positions per row: a word's length
_WORD_MASK = np.arange(4) < _LENGTHS[..., None]  # (2, 3, 4)
for _label, _shape, _mask in (("(4,3) all true", (4, 3), np.ones(4, dtype=bool)),
                              ("(4,3) first two", (4, 3), np.array([True, True, False, False])),
                              ("(2,3,4,5) word lengths", (2, 3, 4, 5), _WORD_MASK),
                              ("(3,2,2) one true each", (3, 2, 2), np.array([[True, False], [False, True],
                                                                             [True, False]]))):
    add_case("masked_max", _label, lambda a, m=_mask: ops.masked_max(a, m), (distinct(_shape),),
             lambda v, m=_mask: _masked_max_reference(v, m))

ALL_CASES: list[Case] = [case for cases in CASES.values() for case in cases]


def uncovered(table: Mapping[str, Primitive] = PRIMITIVES) -> list[str]:
    """What in the registry has no gradient-check case: a primitive (by name), an operator or property it is
    bound to (by symbol, see OPERATORS), or a method taking spread-out arguments (a case labelled "method")."""
    missing = []
    for entry in table.values():
        if not CASES.get(entry.name):
            missing.append(entry.name)
        elif entry.varargs and not any(case.label.startswith("method") for case in CASES[entry.name]):
            missing.append(f"{entry.name} (a case labelled 'method ...' for t.{entry.methods[0]}(*args))")
        for attr in filter(None, (*entry.operators, entry.reflected, entry.attribute)):
            symbol = OPERATORS.get(attr)
            if symbol is None or not CASES.get(symbol):
                missing.append(f"Tensor.{attr} of {entry.name} ({symbol!r} in CASES)" if symbol else
                               f"Tensor.{attr} of {entry.name} (no symbol for it in OPERATORS)")
    return missing
