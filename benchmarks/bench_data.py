"""Data-pipeline timings on the real CoNLL-2003 corpus and GloVe file: reading, vectors, windows.

    python benchmarks/bench_data.py [--data ../shared/data] [--repeats 5]

Prints one table row per step with the median and the fastest of the repeats, and the target where the
issue sets one (GloVe for the train vocabulary < 3 s, windows for the train tokens < 0.2 s). Skips with
a message when the shared data is not there.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _machine import blas_name, usable_cores

from window_ner.ner.data.conll import load_conll
from window_ner.ner.data.vectors import load_vectors, vocab_matrix
from window_ner.ner.data.vocab import BOS, EOS, Vocab
from window_ner.ner.data.windows import sentence_starts, windows
from window_ner.ner.model.features import FEATURE_PAD, caps_feature

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GLOVE = "glove/glove.6B.50d.conll+top100k.txt.gz"


def timed(step: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Seconds of each run of ``step`` and its last result."""
    times, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - began)
    return times, result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with conll2003/ and glove/")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each step; the median is reported")
    args = parser.parse_args(argv)
    train_path, glove_path = args.data / "conll2003" / "train.txt", args.data / GLOVE
    if not train_path.exists() or not glove_path.exists():
        print(f"skipped: needs {train_path} and {glove_path} (the shared CoNLL-2003/GloVe data); "
              "pass --data FOLDER if they are elsewhere")
        return 0
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    rows: list[tuple[str, list[float], str]] = []
    times, train = timed(lambda: load_conll(train_path), args.repeats)
    tokens = [s.tokens for s in train]
    n_tokens = sum(map(len, tokens))
    rows.append((f"read train.txt ({len(train):,} sentences)", times, ""))
    times, vocab = timed(lambda: Vocab.build(tokens), args.repeats)
    rows.append((f"build vocabulary ({len(vocab):,} ids)", times, ""))
    times, vectors = timed(lambda: load_vectors(glove_path, vocab), args.repeats)
    rows.append((f"GloVe 50d for the train vocabulary ({vectors.found:,} found)", times, "< 3 s"))
    times, everything = timed(lambda: load_vectors(glove_path), args.repeats)
    rows.append((f"GloVe 50d, whole file ({len(everything):,} words)", times, ""))
    rng = np.random.default_rng(0)
    times, _ = timed(lambda: vocab_matrix(vectors, vocab, rng), args.repeats)
    rows.append(("embedding matrix for the vocabulary", times, ""))
    starts = sentence_starts(tokens)
    all_tokens = [token for sentence in tokens for token in sentence]
    times, flat = timed(lambda: vocab.lookup(all_tokens), args.repeats)  # in one pass, as Encoder.encode
    rows.append((f"word ids ({n_tokens:,} tokens)", times, ""))
    times, out = timed(lambda: windows(flat, starts, 2, left_pad=BOS, right_pad=EOS), args.repeats)
    assert out.shape == (n_tokens, 5)
    rows.append((f"word windows, size 2 ({n_tokens:,} tokens)", times, "< 0.2 s"))
    times, caps = timed(lambda: caps_feature(all_tokens), args.repeats)
    rows.append(("caps feature ids", times, ""))
    times, _ = timed(lambda: windows(caps, starts, 2, left_pad=FEATURE_PAD, right_pad=FEATURE_PAD),
                     args.repeats)
    rows.append(("caps windows, size 2", times, ""))

    cores, usable = os.cpu_count(), usable_cores()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {platform.machine()}, {cores} cores ({usable} usable), {platform.system()} "
          f"{platform.release()}; Python {platform.python_version()}, NumPy {np.__version__}, "
          f"BLAS {blas_name()}")
    print(f"repeats: {args.repeats} (median and fastest shown)\n")
    width = max(len(name) for name, _, _ in rows)
    print(f"{'step':<{width}}  {'median s':>9}  {'min s':>8}  target")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 8}  ------")
    for name, times, target in rows:
        print(f"{name:<{width}}  {statistics.median(times):9.3f}  {min(times):8.3f}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
