"""End-to-end tagging speed of trained models on a pre-tokenised CoNLL file, side by side in one run.

    python benchmarks/bench_tag_models.py MODEL [MODEL ...] [--conll FILE] [--rounds 5]
    python benchmarks/bench_tag_models.py runs/doc --first-stage   # a doc model against its own first stage

Two measures per model, each round taking the models in turn (the order alternating from round to round),
each figure the median over the rounds, the ratios comparing models of this same run:
- in process, as bench_speed.py's "tag pre-tokenised test file": the model loaded once, then read the file,
  encode, score (both passes of a doc model), decode and write the tagged file;
- cold: ``window-ner tag --model MODEL --conll FILE --output FILE --no-progress`` in a process of its own
  (start-up and model loading included: what a user waits for).
``--first-stage`` saves a doc model's first stage as a model of its own (the one-stage model it was trained
beside) and times it too.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from window_ner.ner.data.conll import load_conll, write_conll
from window_ner.ner.inference.tagger import Tagger

DEFAULT_CONLL = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003" / "test.txt"


def tag_once(model: Path, conll: Path, out: Path) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "window_ner", "tag", "--model", str(model), "--conll", str(conll),
                    "--output", str(out), "--no-progress"], check=True)
    return time.perf_counter() - began


def tag_in_process(tagger: Tagger, conll: Path, out: Path) -> float:
    began = time.perf_counter()
    sentences = load_conll(conll)
    write_conll(out, sentences, tagger.predict([s.tokens for s in sentences], [s.doc for s in sentences]))
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="model folders or files")
    parser.add_argument("--conll", type=Path, default=DEFAULT_CONLL, help="pre-tokenised CoNLL file to tag")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--first-stage", action="store_true",
                        help="also time each doc model's first stage, saved as a model of its own")
    args = parser.parse_args()
    if not args.conll.exists():
        print(f"skipped: {args.conll} not found")
        return 0
    tokens = sum(len(s.tokens) for s in load_conll(args.conll))
    with tempfile.TemporaryDirectory() as folder:
        models = {str(path): path for path in args.models}
        if args.first_stage:
            for path in args.models:
                first = Tagger.load(path).first_stage
                if first is not None:
                    models[f"{path} (its first stage alone)"] = first.save(Path(folder) / f"first-{len(models)}")
        taggers = {name: Tagger.load(path) for name, path in models.items()}
        warm: dict[str, list[float]] = {name: [] for name in models}
        cold: dict[str, list[float]] = {name: [] for name in models}
        out = Path(folder) / "tagged.conll"
        for round_ in range(args.rounds):
            names = list(models) if round_ % 2 == 0 else list(reversed(models))
            for name in names:
                warm[name].append(tag_in_process(taggers[name], args.conll, out))
                cold[name].append(tag_once(models[name], args.conll, out))
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}, NumPy {np.__version__}, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"file: {args.conll} ({tokens:,} tokens), {args.rounds} rounds\n")
    print("| model | in process: s | tokens/s | vs the first row | cold CLI: s | tokens/s | vs the first row |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    first = next(iter(models))
    for name in models:
        cells = []
        for times in (warm, cold):
            median = statistics.median(times[name])
            cells += [f"{median:.2f}", f"{tokens / median:,.0f}", f"{statistics.median(times[first]) / median:.2f}"]
        print(f"| {name} | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
