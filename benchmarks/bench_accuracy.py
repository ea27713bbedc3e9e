"""Accuracy on CoNLL-2003: the issue's three models, several seeds, test reported once per run.

    python benchmarks/bench_accuracy.py [--seeds 1 2 3] [--only glove] [--data ../shared/data]

Prints a markdown table (median and range over seeds) for docs/benchmarks.md. Every choice was made on
dev; test F1 is printed for the final model of each run, as the issue asks.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from window_ner.ner.experiment import Experiment, run_experiment
from window_ner.ner.model.classifier import ModelOptions
from window_ner.ner.model.heads import BinaryHead, SoftmaxHead
from window_ner.ner.training.loop import TrainConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

CONFIGS = {
    # The lecture's model: random 50-d word vectors + capitalisation, hidden 300 tanh, softmax.
    "lecture": {"vectors": False, "binary": None},
    # The same network started from GloVe 50d.
    "glove": {"vectors": True, "binary": None},
    # The lecture's binary model: is the centre word a LOCATION? J = sigma(u . h)
    "binary-LOC": {"vectors": True, "binary": "LOC"},
}


def run(name: str, seed: int, data: Path, epochs: int, batching: str = "") -> dict:
    spec = CONFIGS[name]
    conll = data / "conll2003"
    exp = Experiment(
        train_path=conll / "train.txt", dev_path=conll / "dev.txt", test_path=conll / "test.txt",
        vectors_path=data / "glove" / "glove.6B.50d.conll+top100k.txt.gz" if spec["vectors"] else None,
        model=ModelOptions(dropout_input=0.2, dropout_hidden=0.5),
        training=TrainConfig(epochs=epochs, seed=seed, batching=batching),
        head="binary" if spec["binary"] else "softmax",
        head_options=BinaryHead.Options(spec["binary"]) if spec["binary"] else SoftmaxHead.Options(),
        progress=False,
    )
    results, _ = run_experiment(exp, log=io.StringIO())
    return results


def _fmt(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{100 * med:.2f} ({100 * min(values):.2f}-{100 * max(values):.2f})" if len(values) > 1 \
        else f"{100 * med:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--only", nargs="+", choices=sorted(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--batching", choices=["windows", "sentences"], default="",
                        help="mini-batches of windows or whole sentences (default: each head's own)")
    args = parser.parse_args()
    if not (args.data / "conll2003" / "train.txt").exists():
        print(f"skipped: CoNLL-2003 not found under {args.data}")
        return 0
    rows = []
    for name in args.only:
        runs = []
        for seed in args.seeds:
            began = time.perf_counter()
            result = run(name, seed, args.data, args.epochs, args.batching)
            result["wall"] = time.perf_counter() - began
            print(f"{name} seed {seed}: " + json.dumps(result), file=sys.stderr, flush=True)
            runs.append(result)
        rows.append((name, runs))
    print(f"\nmachine: {os.cpu_count()} cores, {platform.python_version()}, NumPy {np.__version__}")
    print(f"command: python benchmarks/bench_accuracy.py --seeds {' '.join(map(str, args.seeds))} "
          f"--only {' '.join(args.only)}" + (f" --batching {args.batching}" if args.batching else "") + "\n")
    print("| model | metric | dev F1 | test F1 | epochs (best) | train s | wall s (load+train+eval) |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in rows:
        metric = "token F1 (LOC)" if CONFIGS[name]["binary"] else "entity F1 (conlleval)"
        dev = _fmt([r["dev"]["f1"] for r in runs])
        test = _fmt([r["test"]["f1"] for r in runs])
        epochs = ", ".join(f"{r['epochs']} ({r['best_epoch']})" for r in runs)
        train_s = statistics.median(r["train_seconds"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        print(f"| {name} | {metric} | {dev} | {test} | {epochs} | {train_s:.0f} | {wall:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
