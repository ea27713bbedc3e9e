"""Mini-batches of an encoded corpus: shuffled token windows, or whole sentences padded with a mask."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from window_ner.ner.model.encoder import EncodedCorpus
from window_ner.registry import Registry

__all__ = ["Batch", "BATCHINGS", "Batching", "WindowBatches", "SentenceBatches"]


@dataclass
class Batch:
    """The tokens of one mini-batch, as indices into the corpus.

    For sentence batches, ``mask`` (n_sentences, longest) is True where a token is; ``tokens`` fill its
    True cells row by row, so ``padded[mask] = values`` lays per-token values out sentence by sentence.
    """

    tokens: np.ndarray
    mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tokens)


class Batching:
    """Cuts a corpus into mini-batches of about ``batch_size`` tokens, in a new random order each epoch."""

    def __init__(self, data: EncodedCorpus, batch_size: int):
        self.data, self.batch_size = data, batch_size

    def __len__(self) -> int:
        """Batches per epoch."""
        raise NotImplementedError

    def epoch(self, rng: np.random.Generator) -> Iterator[Batch]:
        """One epoch's batches."""
        raise NotImplementedError


BATCHINGS: Registry[type[Batching]] = Registry("batching")


@BATCHINGS.register("windows")
class WindowBatches(Batching):
    """``batch_size`` token windows at a time, shuffled over the whole corpus."""

    def __len__(self) -> int:
        return math.ceil(len(self.data) / self.batch_size)

    def epoch(self, rng: np.random.Generator) -> Iterator[Batch]:
        n = len(self.data)
        order = rng.permutation(n)
        for first in range(0, n, self.batch_size):
            yield Batch(order[first:first + self.batch_size])


@BATCHINGS.register("sentences")
class SentenceBatches(Batching):
    """Whole sentences, shuffled, as many per batch as make about ``batch_size`` tokens on average."""

    def __init__(self, data: EncodedCorpus, batch_size: int):
        super().__init__(data, batch_size)
        self.lengths = data.lengths
        self.sentences = np.flatnonzero(self.lengths > 0)
        mean_length = len(data) / max(len(self.sentences), 1)
        self.per_batch = max(1, round(batch_size / mean_length))

    def __len__(self) -> int:
        return math.ceil(len(self.sentences) / self.per_batch)

    def epoch(self, rng: np.random.Generator) -> Iterator[Batch]:
        order = self.sentences[rng.permutation(len(self.sentences))]
        for first in range(0, len(order), self.per_batch):
            chosen = order[first:first + self.per_batch]
            size = self.lengths[chosen]
            mask = np.arange(size.max()) < size[:, None]
            # token i of sentence s sits at starts[s] + i
            yield Batch((self.data.starts[chosen][:, None] + np.arange(size.max()))[mask], mask)
