"""Reverse-mode automatic differentiation on NumPy arrays.

Every op multiplies the upstream gradient by its local gradient to give the downstream gradient; the
engine walks the graph backwards, summing where a tensor fans out.

The ops are registered in one table (``registry.PRIMITIVES``) by the ``@primitive`` decorator, which also
binds each onto Tensor (``Tensor.__add__ is add``); this package exports every registered op. A user's
own differentiable op is a function returning ``make(value, parents, rule, name)``, decorated with
``@primitive``: see ``make``, ``operand``, ``primitive`` and examples/custom_primitive.py. ``trace()`` records a
backward pass node by node; ``to_dot`` and ``render`` draw it.
"""

from window_ner.autodiff.engine import backward, is_released, topological_order, unbroadcast
from window_ner.autodiff.functional import *  # noqa: F403  (the composites; importing registers them)
from window_ner.autodiff.gradcheck import GradcheckError, gradcheck, jacobian
from window_ner.autodiff.graph import GraphvizError, draw, render, to_dot
from window_ner.autodiff.ops import *  # noqa: F403  (the primitives, shape ops included)
from window_ner.autodiff.registry import PRIMITIVES, RegistrationError, primitive, unregister
from window_ner.autodiff.registry import exported as _exported
from window_ner.autodiff.shapes import ShapeError
from window_ner.autodiff.tensor import RowSparseGrad, Tensor, is_grad_enabled, make, no_grad, operand
from window_ner.autodiff.tracing import Trace, trace

__all__ = [
    "Tensor", "RowSparseGrad", "no_grad", "is_grad_enabled", "backward", "is_released", "topological_order",
    "unbroadcast", "ShapeError", "gradcheck", "jacobian", "GradcheckError",
    "trace", "Trace", "to_dot", "render", "draw", "GraphvizError",
    "make", "operand", "primitive", "unregister", "PRIMITIVES", "RegistrationError",
    *_exported(),  # every op registered by the modules above: the table decides what this package exports
]
