"""From token lists to the id windows the window classifier eats: words, features and targets, with each
sentence's (and document's) place, so that training can batch windows or whole sentences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from window_ner.errors import InputError
from window_ner.ner.data.labels import Labels, labels_from_dict
from window_ner.ner.data.text import canonical_word
from window_ner.ner.data.vocab import BOS, EOS, Vocab
from window_ner.ner.data.windows import sentence_starts, windows
from window_ner.ner.model.features import FEATURE_PAD, Feature, feature_from_dict, make_feature

__all__ = ["EncodedCorpus", "Encoder"]


@dataclass
class EncodedCorpus:
    """Every token of a corpus as a window of ids, with its target and its sentence's place."""

    word_windows: np.ndarray  # (n_tokens, 2 * window + 1) word ids
    feature_windows: dict[str, np.ndarray]  # name -> (n_tokens, 2 * window + 1[, k]) feature ids
    targets: np.ndarray  # (n_tokens,) target ids; -1 when unknown
    starts: np.ndarray  # (n_sentences + 1,) offsets of each sentence into the tokens, then n_tokens
    documents: np.ndarray | None = None  # (n_sentences,) document index of each sentence, when known

    def __len__(self) -> int:
        return len(self.word_windows)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per sentence."""
        return np.diff(self.starts)

    def inputs(self, index: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The word and feature windows of the tokens ``index``."""
        return self.word_windows[index], {name: ids[index] for name, ids in self.feature_windows.items()}


def _feature_windows(ids: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """Windows of a feature's ids: one id per token gives (n, width); k ids per token give (n, width, k)."""
    if ids.ndim == 1:
        return windows(ids, starts, size, left_pad=FEATURE_PAD, right_pad=FEATURE_PAD)
    positions = windows(np.arange(1, len(ids) + 1), starts, size, left_pad=0, right_pad=0)
    padded = np.concatenate([np.full((1,) + ids.shape[1:], FEATURE_PAD, dtype=ids.dtype), ids])
    return padded[positions]


def _feature_ids(feature: Feature, tokens: list[str], bounds: np.ndarray, documents: np.ndarray | None,
                 context: np.ndarray | None) -> np.ndarray:
    """A feature's ids for all tokens; one that looks across tokens (``ids_by_sentence``) gets them per sentence,
    one computed from a first pass over documents (``values``) its numbers from ``context``."""
    if hasattr(feature, "values"):
        if context is None:
            return feature.ids(tokens)  # which says how to give it its context
        sentence_docs = np.arange(len(bounds) - 1) if documents is None else documents
        return feature.values(tokens, np.repeat(sentence_docs, np.diff(bounds)), context)
    by_sentence = getattr(feature, "ids_by_sentence", None)
    if by_sentence is None:
        return feature.ids(tokens)
    return by_sentence([tokens[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)])


class Encoder:
    """Turns token lists into windows of word and feature ids, and gold tags into target ids."""

    def __init__(self, vocab: Vocab, features: dict[str, Feature], labels: Labels, window: int = 2):
        self.vocab = vocab
        self.features = features
        self.labels = labels
        self.window = window

    @property
    def tags(self) -> list[str]:
        """The tags the model predicts (its output classes)."""
        return self.labels.tags

    @property
    def feature_sizes(self) -> dict[str, int]:
        """Number of ids of each feature."""
        return {name: feature.size for name, feature in self.features.items()}

    def shared_with(self, other: Encoder) -> tuple[bool, frozenset[str]]:
        """What an encoding by ``other`` holds that this encoder would compute the same: the word windows (same
        vocabulary and window), and the windows of the features both have alike."""
        if self.window != other.window:
            return False, frozenset()
        return (self.vocab == other.vocab,
                frozenset(name for name, f in self.features.items() if other.features.get(name) == f))

    def encode(self, sentences: Sequence[Sequence[str]], gold: Sequence[Sequence[str]] | None = None,
               gold_scheme: str | None = None, documents: Sequence[int] | None = None,
               context: np.ndarray | None = None,
               reuse: tuple[EncodedCorpus, bool, frozenset[str]] | None = None) -> EncodedCorpus:
        """Windows for every token of ``sentences``; targets from ``gold`` tags when given.

        ``documents`` numbers each sentence's document (without it each sentence is a document of its own);
        ``context`` holds a first pass's type probabilities per token, for the doc feature. ``reuse`` is an
        encoding of the same sentences by another encoder and what of it is shared (see :meth:`shared_with`):
        those windows are taken as they are, not computed again.
        """
        done, same_words, same_features = reuse if reuse is not None else (None, False, frozenset())
        # Words and features are per token: look all tokens up in one pass, not sentence by sentence (faster).
        starts = sentence_starts(sentences)
        tokens = [token if token.isascii() else canonical_word(token) for sentence in sentences for token in sentence]
        if same_words:
            word_windows = done.word_windows
        else:
            word_windows = windows(self.vocab.lookup(tokens), starts, self.window, left_pad=BOS, right_pad=EOS)
        bounds = np.append(starts, len(tokens)).astype(np.int64)
        if done is not None and not np.array_equal(done.starts, bounds):
            raise ValueError("reuse= holds an encoding of other sentences")
        docs = None if documents is None else np.asarray(documents, dtype=np.int64)
        if docs is not None and len(docs) != len(sentences):
            raise InputError(f"{len(sentences)} sentences but {len(docs)} document numbers: pass one per sentence")
        feature_windows = {name: done.feature_windows[name] if name in same_features else
                           _feature_windows(_feature_ids(feature, tokens, bounds, docs, context), starts, self.window)
                           for name, feature in self.features.items()}
        if gold is None:
            targets = np.full(len(tokens), -1, dtype=np.int64)
        else:
            _check_aligned(np.diff(bounds), gold)
            targets = self.labels.targets(gold, gold_scheme)
        return EncodedCorpus(word_windows, feature_windows, targets, bounds, docs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (saved in the model file)."""
        return {"vocab": self.vocab.to_dict(),
                "features": {name: f.to_dict() for name, f in self.features.items()},
                "labels": self.labels.to_dict(), "window": self.window}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Encoder:
        """The encoder described by :meth:`to_dict`."""
        return cls(Vocab.from_dict(data["vocab"]),
                   {name: feature_from_dict(d) for name, d in data["features"].items()},
                   labels_from_dict(data["labels"]), data["window"])

    @classmethod
    def build(cls, train_tokens: Sequence[Sequence[str]], labels: Labels, window: int = 2,
              feature_names: Sequence[str] = ("caps",), extra_words: Sequence[str] | None = None,
              min_count: int = 1) -> Encoder:
        """Vocabulary and features from the training tokens (in the form they are matched under)."""
        train_tokens = [sentence if isinstance(sentence, str) else [canonical_word(token) for token in sentence]
                        for sentence in train_tokens]  # (Vocab.build explains why a string is refused)
        extra_words = None if extra_words is None else [canonical_word(word) for word in extra_words]
        vocab = Vocab.build(train_tokens, min_count=min_count, extra_words=extra_words)
        features = {name: make_feature(name, train_tokens) for name in feature_names}
        return cls(vocab, features, labels, window)


def _check_aligned(token_counts: np.ndarray, gold: Sequence[Sequence[str]]) -> None:
    """Raise unless ``gold`` holds one tag list per sentence and one tag per token."""
    if len(gold) != len(token_counts):
        raise InputError(f"{len(token_counts)} sentences but {len(gold)} gold tag lists: pass one per sentence")
    tag_counts = np.fromiter(map(len, gold), dtype=np.int64, count=len(gold))
    wrong = np.flatnonzero(tag_counts != token_counts)
    if wrong.size:
        i = int(wrong[0])
        raise InputError(f"sentence {i + 1} has {token_counts[i]} tokens but {tag_counts[i]} gold tags: "
                         "pass one tag per token")
