"""Reverse-mode automatic differentiation on NumPy arrays.

Every op multiplies the upstream gradient by its local gradient to give the downstream gradient; the
engine walks the graph backwards, summing where a tensor fans out.
"""

from window_ner.autodiff.engine import backward, topological_order, unbroadcast
from window_ner.autodiff.functional import hardtanh, log_softmax, logsumexp, mean, softmax
from window_ner.autodiff.gradcheck import GradcheckError, gradcheck, jacobian
from window_ner.autodiff.graph import draw, to_dot
from window_ner.autodiff.ops import (
    abs,
    add,
    broadcast_to,
    clip,
    concat,
    div,
    embedding,
    exp,
    getitem,
    linear,
    log,
    matmul,
    max,
    maximum,
    min,
    minimum,
    mul,
    neg,
    power,
    relu,
    reshape,
    sigmoid,
    softmax_cross_entropy,
    sqrt,
    squeeze,
    stack,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    where,
)
from window_ner.autodiff.tensor import RowSparseGrad, Tensor, is_grad_enabled, no_grad

expand = broadcast_to

__all__ = [
    "Tensor", "RowSparseGrad", "no_grad", "is_grad_enabled", "backward", "topological_order", "unbroadcast",
    "gradcheck", "jacobian", "GradcheckError", "to_dot", "draw",
    "add", "sub", "mul", "div", "power", "matmul", "linear", "neg",
    "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "hardtanh", "maximum", "minimum", "where", "clip",
    "sum", "mean", "max", "min",
    "reshape", "transpose", "broadcast_to", "expand", "squeeze", "unsqueeze", "getitem", "concat", "stack",
    "embedding", "softmax_cross_entropy", "logsumexp", "softmax", "log_softmax",
]
