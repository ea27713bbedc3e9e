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
from window_ner.ner.data import tags as tagging
from window_ner.ner.data.labels import Labels, SchemeLabels, TypeLabels
from window_ner.ner.data.tags import SCHEMES
from window_ner.ner.data.vocab import RESERVED
from window_ner.ner.model import crf
from window_ner.ner.model.decode import Decoder, viterbi_batch
from window_ner.registry import Registry

__all__ = ["HEADS", "Head", "SoftmaxHead", "BinaryHead", "CRFHead", "DECODERS", "BINARY_LOSSES"]

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


@HEADS.register("crf")
class CRFHead(SoftmaxHead):
    """Emission scores ``U h + c`` per token and learned transition, start and end scores: a linear-chain CRF
    trained on Collobert et al. (2011)'s sentence-level log-likelihood; decoding by Viterbi over the paths
    the scheme allows (its forbidden moves are -inf in the loss, the marginals and decoding alike)."""

    name = "crf"
    batching = "sentences"

    @dataclass
    class Options(SoftmaxHead.Options):
        """scheme: the tags the model predicts (output is IOB2); decode: viterbi (its only way; the option
        exists because the train command passes one to every entity head)."""

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.decode != "viterbi":
                raise InputError(f"the crf head decodes by Viterbi with its transition scores, not {self.decode!r}")

    def __init__(self, fan_in: int, labels: Labels, options: Options, rng: np.random.Generator,
                 dtype: Any = np.float32):
        super().__init__(fan_in, labels, options, rng, dtype)  # the emissions U h + c, as the softmax head's
        n_tags = len(labels.tags)
        self.transitions = nn.Parameter(np.zeros((n_tags, n_tags), dtype=dtype))
        self.start = nn.Parameter(np.zeros(n_tags, dtype=dtype))
        self.end = nn.Parameter(np.zeros(n_tags, dtype=dtype))
        self.allowed = tagging.allowed_transitions(labels.tags, labels.scheme)
        self.allowed_start = tagging.allowed_starts(labels.tags, labels.scheme)
        self.allowed_end = tagging.allowed_ends(labels.tags, labels.scheme)

    def loss(self, scores: Tensor, targets: np.ndarray, batch: Any = None) -> Tensor:
        """Mean over the batch's sentences of log Z - s(gold path) (the forward algorithm, in the engine)."""
        if batch is None or batch.mask is None:
            raise InputError("the crf head trains on whole sentences: use batching 'sentences' (the head's own "
                             "choice; leave --batching out)")
        lengths = batch.mask.sum(axis=1)
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        return crf.nll(scores, bounds, targets, self.transitions, self.start, self.end,
                       (self.allowed, self.allowed_start, self.allowed_end))

    # log_prob_tensor stays the softmax head's log softmax of the emissions: it shifts every token's scores by
    # one constant, which changes no path's probability, so decoding, marginals and spans may start from it.

    def chain(self) -> crf.Chain:
        """The learned scores with -inf where the scheme forbids a move, start or end."""
        return crf.Chain(np.where(self.allowed, self.transitions.data, -np.inf),
                         np.where(self.allowed_start, self.start.data, -np.inf),
                         np.where(self.allowed_end, self.end.data, -np.inf))

    def decode(self, log_probs: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """The best path of each sentence under the learned scores and the scheme's mask."""
        return viterbi_batch(log_probs, bounds, self.allowed, self.allowed_start, self.allowed_end,
                             transition_scores=self.transitions.data, start_scores=self.start.data,
                             end_scores=self.end.data)

    def marginals(self, log_probs: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """p(y_t = j) for every token and tag (n_tokens, n_tags), by forward-backward."""
        return crf.marginals(log_probs, bounds, self.chain())

    def span_probabilities(self, log_probs: np.ndarray, bounds: np.ndarray,
                           spans: Sequence[tuple[int, int, int, str]]) -> np.ndarray:
        """p(the entity is exactly tokens start..end-1 of type label) for each ``(sentence, start, end, label)``
        (token indices within the sentence): the paths with the span's tags there (and, in IOB2, no I- of the
        type right after it), over Z."""
        return np.exp(self._span_log_probs(log_probs, bounds, spans))

    def _span_log_probs(self, log_probs: np.ndarray, bounds: np.ndarray, spans: Sequence[tuple[int, int, int, str]],
                        lattice: crf.Lattice | None = None) -> np.ndarray:
        bounds = np.asarray(bounds, dtype=np.int64)
        n_tags = len(self.labels.tags)
        index = {tag: i for i, tag in enumerate(self.labels.tags)}
        tags = np.zeros(len(log_probs), dtype=np.int64)
        starts, ends = np.zeros(len(spans), np.int64), np.zeros(len(spans), np.int64)
        next_allowed = np.ones((len(spans), n_tags), dtype=bool)
        for k, (sentence, start, end, label) in enumerate(spans):
            first = int(bounds[sentence])
            if not 0 <= start < end <= bounds[sentence + 1] - first:
                raise InputError(f"span ({start}, {end}) does not fit sentence {sentence} of "
                                 f"{bounds[sentence + 1] - first} tokens")
            names = tagging.from_spans([(0, end - start, label)], end - start, self.labels.scheme)
            if any(name not in index for name in names):
                raise InputError(f"the model has no tags for the type {label!r} (its tags: {', '.join(index)})")
            tags[first + start:first + end] = [index[name] for name in names]
            starts[k], ends[k] = first + start, first + end
            inside = index.get(f"I-{label}")
            if self.labels.scheme == "IOB2" and inside is not None:  # else the entity would go on
                next_allowed[k, inside] = False
        return crf.span_log_probs(log_probs, bounds, self.chain(), starts, ends, tags, next_allowed, lattice)

    def entity_scores(self, log_probs: np.ndarray, bounds: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Per token of the decoded ``ids``: its entity's probability (see :meth:`span_probabilities`) inside
        an entity, its tag's marginal probability outside; the tagger's entity scores."""
        bounds = np.asarray(bounds, dtype=np.int64)
        lattice = crf.forward_backward(log_probs, bounds, self.chain())
        n_tokens = len(ids)
        scores = np.exp(lattice.alpha[np.arange(n_tokens), ids] + lattice.beta[np.arange(n_tokens), ids]
                        - lattice.log_z[lattice.sentence])
        names = np.asarray(self.labels.tags, dtype=object)[ids]
        spans = []
        for sentence, (first, last) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            spans.extend((sentence, start, end, label)
                         for start, end, label in tagging.spans(names[first:last].tolist()))
        if spans:
            probabilities = np.exp(self._span_log_probs(log_probs, bounds, spans, lattice))
            for (sentence, start, end, _), probability in zip(spans, probabilities, strict=True):
                scores[bounds[sentence] + start:bounds[sentence] + end] = probability
        return scores

    @property
    def valid_sequences(self) -> bool:
        return True

