"""The lecture's worked examples, computed by hand and by the engine, side by side.

1. The window classifier's score s = u . f(W x + b) (n = 3 hidden units, m = 4 inputs, seed 0): the forward
   values z, h, s; the hand-derived gradients delta = u * f'(z), ds/db = delta, ds/dW = delta x^T,
   ds/dx = W^T delta, ds/du = h; the engine's gradients; and whether they agree.
2. J = sigma(s), the binary-classification version: dJ/ds = sigma(s)(1 - sigma(s)) multiplies every gradient.
3. The small graph f(x, y, z) = (x + y) max(y, z) at x = 1, y = 2, z = 0, showing the three gates:
   '+' distributes, 'max' routes, '*' switches. Its graph is written as Graphviz DOT.

Run: python examples/lecture_gradients.py [--out graph.dot]   (without --out the DOT text is printed)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from window_ner.autodiff import Tensor, ops, to_dot

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
        print(f"  {name:<14} engine vs hand: max |difference| = {difference:.1e}")
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


def gates_example() -> tuple[float, Tensor]:
    print("f(x, y, z) = (x + y) max(y, z) at x = 1, y = 2, z = 0")
    x, y, z = (Tensor(value, requires_grad=True, dtype=np.float64, name=name)
               for value, name in ((1.0, "x"), (2.0, "y"), (0.0, "z")))
    a = x + y  # '+' distributes: both inputs get the upstream gradient unchanged
    m = ops.maximum(y, z)  # 'max' routes: the whole gradient goes to the larger input, y
    f = a * m  # '*' switches: d(a m)/da = m and d(a m)/dm = a
    a.name, m.name, f.name = "a = x + y", "m = max(y, z)", "f = a m"
    f.backward(retain_graph=True)
    print(f"  a = x + y = {a.item():g}, m = max(y, z) = {m.item():g}, f = a m = {f.item():g}")
    print("  by hand: df/da = m = 2, df/dm = a = 3; df/dx = df/da = 2; df/dy = df/da + df/dm = 2 + 3 = 5; "
          "df/dz = 0")
    print(f"  engine:  df/dx = {x.grad.item():g}, df/dy = {y.grad.item():g}, df/dz = {z.grad.item():g}")
    engine = np.array([x.grad, y.grad, z.grad], dtype=np.float64)
    worst = agreement({"df/dx,dy,dz": (engine, np.array([2.0, 5.0, 0.0]))})
    return worst, f


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        help="write the DOT graph of the gates example to this file (default: print it)")
    args = parser.parse_args(argv)

    worst = 0.0
    for activation in ACTIVATIONS:
        worst = max(worst, window_score(activation))
        print()
    gates_worst, graph_root = gates_example()
    worst = max(worst, gates_worst)
    print()
    dot = to_dot(graph_root)
    if args.out is None:
        print(dot)
    else:
        args.out.write_text(dot)
        print(f"wrote the graph of f to {args.out} (render: dot -Tsvg {args.out} -o graph.svg)")
    if worst > 1e-12:
        print(f"MISMATCH: the engine's gradients differ from the hand-derived ones by {worst:.1e}")
        return 1
    print(f"all gradients agree: the engine matches the hand-derived gradients (max difference {worst:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
