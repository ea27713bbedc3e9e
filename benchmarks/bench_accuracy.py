"""Accuracy on CoNLL-2003: the models of issue 6 and the ablation of issue 14, several seeds.

    python benchmarks/bench_accuracy.py [--seeds 1 2 3] [--only glove +doc] [--final] [--data ../shared/data]

Prints a markdown table (median and range over seeds) for docs/benchmarks.md. Every choice was made on
dev; test F1 is printed for the model dev chose in each run. The ablation rows add one ingredient at a time
(``+doc``: document context, then ``+gaz``: the gazetteer that tools/build_gazetteer.py builds, ``+crf``:
the CRF head, ``+chars``: the character CNN). With ``--final`` each run also trains the final model on
train + dev for the epoch count dev chose, and its test F1 goes to a table of its own.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from window_ner.ner.data.conll import load_conll
from window_ner.ner.experiment import Experiment, run_experiment
from window_ner.ner.model.classifier import ModelOptions
from window_ner.ner.model.heads import HEADS
from window_ner.ner.training.loop import TrainConfig

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

ROOT = Path(__file__).resolve().parents[1]
GLOVE = ("glove", "glove.6B.50d.conll+top100k.txt.gz")

CONFIGS = {
    # The lecture's model: random 50-d word vectors + capitalisation, hidden 300 tanh, softmax.
    "lecture": {"vectors": False},
    # The same network started from GloVe 50d.
    "glove": {"vectors": True},
    # The lecture's binary model: is the centre word a LOCATION? J = sigma(u . h)
    "binary-LOC": {"vectors": True, "binary": "LOC"},
    # issue 14's ablation, one ingredient at a time on top of "glove"
    "+doc": {"vectors": True, "features": ("caps", "doc")},
    "+doc0": {"vectors": True, "features": ("caps", "doc"), "doc_folds": 0},  # no cross-fitting: 2 models, not 7
    "+doc+gaz": {"vectors": True, "features": ("caps", "doc", "gazetteer")},
    "+doc+gaz+crf": {"vectors": True, "features": ("caps", "doc", "gazetteer"), "head": "crf"},
    "+doc+gaz+crf+chars": {"vectors": True, "features": ("caps", "chars", "doc", "gazetteer"), "head": "crf"},
    # single ingredients on top of "glove", for the record
    "+gaz": {"vectors": True, "features": ("caps", "gazetteer")},
    "+crf": {"vectors": True, "head": "crf"},
    "+chars": {"vectors": True, "features": ("caps", "chars")},
}


def gazetteer_file(folder: Path) -> Path:
    """The gazetteer tools/build_gazetteer.py builds from its PyPI sources (the [gazetteer] extra)."""
    path = folder / "gazetteer.tsv"
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_gazetteer.py"), "--out", str(path)], check=True,
                       stdout=subprocess.DEVNULL)
    return path


def run(name: str, seed: int, data: Path, epochs: int, batching: str = "", final: bool = False,
        folder: Path | None = None) -> dict:
    spec = CONFIGS[name]
    conll = data / "conll2003"
    features = spec.get("features", ("caps",))
    head = spec.get("head", "binary" if spec.get("binary") else "softmax")
    options = HEADS.get(head).Options
    exp = Experiment(
        train_path=conll / "train.txt", dev_path=conll / "dev.txt", test_path=conll / "test.txt",
        vectors_path=data.joinpath(*GLOVE) if spec["vectors"] else None,
        model=ModelOptions(features=features, dropout_input=0.2, dropout_hidden=0.5),
        training=TrainConfig(epochs=epochs, seed=seed, batching=batching),
        head=head, head_options=options(spec["binary"]) if spec.get("binary") else options(),
        gazetteer=gazetteer_file(folder) if "gazetteer" in features else None,
        progress=False, final=final, doc_folds=spec.get("doc_folds", Experiment.doc_folds),
    )
    results, tagger = run_experiment(exp, log=io.StringIO())
    results["tagging"] = tagging_speed(tagger, conll / "test.txt")
    return results


def tagging_speed(tagger: Any, path: Path, repeats: int = 3) -> float:
    """Tokens per second of Tagger.predict on a pre-tokenised file's sentences, by document (median)."""
    sentences = load_conll(path)
    tokens, documents = [s.tokens for s in sentences], [s.doc for s in sentences]
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        tagger.predict(tokens, documents)
        times.append(time.perf_counter() - began)
    return sum(map(len, tokens)) / statistics.median(times)


def _fmt(values: list[float]) -> str:
    med = statistics.median(values)
    return f"{100 * med:.2f} ({100 * min(values):.2f}-{100 * max(values):.2f})" if len(values) > 1 \
        else f"{100 * med:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--only", nargs="+", choices=list(CONFIGS), default=["lecture", "glove", "binary-LOC"],
                        help="which models (default: issue 6's three)")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--batching", choices=["windows", "sentences"], default="",
                        help="mini-batches of windows or whole sentences (default: each head's own)")
    parser.add_argument("--final", action="store_true",
                        help="also train each run's final model on train + dev (a table of its own)")
    args = parser.parse_args()
    if not (args.data / "conll2003" / "train.txt").exists():
        print(f"skipped: CoNLL-2003 not found under {args.data}")
        return 0
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.only:
            runs = []
            for seed in args.seeds:
                began = time.perf_counter()
                result = run(name, seed, args.data, args.epochs, args.batching, args.final, Path(folder))
                result["wall"] = time.perf_counter() - began
                print(f"{name} seed {seed}: " + json.dumps(result), file=sys.stderr, flush=True)
                runs.append(result)
            rows.append((name, runs))
    print(f"\nmachine: {os.cpu_count()} cores, {platform.python_version()}, NumPy {np.__version__}")
    print(f"command: python benchmarks/bench_accuracy.py --seeds {' '.join(map(str, args.seeds))} "
          f"--only {' '.join(args.only)}" + (f" --batching {args.batching}" if args.batching else "")
          + (" --final" if args.final else "") + "\n")
    print("train-only protocol (every choice on dev; train s counts every stage, first-stage folds included):\n")
    print("| model | metric | dev F1 | test F1 | epochs (best) | train s | tagging tokens/s | wall s |")
    print("|---|---|---|---|---|---:|---:|---:|")
    for name, runs in rows:
        metric = "token F1 (LOC)" if CONFIGS[name].get("binary") else "entity F1 (conlleval)"
        dev = _fmt([r["dev"]["f1"] for r in runs])
        test = _fmt([r["test"]["f1"] for r in runs])
        epochs = ", ".join(f"{r['epochs']} ({r['best_epoch']})" for r in runs)
        train_s = statistics.median(r["train_seconds"] + r.get("first_stage", {}).get("seconds", 0) for r in runs)
        tagging = statistics.median(r["tagging"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        print(f"| {name} | {metric} | {dev} | {test} | {epochs} | {train_s:.0f} | {tagging:,.0f} | {wall:.0f} |")
    if args.final:
        print("\nfinal-model protocol (trained on train + dev for the epochs dev chose; test only):\n")
        print("| model | test F1 | epochs |")
        print("|---|---|---|")
        for name, runs in rows:
            test = _fmt([r["final"]["test"]["f1"] for r in runs])
            print(f"| {name} | {test} | {', '.join(str(r['final']['epochs']) for r in runs)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
