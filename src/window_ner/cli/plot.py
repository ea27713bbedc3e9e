"""``window-ner plot``: pictures of a training run (a thin layer over ``window_ner.plot.plot_run``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from window_ner.cli._common import Formatter
from window_ner.plot import plot_run

HELP = "draw a training run's learning curves and scores (PNG and SVG)"


def add_parser(commands: Any) -> None:
    plot = commands.add_parser(
        "plot", help=HELP, formatter_class=Formatter,
        description="Draw a training run as PNG and SVG files: the learning curves (train loss, dev precision, "
        "recall and F1, learning rate per epoch, from metrics.jsonl) and, for each predictions file the run "
        "wrote (dev, test), the confusion matrix of entity types and the per-type precision, recall and F1. "
        'Needs the plot extra: pip install "window-ner[plot]". Prints the paths written.',
        epilog="example:\n  window-ner plot runs/glove --out docs/plots",
    )
    plot.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="folder written by window-ner train --out")
    plot.add_argument("--out", metavar="DIR", type=Path, help="folder for the pictures; without it, RUN_DIR/plots")
    plot.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for path in plot_run(args.run_dir, args.out):
        print(path)
    return 0
