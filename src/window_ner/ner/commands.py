"""What each ``window-ner`` sub-command does; the parser lives in ``window_ner.cli``."""

from __future__ import annotations

import argparse
import errno
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from window_ner.ner import metrics
from window_ner.ner import tags as tagging
from window_ner.ner.conll import Sentence, load_conll, write_conll
from window_ner.ner.encoder import EncodedCorpus, Encoder
from window_ner.ner.model import ModelConfig, WindowClassifier
from window_ner.ner.tagger import OUTPUT_SCHEME, Entity, Tagger
from window_ner.ner.train import TrainConfig, train
from window_ner.ner.vectors import load_vectors, vocab_matrix

DEMO_SENTENCES = [
    "Maria Lopez, the chief executive of Nordwind Energy, met officials of the United Nations in Geneva "
    "on Monday.",
    "Brazil beat Germany 2-1 in the World Cup qualifier in Sao Paulo.",
    "The European Commission said Ireland and Portugal would receive new funds.",
]


@dataclass
class Experiment:
    """Everything a training run needs; the CLI fills it from its options, tests from Python."""

    train_path: Path
    dev_path: Path
    test_path: Path | None = None
    vectors_path: Path | None = None
    out: Path | None = None
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields (besides sizes)
    training: TrainConfig = field(default_factory=TrainConfig)
    features: tuple[str, ...] = ("caps",)
    scheme: str = "IOBES"
    decode: str = "viterbi"
    binary: str | None = None
    token_column: int = 0
    tag_column: int = -1
    progress: bool = True


def run_experiment(exp: Experiment, log: TextIO | None = None) -> tuple[dict[str, Any], Tagger]:
    """Train, keep the best epoch by dev F1, evaluate on dev (and test); returns the scores and tagger.

    Reports go to ``log``, by default the current ``sys.stderr`` (looked up at call time, so redirections work).
    """
    log = sys.stderr if log is None else log
    began = time.perf_counter()
    if exp.out is not None and exp.out.exists() and not exp.out.is_dir():
        raise FileExistsError(f"{exp.out} is a file; the output must be a folder (it holds the model, "
                              "metrics.jsonl and predictions)")
    train_sents, gold_scheme = load_labelled(exp.train_path, exp.token_column, exp.tag_column)
    dev_sents, dev_scheme = load_labelled(exp.dev_path, exp.token_column, exp.tag_column)
    test_sents, test_scheme = (load_labelled(exp.test_path, exp.token_column, exp.tag_column)
                               if exp.test_path else (None, None))
    if exp.binary is not None:
        types = sorted({tagging.tag_type(t) for s in train_sents for t in s.tags} - {"O"})
        if exp.binary not in types:
            raise ValueError(f"the binary type {exp.binary!r} is not an entity type of {exp.train_path}: "
                             f"its types are {', '.join(types)}")
    rng = np.random.default_rng(exp.training.seed)

    vectors = None
    extra_words = None
    if exp.vectors_path is not None:
        vectors = load_vectors(exp.vectors_path)
        extra_words = vectors.words
        print(f"vectors: {len(vectors.words):,} words of {vectors.dim} dimensions from {exp.vectors_path}",
              file=log)
    encoder = Encoder.build([s.tokens for s in train_sents], [s.tags for s in train_sents], gold_scheme,
                            exp.scheme, window=exp.model.get("window", 2), feature_names=exp.features,
                            extra_words=extra_words, binary_type=exp.binary)
    word_dim = vectors.dim if vectors is not None else exp.model.get("word_dim", 50)
    config = ModelConfig(
        vocab_size=len(encoder.vocab), n_tags=1 if exp.binary else len(encoder.tags), word_dim=word_dim,
        features={name: (size, 5 if name == "caps" else 20) for name, size in encoder.feature_sizes.items()},
        binary=exp.binary is not None, **{k: v for k, v in exp.model.items() if k != "word_dim"},
    )
    initial = vocab_matrix(vectors, encoder.vocab, rng) if vectors is not None else None
    model = WindowClassifier(config, rng, word_vectors=initial)
    tagger = Tagger(model, encoder, exp.decode, info={"train": str(exp.train_path), "gold_scheme": gold_scheme})
    train_data = encoder.encode([s.tokens for s in train_sents], [s.tags for s in train_sents], gold_scheme)
    dev_data = encoder.encode([s.tokens for s in dev_sents], None)
    n_params = sum(p.size for p in model.parameters())
    print(f"train: {len(train_sents):,} sentences, {len(train_data):,} tokens; dev: {len(dev_sents):,} "
          f"sentences; vocabulary {len(encoder.vocab):,}; {n_params:,} parameters; tags {' '.join(encoder.tags)}",
          file=log)

    def evaluate_dev(current: WindowClassifier) -> dict[str, float]:
        return predict_and_score(tagger, dev_sents, dev_data, dev_scheme)[1].summary()

    def save_best(current: WindowClassifier, info: dict[str, Any]) -> None:
        if exp.out is not None:
            tagger.save(exp.out, extra={"best_epoch": info["epoch"], "training": exp.training.to_dict()})

    logs = train(model, train_data, exp.training, evaluate_dev, save_best, exp.out, exp.progress)
    if not logs:  # train() ends without an epoch only when Ctrl-C came during the first one
        raise KeyboardInterrupt("interrupted during the first epoch: nothing was written")
    results: dict[str, Any] = {"epochs": len(logs), "interrupted": logs.interrupted,
                               "best_epoch": [e.epoch for e in logs if e.best][-1],
                               "train_seconds": round(sum(entry.seconds for entry in logs), 1),
                               "train_tokens_per_s": round(float(np.median([e.tokens_per_s for e in logs])))}
    for name, sents, data, scheme in (("dev", dev_sents, dev_data, dev_scheme),
                                      ("test", test_sents, None, test_scheme)):
        if sents is None:
            continue
        predicted, report = predict_and_score(tagger, sents, data, scheme)
        results[name] = report.summary()
        print(f"\n{name} ({'binary ' + exp.binary if exp.binary else 'entities'}):\n{report.text()}", file=log)
        if exp.out is not None:
            write_conll(exp.out / f"{name}.predictions.conll", sents, predicted)
    results["seconds"] = round(time.perf_counter() - began, 1)
    if exp.out is not None:
        (exp.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results, tagger


def load_labelled(path: Path, token_column: int = 0, tag_column: int = -1) -> tuple[list[Sentence], str]:
    """A labelled CoNLL file and its tag scheme; a tag that no scheme allows is reported at its file:line."""
    sentences = load_conll(path, token_column=token_column, tag_column=tag_column, tag_check=tagging.check_tag)
    try:
        return sentences, tagging.detect_scheme([s.tags for s in sentences])
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


@dataclass
class Scores:
    """Entity-level (conlleval) scores, or token-level ones for a binary model."""

    entity: Any = None
    binary: tuple[float, float, float] | None = None
    label: str = ""

    def summary(self) -> dict[str, float]:
        if self.binary is not None:
            p, r, f1 = self.binary
            return {"precision": p, "recall": r, "f1": f1}
        return {"precision": self.entity.precision, "recall": self.entity.recall, "f1": self.entity.f1,
                "accuracy": self.entity.accuracy}

    def text(self) -> str:
        if self.binary is not None:
            p, r, f1 = self.binary
            return (f"token-level, is the centre word {self.label}?  precision: {100 * p:6.2f}%; "
                    f"recall: {100 * r:6.2f}%; F1: {100 * f1:6.2f}")
        return metrics.format_report(self.entity)


def in_gold_scheme(tagger: Tagger, sentences: Sequence[Sentence], predicted: list[list[str]],
                   gold_scheme: str | None = None) -> list[list[str]]:
    """Predicted tags rewritten in the scheme and style of the gold file (IOB1 for the CoNLL-2003 files;
    bare types like ``LOC`` where the gold file has them). A binary model's ``TYPE``/``O`` tags are read
    as IO tags: a run of ``TYPE`` is one entity.

    Entity scores do not depend on it, but token accuracy and the written predictions do: conlleval
    compares tags as strings and reads entities from the prefixes.
    """
    source = OUTPUT_SCHEME if tagger.encoder.binary_type is None else "IO"
    gold_scheme = gold_scheme or tagging.detect_scheme([s.tags for s in sentences])
    if gold_scheme != source:
        predicted = [tagging.convert(p, source, gold_scheme) for p in predicted]
    if gold_scheme == "IO" and any("-" not in tag for s in sentences for tag in s.tags if tag != "O"):
        predicted = [[tagging.tag_type(tag) if tag != "O" else tag for tag in p] for p in predicted]  # bare style
    return predicted


def predict_and_score(tagger: Tagger, sentences: Sequence[Sentence], data: EncodedCorpus | None = None,
                      gold_scheme: str | None = None) -> tuple[list[list[str]], Scores]:
    """The tagger's tags for labelled ``sentences``, in the gold scheme, and their scores.

    Pass ``data`` (the sentences already encoded) and ``gold_scheme`` when known, to skip that work.
    """
    tags = tagger.predict_encoded(data) if data is not None else tagger.predict([s.tokens for s in sentences])
    predicted = in_gold_scheme(tagger, sentences, tags, gold_scheme)
    return predicted, score(tagger, sentences, predicted)


def score(tagger: Tagger, sentences: Sequence[Sentence], predicted: list[list[str]]) -> Scores:
    """Compare predictions with the sentences' gold tags."""
    binary_type = tagger.encoder.binary_type
    if binary_type is not None:
        gold = np.concatenate([[tagging.tag_type(t) == binary_type for t in s.tags] for s in sentences])
        pred = np.concatenate([[tagging.tag_type(t) == binary_type for t in p] for p in predicted])
        return Scores(binary=metrics.binary_scores(gold, pred), label=binary_type)
    return Scores(entity=metrics.evaluate([s.tags for s in sentences], predicted))


# ----------------------------------------------------------------------------- sub-commands

def run_train(args: argparse.Namespace) -> int:
    exp = Experiment(
        train_path=args.train, dev_path=args.dev, test_path=args.test, vectors_path=args.vectors, out=args.out,
        model={"window": args.window, "word_dim": args.word_dim, "hidden": tuple(args.hidden),
               "activation": args.activation, "dropout_input": args.dropout_input,
               "dropout_hidden": args.dropout_hidden, "freeze_embeddings": args.freeze_embeddings},
        training=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                             lr=args.lr, weight_decay=args.weight_decay, clip=args.clip,
                             schedule=args.schedule, lr_decay=args.lr_decay,
                             patience=args.patience, seed=args.seed),
        features=_feature_names(args.features), scheme=args.scheme.upper(), decode=args.decode,
        binary=args.binary, token_column=args.token_column, tag_column=args.tag_column,
        progress=not args.no_progress,
    )
    results, _ = run_experiment(exp)
    print(json.dumps(results))
    if results["interrupted"]:
        print(f"window-ner: interrupted after epoch {results['epochs']}: the model of epoch "
              f"{results['best_epoch']} (best dev F1 so far) was written to {args.out}", file=sys.stderr)
        return 130
    print(f"model written to {args.out}", file=sys.stderr)
    return 0


def _feature_names(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    return tuple(name.strip() for name in text.split(",") if name.strip())


def run_evaluate(args: argparse.Namespace) -> int:
    to_stdout = args.output is not None and str(args.output) == "-"
    if args.output is not None and not to_stdout and args.output.is_dir():  # before the work, not after
        raise IsADirectoryError(errno.EISDIR, "is a folder; give --output a file name", str(args.output))
    tagger = Tagger.load(args.model)
    sentences = load_conll(args.data, token_column=args.token_column, tag_column=args.tag_column)
    predicted, report = predict_and_score(tagger, sentences)
    if args.output is not None:
        write_conll(sys.stdout if to_stdout else args.output, sentences, predicted)
    # with the predictions on stdout, the scores go to stderr
    print(json.dumps(report.summary()) if args.json else report.text(), file=sys.stderr if to_stdout else sys.stdout)
    return 0


def run_tag(args: argparse.Namespace) -> int:
    given = [args.text is not None, args.input is not None, args.conll is not None]
    if sum(given) > 1:
        raise ValueError("give one input: TEXT, --input FILE or --conll FILE")
    if not any(given):
        raise ValueError("nothing to tag: give TEXT, --input FILE, --conll FILE, or '-' to read stdin")
    tagger = Tagger.load(args.model)
    if args.conll is not None:
        sentences = load_conll(args.conll, token_column=args.token_column, tag_column=None)
        write_conll(sys.stdout, sentences, tagger.predict([s.tokens for s in sentences]))
        return 0
    for text in _texts(args):
        if args.format == "conll" and not text.strip():
            continue  # blank lines would only add empty sentences
        print(format_entities(tagger, text, args.format), flush=True)
    return 0


def _texts(args: argparse.Namespace) -> Iterator[str]:
    """The texts to tag: the argument, or each line of --input or stdin (UTF-8; a byte-order mark and
    Windows or old-Mac line ends are taken care of)."""
    if args.input is None and args.text != "-":
        yield args.text
        return
    if args.input is not None:
        with open(args.input, "rb") as stream:
            yield from _utf8_lines(stream, str(args.input))
    elif hasattr(sys.stdin, "buffer"):
        yield from _utf8_lines(sys.stdin.buffer, "stdin")
    else:  # stdin replaced by a text stream (in tests, or by an embedding program)
        yield from (line.rstrip("\r\n") for line in sys.stdin)


def _utf8_lines(stream: Any, name: str) -> Iterator[str]:
    """Lines of a binary stream, decoded one by one so that an error names its line."""
    for number, raw in enumerate(stream, 1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{name}:{number}: not UTF-8 text ({error.reason} at byte {error.start + 1}); "
                             "convert it to UTF-8") from None
        yield from text.rstrip("\r\n").split("\r")  # a lone CR ends a line too (old Mac files)


def format_entities(tagger: Tagger, text: str, fmt: str) -> str:
    """One text's entities as inline brackets, a JSON line, or CoNLL token/tag lines."""
    if fmt == "conll":
        from window_ner.ner.tokenize import tokenize

        sentences = [[t.text for t in sentence.tokens] for sentence in tokenize(text)]
        return "\n\n".join("\n".join(f"{token} {tag}" for token, tag in zip(tokens, tags, strict=True))
                           for tokens, tags in zip(sentences, tagger.predict(sentences), strict=True)) + "\n"
    entities: list[Entity] = tagger(text)  # type: ignore[assignment]
    if fmt == "jsonl":
        return json.dumps({"text": text, "entities": [e.to_dict() for e in entities]}, ensure_ascii=False)
    pieces, position = [], 0
    for entity in entities:
        pieces.append(text[position:entity.start])
        pieces.append(f"[{text[entity.start:entity.end]} {entity.label}]")
        position = entity.end
    pieces.append(text[position:])
    return "".join(pieces)


def sample_corpus(split: str) -> Path:
    """Path of the bundled sample corpus split ("train", "dev" or "test")."""
    return Path(str(resources.files("window_ner.ner") / "data" / f"sample.{split}.conll"))


def run_demo(args: argparse.Namespace) -> int:
    exp = Experiment(
        train_path=sample_corpus("train"), dev_path=sample_corpus("dev"), test_path=sample_corpus("test"),
        out=args.out, training=TrainConfig(epochs=args.epochs, seed=args.seed, patience=10),
        model={"hidden": (300,), "dropout_input": 0.2, "dropout_hidden": 0.5},
        progress=not args.no_progress,
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
