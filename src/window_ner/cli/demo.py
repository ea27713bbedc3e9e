"""``window-ner demo``: train on the bundled sample corpus in well under a minute and tag a few sentences."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from window_ner.cli._common import COUNT, NON_NEGATIVE_INT, Formatter
from window_ner.cli.tag import format_entities
from window_ner.ner.experiment import Experiment, run_experiment, sample_corpus
from window_ner.ner.training.loop import TrainConfig

HELP = "train on the bundled sample corpus and tag a few sentences"
DEMO_SENTENCES = [
    "Maria Lopez, the chief executive of Nordwind Energy, met officials of the United Nations in Geneva "
    "on Monday.",
    "Brazil beat Germany 2-1 in the World Cup qualifier in Sao Paulo.",
    "The European Commission said Ireland and Portugal would receive new funds.",
]


def add_parser(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help=HELP, formatter_class=Formatter,
        description="Trains a small tagger on the sample corpus shipped with the package (in well under a "
        "minute), prints its dev and test F1, and tags a few sentences.",
    )
    demo.add_argument("--epochs", type=COUNT, default=50, help="most epochs to train (early stopping on dev)")
    demo.add_argument("--seed", type=NON_NEGATIVE_INT, default=1, help="random seed")
    demo.add_argument("--out", type=Path, help="also save the model in this folder")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar (the line per epoch stays)")
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    exp = Experiment(
        train_path=sample_corpus("train"), dev_path=sample_corpus("dev"), test_path=sample_corpus("test"),
        out=args.out, training=TrainConfig(epochs=args.epochs, seed=args.seed, patience=10),
        progress=not args.no_progress, epoch_lines=True,
    )
    print("window-ner demo: training on the bundled sample corpus (random word vectors, capitalisation "
          "features, IOBES + Viterbi)", file=sys.stderr)
    results, tagger = run_experiment(exp)
    if results["interrupted"]:
        print(f"window-ner: interrupted after epoch {results['epochs']}", file=sys.stderr)
        return 130
    print(f"\ndev F1 {100 * results['dev']['f1']:.2f}   test F1 {100 * results['test']['f1']:.2f}   "
          f"({results['seconds']:.1f} s)\n")
    for text in DEMO_SENTENCES:
        print(format_entities(tagger, text, "inline"))
    return 0
