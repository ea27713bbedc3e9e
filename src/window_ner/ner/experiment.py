"""The library API for experiments: a typed description of a training run, running it, and scoring.

The command line, the benchmarks and the tests all call :func:`run_experiment`; nothing here prints except
to the ``log`` stream it is given.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from window_ner.errors import InputError
from window_ner.files import lock_folder, open_atomic
from window_ner.memory import available_bytes
from window_ner.ner.data import tags as tagging
from window_ner.ner.data.conll import Sentence, load_conll, write_conll
from window_ner.ner.data.labels import Scores
from window_ner.ner.data.text import canonical_word
from window_ner.ner.data.vectors import load_vectors, vocab_matrix
from window_ner.ner.inference.tagger import MODEL_FILE, Tagger
from window_ner.ner.model.classifier import ModelConfig, ModelOptions, WindowClassifier
from window_ner.ner.model.context import DOC, DocumentFeature, entity_types
from window_ner.ner.model.encoder import EncodedCorpus, Encoder
from window_ner.ner.model.gazetteer import GAZETTEER, check_gazetteer_option, read_gazetteer
from window_ner.ner.model.heads import HEADS, SoftmaxHead
from window_ner.ner.training.loop import TrainConfig, TrainLogs, train

__all__ = ["Experiment", "run_experiment", "load_labelled", "predict_and_score", "sample_corpus"]


@dataclass
class Experiment:
    """Everything a training run needs; the CLI fills it from its options, tests and benchmarks from Python."""

    train_path: Path
    dev_path: Path
    test_path: Path | None = None
    vectors_path: Path | None = None
    out: Path | None = None
    model: ModelOptions = field(default_factory=ModelOptions)
    training: TrainConfig = field(default_factory=TrainConfig)
    head: str = "softmax"
    head_options: Any = field(default_factory=SoftmaxHead.Options)  # the head's Options
    token_column: int = 0
    tag_column: int = -1
    progress: bool = True  # the progress bar (on a terminal)
    epoch_lines: bool | None = None  # one line per epoch on stderr; None: as progress
    gazetteer: Path | None = None  # TYPE<TAB>phrase lines for the gazetteer feature
    final: bool = False  # then train on train + dev for the best epoch count, into out/final (see _final)
    doc_folds: int = 5  # doc feature: train's first-stage numbers from this many folds of its documents (0: none)

    def __post_init__(self) -> None:
        options = HEADS.get(self.head).Options
        if not isinstance(self.head_options, options):
            raise InputError(f"the {self.head} head takes {options.__qualname__}, not "
                             f"{type(self.head_options).__qualname__}")
        check_gazetteer_option(self.model.features, self.gazetteer)
        if self.doc_folds < 0 or self.doc_folds == 1:
            raise InputError(f"doc_folds (--doc-folds) must be 0 (no cross-fitting) or at least 2, "
                             f"not {self.doc_folds}")
        if DOC in self.model.features and self.head == "binary":
            raise InputError("the doc feature reads a first pass's entity types, which the binary head does not "
                             "give: use it with --head softmax or crf")


@dataclass
class _Splits:
    train: list[Sentence]
    train_scheme: str
    dev: list[Sentence]
    dev_scheme: str
    test: list[Sentence] | None
    test_scheme: str | None
    vectors: Any = None  # the word vectors, read once for every model of a run (see _read_vectors)


def _load_splits(exp: Experiment) -> _Splits:
    train_sents, train_scheme = load_labelled(exp.train_path, exp.token_column, exp.tag_column)
    dev_sents, dev_scheme = load_labelled(exp.dev_path, exp.token_column, exp.tag_column)
    test_sents, test_scheme = (load_labelled(exp.test_path, exp.token_column, exp.tag_column)
                               if exp.test_path else (None, None))
    return _Splits(train_sents, train_scheme, dev_sents, dev_scheme, test_sents, test_scheme)


STALE_OUTPUTS = ("results.json", "dev.predictions.conll", "test.predictions.conll")  # removed at the first save
RARE_TYPE = 5  # entities of a type in the training data below which the type is reported as a likely typo


def build_tagger(exp: Experiment, splits: _Splits, rng: np.random.Generator, log: TextIO,
                 first_stage: Tagger | None = None) -> Tagger:
    """The untrained tagger of an experiment: labels, vocabulary, features, and the model started from the
    word vectors (when given); a model with the doc feature reads the trained ``first_stage``."""
    head = HEADS.get(exp.head)
    labels = head.make_labels(exp.head_options, [s.tags for s in splits.train], splits.train_scheme,
                              str(exp.train_path))
    vectors = splits.vectors if splits.vectors is not None else _read_vectors(exp, log)
    encoder = Encoder.build([s.tokens for s in splits.train], labels, window=exp.model.window,
                            feature_names=exp.model.features,
                            extra_words=vectors.words if vectors is not None else None)
    if exp.gazetteer is not None:  # its phrases come from the file, not from the training tokens
        gazetteer = read_gazetteer(exp.gazetteer)
        encoder.features = {name: gazetteer if name == GAZETTEER else f for name, f in encoder.features.items()}
    dims = dict(exp.model.feature_dims)
    if DOC in encoder.features:  # its numbers are per entity type, which the labels know
        encoder.features = {**encoder.features, DOC: DocumentFeature(entity_types(labels.tags))}
        dims[DOC] = encoder.features[DOC].dim
    config = ModelConfig.from_options(exp.model, vocab_size=len(encoder.vocab),
                                      feature_sizes=encoder.feature_sizes, feature_dims=dims,
                                      word_dim=vectors.dim if vectors is not None else exp.model.word_dim,
                                      head=exp.head, head_options=exp.head_options)
    config.check_fits(config.vocab_size, config.feature_sizes, len(labels.tags), exp.training.batch_size,
                      available_bytes())
    if vectors is not None:
        words = {canonical_word(t) for s in splits.train for t in s.tokens}
        found = vectors.coverage(words)
        if found.exact + found.lowercase == 0:
            print(f"warning: {exp.vectors_path} has a vector for none of the {len(words):,} training words: the "
                  "model starts from random vectors (is it the right file, in the right language?)", file=log)
    initial = vocab_matrix(vectors, encoder.vocab, rng) if vectors is not None else None
    model = WindowClassifier(config, labels, rng, word_vectors=initial)
    return Tagger(model, encoder, info={"train": str(exp.train_path), "gold_scheme": splits.train_scheme},
                  first_stage=first_stage)


def _read_vectors(exp: Experiment, log: TextIO) -> Any:
    """The experiment's word vectors (None without a file), with a line saying what they are."""
    if exp.vectors_path is None:
        return None
    vectors = load_vectors(exp.vectors_path)
    print(f"vectors: {len(vectors.words):,} words of {vectors.dim} dimensions from {exp.vectors_path}", file=log)
    return vectors


def run_experiment(exp: Experiment, log: TextIO | None = None) -> tuple[dict[str, Any], Tagger]:
    """Train, keep the best epoch by dev F1, evaluate on dev (and test); returns the scores and tagger.

    Reports go to ``log``, by default the current ``sys.stderr`` (looked up at call time, so redirections work).
    """
    log = sys.stderr if log is None else log
    with contextlib.nullcontext() if exp.out is None else _output_folder(exp.out):
        return _run(exp, log)


def _run(exp: Experiment, log: TextIO) -> tuple[dict[str, Any], Tagger]:
    began = time.perf_counter()
    # sizes alone can make a model too big for any vocabulary: say so before reading any data
    exp.model.check_fits(0, {}, 2, exp.training.batch_size, available_bytes())
    splits = _load_splits(exp)
    counts, first = _entity_counts(splits.train)
    if not counts:
        raise InputError(f"{exp.train_path}: the training data holds no entity (every tag is O): there is nothing "
                         "to learn")
    HEADS.get(exp.head).make_labels(exp.head_options, [s.tags for s in splits.train], splits.train_scheme,
                                    str(exp.train_path))  # the head's demands (--binary TYPE) before any work
    splits.vectors = _read_vectors(exp, log)  # once: every stage and fold of a doc model starts from them
    train_types = _report_types(exp.train_path, counts, first, log)
    for path, sentences in ((exp.dev_path, splits.dev), (exp.test_path, splits.test)):
        unknown = sorted(_entity_counts(sentences or [])[0].keys() - train_types)
        if unknown:
            print(f"warning: {path} has entity types the training data has not ({', '.join(unknown)}): the "
                  "model cannot find them, and they count as missed", file=log)
    first_stage = context = None
    if DOC in exp.model.features:
        first_stage, context, first_results = _first_stage(exp, splits, log)
        print("\nsecond stage (the model with the doc feature):", file=log)
    rng = np.random.default_rng(exp.training.seed)
    tagger = build_tagger(exp, splits, rng, log, first_stage)
    encoder, model = tagger.encoder, tagger.model
    train_data = tagger.encode([s.tokens for s in splits.train], [s.tags for s in splits.train],
                               splits.train_scheme, documents=[s.doc for s in splits.train], context=context)
    dev_data = tagger.encode([s.tokens for s in splits.dev], None, documents=[s.doc for s in splits.dev])
    n_params = sum(p.size for p in model.parameters())
    print(f"train: {len(splits.train):,} sentences, {len(train_data):,} tokens; dev: {len(splits.dev):,} "
          f"sentences; vocabulary {len(encoder.vocab):,}; {n_params:,} parameters; tags {' '.join(encoder.tags)}",
          file=log)

    def evaluate_dev(current: WindowClassifier) -> dict[str, float]:
        return predict_and_score(tagger, splits.dev, dev_data, splits.dev_scheme)[1].summary()

    stale = [exp.out / name for name in STALE_OUTPUTS] if exp.out is not None else []

    def save_best(current: WindowClassifier, info: dict[str, Any]) -> None:
        if exp.out is not None:
            tagger.save(exp.out / MODEL_FILE, extra={"best_epoch": info["epoch"], "dev": info.get("dev"),
                                                     "training": exp.training.to_dict()})
            while stale:  # an earlier run's results no longer describe the model in the folder
                stale.pop().unlink(missing_ok=True)

    lines = exp.progress if exp.epoch_lines is None else exp.epoch_lines
    logs = train(model, train_data, exp.training, evaluate_dev, save_best, exp.out, exp.progress, epoch_lines=lines)
    if not logs:  # train() ends without an epoch only when Ctrl-C came during the first one
        raise KeyboardInterrupt("interrupted during the first epoch: nothing was written")
    results = _summary(logs)
    if first_stage is not None:
        results["first_stage"] = first_results
    for name, sents, data, scheme in (("dev", splits.dev, dev_data, splits.dev_scheme),
                                      ("test", splits.test, None, splits.test_scheme)):
        if sents is None:
            continue
        predicted, report = predict_and_score(tagger, sents, data, scheme)
        results[name] = report.summary()
        what = f"binary {report.label}" if report.label else "entities"
        print(f"\n{name} ({what}):\n{report.text()}", file=log)
        if exp.out is not None:
            write_conll(exp.out / f"{name}.predictions.conll", sents, predicted)
    if exp.final:
        first_epochs = results["first_stage"]["best_epoch"] if first_stage is not None else None
        results["final"] = _final(exp, splits, results["best_epoch"], log, first_epochs)
    results["seconds"] = round(time.perf_counter() - began, 1)
    if exp.out is not None:
        with open_atomic(exp.out / "results.json", "w", encoding="utf-8") as f:
            f.write(json.dumps(results, indent=2) + "\n")
    return results, tagger


def _first_stage(exp: Experiment, splits: _Splits, log: TextIO, epochs: int | None = None
                 ) -> tuple[Tagger, np.ndarray, dict[str, Any]]:
    """The first pass of a model with the doc feature: the same model without it, trained on train (for as many
    epochs as dev F1 chooses, or ``epochs``); and its type probabilities for every training token, each from a
    model that has not seen the token's document (cross-fitting: ``exp.doc_folds`` models, each trained on
    the other folds of documents for the first stage's epoch count), or from the first stage itself with no
    folds. Returns the first stage, those probabilities, and a summary for results.json."""
    began = time.perf_counter()
    options = replace(exp.model, features=tuple(name for name in exp.model.features if name != DOC))
    single = replace(exp, model=options, final=False, doc_folds=0)
    kinds = entity_types(tag for s in splits.train for tag in s.tags)
    print(f"\nfirst stage (the model without the doc feature){f', {epochs} epochs' if epochs else ''}:", file=log)
    first, logs = _fit(single, splits, log, epochs)
    summary = _summary(logs)
    folds = exp.doc_folds if len(splits.train) >= exp.doc_folds else 0
    if folds != exp.doc_folds:
        n = len(splits.train)
        print(f"note: {n} training sentence{'' if n == 1 else 's'} cannot make {exp.doc_folds} folds: the second "
              "stage learns from the first stage's own numbers (no cross-fitting)", file=log)
    summary["folds"] = folds
    if folds == 0:
        data = first.encode([s.tokens for s in splits.train], documents=[s.doc for s in splits.train])
        context = first.type_probabilities(data, kinds)
    else:
        context = _cross_fitted(single, splits, folds, summary["best_epoch"], kinds, log)
    summary["seconds"] = round(time.perf_counter() - began, 1)
    return first, context, summary


def _cross_fitted(exp: Experiment, splits: _Splits, n_folds: int, epochs: int, kinds: list[str], log: TextIO
                  ) -> np.ndarray:
    """Each training token's type probabilities from a model of ``exp`` trained on the other ``n_folds - 1``
    folds of documents (of sentences, when the data has fewer documents than folds: a file without
    -DOCSTART- lines is one document)."""
    documents = np.asarray([s.doc for s in splits.train])
    units = documents if len(np.unique(documents)) >= n_folds else np.arange(len(documents))
    order = np.random.default_rng(exp.training.seed).permutation(np.unique(units))
    fold_of = dict(zip(order.tolist(), (np.arange(len(order)) % n_folds).tolist(), strict=True))
    folds = np.asarray([fold_of[d] for d in units.tolist()])
    starts = np.concatenate([[0], np.cumsum([len(s.tokens) for s in splits.train])])
    context = np.zeros((starts[-1], len(kinds) + 1), dtype=np.float32)
    for k in range(n_folds):
        held = np.flatnonzero(folds == k)
        rest = _Splits([splits.train[i] for i in np.flatnonzero(folds != k)], splits.train_scheme, splits.dev,
                       splits.dev_scheme, None, None, splits.vectors)
        print(f"first stage, fold {k + 1} of {n_folds} ({len(rest.train):,} sentences, {epochs} "
              f"epoch{'' if epochs == 1 else 's'})", file=log)
        model, _ = _fit(exp, rest, log, epochs)
        sentences = [splits.train[i] for i in held]
        held_data = model.encode([s.tokens for s in sentences], documents=[s.doc for s in sentences])
        probs = model.type_probabilities(held_data, kinds)
        rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i in held])
        context[rows] = probs
    return context


def _fit(exp: Experiment, splits: _Splits, log: TextIO, epochs: int | None = None) -> tuple[Tagger, TrainLogs]:
    """A trained tagger of ``exp`` (written nowhere): the best epoch by dev F1, or ``epochs`` epochs unscored."""
    tagger = build_tagger(exp, splits, np.random.default_rng(exp.training.seed), io.StringIO())
    data = tagger.encode([s.tokens for s in splits.train], [s.tags for s in splits.train], splits.train_scheme,
                         documents=[s.doc for s in splits.train])
    config = exp.training if epochs is None else replace(exp.training, epochs=epochs, patience=0)
    evaluate = None
    if epochs is None:
        dev_data = tagger.encode([s.tokens for s in splits.dev], None, documents=[s.doc for s in splits.dev])

        def evaluate(current: WindowClassifier) -> dict[str, float]:
            return predict_and_score(tagger, splits.dev, dev_data, splits.dev_scheme)[1].summary()

    lines = exp.progress if exp.epoch_lines is None else exp.epoch_lines
    logs = train(tagger.model, data, config, evaluate, None, None, exp.progress, epoch_lines=lines)
    if not logs or logs.interrupted:  # a first stage or fold cut short is no first stage: stop the run
        raise KeyboardInterrupt("interrupted while training the first stage (the model without the doc feature): "
                                "nothing was written")
    return tagger, logs


def _final(exp: Experiment, splits: _Splits, epochs: int, log: TextIO, first_epochs: int | None = None
           ) -> dict[str, Any]:
    """The final-model protocol: a new model trained on train + dev, as many epochs as dev chose for the
    train-only model, with nothing left to choose with (an epoch is kept when its training loss is the
    lowest so far). Its test scores are the protocol's own, never mixed with the train-only ones; the model
    goes to ``out/final``."""
    if splits.train_scheme != splits.dev_scheme:
        raise InputError(f"--final trains on {exp.train_path} and {exp.dev_path} together, so they need one tag "
                         f"scheme, not {splits.train_scheme} and {splits.dev_scheme}")
    both = _Splits(splits.train + splits.dev, splits.train_scheme, [], splits.dev_scheme, splits.test,
                   splits.test_scheme, splits.vectors)
    print(f"\nfinal model: train + dev ({len(both.train):,} sentences) for {epochs} epochs", file=log)
    first = context = None
    if first_epochs is not None:  # the doc feature's first stage, trained on train + dev as well
        first, context, _ = _first_stage(exp, both, log, first_epochs)
    tagger = build_tagger(exp, both, np.random.default_rng(exp.training.seed), log, first)
    data = tagger.encode([s.tokens for s in both.train], [s.tags for s in both.train], both.train_scheme,
                         documents=[s.doc for s in both.train], context=context)
    out = exp.out / "final" if exp.out is not None else None
    if out is not None:
        out.mkdir(exist_ok=True)

    def save(current: WindowClassifier, info: dict[str, Any]) -> None:
        if out is not None:
            tagger.save(out / MODEL_FILE, extra={"best_epoch": info["epoch"], "protocol": "final (train + dev)",
                                                 "training": exp.training.to_dict()})

    config = replace(exp.training, epochs=epochs, patience=0)
    lines = exp.progress if exp.epoch_lines is None else exp.epoch_lines
    logs = train(tagger.model, data, config, None, save, out, exp.progress, epoch_lines=lines)
    if not logs:
        raise KeyboardInterrupt("interrupted during the final model's first epoch")
    final = {"protocol": "train + dev", **_summary(logs)}
    if splits.test is not None:
        predicted, report = predict_and_score(tagger, splits.test, None, splits.test_scheme)
        final["test"] = report.summary()
        print(f"\ntest, final model (trained on train + dev):\n{report.text()}", file=log)
        if out is not None:
            write_conll(out / "test.predictions.conll", splits.test, predicted)
    return final


@contextlib.contextmanager
def _output_folder(out: Path) -> Iterator[Path]:
    """The output folder, made, checked writable and locked before any work (a name with a dot is a folder
    too); folders made here are removed again when the run ends with nothing written in them."""
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file; the output must be a folder (it holds the model, "
                              "metrics.jsonl and predictions)")
    made = [folder for folder in (out, *out.parents) if not folder.exists()]
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=out):
                pass
        except OSError as error:
            raise InputError(f"cannot write to the output folder {out}: {error.strerror or error}") from None
        with lock_folder(out, "training run"):
            yield out
    finally:
        for folder in made:  # deepest first; a folder that holds anything stays
            with contextlib.suppress(OSError):
                folder.rmdir()


def _entity_counts(sentences: Sequence[Sentence]) -> tuple[Counter[str], dict[str, int]]:
    """Entities per type, and the line of each type's first entity."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    for sentence in sentences:
        for start, _, kind in tagging.spans(sentence.tags):
            counts[kind] += 1
            first.setdefault(kind, sentence.line + start)
    return counts, first


def _report_types(path: Path, counts: Counter[str], first: dict[str, int], log: TextIO) -> set[str]:
    """Print the entity types of the training file with their counts, and a warning for each rare one (a
    tag such as I-FOO or I-ORG-X is more often a typo than a type); returns the types."""
    print("entity types in train: " + ", ".join(f"{kind} {n:,}" for kind, n in sorted(counts.items())), file=log)
    for kind, n in sorted(counts.items()):
        if n < RARE_TYPE:
            print(f"warning: {path}:{first[kind]}: the entity type {kind!r} occurs only {n} time"
                  f"{'s' if n > 1 else ''} in the training data: a typo in a tag? (fix the file, or ignore this "
                  "if the type is meant)", file=log)
    return set(counts)


def _summary(logs: TrainLogs) -> dict[str, Any]:
    return {"epochs": len(logs), "interrupted": logs.interrupted,
            "best_epoch": [e.epoch for e in logs if e.best][-1],
            "train_seconds": round(sum(entry.seconds for entry in logs), 1),
            "train_tokens_per_s": round(float(np.median([e.tokens_per_s for e in logs])))}


def load_labelled(path: Path, token_column: int = 0, tag_column: int = -1) -> tuple[list[Sentence], str]:
    """A labelled CoNLL file and its tag scheme; a tag that no scheme allows is reported at its file:line."""
    sentences = load_conll(path, token_column=token_column, tag_column=tag_column, tag_check=tagging.check_tag)
    try:
        scheme = tagging.detect_scheme([s.tags for s in sentences])
    except ValueError as error:
        raise InputError(f"{path}: {error}") from error
    if scheme in ("IOBES", "BILOU"):  # their letters are unmistakable, so a sequence they forbid is a mix
        _check_one_scheme(path, sentences, scheme)
    return sentences, scheme


def _check_one_scheme(path: Path, sentences: Sequence[Sentence], scheme: str) -> None:
    """Raise when the file's E-/S- (or L-/U-) tags, which make it read as IOBES (BILOU), meet sequences that
    scheme forbids: the message names the rarer side's first line, where the mistake most likely is (IOB1
    and IOB2 files are read leniently, as conlleval reads them: CoNLL-2003's own train file has two slips)."""
    marks = ("L-", "U-") if scheme == "BILOU" else ("E-", "S-")
    evidence: list[tuple[int, str]] = []  # (line, tag) of the tags only this scheme has
    violations: list[tuple[int, str]] = []  # (line, reason) of the first violation of each sentence
    for sentence in sentences:
        evidence.extend((sentence.line + i, tag) for i, tag in enumerate(sentence.tags) if tag.startswith(marks))
        violation = tagging.first_violation(sentence.tags, scheme)
        if violation is not None:
            violations.append((sentence.line + violation[0], violation[1]))
    if not violations:
        return
    (mark_line, mark), (bad_line, reason) = evidence[0], violations[0]
    if len(evidence) < len(violations):  # a few scheme tags in a file of another scheme
        raise InputError(f"{path}:{mark_line}: the tags mix schemes: {mark} is a tag of {scheme} ({len(evidence):,} "
                         f"such in the file), but {len(violations):,} sentences break {scheme}, the first on line "
                         f"{bad_line} ({reason}); write every tag of the file in one scheme")
    raise InputError(f"{path}:{bad_line}: the tags mix schemes: the file has {len(evidence):,} "
                     f"{'/'.join(marks)} tags (the first, {mark}, on line {mark_line}), so it is read as {scheme}, "
                     f"but {reason}; write every tag of the file in one scheme")


def predict_and_score(tagger: Tagger, sentences: Sequence[Sentence], data: EncodedCorpus | None = None,
                      gold_scheme: str | None = None) -> tuple[list[list[str]], Scores]:
    """The tagger's tags for labelled ``sentences``, in the gold file's scheme, and their scores.

    Pass ``data`` (the sentences already encoded) and ``gold_scheme`` when known, to skip that work.
    """
    tags = (tagger.predict_encoded(data) if data is not None
            else tagger.predict([s.tokens for s in sentences], [s.doc for s in sentences]))
    gold = [s.tags for s in sentences]
    labels = tagger.encoder.labels
    predicted = labels.in_gold_style(tags, gold, gold_scheme)
    return predicted, labels.score(gold, predicted)


def sample_corpus(split: str) -> Path:
    """Path of the bundled sample corpus split ("train", "dev" or "test")."""
    return Path(str(resources.files("window_ner.ner.data") / "corpus" / f"sample.{split}.conll"))
