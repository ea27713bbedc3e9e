"""The lecture's worked examples, computed by hand and by the engine, side by side.

1. The window classifier's score s = u . f(W x + b) (n = 3 hidden units, m = 4 inputs, seed 0): the forward
   values z, h, s; the hand-derived gradients delta = u * f'(z), ds/db = delta, ds/dW = delta x^T,
   ds/dx = W^T delta, ds/du = h; the engine's gradients; and whether they agree.
2. J = sigma(s), the binary-classification version: dJ/ds = sigma(s)(1 - sigma(s)) multiplies every gradient.
3. The small graph f(x, y, z) = (x + y) max(y, z) at x = 1, y = 2, z = 0, showing the three gates:
   '+' distributes, 'max' routes, '*' switches. Its backward pass is traced and printed as a table: for
   every node the upstream gradient, the local gradient and the downstream gradient per input.
4. The same table for s = u . tanh(W x + b) with a small random W (2 x 3), x, b and u.

Run: python examples/lecture_gradients.py [--svg docs/] [--out f.dot]
     --svg DIR writes DIR/lecture_f.svg and DIR/lecture_s.svg (needs Graphviz's dot); --out writes f's DOT.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from window_ner.autodiff import Tensor, Trace, ops, render, to_dot, trace

ACTIVATIONS = {
    "tanh": (ops.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (ops.sigmoid, lambda z: (1 / (1 + np.exp(-z))) * (1 - 1 / (1 + np.exp(-z)))),
    "relu": (ops.relu, lambda z: (z > 0).astype(z.dtype)),
}


def show(name: str, value: np.ndarray) -> None:
    text = np.array2string(np.asarray(value), precision=5, suppress_small=True, max_line_width=100)
    print(f"  {name:<14} = " + text.replace("\n", "\n" + " " * 19))


def agreement(pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> float:
    """Print each engine/hand pair's largest difference; return the largest overall."""
    worst = 0.0
    for name, (engine, hand) in pairs.items():
        difference = float(np.max(np.abs(np.asarray(engine) - np.asarray(hand)), initial=0.0))
        worst = max(worst, difference)
        print(f"  {name:<18} engine vs hand: max |difference| = {difference:.1e}")
    return worst


def window_score(activation: str = "tanh", seed: int = 0) -> float:
    f, f_prime = ACTIVATIONS[activation]
    n, m = 3, 4
    rng = np.random.default_rng(seed)
    w_value, x_value = rng.standard_normal((n, m)), rng.standard_normal(m)
    b_value, u_value = rng.standard_normal(n), rng.standard_normal(n)

    print(f"s = u . f(W x + b) with f = {activation}, W {n}x{m}, seed {seed}")
    # By hand, exactly as the lecture derives it.
    z = w_value @ x_value + b_value
    h = f(Tensor(z, dtype=np.float64)).data
    s = u_value @ h
    delta = u_value * f_prime(z)  # the local error signal at z
    hand = {"ds/dW": np.outer(delta, x_value), "ds/db": delta, "ds/dx": w_value.T @ delta, "ds/du": h}
    show("z = Wx + b", z)
    show("h = f(z)", h)
    show("s = u.h", s)
    show("delta", delta)
    for name, value in hand.items():
        show(name + " (hand)", value)

    # By the engine.
    w, x, b, u = (Tensor(value, requires_grad=True, dtype=np.float64)
                  for value in (w_value, x_value, b_value, u_value))
    score = u @ f(w @ x + b)
    score.backward()
    engine = {"ds/dW": w.grad, "ds/db": b.grad, "ds/dx": x.grad, "ds/du": u.grad}
    print(f"  engine s = {score.item():.6f}")
    worst = agreement({name: (engine[name], hand[name]) for name in hand})

    # J = sigma(s): one more factor, sigma'(s), on the way back.
    for t in (w, x, b, u):
        t.grad = None
    probability = ops.sigmoid(u @ f(w @ x + b))
    probability.backward()
    local = probability.item() * (1 - probability.item())
    print(f"  J = sigma(s) = {probability.item():.6f}, dJ/ds = sigma(s)(1 - sigma(s)) = {local:.6f}")
    chained = {"dJ/dW": (w.grad, local * hand["ds/dW"]), "dJ/dx": (x.grad, local * hand["ds/dx"])}
    worst = max(worst, agreement(chained))
    return worst


def leaf(value: object, name: str) -> Tensor:
    return Tensor(value, requires_grad=True, dtype=np.float64, name=name)


def gates_example() -> tuple[float, Trace]:
    print("f(x, y, z) = (x + y) max(y, z) at x = 1, y = 2, z = 0")
    x, y, z = leaf(1.0, "x"), leaf(2.0, "y"), leaf(0.0, "z")
    a = x + y  # '+' distributes: both inputs get the upstream gradient unchanged
    b = ops.maximum(y, z)  # 'max' routes: the whole gradient goes to the larger input, y
    f = a * b  # '*' switches: d(a b)/da = b and d(a b)/db = a
    a.name, b.name, f.name = "a = x + y", "b = max(y, z)", "f = a b"
    with trace() as recording:
        f.backward()
    print(f"  a = x + y = {a.item():g}, b = max(y, z) = {b.item():g}, f = a b = {f.item():g}")
    print("  by hand: df/da = b = 2, df/db = a = 3; df/dx = df/da = 2; df/dy = df/db + df/da = 3 + 2 = 5; "
          "df/dz = 0")
    print(f"  engine:  df/dx = {x.grad.item():g}, df/dy = {y.grad.item():g}, df/dz = {z.grad.item():g}")
    print()
    print(recording)
    engine = np.array([x.grad, y.grad, z.grad, recording.gradient(a), recording.gradient(b)], dtype=np.float64)
    worst = agreement({"df/dx,dy,dz,da,db": (engine, np.array([2.0, 5.0, 0.0, 2.0, 3.0]))})
    return worst, recording


def traced_score(seed: int = 1) -> tuple[float, Trace]:
    n, m = 2, 3
    rng = np.random.default_rng(seed)
    w, x = leaf(rng.standard_normal((n, m)), "W"), leaf(rng.standard_normal(m), "x")
    b, u = leaf(rng.standard_normal(n), "b"), leaf(rng.standard_normal(n), "u")
    print(f"s = u . tanh(W x + b) with W {n}x{m}, seed {seed}: the backward pass, node by node")
    print()
    wx = w @ x
    z = wx + b
    h = ops.tanh(z)
    s = u @ h
    wx.name, z.name, h.name, s.name = "Wx", "z = Wx + b", "h = tanh(z)", "s = u . h"
    with trace() as recording:
        s.backward()
    print(recording)
    delta = u.data * (1 - np.tanh(z.data) ** 2)  # by hand: the lecture's error signal at z
    hand = {"ds/dh = u": (recording.gradient(h), u.data), "ds/dz = delta": (recording.gradient(z), delta),
            "ds/dW = delta x^T": (w.grad, np.outer(delta, x.data)), "ds/dx = W^T delta": (x.grad, w.data.T @ delta),
            "ds/db = delta": (b.grad, delta), "ds/du = h": (u.grad, h.data)}
    return agreement(hand), recording


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the DOT graph of the traced f example to this file")
    parser.add_argument("--svg", type=Path, metavar="DIR",
                        help="write lecture_f.svg and lecture_s.svg to this folder (needs Graphviz's dot)")
    args = parser.parse_args(argv)

    worst = 0.0
    for activation in ACTIVATIONS:
        worst = max(worst, window_score(activation))
        print()
    gates_worst, f_trace = gates_example()
    print()
    score_worst, s_trace = traced_score()
    worst = max(worst, gates_worst, score_worst)
    print()
    if args.out is not None:
        args.out.write_text(to_dot(f_trace))
        print(f"wrote the graph of f to {args.out} (render: dot -Tsvg {args.out} -o graph.svg)")
    if args.svg is not None:
        args.svg.mkdir(parents=True, exist_ok=True)
        for stem, recording in (("lecture_f", f_trace), ("lecture_s", s_trace)):
            print(f"wrote {render(to_dot(recording), args.svg / f'{stem}.svg')}")
    if worst > 1e-12:
        print(f"MISMATCH: the engine's gradients differ from the hand-derived ones by {worst:.1e}")
        return 1
    print(f"all gradients agree: the engine matches the hand-derived gradients (max difference {worst:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
