"""What does a window-NER training step cost, and what does the row-sparse embedding gradient save?

Model (the CS224N window classifier at CoNLL scale): word embedding 100,000 x 50 and capitalisation
embedding 6 x 5 (padding id 0), window 5, hidden 300 tanh, 9 classes, batch 256, softmax cross-entropy,
Adam, float32. Measured in one process, median of many repeats, the variants interleaved in blocks:
  (a) forward + backward alone (row-sparse embedding gradient)
  (b) full step: forward, backward, Adam (lazy Adam on the embeddings' touched rows)
  (c) full step with a dense embedding gradient (embedding(sparse=False)) and dense Adam
and, for reference, the optimiser step alone in (b) and (c), the same forward + backward written by hand
in NumPy (the floor for (a) on this machine), and PyTorch if installed (in a process of its own: two thread
pools in one process slow each other down).
Targets: (b) <= 1.5 x (a) and (c) >= 10 x (b). PyTorch (optional) runs the same model with as many threads.

Word ids: a batch holds windows of text, so its ids follow the rank-frequency law of words (Zipf: the id
of rank r drawn with probability ~ 1/r; ids are frequency ranks, as Vocab.build numbers them). Such a batch
of 256 windows holds about 730 distinct word ids (CoNLL-2003 train: 723 on average). The worst case, ids
drawn uniformly over the whole table (about 1,200 distinct rows, each far from the others in memory), is
measured too: step (b) on it is the row "(b) with uniform ids".

    python benchmarks/bench_train_step.py [--repeats 200] [--write] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _machine import blas_name, blas_threads, thread_settings

from window_ner import nn
from window_ner.autodiff import Tensor, concat

VOCAB, WORD_DIM, CAPS, CAPS_DIM, WIDTH, HIDDEN, CLASSES, BATCH = 100_000, 50, 6, 5, 5, 300, 9, 256
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
SECTION = "## nn: training step"


class Window(nn.Module):
    """x = [word vectors; caps vectors] of the window; scores = U tanh(W x + b) + c."""

    def __init__(self, rng: np.random.Generator, sparse: bool):
        super().__init__()
        self.words = nn.Embedding(VOCAB, WORD_DIM, padding_idx=0, rng=rng, sparse=sparse)
        self.caps = nn.Embedding(CAPS, CAPS_DIM, padding_idx=0, rng=rng, sparse=sparse)
        self.hidden = nn.Linear(WIDTH * (WORD_DIM + CAPS_DIM), HIDDEN, rng=rng)
        self.out = nn.Linear(HIDDEN, CLASSES, rng=rng)

    def forward(self, words: np.ndarray, caps: np.ndarray) -> Tensor:
        batch = words.shape[0]
        x = concat([self.words(words).reshape(batch, -1), self.caps(caps).reshape(batch, -1)], axis=1)
        return self.out(self.hidden(x).tanh())


def make_batches(rng: np.random.Generator, count: int, ids: str = "text") -> list[tuple[np.ndarray, ...]]:
    """Random windows with padding at some sentence edges. Word ids as in text (``ids="text"``: id r has
    probability ~ 1/r) or uniform over the whole vocabulary (``ids="uniform"``: the worst case)."""
    if ids not in ("text", "uniform"):
        raise ValueError(f"ids must be 'text' or 'uniform', not {ids!r}")
    ranks = np.arange(1, VOCAB)
    zipf = 1.0 / ranks
    zipf /= zipf.sum()
    batches = []
    for _ in range(count):
        if ids == "text":
            words = rng.choice(ranks, size=(BATCH, WIDTH), p=zipf)
        else:
            words = rng.integers(1, VOCAB, size=(BATCH, WIDTH))
        caps = rng.integers(1, CAPS, size=(BATCH, WIDTH))
        edge = rng.random((BATCH, WIDTH)) < np.array([0.1, 0.05, 0, 0.05, 0.1])  # sentence boundaries
        words[edge], caps[edge] = 0, 0
        batches.append((words, caps, rng.integers(0, CLASSES, size=BATCH)))
    return batches


class Ours:
    """Our model and Adam; ``run(batch)`` is one step (or forward + backward only) and records the
    optimiser's share of it."""

    def __init__(self, sparse: bool, with_step: bool, seed: int = 0):
        self.model = Window(np.random.default_rng(seed), sparse)
        self.optimizer = nn.Adam(self.model.parameters(), lr=1e-3)
        self.with_step = with_step
        self.optimizer_seconds: list[float] = []

    def run(self, batch: tuple) -> None:
        words, caps, targets = batch
        self.model.zero_grad()
        loss = nn.cross_entropy(self.model(words, caps), targets)
        loss.backward()
        if self.with_step:
            start = time.perf_counter()
            self.optimizer.step()
            self.optimizer_seconds.append(time.perf_counter() - start)


def numpy_forward_backward(model: Window) -> Callable[[tuple], dict[str, np.ndarray]]:
    """The same forward and backward written by hand in NumPy on ``model``'s weights: the floor for (a) on
    this machine. The step returns the gradients (rows and their summed values for the tables)."""
    words_table, caps_table = model.words.weight.data, model.caps.weight.data
    W, b = model.hidden.W.data, model.hidden.b.data  # noqa: N806 (the lecture's names)
    U, c = model.out.W.data, model.out.b.data  # noqa: N806

    def rows_summed(ids: np.ndarray, grads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unique non-padding ids and the summed gradient rows of their occurrences."""
        keep = ids != 0
        ids, grads = ids[keep], grads[keep]
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
        return sorted_ids[starts], np.add.reduceat(grads[order], starts, axis=0)

    def step(batch: tuple) -> dict[str, np.ndarray]:
        words, caps, targets = batch
        n = len(targets)
        x = np.concatenate([words_table[words].reshape(n, -1), caps_table[caps].reshape(n, -1)], axis=1)
        h = np.tanh(x @ W.T + b)
        scores = h @ U.T + c
        scores -= scores.max(axis=1, keepdims=True)
        delta = np.exp(scores)
        delta /= delta.sum(axis=1, keepdims=True)
        delta[np.arange(n), targets] -= 1  # softmax - onehot
        delta /= n
        grad_u, grad_c = delta.T @ h, delta.sum(axis=0)
        delta_h = (delta @ U) * (1 - h * h)
        grad_w, grad_b = delta_h.T @ x, delta_h.sum(axis=0)
        grad_x = delta_h @ W
        split = WIDTH * WORD_DIM
        word_rows = rows_summed(words.reshape(-1), grad_x[:, :split].reshape(-1, WORD_DIM))
        caps_rows = rows_summed(caps.reshape(-1), grad_x[:, split:].reshape(-1, CAPS_DIM))
        return {"out.W": grad_u, "out.b": grad_c, "hidden.W": grad_w, "hidden.b": grad_b,
                "words.weight": word_rows, "caps.weight": caps_rows}

    return step


def first_layer_products(seed: int = 0) -> Callable[[tuple], None]:
    """Only the step's three big float32 products (z = x W^T, dW = delta^T x, dx = delta W): a step cannot
    cost less than these on this machine's BLAS, whatever else it does."""
    rng = np.random.default_rng(seed)
    width = WIDTH * (WORD_DIM + CAPS_DIM)
    x = rng.standard_normal((BATCH, width)).astype(np.float32)
    W = rng.standard_normal((HIDDEN, width)).astype(np.float32)  # noqa: N806 (the lecture's name)
    delta = rng.standard_normal((BATCH, HIDDEN)).astype(np.float32)

    def step(batch: tuple) -> None:
        del batch
        x @ W.T, delta.T @ x, delta @ W  # noqa: B018 (only their time matters)

    return step


def torch_step(sparse: bool, threads: int) -> Callable[[tuple], None]:
    """The same model and step in PyTorch (torch_reference's, without dropout and with padding id 0): dense
    Adam, or SparseAdam for the embeddings + Adam."""
    import torch
    from torch_reference import TorchWindow, make_step

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    vectors = np.random.default_rng(0).standard_normal((VOCAB, WORD_DIM)).astype(np.float32)
    model = TorchWindow(vectors, CAPS, CAPS_DIM, WIDTH, HIDDEN, CLASSES, sparse, 0.0, 0.0, padding_idx=0)
    step = make_step(model, sparse)
    converted: dict[int, tuple] = {}

    def run(batch: tuple) -> None:
        key = id(batch)
        if key not in converted:  # conversion is not part of the step
            converted[key] = tuple(torch.from_numpy(a) for a in batch)
        step(*converted[key])

    return run


def measure(steps: dict[str, tuple[Callable[[tuple], None], list]], repeats: dict[str, int],
            block: int = 10) -> dict[str, float]:
    """Median ms per step of each variant, each run on its own list of batches. Variants take turns in blocks
    of ``block`` consecutive steps (steady state, as in training; drift hits all alike); a variant with fewer
    repeats sits out rounds."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    rounds = max(1, max(repeats.values()) // block)
    for step, batches in steps.values():  # warm up: optimiser state, allocator pools, BLAS buffers
        for i in range(3):
            step(batches[i % len(batches)])
    for r in range(rounds):
        for name, (step, batches) in steps.items():
            every = max(1, rounds // max(1, repeats[name] // block))
            if r % every or len(times[name]) >= repeats[name]:
                continue
            for i in range(block):
                batch = batches[(r * block + i) % len(batches)]
                start = time.perf_counter()
                step(batch)
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def torch_in_own_process(args: argparse.Namespace) -> dict[str, float] | str:
    """PyTorch's sparse and dense steps (ms), timed by this script in a child process; or why not."""
    command = [sys.executable, __file__, "--torch-only", "--repeats", str(args.repeats),
               "--dense-repeats", str(args.dense_repeats), "--batches", str(args.batches)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "the PyTorch run failed"
    return json.loads(done.stdout)


def machine() -> str:
    """Cores, CPU, NumPy and BLAS of this run."""
    cpu = platform.processor() or platform.machine()
    # Other processes change these figures a lot (OpenBLAS threads spin on a busy core): report the load.
    load = f", load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, NumPy {np.__version__}, "
            f"{blas_name()}, {blas_threads()[0]} BLAS threads{load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=200, help="timed steps of (a) and (b) [200]")
    parser.add_argument("--dense-repeats", type=int, default=30, help="timed steps of dense variants [30]")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    parser.add_argument("--batches", type=int, default=64, help="distinct batches, used in turn [64]")
    parser.add_argument("--profile", action="store_true", help="cProfile 200 steps of (b) and print the top")
    parser.add_argument("--write", action="store_true", help=f"append the table to {DOCS}")
    parser.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()

    batches = make_batches(np.random.default_rng(1), args.batches)
    if args.torch_only:
        import torch

        torch_steps = {"ts": (torch_step(True, blas_threads()[0]), batches),
                       "td": (torch_step(False, blas_threads()[0]), batches)}
        result = measure(torch_steps, {"ts": args.repeats, "td": args.dense_repeats})
        print(json.dumps({**result, "version": torch.__version__}))
        return
    uniform = make_batches(np.random.default_rng(2), args.batches, ids="uniform")
    command = thread_settings() + " ".join(["python", "benchmarks/bench_train_step.py", *sys.argv[1:]])
    if args.profile:
        step = Ours(sparse=True, with_step=True).run
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(200):
            step(batches[i % len(batches)])
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        return

    names = {"a": "(a) forward + backward (row-sparse grad)",
             "b": "(b) step: fwd + bwd + lazy Adam (row-sparse)",
             "c": "(c) step: dense embedding grad + dense Adam",
             "bu": "(b) with uniform ids (worst case)",
             "np": "hand-written NumPy forward + backward (floor for a)",
             "mm": "the three 256 x 275 x 300 float32 products alone",
             "ts": "PyTorch step: sparse=True, SparseAdam + Adam",
             "td": "PyTorch step: dense Embedding + Adam"}
    sparse_step, dense_step = Ours(sparse=True, with_step=True), Ours(sparse=False, with_step=True)
    steps = {names["a"]: (Ours(sparse=True, with_step=False).run, batches),
             names["b"]: (sparse_step.run, batches),
             names["c"]: (dense_step.run, batches),
             names["bu"]: (Ours(sparse=True, with_step=True).run, uniform),
             names["np"]: (numpy_forward_backward(Window(np.random.default_rng(0), sparse=True)), batches),
             names["mm"]: (first_layer_products(), batches)}
    repeats = {name: args.repeats for name in steps}
    repeats[names["c"]] = args.dense_repeats
    ms = measure(steps, repeats)
    torch_note = ""
    if not args.no_torch:
        try:
            import torch  # noqa: F401 (is it installed?)
        except ImportError:
            torch_note = "PyTorch not installed (optional: pip install torch==2.13.0); its rows are skipped."
        else:
            torch_ms = torch_in_own_process(args)
            if isinstance(torch_ms, str):
                torch_note = f"PyTorch rows skipped: {torch_ms}"
            else:
                ms[names["ts"]], ms[names["td"]] = torch_ms["ts"], torch_ms["td"]
                torch_note = (f"PyTorch {torch_ms['version']}, torch.set_num_threads({blas_threads()[0]}), "
                              "timed in a process of its own right after ours.")
    a, b, c, bu, mm = (ms[names[key]] for key in ("a", "b", "c", "bu", "mm"))
    lazy = 1e3 * statistics.median(sparse_step.optimizer_seconds)
    dense = 1e3 * statistics.median(dense_step.optimizer_seconds)
    rows = [f"| {names['a']} | {a:.2f} | reference |",
            f"| {names['b']} | {b:.2f} | {b / a:.2f} x (a) |",
            f"| {names['c']} | {c:.2f} | {c / b:.2f} x (b) |",
            f"| {names['bu']} | {bu:.2f} | (c) = {c / bu:.2f} x this |",
            f"| Adam step alone, lazy (inside b) | {lazy:.2f} | {lazy / a:.2f} x (a) |",
            f"| Adam step alone, dense (inside c) | {dense:.2f} | {dense / lazy:.1f} x lazy |",
            f"| {names['np']} | {ms[names['np']]:.2f} | {ms[names['np']] / a:.2f} x (a) |",
            f"| {names['mm']} | {mm:.2f} | {mm / a:.2f} x (a) |"]
    rows += [f"| {names[key]} | {ms[names[key]]:.2f} | {ms[names[key]] / b:.2f} x (b) |"
             for key in ("ts", "td") if names[key] in ms]
    verdict = (f"(b) / (a) = {b / a:.2f} (target <= 1.5: {'met' if b / a <= 1.5 else 'MISSED'}); "
               f"(c) / (b) = {c / b:.1f} (target >= 10: {'met' if c / b >= 10 else 'MISSED'}; "
               f"with uniform ids {c / bu:.1f}); "
               f"dense / lazy Adam step alone = {dense / lazy:.0f}. A sparse step made of nothing but the three "
               f"products and the lazy Adam update would cost {mm + lazy:.2f} ms: (c) = {c / (mm + lazy):.1f} x that")
    lines = [
        f"Batch {BATCH}, window {WIDTH}, vocab {VOCAB:,} x {WORD_DIM} + caps {CAPS} x {CAPS_DIM}, "
        f"hidden {HIDDEN} tanh, {CLASSES} classes, float32; median of {args.repeats} steps "
        f"({args.dense_repeats} for the dense variants), in blocks of 10, variants interleaved in one process; "
        f"{args.batches} distinct batches of text-like ids (Zipf; (b) also with uniform ids).",
        "",
        "| what ran | ms/step | ratio |",
        "|---|---:|---:|",
        *rows,
        "",
        verdict + ".",
        "",
        f"Machine: {machine()}. {torch_note}".rstrip(),
        "",
        f"Command: `{command}`",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        append_run(f"### {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}\n\n{text}\n")
        print(f"appended to the section {SECTION!r} of {DOCS}")


def append_run(run: str) -> None:
    """Add a run at the end of our section of docs/benchmarks.md (created if missing); others' untouched."""
    existing = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if SECTION not in existing:
        existing = existing.rstrip("\n") + f"\n\n{SECTION}\n\n" + (
            "A training step of the window-NER model on our engine: what the optimiser adds to forward + "
            "backward, and what the row-sparse embedding gradient (lazy Adam on the touched rows) saves "
            "over a dense one. Each run below was written by `benchmarks/bench_train_step.py --write`.\n")
    start = existing.index(SECTION) + len(SECTION)
    following = existing.find("\n## ", start)  # the next section, somebody else's
    end = len(existing) if following < 0 else following
    rest = "\n" + existing[end:].lstrip("\n") if following >= 0 else ""
    updated = existing[:end].rstrip("\n") + "\n\n" + run + rest
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(updated)


if __name__ == "__main__":
    main()
