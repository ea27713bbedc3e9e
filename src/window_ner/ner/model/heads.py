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
from window_ner.autodiff import Tensor, linear, log_softmax, logsumexp, stack
from window_ner.errors import InputError
from window_ner.ner.data.labels import Labels, SchemeLabels, TypeLabels
from window_ner.ner.data.tags import SCHEMES
from window_ner.ner.data.vocab import RESERVED
from window_ner.ner.model.decode import Decoder
from window_ner.registry import Registry

__all__ = ["HEADS", "Head", "SoftmaxHead", "BinaryHead", "DECODERS", "BINARY_LOSSES"]

DECODERS = ("viterbi", "argmax")
BINARY_LOSSES = ("logistic", "max-margin")


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

    def batch_loss(self, model: Any, inputs: tuple[np.ndarray, dict[str, np.ndarray]], targets: np.ndarray,
                   batch: Any = None) -> Tensor:
        """The mean loss of a batch given the model and the batch's windows: its scores' :meth:`loss`
        (a head whose loss needs other windows too, such as corrupt ones, scores them here)."""
        return self.loss(model(*inputs), targets, batch)

    def log_probs(self, scores: Tensor) -> np.ndarray:
        """Per-token log-probabilities of each tag, (n_tokens, n_tags)."""
        return self.log_prob_tensor(scores).data

    def log_prob_tensor(self, scores: Tensor) -> Tensor:
        """The per-token log-probabilities as a tensor of the graph, to differentiate (explanations)."""
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

    def log_prob_tensor(self, scores: Tensor) -> Tensor:
        return log_softmax(scores)

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
        """type: the entity type the yes/no question asks about (e.g. LOC); loss: logistic, the
        cross-entropy of J = sigma(s), or max-margin, CS224N's J = max(0, 1 - s + s_c) against corrupt windows."""

        type: str = ""
        loss: str = "logistic"

        def __post_init__(self) -> None:
            if not self.type:
                raise InputError("the binary head needs an entity type (--binary TYPE, e.g. LOC)")
            if self.loss not in BINARY_LOSSES:
                raise InputError(f"the binary loss must be one of {', '.join(BINARY_LOSSES)}, not {self.loss!r}")

    def __init__(self, fan_in: int, labels: Labels, options: Options, rng: np.random.Generator,
                 dtype: Any = np.float32):
        super().__init__(fan_in, labels, options, rng, dtype)
        self.u = nn.Parameter(nn.init.xavier_uniform((1, fan_in), rng, dtype=dtype)[0])
        # the corrupt windows' random centre words (drawn only for max-margin, so the logistic model's
        # random numbers stay those it always had)
        self._corrupt_rng = np.random.default_rng(rng.integers(2**63)) if options.loss == "max-margin" else None

    @classmethod
    def make_labels(cls, options: Options, train_tags: Sequence[Sequence[str]], gold_scheme: str,
                    source: str = "the training data") -> TypeLabels:
        return TypeLabels.fit(train_tags, options.type, source)

    def forward(self, h: Tensor) -> Tensor:
        """The score s = u . h, (B,)."""
        return h @ self.u

    def loss(self, scores: Tensor, targets: np.ndarray, batch: Any = None) -> Tensor:
        return nn.binary_cross_entropy_with_logits(scores, targets.astype(scores.dtype))

    def batch_loss(self, model: Any, inputs: tuple[np.ndarray, dict[str, np.ndarray]], targets: np.ndarray,
                   batch: Any = None) -> Tensor:
        """Logistic: the cross-entropy of sigma(s). Max-margin (CS224N): every window whose centre word is of
        the type is a true window with score s; the same window with its centre word replaced by a random
        vocabulary word is its corrupt window, score s_c; J = max(0, 1 - s + s_c), averaged over the true
        windows. Nothing else pulls the scores apart, so they settle about 0: the tag is the type when s > 0."""
        if self.options.loss != "max-margin":
            return super().batch_loss(model, inputs, targets, batch)
        word_windows, feature_windows = inputs
        true = np.flatnonzero(targets == 1)
        if not len(true):  # no window of the type in this batch: nothing to rank, a zero loss with a graph
            return model(*inputs).sum() * 0.0
        centre = word_windows.shape[1] // 2
        corrupt = word_windows[true].copy()
        # a random word as text has them: the centre word of a random other window of the batch, not of the
        # type (uniform draws from the vocabulary give rare words, which natural windows seldom have)
        others = word_windows[targets != 1, centre]
        corrupt[:, centre] = (self._corrupt_rng.choice(others, size=len(true)) if len(others) else
                              self._corrupt_rng.integers(len(RESERVED), model.config.vocab_size, size=len(true)))
        windows = np.concatenate([word_windows[true], corrupt])
        features = {name: np.concatenate([ids[true], ids[true]]) for name, ids in feature_windows.items()}
        scores = model(windows, features)
        return nn.max_margin(scores[:len(true)], scores[len(true):])

    def log_probs(self, scores: Tensor) -> np.ndarray:
        # log(1 - sigma(s)) and log sigma(s), for tags O and the type; stable for large |s|
        s = scores.data
        return np.stack([-np.logaddexp(0, s), -np.logaddexp(0, -s)], axis=1)

    def log_prob_tensor(self, scores: Tensor) -> Tensor:
        # log sigma(-s), log sigma(s) as -logsumexp(0, -+s): stable for large |s|
        zero = Tensor(np.zeros_like(scores.data), requires_grad=False)
        return -stack([logsumexp(stack([zero, scores], axis=1), axis=1),
                       logsumexp(stack([zero, -scores], axis=1), axis=1)], axis=1)

    @property
    def valid_sequences(self) -> bool:
        return True  # any sequence of O and T is valid IO
