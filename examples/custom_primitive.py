"""A differentiable primitive of your own: a forward value and a local-gradient rule, nothing more.

A rule receives the upstream gradient g = dL/d(output) and returns one downstream gradient per input:
upstream gradient x local gradient. The engine does the rest (sums over fan-out, undoes broadcasting, skips
inputs that need no gradient).

1. softplus(x) = log(1 + e^x) is elementwise, so its local Jacobian is diagonal, diag(sigmoid(x)), and its
   rule is g * sigmoid(x). Registering it with ``method="softplus"`` also makes it ``t.softplus()``.
2. logaddexp(a, b) = log(e^a + e^b) has two inputs, which may broadcast against each other. Its local
   Jacobians are diag(w) and diag(1 - w) with w = e^a / (e^a + e^b). The rule gives both gradients in the
   output's shape (the engine sums each back to its input's shape), and None for an input that is a plain
   number or needs no gradient; ``operand`` tells which is which.

Both are checked against finite differences in float64 with ``gradcheck``.

Run: python examples/custom_primitive.py
"""

from __future__ import annotations

from typing import Any

import numpy as np

from window_ner.autodiff import Tensor, gradcheck, make, operand, primitive


@primitive(method="softplus")
def softplus(x: Tensor) -> Tensor:
    """log(1 + e^x). Local Jacobian: diag(sigmoid(x))."""
    slope = 0.5 * (1 + np.tanh(0.5 * x.data))  # sigmoid(x), computed without overflow
    return make(np.logaddexp(0, x.data), (x,), lambda g: (g * slope,), "softplus")


@primitive()
def logaddexp(a: Any, b: Any) -> Tensor:
    """log(e^a + e^b). Local Jacobians: diag(w) and diag(1 - w), with w = e^a / (e^a + e^b)."""
    av, a, need_a = operand(a)  # (value, graph node, needs a gradient); a plain number has node None
    bv, b, need_b = operand(b)
    out = np.logaddexp(av, bv)
    w = np.exp(av - out)  # captured by the rule: arrays only, never the output tensor

    def rule(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        return (g * w if need_a else None, g * (1 - w) if need_b else None)

    return make(out, (a, b), rule, "logaddexp")


def leaf(shape: tuple[int, ...], rng: np.random.Generator) -> Tensor:
    return Tensor(rng.uniform(-3.0, 3.0, size=shape), requires_grad=True, dtype=np.float64)


def main() -> None:
    rng = np.random.default_rng(0)
    x = leaf((5,), rng)
    np.testing.assert_allclose(softplus(x).data, np.log1p(np.exp(x.data)), rtol=1e-12)
    softplus(x).sum().backward()
    sigmoid = 1 / (1 + np.exp(-x.data))
    print(f"x                  = {np.array2string(x.data, precision=4)}")
    print(f"d sum softplus/dx  = {np.array2string(x.grad, precision=4)}")
    print(f"sigmoid(x)         = {np.array2string(sigmoid, precision=4)}")
    np.testing.assert_allclose(x.grad, sigmoid, rtol=1e-12)

    a, b = leaf((3, 4), rng), leaf((4,), rng)
    checks = {
        "softplus(x), x (3, 4)": (softplus, [a]),
        "x.softplus() * x, the method": (lambda t: t.softplus() * t, [a]),
        "logaddexp(a, b), a (3, 4), b (4,)": (logaddexp, [a, b]),
        "logaddexp(a, 0.5), a constant": (lambda t: logaddexp(t, 0.5), [a]),
    }
    for label, (fn, inputs) in checks.items():
        gradcheck(fn, inputs)  # raises GradcheckError, naming the input and entry, if the rule is wrong
        print(f"gradcheck (float64) {label:<36} passed")
    print("all gradient checks passed")


if __name__ == "__main__":
    main()
