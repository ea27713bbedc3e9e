"""The window-ner command line: train, evaluate, tag, demo."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from window_ner import __version__

EXAMPLES = """\
examples:
  window-ner demo
  window-ner train --train train.txt --dev dev.txt --test test.txt --vectors glove.6B.50d.txt.gz --out runs/glove
  window-ner evaluate --model runs/glove --data test.txt --output predictions.conll
  window-ner tag --model runs/glove "Angela Merkel flew from Berlin to Paris on Tuesday."
  cat news.txt | window-ner tag --model runs/glove - --format jsonl
  window-ner tag --model runs/glove --conll tokens.conll > tagged.conll
"""


def _number(kind: type, low: float, high: float = math.inf, low_open: bool = False) -> Callable[[str], Any]:
    """An argparse type: a ``kind`` number from ``low`` (excluded if ``low_open``) up to ``high`` (excluded),
    else argparse names the option."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"not {text!r}") from None
        if not ((value > low if low_open else value >= low) and value < high):  # also catches nan
            if high == math.inf:
                span = f"> {low:g}" if low_open else f">= {low:g}"
            else:
                span = f"in {'(' if low_open else '['}{low:g}, {high:g})"
            raise argparse.ArgumentTypeError(f"must be {span}, not {text}")
        return value
    return parse


_COUNT = _number(int, 1)  # epochs, sizes
_NON_NEGATIVE_INT = _number(int, 0)
_POSITIVE = _number(float, 0, low_open=True)
_NON_NEGATIVE = _number(float, 0)
_PROBABILITY = _number(float, 0, 1)  # dropout: [0, 1)
_FACTOR = _number(float, 0, 1, low_open=True)  # learning-rate decay: (0, 1)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (where it has one) and keeps the examples' line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        hidden = action.default is None or action.default is False or action.default is argparse.SUPPRESS
        if not hidden and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit code 2, like every other error
        # sub-command parsers' prog is "window-ner tag": keep every error line starting "window-ner: error:"
        self.exit(2, f"window-ner: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one sub-command per job."""
    parser = _Parser(
        prog="window-ner",
        description="Find named entities with the CS224N window classifier, trained by its own "
        "backpropagation engine on NumPy.",
        epilog=EXAMPLES,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"window-ner {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser(
        "train", help="train a tagger on CoNLL files", formatter_class=_Formatter,
        description="Train the window classifier on CoNLL data, choosing the epoch by dev entity F1. "
        "With only --train and --dev it trains the best configuration we found: IOBES tags, "
        "capitalisation features, hidden 300 tanh, dropout 0.2/0.5, Adam, constrained Viterbi decoding. "
        "Prints one line per epoch and the conlleval tables on stderr, the results as JSON on stdout; "
        "Ctrl-C keeps the best model so far and exits with 130.",
        epilog="example:\n  window-ner train --train train.txt --dev dev.txt --test test.txt "
        "--vectors glove.6B.50d.txt.gz --out runs/glove",
    )
    data = train.add_argument_group("data")
    data.add_argument("--train", required=True, type=Path, help="training file (CoNLL columns)")
    data.add_argument("--dev", required=True, type=Path, help="development file: picks the epoch")
    data.add_argument("--test", type=Path, help="test file, evaluated once with the final model")
    data.add_argument("--vectors", type=Path,
                      help="pretrained word vectors (GloVe or word2vec text, .gz, or word2vec binary); "
                      "without it word vectors start random")
    data.add_argument("--out", type=Path, default=Path("runs/model"),
                      help="output folder: model.safetensors, metrics.jsonl, predictions")
    data.add_argument("--token-column", type=int, default=0, help="column of the tokens")
    data.add_argument("--tag-column", type=int, default=-1, help="column of the NER tags")
    model = train.add_argument_group("model")
    model.add_argument("--window", type=_COUNT, default=2, help="words each side of the centre word")
    model.add_argument("--word-dim", type=_COUNT, default=50,
                       help="word vector size when no --vectors are given (else the vectors' size)")
    model.add_argument("--hidden", type=_COUNT, nargs="+", default=[300], help="hidden layer sizes")
    model.add_argument("--activation", choices=["tanh", "relu", "hardtanh", "sigmoid"], default="tanh",
                       help="f in h = f(Wx + b)")
    model.add_argument("--features", default="caps",
                       help="comma-separated word features beside the word vector (caps, suffix2, "
                       "suffix3, shape), or 'none'")
    model.add_argument("--dropout-input", type=_PROBABILITY, default=0.2, help="dropout on the window vector x")
    model.add_argument("--dropout-hidden", type=_PROBABILITY, default=0.5, help="dropout on the hidden layer h")
    model.add_argument("--freeze-embeddings", action="store_true",
                       help="keep word vectors fixed (by default the gradient reaches them)")
    model.add_argument("--scheme", choices=["iobes", "iob2"], default="iobes", type=str.lower,
                       help="tag scheme the model predicts in (output is written in IOB2)")
    model.add_argument("--decode", choices=["viterbi", "argmax"], default="viterbi",
                       help="viterbi: best tag sequence the scheme allows; argmax: best tag per token")
    model.add_argument("--binary", metavar="TYPE",
                       help="train the lecture's binary model instead: is the centre word of TYPE "
                       "(e.g. LOC)? J = sigma(u . h)")
    opt = train.add_argument_group("optimisation")
    opt.add_argument("--epochs", type=_COUNT, default=25, help="most epochs to train")
    opt.add_argument("--patience", type=_NON_NEGATIVE_INT, default=5,
                     help="stop after this many epochs without a better dev F1 (0: never)")
    opt.add_argument("--batch-size", type=_COUNT, default=256, help="windows per mini-batch")
    opt.add_argument("--optimizer", choices=["adam", "adamw", "sgd", "adagrad"], default="adam",
                     help="update rule")
    opt.add_argument("--lr", type=_POSITIVE, default=1e-3, help="learning rate")
    opt.add_argument("--schedule", choices=["constant", "step", "plateau", "linear"], default="constant",
                     help="learning rate over time: step multiplies it by --lr-decay every epoch, plateau when "
                     "dev F1 stalls for an epoch; linear warms up over the first epoch, then decays to 0")
    opt.add_argument("--lr-decay", type=_FACTOR, default=0.5, help="factor for the step and plateau schedules")
    opt.add_argument("--weight-decay", type=_NON_NEGATIVE, default=0.0, help="L2 penalty (decoupled for adamw)")
    opt.add_argument("--clip", type=_NON_NEGATIVE, default=5.0, help="max gradient norm (0: no clipping)")
    opt.add_argument("--seed", type=int, default=1, help="seed for initialisation, shuffling and dropout")
    opt.add_argument("--no-progress", action="store_true", help="no progress bar")

    evaluate = commands.add_parser(
        "evaluate", help="score a model on a labelled CoNLL file", formatter_class=_Formatter,
        description="Entity-level precision, recall and F1, counted exactly as conlleval counts them.",
        epilog="example:\n  window-ner evaluate --model runs/glove --data test.txt --output - | perl conlleval.pl",
    )
    evaluate.add_argument("--model", required=True, type=Path, help="model folder or .safetensors file")
    evaluate.add_argument("--data", required=True, type=Path, help="labelled CoNLL file")
    evaluate.add_argument("--output", type=Path,
                          help="also write the file's lines with a predicted tag column added, as the conlleval "
                          "script reads them ('-': to stdout, and the scores to stderr)")
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluate.add_argument("--token-column", type=int, default=0, help="column of the tokens")
    evaluate.add_argument("--tag-column", type=int, default=-1, help="column of the NER tags")

    tag = commands.add_parser(
        "tag", help="tag raw text", formatter_class=_Formatter,
        description="Tag raw text given as an argument, read from a file, or streamed from stdin ('-') "
        "line by line; or a pre-tokenised CoNLL file.",
        epilog='examples:\n  window-ner tag --model runs/glove "Angela Merkel flew to Paris."\n'
        "  cat news.txt | window-ner tag --model runs/glove - --format jsonl\n"
        "  window-ner tag --model runs/glove --conll tokens.conll > tagged.conll",
    )
    tag.add_argument("--model", required=True, type=Path, help="model folder or .safetensors file")
    tag.add_argument("text", nargs="?", help="text to tag, or '-' to read stdin line by line")
    tag.add_argument("--input", type=Path, help="a UTF-8 text file to tag, each line as one text (as with '-')")
    tag.add_argument("--conll", type=Path, metavar="FILE",
                     help="a pre-tokenised CoNLL file (tokens in --token-column, no tags needed): written to "
                     "stdout with a predicted tag column added")
    tag.add_argument("--token-column", type=int, default=0, help="column of the tokens, with --conll")
    tag.add_argument("--format", choices=["inline", "jsonl", "conll"], default="inline",
                     help="inline: [Paris LOC]; jsonl: one JSON object of entities per line; conll: token tag")

    demo = commands.add_parser(
        "demo", help="train on the bundled sample corpus and tag a few sentences", formatter_class=_Formatter,
        description="Trains a small tagger on the sample corpus shipped with the package (in well under a "
        "minute), prints its dev and test F1, and tags a few sentences.",
    )
    demo.add_argument("--epochs", type=_COUNT, default=50, help="most epochs to train (early stopping on dev)")
    demo.add_argument("--seed", type=int, default=1, help="random seed")
    demo.add_argument("--out", type=Path, help="also save the model in this folder")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 bad input, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from window_ner.ner import commands

    try:
        return getattr(commands, f"run_{args.command}")(args)
    except KeyboardInterrupt as interrupt:
        print(f"window-ner: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except (ValueError, OSError, RuntimeError) as error:
        print(f"window-ner: error: {_one_line(error)}", file=sys.stderr)
        return 2


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
