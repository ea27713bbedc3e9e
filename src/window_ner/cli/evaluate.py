"""``window-ner evaluate``: score a model on a labelled CoNLL file, as conlleval counts it."""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

from window_ner.cli._common import Formatter
from window_ner.errors import InputError
from window_ner.ner.data import tags as tagging
from window_ner.ner.data.conll import write_conll
from window_ner.ner.experiment import load_labelled, predict_and_score
from window_ner.ner.inference.tagger import Tagger
from window_ner.plot import asked_types, plot_scores, require_matplotlib

HELP = "score a model on a labelled CoNLL file"


def add_parser(commands: Any) -> None:
    evaluate = commands.add_parser(
        "evaluate", help=HELP, formatter_class=Formatter,
        description="Entity-level precision, recall and F1, counted exactly as conlleval counts them.",
        epilog="example:\n  window-ner evaluate --model runs/glove --data test.txt --output - | perl conlleval.pl",
    )
    evaluate.add_argument("--model", required=True, type=Path, help="model folder or .safetensors file")
    evaluate.add_argument("--data", required=True, type=Path, help="labelled CoNLL file")
    evaluate.add_argument("--output", type=Path,
                          help="also write the file's lines with a predicted tag column added, as the conlleval "
                          "script reads them ('-': to stdout, and the scores to stderr)")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluate.add_argument("--plots", metavar="DIR", type=Path,
                          help="also draw the confusion matrix of entity types and the per-type scores into DIR, "
                          'as PNG and SVG (needs pip install "window-ner[plot]")')
    evaluate.add_argument("--token-column", type=int, default=0, help="column of the tokens")
    evaluate.add_argument("--tag-column", type=int, default=-1, help="column of the NER tags")
    evaluate.set_defaults(handler=run)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    to_stdout = args.output is not None and str(args.output) == "-"
    if args.output is not None and not to_stdout and args.output.is_dir():  # before the work, not after
        raise IsADirectoryError(errno.EISDIR, "is a folder; give --output a file name", str(args.output))
    if args.output is not None and not to_stdout and _same_file(args.output, args.data):
        raise InputError(f"--output {args.output} is the --data file: writing the predictions there would "
                         "overwrite the gold tags; give another file name")
    if args.plots is not None:
        require_matplotlib()  # a missing extra fails before the work, not after
        if args.plots.exists() and not args.plots.is_dir():
            raise InputError(f"--plots {args.plots} is a file; give a folder for the pictures")
    tagger = Tagger.load(args.model)
    sentences, scheme = load_labelled(args.data, args.token_column, args.tag_column)  # one scheme, valid tags
    known = {tagging.tag_type(tag) for tag in tagger.encoder.tags} - {"O"}
    unknown = sorted({kind for s in sentences for _, _, kind in tagging.spans(s.tags)} - known)
    if unknown and tagger.encoder.labels.kind == "scheme":  # a yes/no model scores its one type only
        print(f"warning: {args.data} has entity types the model was not trained on ({', '.join(unknown)}): they "
              "count as missed", file=sys.stderr)
    predicted, report = predict_and_score(tagger, sentences, gold_scheme=scheme)
    if args.output is not None:
        write_conll(sys.stdout if to_stdout else args.output, sentences, predicted)
    # with the predictions on stdout, the scores go to stderr
    print(json.dumps(report.summary()) if args.json else report.text(), file=sys.stderr if to_stdout else sys.stdout)
    if args.plots is not None:
        model = args.model.resolve()
        name = f"{(model.parent if model.is_file() else model).name}, {args.data.name}"
        for path in plot_scores([s.tags for s in sentences], predicted, args.plots, args.data.stem, name,
                                types=asked_types(tagger)):
            print(f"wrote {path}", file=sys.stderr)  # stdout holds the scores (or the predictions)
    return 0
