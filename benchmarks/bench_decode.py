"""Does constrained Viterbi help? Dev (and test) entity F1 of one trained model, decoded both ways.

    python benchmarks/bench_decode.py --model runs/glove [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from window_ner.ner.data.conll import load_conll
from window_ner.ner.experiment import predict_and_score
from window_ner.ner.inference.tagger import Tagger

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    trained = Tagger.load(args.model)
    print(f"model: {args.model} (scheme {trained.encoder.labels.scheme})\n")
    print("| split | argmax F1 | Viterbi F1 | gain |")
    print("|---|---:|---:|---:|")
    for split in ("dev", "test"):
        sentences = load_conll(args.data / "conll2003" / f"{split}.txt")
        f1 = {}
        for method in ("argmax", "viterbi"):
            tagger = trained.decoded_by(method)
            f1[method] = 100 * predict_and_score(tagger, sentences)[1].summary()["f1"]
        print(f"| {split} | {f1['argmax']:.2f} | {f1['viterbi']:.2f} | {f1['viterbi'] - f1['argmax']:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
