"""From token lists to the id matrices the window classifier eats, and back from tag ids to tags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from window_ner.ner import tags as tagging
from window_ner.ner.vocab import BOS, EOS, FEATURE_PAD, Vocab, feature_from_dict, make_feature
from window_ner.ner.windows import sentence_starts, windows


@dataclass
class EncodedCorpus:
    """Every token of a corpus as a window of ids, with its target and its sentence's place."""

    word_windows: np.ndarray  # (n_tokens, 2 * window + 1) word ids
    feature_windows: dict[str, np.ndarray]  # name -> (n_tokens, 2 * window + 1) feature ids
    targets: np.ndarray  # (n_tokens,) tag ids (or 0/1 for the binary model); -1 when unknown
    starts: np.ndarray  # (n_sentences + 1,) offsets of each sentence into the tokens, then n_tokens

    def __len__(self) -> int:
        return len(self.word_windows)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)


class Encoder:
    """Turns token lists into windows of word and feature ids, and tag strings into tag ids.

    ``tags`` are the model's output tags, in ``scheme`` (IOBES tags let Viterbi decoding help most);
    gold tags of any scheme are converted on the way in.
    """

    def __init__(self, vocab: Vocab, features: dict[str, Any], tags: Sequence[str], scheme: str,
                 window: int = 2, binary_type: str | None = None):
        self.vocab = vocab
        self.features = features
        self.tags = list(tags)
        self.scheme = scheme
        self.window = window
        self.binary_type = binary_type
        self.tag_index = {tag: i for i, tag in enumerate(self.tags)}

    @property
    def feature_sizes(self) -> dict[str, int]:
        return {name: feature.size for name, feature in self.features.items()}

    def encode(self, sentences: Sequence[Sequence[str]], gold: Sequence[Sequence[str]] | None = None,
               gold_scheme: str | None = None) -> EncodedCorpus:
        """Windows for every token of ``sentences``; targets from ``gold`` tags when given."""
        # Words and features are per token: look all tokens up in one pass (per sentence costs twice as much).
        starts = sentence_starts(sentences)
        tokens = [token for sentence in sentences for token in sentence]
        word_ids = self.vocab.lookup(tokens)
        word_windows = windows(word_ids, starts, self.window, left_pad=BOS, right_pad=EOS)
        feature_windows = {
            name: windows(feature(tokens), starts, self.window, left_pad=FEATURE_PAD, right_pad=FEATURE_PAD)
            for name, feature in self.features.items()
        }
        bounds = np.append(starts, len(word_ids)).astype(np.int64)
        if gold is None:
            targets = np.full(len(word_ids), -1, dtype=np.int64)
        else:
            _check_aligned(np.diff(bounds), gold)
            targets = self.encode_tags(gold, gold_scheme)
        return EncodedCorpus(word_windows, feature_windows, targets, bounds)

    def encode_tags(self, gold: Sequence[Sequence[str]], gold_scheme: str | None) -> np.ndarray:
        """Target ids: the gold tags converted to the model's scheme (or 1/0 for the binary model)."""
        if self.binary_type is not None:
            return np.fromiter((tagging.tag_type(tag) == self.binary_type for sentence in gold for tag in sentence),
                               dtype=np.int64)
        out = []
        for sentence in gold:
            converted = tagging.convert(list(sentence), gold_scheme, self.scheme) if gold_scheme else sentence
            for tag in converted:
                if tag not in self.tag_index:
                    raise ValueError(f"tag {tag!r} was not seen in the training data (model tags: "
                                     f"{', '.join(self.tags)})")
                out.append(self.tag_index[tag])
        return np.asarray(out, dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "vocab": self.vocab.to_dict(),
            "features": {name: f.to_dict() for name, f in self.features.items()},
            "tags": self.tags,
            "scheme": self.scheme,
            "window": self.window,
            "binary_type": self.binary_type,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Encoder:
        return cls(Vocab.from_dict(data["vocab"]),
                   {name: feature_from_dict(d) for name, d in data["features"].items()},
                   data["tags"], data["scheme"], data["window"], data.get("binary_type"))

    @classmethod
    def build(cls, train_tokens: Sequence[Sequence[str]], train_tags: Sequence[Sequence[str]],
              gold_scheme: str, scheme: str, window: int = 2, feature_names: Sequence[str] = ("caps",),
              extra_words: Sequence[str] | None = None, min_count: int = 1,
              binary_type: str | None = None) -> Encoder:
        """Vocabulary, features and tag set from the training data."""
        vocab = Vocab.build(train_tokens, min_count=min_count, extra_words=extra_words)
        features = {name: make_feature(name, train_tokens) for name in feature_names}
        if binary_type is not None:
            tags = ["O", binary_type]
        else:
            converted = [tagging.convert(list(s), gold_scheme, scheme) for s in train_tags]
            types = sorted({tagging.tag_type(tag) for s in converted for tag in s} - {"O"})
            tags = tagging.tag_set(types, scheme)
        return cls(vocab, features, tags, scheme, window, binary_type)


def _check_aligned(token_counts: np.ndarray, gold: Sequence[Sequence[str]]) -> None:
    """Raise unless ``gold`` holds one tag list per sentence and one tag per token."""
    if len(gold) != len(token_counts):
        raise ValueError(f"{len(token_counts)} sentences but {len(gold)} gold tag lists: pass one per sentence")
    tag_counts = np.fromiter(map(len, gold), dtype=np.int64, count=len(gold))
    wrong = np.flatnonzero(tag_counts != token_counts)
    if wrong.size:
        i = int(wrong[0])
        raise ValueError(f"sentence {i + 1} has {token_counts[i]} tokens but {tag_counts[i]} gold tags: "
                         "pass one tag per token")
