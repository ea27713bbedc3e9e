"""How long explaining one sentence takes once the model is loaded: `Tagger.explain` on real sentences.

    python benchmarks/bench_explain.py --model runs/glove [--sentences 300]

Sentences come from CoNLL-2003 test (../shared/data) when it is there, else from the bundled sample corpus;
each is given as raw text (its tokens joined by spaces) and explained whole: every entity the tagger finds,
each with its gradient and its occlusion re-scoring. Also times tagging the same sentence, for scale. The
target (issue 15): under 50 ms per sentence.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

from window_ner.ner.data.conll import read_conll
from window_ner.ner.experiment import sample_corpus
from window_ner.ner.inference.tagger import Tagger

sys.path.insert(0, str(Path(__file__).parent))
from _machine import blas_name, cpu_model, usable_cores  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sentences", type=int, default=300)
    args = parser.parse_args()

    test = args.data / "conll2003" / "test.txt"
    source = test if test.exists() else sample_corpus("test")
    texts = [" ".join(s.tokens) for s in read_conll(source)][:args.sentences]
    tagger = Tagger.load(args.model)
    tagger.explain(texts[0])  # first call builds the constant copy of the model
    explain_ms, tag_ms, entities = [], [], 0
    for text in texts:
        start = time.perf_counter()
        explanations = tagger.explain(text)
        explain_ms.append(1000 * (time.perf_counter() - start))
        start = time.perf_counter()
        tagger(text)
        tag_ms.append(1000 * (time.perf_counter() - start))
        entities += len(explanations)
    with_entities = [ms for ms, text in zip(explain_ms, texts, strict=True) if tagger(text)]

    def row(name: str, values: list[float]) -> str:
        ordered = sorted(values)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        return (f"| {name} | {len(values)} | {statistics.median(values):.1f} | {p95:.1f} | {max(values):.1f} |")

    print(f"\nMachine: {cpu_model()}; {usable_cores()} usable cores, Python {platform.python_version()}, "
          f"BLAS {blas_name()}")
    print(f"Command: python {' '.join(sys.argv)}")
    print(f"Sentences from {source} ({entities} entities explained)\n")
    print("| what | sentences | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    print(row("explain one sentence", explain_ms))
    print(row("explain, sentences with an entity", with_entities))
    print(row("tag one sentence (for scale)", tag_ms))


if __name__ == "__main__":
    main()
