"""Output heads: what the window network's last hidden layer h becomes, the loss it is trained on, its
per-token log-probabilities and how they are decoded into tags. One registry, :data:`HEADS`.

A head is a module with ``forward(h) -> scores``, ``loss(scores, targets, batch)``, ``log_probs(scores)``,
``decode(log_probs, bounds)`` and ``batching`` ("windows": shuffled token windows are enough; "sentences":
the loss needs whole sentences, padded, with a mask). Its choices are an ``Options`` dataclass, saved with
the model; its tags come from a :class:`~window_ner.ner.data.labels.Labels` made by ``make_labels``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from window_ner import nn
from window_ner.autodiff import Tensor, linear, log_softmax
from window_ner.errors import InputError
from window_ner.ner.data.labels import Labels, SchemeLabels, TypeLabels
from window_ner.ner.data.tags import SCHEMES
from window_ner.ner.model.decode import Decoder
from window_ner.registry import Registry

__all__ = ["HEADS", "Head", "SoftmaxHead", "BinaryHead", "DECODERS"]

DECODERS = ("viterbi", "argmax")


class Head(nn.Module):
    """Base of the output heads (see the module docstring for the protocol)."""

    name: ClassVar[str] = ""
    batching: ClassVar[str] = "windows"

    @dataclass
    class Options:
        """The head's choices (none)."""

    def __init__(self, fan_in: int, labels: Labels, options: Any, rng: np.random.Generator, dtype: Any):
        super().__init__()
        self.labels = labels
        self.options = options

    @classmethod
    def make_labels(cls, options: Any, train_tags: Sequence[Sequence[str]], gold_scheme: str,
                    source: str = "the training data") -> Labels:
        """The labels this head predicts, from the training tags."""
        raise NotImplementedError

    def loss(self, scores: Tensor, targets: np.ndarray, batch: Any = None) -> Tensor:
        """The mean loss of a batch: its scores and its tokens' target ids."""
        raise NotImplementedError

    def log_probs(self, scores: Tensor) -> np.ndarray:
        """Per-token log-probabilities of each tag, (n_tokens, n_tags)."""
        raise NotImplementedError

    def decode(self, log_probs: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Best tag id of every token; ``bounds`` are the sentences' offsets, then the token count."""
        return log_probs.argmax(axis=1)

    @property
    def valid_sequences(self) -> bool:
        """Whether decoding always gives tag sequences the labels' scheme allows."""
        return False


HEADS: Registry[type[Head]] = Registry("head")


@HEADS.register("softmax")
class SoftmaxHead(Head):
    """One score per tag, ``U h + c``; softmax cross-entropy; decoding by Viterbi under the scheme's
    constraints (or per-token argmax)."""

    name = "softmax"

    @dataclass
    class Options:
        """scheme: the tags the model predicts (output is IOB2); decode: viterbi or argmax."""

        scheme: str = "IOBES"
        decode: str = "viterbi"

        def __post_init__(self) -> None:
            self.scheme = self.scheme.upper()
            if self.scheme not in ("IOB2", "IOBES"):
                raise InputError(f"scheme must be IOBES or IOB2 (of {', '.join(SCHEMES)}), not {self.scheme!r}")
            if self.decode not in DECODERS:
                raise InputError(f"decode must be one of {', '.join(DECODERS)}, not {self.decode!r}")

    def __init__(self, fan_in: int, labels: Labels, options: Options, rng: np.random.Generator,
                 dtype: Any = np.float32):
        super().__init__(fan_in, labels, options, rng, dtype)
        n_tags = len(labels.tags)
        self.U = nn.Parameter(nn.init.xavier_uniform((n_tags, fan_in), rng, dtype=dtype))
        self.c = nn.Parameter(np.zeros(n_tags, dtype=dtype))
        self._decoder = Decoder(labels.tags, labels.scheme, options.decode)

    @classmethod
    def make_labels(cls, options: Options, train_tags: Sequence[Sequence[str]], gold_scheme: str,
                    source: str = "the training data") -> SchemeLabels:
        return SchemeLabels.fit(train_tags, gold_scheme, options.scheme)

    def forward(self, h: Tensor) -> Tensor:
        """Scores U h + c, (B, n_tags)."""
        return linear(h, self.U, self.c)

    def loss(self, scores: Tensor, targets: np.ndarray, batch: Any = None) -> Tensor:
        return nn.cross_entropy(scores, targets)

    def log_probs(self, scores: Tensor) -> np.ndarray:
        return log_softmax(scores).data

    def decode(self, log_probs: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        return self._decoder.decode_batch_ids(log_probs, bounds)

    @property
    def valid_sequences(self) -> bool:
        return self.options.decode == "viterbi"

    def with_decode(self, decode: str) -> SoftmaxHead:
        """The same head (sharing its parameters) decoding by ``decode`` instead."""
        other = copy.copy(self)
        other.options = replace(self.options, decode=decode)
        other._decoder = Decoder(self.labels.tags, self.labels.scheme, other.options.decode)
        return other


@HEADS.register("binary")
class BinaryHead(Head):
    """The lecture's binary model: s = u . h and J = sigma(s), "is the centre word of type T?"."""

    name = "binary"

    @dataclass
    class Options:
        """type: the entity type the yes/no question asks about (e.g. LOC)."""

        type: str = ""

        def __post_init__(self) -> None:
            if not self.type:
                raise InputError("the binary head needs an entity type (--binary TYPE, e.g. LOC)")

    def __init__(self, fan_in: int, labels: Labels, options: Options, rng: np.random.Generator,
                 dtype: Any = np.float32):
        super().__init__(fan_in, labels, options, rng, dtype)
        self.u = nn.Parameter(nn.init.xavier_uniform((1, fan_in), rng, dtype=dtype)[0])

    @classmethod
    def make_labels(cls, options: Options, train_tags: Sequence[Sequence[str]], gold_scheme: str,
                    source: str = "the training data") -> TypeLabels:
        return TypeLabels.fit(train_tags, options.type, source)

    def forward(self, h: Tensor) -> Tensor:
        """The score s = u . h, (B,)."""
        return h @ self.u

    def loss(self, scores: Tensor, targets: np.ndarray, batch: Any = None) -> Tensor:
        return nn.binary_cross_entropy_with_logits(scores, targets.astype(scores.dtype))

    def log_probs(self, scores: Tensor) -> np.ndarray:
        # log(1 - sigma(s)) and log sigma(s), for tags O and the type; stable for large |s|
        s = scores.data
        return np.stack([-np.logaddexp(0, s), -np.logaddexp(0, -s)], axis=1)

    @property
    def valid_sequences(self) -> bool:
        return True  # any sequence of O and T is valid IO
