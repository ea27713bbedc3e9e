"""Document context: what a first pass of the tagger thought of the same word elsewhere in the document.

A name recurs in a news story, often in an easy context the first time ("Prime Minister John Major") and a
hard one later ("Major said"). The ``doc`` feature gives every window position the first pass's type
distribution (the tag probabilities summed to each entity type, and O) averaged over the *other*
occurrences of the same token in the same document, once for the exact string and once for the lowercased
string, each with log(1 + number of those occurrences). A token seen nowhere else in its document gets
zeros. The numbers are inputs, like the word vectors' positions in x, and the feature learns nothing: the
layer W that reads them does.

This is the two-stage idea of Krishnan and Manning (2006) with the first stage's distributions instead of
its labels. The first stage is a tagger without this feature (see :class:`~window_ner.ner.inference.
tagger.Tagger`'s ``first_stage``); its distributions for the training data come from cross-fitting over
documents, so that the second stage learns how far to trust a pass that has not seen the sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from window_ner import nn
from window_ner.autodiff import Tensor
from window_ner.ner.data.tags import tag_type
from window_ner.ner.model.features import FEATURES, Feature

__all__ = ["DOC", "DocumentFeature", "DenseWindow", "entity_types", "type_matrix"]

DOC = "doc"


def entity_types(tags: Iterable[str]) -> list[str]:
    """The entity types of these tags, sorted (the doc feature's columns)."""
    return sorted({tag_type(tag) for tag in tags} - {"O"})


def type_matrix(tags: Sequence[str], types: Sequence[str]) -> np.ndarray:
    """(n_tags, n_types + 1) 0/1 matrix: tag probabilities times it give each type's probability, O last."""
    matrix = np.zeros((len(tags), len(types) + 1), dtype=np.float32)
    column = {kind: i for i, kind in enumerate(types)}
    for row, tag in enumerate(tags):
        matrix[row, column.get(tag_type(tag), len(types))] = 1
    return matrix


class DenseWindow(nn.Module):
    """Numbers per window position as they are: (B, width, k) values become the (B, width * k) block of x."""

    def __init__(self, dtype: Any = np.float32):
        super().__init__()
        self.dtype = dtype

    def forward(self, values: Any) -> Tensor:
        values = np.asarray(values, dtype=self.dtype)
        return Tensor(values.reshape(values.shape[0], -1), requires_grad=False)


@FEATURES.register(DOC)
class DocumentFeature(Feature):
    """The first pass's type distribution for the same token elsewhere in the document (see the module)."""

    name = DOC
    default_dim = 0  # the real size depends on the entity types: see ``dim``

    def __init__(self, types: Iterable[str] = ()):
        self.types = list(types)

    @classmethod
    def fit(cls, token_lists: Iterable[Sequence[str]] = (), min_count: int = 1) -> DocumentFeature:
        return cls()  # the types come from the labels (Experiment sets them), nothing from the tokens

    @property
    def size(self) -> int:
        return 0  # no ids, no table

    @property
    def dim(self) -> int:
        """Numbers per window position: two groups (exact, lowercased) of type probabilities and O, and a count."""
        return 2 * (len(self.types) + 2)

    @staticmethod
    def module(size: int, dim: int, rng: np.random.Generator, dtype: Any = np.float32) -> nn.Module:
        return DenseWindow(dtype)

    def ids(self, tokens: Sequence[str]) -> np.ndarray:
        # a caller's mistake, not the input's: a bug if window-ner itself gets here, so not an InputError
        raise TypeError("the doc feature is computed from a first tagging pass over whole documents: encode "
                        "through Tagger.encode (or pass context= to Encoder.encode), not token by token")

    def values(self, tokens: Sequence[str], documents: np.ndarray, type_probs: np.ndarray) -> np.ndarray:
        """(n, dim) float32: for each token, the mean of ``type_probs`` (n, n_types + 1) over the other tokens
        of its document with the same string, then log(1 + their number); then the same for the lowercased
        string. ``documents`` holds each token's document number."""
        n = len(tokens)
        if type_probs.shape != (n, len(self.types) + 1):
            raise ValueError(f"the doc feature needs ({n}, {len(self.types) + 1}) type probabilities, "
                             f"got {type_probs.shape}")
        probs = type_probs.astype(np.float64)
        groups = []
        for key in (tokens, [token.lower() for token in tokens]):
            index: dict[str, int] = {}
            string_ids = np.fromiter((index.setdefault(k, len(index)) for k in key), dtype=np.int64, count=n)
            _, group = np.unique(documents.astype(np.int64) * max(len(index), 1) + string_ids, return_inverse=True)
            count = np.bincount(group)
            others = (count[group] - 1).astype(np.float64)
            sums = np.stack([np.bincount(group, weights=probs[:, c], minlength=len(count))
                             for c in range(probs.shape[1])], axis=1)
            mean = (sums[group] - probs) / np.maximum(others, 1)[:, None]  # zeros when the token is alone
            groups.extend([mean, np.log1p(others)[:, None]])
        return np.concatenate(groups, axis=1).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.name, "types": self.types}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentFeature:
        return cls(data.get("types", ()))

    def __repr__(self) -> str:
        return f"DocumentFeature({' '.join(self.types)})"
