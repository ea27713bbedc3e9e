"""How much does the engine cost on top of NumPy?

Two questions, one table each (median of several repeats, ours and its NumPy reference taking turns in the
same process, cyclic GC enabled as in training):

1. Per primitive, forward + backward, on (64, 9) float32 arrays: add, mul, mul by a constant, tanh, matmul
   (64,9)@(9,9) and sum, each (a) as a graph of that one op, so one backward() call's fixed cost is in the
   figure, and (b) per op in a chain of 50 of that op (y = op(y, leaf), so the leaf also sums 50
   contributions), plus a chain mixing mul, tanh and add. Each against the same forward + backward written
   by hand in NumPy; the overhead is ours minus by hand. Target: <= 2.5 us of overhead per primitive.
2. One SGD training step of a 2-layer MLP (batch 64, 250 -> 300 tanh -> 9, softmax cross-entropy, mean
   over the batch) in float32 and float64: ours against the same step backpropagated by hand in NumPy
   (checked to give the same parameters), and PyTorch's when torch is importable. Target: <= 1.15x.

Run: python benchmarks/bench_engine.py [--repeats 7] [--no-torch]
BLAS threads follow OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS), else every usable core; PyTorch gets the same
count. On a machine busy with other work, multi-threaded BLAS timings swing by 10x or more: check the load
average printed at the top, or pin both to one thread with OPENBLAS_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from _machine import blas_name, blas_threads, thread_settings, usable_cores

from window_ner.autodiff import Tensor, ops

SHAPE = (64, 9)
CHAIN_LENGTH = 50
PER_OP_TARGET_US = 2.5
STEP_TARGET_RATIO = 1.15
BATCH, IN_DIM, HIDDEN, CLASSES, LEARNING_RATE = 64, 250, 300, 9, 0.1


def _timer(fn: Callable[[], object]) -> tuple[timeit.Timer, int]:
    timer = timeit.Timer(fn, setup="gc.enable()")  # timeit turns the GC off; training runs with it on
    return timer, max(timer.autorange()[0], 1)


def median_seconds_each(functions: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median time of one call of each function, over ``repeats`` runs of at least 0.2 s each, the functions
    taking turns so that a change in the machine's speed hits them alike."""
    timers = [_timer(fn) for fn in functions]
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(repeats):
        for (timer, number), out in zip(timers, times, strict=True):
            out.append(timer.timeit(number) / number)
    return [statistics.median(t) for t in times]


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median time of one call of ``fn`` over ``repeats`` runs, each at least 0.2 s long."""
    return median_seconds_each([fn], repeats)[0]


def machine() -> list[str]:
    threads, source = blas_threads()
    lines = [
        f"machine: {platform.machine()} {platform.processor() or ''}".rstrip(),
        f"cores: {os.cpu_count()} (usable by this process: {usable_cores()})",
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"BLAS {blas_name()}, {threads} thread(s) ({source})",
        "command: " + thread_settings() + " ".join(["python", *sys.argv]),
    ]
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
        busy = " (busy: other work competes for the cores; timings are unreliable)" if load > 0.5 else ""
        lines.append(f"load average (1 min) before the run: {load:.2f}{busy}")
    return lines


# ------------------------------------------------------------------ 1. per-primitive overhead

@dataclass
class Primitive:
    """One op, ours and by hand. ``ours(y)`` applies it to a tensor; ``forward(y)`` to an array, and
    ``backward(g, y, out)`` turns the upstream gradient of ``out = forward(y)`` into (gradient of y,
    gradient of the op's leaf operand or None)."""

    name: str
    ours: Callable[[Tensor], Tensor]
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray | None]]
    leaf: Tensor | None = None
    chains: bool = True


def primitives(dtype: type) -> list[Primitive]:
    rng = np.random.default_rng(0)
    b_value = (1 + 0.01 * rng.standard_normal(SHAPE)).astype(dtype)  # near 1: 50 products stay normal numbers
    w_value = (np.eye(SHAPE[1]) + 0.01 * rng.standard_normal((SHAPE[1], SHAPE[1]))).astype(dtype)
    b = Tensor(b_value, requires_grad=True)
    w = Tensor(w_value, requires_grad=True)
    constant = dtype(0.999)
    ones = np.ones(SHAPE, dtype=dtype)

    return [
        Primitive("add", lambda y: y + b, lambda y: y + b_value, lambda g, y, out: (g, g), b),
        Primitive("mul", lambda y: y * b, lambda y: y * b_value, lambda g, y, out: (g * b_value, g * y), b),
        Primitive("mul by a constant", lambda y: y * constant, lambda y: y * constant,
                  lambda g, y, out: (g * constant, None)),
        Primitive("tanh", ops.tanh, np.tanh, lambda g, y, out: (g * (1 - out * out), None)),
        Primitive("matmul (64,9)@(9,9)", lambda y: y @ w, lambda y: y @ w_value,
                  lambda g, y, out: (g @ w_value.T, y.T @ g), w),
        Primitive("sum", lambda y: y.sum(), lambda y: y.sum(), lambda g, y, out: (g * ones, None), chains=False),
    ]


def graph_runs(primitive: Primitive, length: int, start: Tensor) -> tuple[Callable[[], None], Callable[[], object]]:
    """(ours, by hand): forward through ``length`` applications of the primitive, then backward; one
    application is written straight, without the chain's loops and lists."""
    seed = np.ones(SHAPE, dtype=start.dtype) if primitive.chains else None
    leaves = [t for t in (start, primitive.leaf) if t is not None]
    x = start.data

    def ours_once() -> None:
        primitive.ours(start).backward(seed)
        for leaf in leaves:
            leaf.grad = None

    def by_hand_once() -> tuple[np.ndarray, np.ndarray | None]:
        upstream = seed if seed is not None else np.ones((), dtype=x.dtype)
        return primitive.backward(upstream, x, primitive.forward(x))

    if length == 1:
        return ours_once, by_hand_once

    def ours() -> None:
        y = start
        for _ in range(length):
            y = primitive.ours(y)
        y.backward(seed)
        for leaf in leaves:
            leaf.grad = None

    def by_hand() -> tuple[np.ndarray, np.ndarray | None]:
        values = [x]  # the input of each application, then the last output
        for _ in range(length):
            values.append(primitive.forward(values[-1]))
        g, leaf_grad = seed, None
        for k in reversed(range(length)):
            g, contribution = primitive.backward(g, values[k], values[k + 1])
            if contribution is not None:
                leaf_grad = contribution if leaf_grad is None else leaf_grad + contribution
        return g, leaf_grad

    return ours, by_hand


def mixed_chain(start: Tensor, b: Tensor) -> tuple[Callable[[], None], Callable[[], object]]:
    """The chain y = tanh(y * b + b) + b ... mixing mul, tanh and add, ours and by hand."""
    seed = np.ones(SHAPE, dtype=start.dtype)

    def ours() -> None:
        y = start
        for k in range(CHAIN_LENGTH // 2):
            y = ops.tanh(y) if k % 2 else y * b
            y = y + b
        y.backward(seed)
        start.grad = b.grad = None

    def by_hand() -> tuple[np.ndarray, np.ndarray]:
        values, inputs, y = [], [], start.data
        for k in range(CHAIN_LENGTH // 2):
            inputs.append(y)
            y = np.tanh(y) if k % 2 else y * b.data
            values.append(y)
            y = y + b.data
        g, grad_b = seed, np.zeros_like(b.data)
        for k in reversed(range(CHAIN_LENGTH // 2)):
            grad_b = grad_b + g
            if k % 2:
                g = g * (1 - values[k] * values[k])
            else:
                grad_b = grad_b + g * inputs[k]
                g = g * b.data
        return g, grad_b

    return ours, by_hand


def primitive_cases(dtype: type) -> list[tuple[str, int, Callable[[], object], Callable[[], object]]]:
    """(name, ops per call, ours fwd+bwd, NumPy fwd+bwd by hand) for every row of the table."""
    start = Tensor(np.random.default_rng(1).standard_normal(SHAPE).astype(dtype), requires_grad=True)
    cases = []
    for primitive in primitives(dtype):
        cases.append((f"{primitive.name}: one-op graph", 1, *graph_runs(primitive, 1, start)))
        if primitive.chains:
            cases.append((f"{primitive.name}: chain of {CHAIN_LENGTH}", CHAIN_LENGTH,
                          *graph_runs(primitive, CHAIN_LENGTH, start)))
    b = Tensor((1 + 0.01 * np.random.default_rng(2).standard_normal(SHAPE)).astype(dtype), requires_grad=True)
    cases.append((f"mul, tanh, add: chain of {CHAIN_LENGTH}", CHAIN_LENGTH, *mixed_chain(start, b)))
    return cases


def per_op_table(repeats: int) -> list[str]:
    rows = ["| graph ((64, 9) float32; a one-op graph includes one backward() call's fixed cost) "
            "| ours fwd+bwd (us/op) | NumPy fwd+bwd by hand (us/op) | overhead = ours - by hand (us/op) "
            "| overhead <= 2.5 us |",
            "|---|---:|---:|---:|:---:|"]
    for name, count, ours, by_hand in primitive_cases(np.float32):
        ours_s, hand_s = median_seconds_each([ours, by_hand], repeats)
        ours_us, hand_us = ours_s / count * 1e6, hand_s / count * 1e6
        verdict = "yes" if ours_us - hand_us <= PER_OP_TARGET_US else "no"
        rows.append(f"| {name} | {ours_us:.2f} | {hand_us:.2f} | {ours_us - hand_us:.2f} | {verdict} |")
    return rows


# ------------------------------------------------------------------ 2. an MLP training step

def initial_parameters(dtype: type) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "W1": (rng.standard_normal((IN_DIM, HIDDEN)) / np.sqrt(IN_DIM)).astype(dtype),
        "b1": np.zeros(HIDDEN, dtype=dtype),
        "W2": (rng.standard_normal((HIDDEN, CLASSES)) / np.sqrt(HIDDEN)).astype(dtype),
        "b2": np.zeros(CLASSES, dtype=dtype),
    }


def batch(dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return rng.standard_normal((BATCH, IN_DIM)).astype(dtype), rng.integers(0, CLASSES, size=BATCH)


class OurStep:
    def __init__(self, dtype: type):
        self.params = {k: Tensor(v, requires_grad=True) for k, v in initial_parameters(dtype).items()}
        self.x, self.y = batch(dtype)

    def __call__(self) -> None:
        p = self.params
        h = ops.tanh(self.x @ p["W1"] + p["b1"])
        loss = ops.softmax_cross_entropy(h @ p["W2"] + p["b2"], self.y)
        loss.backward()
        for t in p.values():
            t.data -= LEARNING_RATE * t.grad
            t.grad = None

    def values(self) -> dict[str, np.ndarray]:
        return {k: t.data for k, t in self.params.items()}


class HandStep:
    """The same step backpropagated by hand: z1 = x W1 + b1, h = tanh(z1), logits = h W2 + b2,
    loss = mean cross-entropy; dlogits = (p - onehot) / B, then the lecture's formulas layer by layer."""

    def __init__(self, dtype: type):
        self.params = initial_parameters(dtype)
        self.x, self.y = batch(dtype)
        self.rows = np.arange(BATCH)

    def __call__(self) -> None:
        p, x = self.params, self.x
        h = np.tanh(x @ p["W1"] + p["b1"])
        logits = h @ p["W2"] + p["b2"]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        # backward: x is data, so no dx is computed (the engine skips it too)
        dlogits = np.exp(log_probs)
        dlogits[self.rows, self.y] -= 1
        dlogits *= 1 / BATCH
        grads = {"W2": h.T @ dlogits, "b2": dlogits.sum(axis=0)}
        dz1 = (dlogits @ p["W2"].T) * (1 - h * h)
        grads["W1"] = x.T @ dz1
        grads["b1"] = dz1.sum(axis=0)
        for k, g in grads.items():
            p[k] -= LEARNING_RATE * g

    def values(self) -> dict[str, np.ndarray]:
        return self.params


class TorchStep:
    def __init__(self, dtype: type, torch_module):
        self.torch = torch_module
        self.params = {k: torch_module.tensor(v, requires_grad=True)
                       for k, v in initial_parameters(dtype).items()}
        x, y = batch(dtype)
        self.x, self.y = torch_module.from_numpy(x), torch_module.from_numpy(y)

    def __call__(self) -> None:
        torch, p = self.torch, self.params
        h = torch.tanh(self.x @ p["W1"] + p["b1"])
        loss = torch.nn.functional.cross_entropy(h @ p["W2"] + p["b2"], self.y)
        loss.backward()
        with torch.no_grad():
            for t in p.values():
                t -= LEARNING_RATE * t.grad
                t.grad = None

    def values(self) -> dict[str, np.ndarray]:
        return {k: t.detach().numpy() for k, t in self.params.items()}


def same_result(first, second, dtype: type, steps: int = 3) -> bool:
    for _ in range(steps):
        first()
        second()
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    return all(np.allclose(first.values()[k], second.values()[k], rtol=tolerance, atol=tolerance)
               for k in first.values())


def load_torch(threads: int):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def step_table(repeats: int, torch_module) -> list[str]:
    rows = ["| MLP step (64 x 250 -> 300 tanh -> 9, SGD) | NumPy by hand (ms) | ours (ms) | ours / by hand "
            "| target <= 1.15x | PyTorch (ms) | PyTorch / by hand | same parameters as by hand |",
            "|---|---:|---:|---:|:---:|---:|---:|:---:|"]
    for dtype in (np.float32, np.float64):
        agree = same_result(OurStep(dtype), HandStep(dtype), dtype)
        steps = [HandStep(dtype), OurStep(dtype)]
        if torch_module is not None:
            agree = agree and same_result(TorchStep(dtype, torch_module), HandStep(dtype), dtype)
            steps.append(TorchStep(dtype, torch_module))
        hand_s, ours_s, *torch_s = median_seconds_each(steps, repeats)
        ratio = ours_s / hand_s
        torch_cells = "n/a | n/a"
        if torch_s:
            torch_cells = f"{torch_s[0] * 1e3:.3f} | {torch_s[0] / hand_s:.2f}x"
        rows.append(f"| {np.dtype(dtype).name} | {hand_s * 1e3:.3f} | {ours_s * 1e3:.3f} | {ratio:.2f}x "
                    f"| {'yes' if ratio <= STEP_TARGET_RATIO else 'no'} | {torch_cells} | "
                    f"{'yes' if agree else 'NO'} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timing runs per figure; the median is shown")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    args = parser.parse_args(argv)

    threads, _ = blas_threads()
    torch_module = None if args.no_torch else load_torch(threads)
    lines = machine()
    if torch_module is None:
        lines.append("PyTorch: not used (pip install torch==2.13.0 to add its column)")
    else:
        lines.append(f"PyTorch {torch_module.__version__}, torch.set_num_threads({threads})")
    print("\n".join(lines))
    print(f"\nmedian of {args.repeats} repeats, same process, GC enabled\n")
    print("\n".join(per_op_table(args.repeats)))
    print()
    print("\n".join(step_table(args.repeats, torch_module)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
