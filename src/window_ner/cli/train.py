"""``window-ner train``: train a tagger on CoNLL files (a thin layer over ``run_experiment``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from window_ner import nn
from window_ner.cli._common import COUNT, FACTOR, NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, PROBABILITY, Formatter
from window_ner.errors import InputError
from window_ner.ner.experiment import Experiment, run_experiment
from window_ner.ner.model.classifier import ModelOptions
from window_ner.ner.model.features import FEATURES
from window_ner.ner.model.heads import BINARY_LOSSES, DECODERS, HEADS, SoftmaxHead
from window_ner.ner.training.batches import BATCHINGS
from window_ner.ner.training.hooks import SCHEDULES
from window_ner.ner.training.loop import OPTIMIZERS, TrainConfig

HELP = "train a tagger on CoNLL files"
# the command's features: the best on CoNLL-2003 dev (docs/benchmarks.md, issue 14); ModelOptions keeps the
# lecture's one-stage model (caps) as the library's default
TRAIN_FEATURES = ("caps", "doc")
BINARY_FEATURES = ("caps",)


def add_parser(commands: Any) -> None:
    """The ``train`` sub-command; defaults come from ModelOptions, TrainConfig and the head's Options."""
    train = commands.add_parser(
        "train", help=HELP, formatter_class=Formatter,
        description="Train the window classifier on CoNLL data, choosing the epoch by dev entity F1. "
        "With only --train and --dev it trains the best configuration we found on dev: IOBES tags, "
        "capitalisation and document-context features (doc: a first tagger without it reads each document, "
        "its numbers for the training data cross-fitted over 5 folds of documents), hidden 300 tanh, dropout "
        "0.2/0.5, Adam, constrained Viterbi decoding; '--features caps' trains the one-stage model, several "
        "times faster to train and about twice as fast to tag. "
        "Prints one line per epoch and the conlleval tables on stderr, the results as JSON on stdout; "
        "Ctrl-C keeps the best model so far and exits with 130.",
        epilog="example:\n  window-ner train --train train.txt --dev dev.txt --test test.txt "
        "--vectors glove.6B.50d.txt.gz --out runs/glove",
    )
    _data_options(train.add_argument_group("data"))
    _model_options(train.add_argument_group("model"))
    _optimisation_options(train.add_argument_group("optimisation"))
    train.set_defaults(handler=run)


def _data_options(data: Any) -> None:
    data.add_argument("--train", required=True, type=Path, help="training file (CoNLL columns)")
    data.add_argument("--dev", required=True, type=Path, help="development file: picks the epoch")
    data.add_argument("--test", type=Path, help="test file, evaluated once with the final model")
    data.add_argument("--vectors", type=Path,
                      help="pretrained word vectors: GloVe or word2vec text (also .gz, .bz2, .xz), word2vec "
                      "binary, or a file inside a zip archive as GloVe ships them (glove.6B.zip/glove.6B.50d.txt); "
                      "without it word vectors start random")
    data.add_argument("--out", type=Path, default=Path("runs/model"),
                      help="output folder: model.safetensors, metrics.jsonl, predictions")
    data.add_argument("--gazetteer", type=Path, metavar="FILE",
                      help="phrases for the gazetteer feature, one 'TYPE<TAB>phrase' line each "
                      "(tools/build_gazetteer.py builds one); saved in the model file")
    data.add_argument("--token-column", type=int, default=0, help="column of the tokens")
    data.add_argument("--tag-column", type=int, default=-1, help="column of the NER tags")


def _model_options(model: Any) -> None:
    model_defaults, head_defaults = ModelOptions(), SoftmaxHead.Options()
    model.add_argument("--window", type=COUNT, default=model_defaults.window, help="words each side of the centre word")
    model.add_argument("--word-dim", type=COUNT, default=model_defaults.word_dim,
                       help="word vector size when no --vectors are given (else the vectors' size)")
    model.add_argument("--hidden", type=COUNT, nargs="+", default=list(model_defaults.hidden),
                       help="hidden layer sizes")
    model.add_argument("--activation", choices=nn.ACTIVATIONS.names(), default=model_defaults.activation,
                       help="f in h = f(Wx + b)")
    model.add_argument("--features", default=None,
                       help=f"comma-separated word features beside the word vector ({', '.join(FEATURES.names())}), "
                       f"or 'none'; without it {','.join(TRAIN_FEATURES)}, and {BINARY_FEATURES[0]} for --binary, "
                       "whose model has no entity types for doc to read")
    model.add_argument("--doc-folds", type=NON_NEGATIVE_INT, default=Experiment.doc_folds,
                       help="with the doc feature: the first stage's numbers for the training data come from this "
                       "many models, each trained on the other folds of its documents, so the second stage learns "
                       "from a pass that has not seen the sentence (0: from the first stage itself; faster)")
    model.add_argument("--dropout-input", type=PROBABILITY, default=model_defaults.dropout_input,
                       help="dropout on the window vector x")
    model.add_argument("--dropout-hidden", type=PROBABILITY, default=model_defaults.dropout_hidden,
                       help="dropout on the hidden layer h")
    model.add_argument("--freeze-embeddings", action="store_true",
                       help="keep word vectors fixed (by default the gradient reaches them)")
    model.add_argument("--head", choices=HEADS.names(), default="softmax",
                       help="output layer (binary: the lecture's yes/no model; name its entity type as below)")
    model.add_argument("--scheme", choices=["iobes", "iob2"], default=head_defaults.scheme.lower(), type=str.lower,
                       help="tag scheme the model predicts in (output is written in IOB2)")
    model.add_argument("--decode", choices=DECODERS, default=head_defaults.decode,
                       help="viterbi: best tag sequence the scheme allows; argmax: best tag per token")
    model.add_argument("--binary", metavar="TYPE",
                       help="train the lecture's binary model instead: is the centre word of TYPE "
                       "(e.g. LOC)? J = sigma(u . h)")
    model.add_argument("--loss", choices=BINARY_LOSSES,
                       help="with --binary: logistic, the cross-entropy of J = sigma(s) (the default); or "
                       "max-margin, CS224N's J = max(0, 1 - s + s_c), s_c the score of the window with its centre "
                       "word replaced by a random word")


def _optimisation_options(opt: Any) -> None:
    train_defaults = TrainConfig()
    opt.add_argument("--epochs", type=COUNT, default=train_defaults.epochs, help="most epochs to train")
    opt.add_argument("--patience", type=NON_NEGATIVE_INT, default=train_defaults.patience,
                     help="stop after this many epochs without a better dev F1 (0: never)")
    opt.add_argument("--batch-size", type=COUNT, default=train_defaults.batch_size,
                     help="windows per mini-batch (sentence batches: about as many tokens)")
    opt.add_argument("--batching", choices=BATCHINGS.names(),
                     help="mini-batches of shuffled windows or of whole sentences; without it, what the head needs")
    opt.add_argument("--optimizer", choices=OPTIMIZERS.names(), default=train_defaults.optimizer, help="update rule")
    opt.add_argument("--lr", type=POSITIVE, default=train_defaults.lr, help="learning rate")
    opt.add_argument("--schedule", choices=SCHEDULES.names(), default=train_defaults.schedule,
                     help="learning rate over time: step multiplies it by --lr-decay every epoch, plateau when "
                     "dev F1 stalls for an epoch; linear warms up over the first epoch, then decays to 0")
    opt.add_argument("--lr-decay", type=FACTOR, default=train_defaults.lr_decay,
                     help="factor for the step and plateau schedules")
    opt.add_argument("--weight-decay", type=NON_NEGATIVE, default=train_defaults.weight_decay,
                     help="L2 penalty (decoupled for adamw)")
    opt.add_argument("--clip", type=NON_NEGATIVE, default=train_defaults.clip,
                     help="max gradient norm (0: no clipping)")
    opt.add_argument("--seed", type=NON_NEGATIVE_INT, default=train_defaults.seed,
                     help="seed for initialisation, shuffling and dropout")
    opt.add_argument("--final", action="store_true",
                     help="after the usual run, train the final model on train + dev for the epoch count dev "
                     "chose, into OUT/final; its test F1 is reported apart (results.json: 'final')")
    opt.add_argument("--no-progress", action="store_true",
                     help="no progress bar (the line per epoch stays)")


def feature_names(text: str) -> tuple[str, ...]:
    """The --features list: names separated by commas, or 'none'."""
    if text.strip().lower() in ("", "none"):
        return ()
    return tuple(name.strip() for name in text.split(",") if name.strip())


def head_of(args: argparse.Namespace) -> tuple[str, Any]:
    """The head and its options from --head, --binary, --scheme and --decode."""
    head = "binary" if args.binary is not None else args.head
    if head == "binary":
        if not args.binary:
            raise InputError("--head binary needs the entity type it asks about: --binary TYPE (e.g. LOC)")
        return head, HEADS.get(head).Options(type=args.binary, loss=args.loss or "logistic")
    if args.loss is not None:
        raise InputError(f"--loss {args.loss} is a loss of the binary model: give --binary TYPE too")
    return head, HEADS.get(head).Options(scheme=args.scheme.upper(), decode=args.decode)


def experiment(args: argparse.Namespace) -> Experiment:
    """The experiment the options describe."""
    head, head_options = head_of(args)
    features = args.features if args.features is not None else \
        ",".join(BINARY_FEATURES if head == "binary" else TRAIN_FEATURES)
    return Experiment(
        train_path=args.train, dev_path=args.dev, test_path=args.test, vectors_path=args.vectors, out=args.out,
        model=ModelOptions(window=args.window, word_dim=args.word_dim, hidden=tuple(args.hidden),
                           activation=args.activation, dropout_input=args.dropout_input,
                           dropout_hidden=args.dropout_hidden, freeze_embeddings=args.freeze_embeddings,
                           features=feature_names(features)),
        training=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                             lr=args.lr, weight_decay=args.weight_decay, clip=args.clip,
                             schedule=args.schedule, lr_decay=args.lr_decay, patience=args.patience,
                             seed=args.seed, batching=args.batching or ""),
        head=head, head_options=head_options, token_column=args.token_column, tag_column=args.tag_column,
        progress=not args.no_progress, epoch_lines=True, gazetteer=args.gazetteer, final=args.final,
        doc_folds=args.doc_folds,
    )


def run(args: argparse.Namespace) -> int:
    results, _ = run_experiment(experiment(args))
    print(json.dumps(results))
    if results["interrupted"]:
        print(f"window-ner: interrupted after epoch {results['epochs']}: the model of epoch "
              f"{results['best_epoch']} (best dev F1 so far) was written to {args.out}", file=sys.stderr)
        return 130
    print(f"model written to {args.out}", file=sys.stderr)
    return 0
