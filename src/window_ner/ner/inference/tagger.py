"""The Tagger API: load a trained model, tag raw text or token lists, get entities with offsets."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from window_ner import __version__, nn
from window_ner.autodiff import no_grad
from window_ner.errors import InputError
from window_ner.ner.data import tags as tagging
from window_ner.ner.data.tokenize import tokenize
from window_ner.ner.inference.migrate import FORMAT, FORMAT_VERSION, upgrade
from window_ner.ner.model.classifier import EVAL_CHUNK, ModelConfig, WindowClassifier
from window_ner.ner.model.context import DOC, type_matrix
from window_ner.ner.model.encoder import EncodedCorpus, Encoder

if TYPE_CHECKING:
    from window_ner.ner.inference.explain import Explanation

__all__ = ["Entity", "Tagger", "MODEL_FILE", "CHUNK", "model_path", "pieces"]

MODEL_FILE = "model.safetensors"
CHUNK = EVAL_CHUNK  # windows scored at once: bounds memory while keeping matrix products large
FIRST_STAGE = "first_stage"  # the metadata entry and tensor-name prefix of a doc-feature model's first pass
MAX_WEIGHT = 1e6  # no trained parameter comes near: a larger value is damage or divergence
BATCH_CHARS = 200_000  # characters of raw text tokenised and scored together by tag_texts
PIECE_CHARS = 100_000  # a longer text is tagged in pieces cut at sentence ends


@dataclass(frozen=True, slots=True)
class Entity:
    """A named entity: its text, type, where it is, and the model's probability for the span.

    From raw text, ``start``/``end`` are character offsets (``text == input[start:end]``); from
    ``tag_tokens`` they are token indices into the sentence, end exclusive.
    """

    text: str
    label: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "label": self.label, "start": self.start, "end": self.end,
                "score": round(self.score, 4)}


def _check_fit(config: ModelConfig, encoder: Encoder, numbers_in_file: int) -> None:
    """Raise ValueError when the encoder's sizes are not those the model's tensors were made for, or the
    configuration asks for more numbers than the file holds (checked before anything is allocated)."""
    problems = [f"{what}: the encoder has {ours}, the model {theirs}" for what, ours, theirs in (
        ("words", len(encoder.vocab), config.vocab_size),
        ("window", encoder.window, config.window),
        ("features", encoder.feature_sizes, config.feature_sizes)) if ours != theirs]
    at_least = config.parameter_count(config.vocab_size, config.feature_sizes, 0)  # all but the head
    if at_least > numbers_in_file:
        problems.append(f"the configuration needs at least {at_least:,} parameters, the file holds {numbers_in_file:,}")
    if problems:
        raise ValueError("; ".join(problems))


def _model_from(tensors: dict[str, np.ndarray], metadata: dict[str, Any]) -> tuple[WindowClassifier, Encoder]:
    """The model and encoder that a file's metadata describes, with its tensors (checked to fit first)."""
    encoder = Encoder.from_dict(metadata["encoder"])
    config = ModelConfig.from_dict(metadata["model"])
    _check_fit(config, encoder, sum(values.size for values in tensors.values()))
    with nn.init.skipped():  # every parameter comes from the file (strict): draw no numbers for them
        model = WindowClassifier(config, encoder.labels, np.random.default_rng(0))
    model.load_state_dict(tensors)
    return model, encoder


def model_path(path: str | Path) -> Path:
    """The model file inside a model folder (or the file itself)."""
    path = Path(path)
    return path / MODEL_FILE if path.is_dir() or (not path.suffix and not path.exists()) else path


class Tagger:
    """A trained window classifier with its vocabulary, features and labels; its head decodes.

    Calls never change the tagger, and the engine's no-grad mode is per thread, so one Tagger may serve
    several threads at once.
    """

    def __init__(self, model: WindowClassifier, encoder: Encoder, info: dict[str, Any] | None = None,
                 first_stage: Tagger | None = None):
        self.model = model.eval()
        self.encoder = encoder
        self.info = info or {}
        # a model with the doc feature reads what this tagger (without it) makes of each document
        self.first_stage = first_stage
        if (DOC in encoder.features) != (first_stage is not None):
            raise InputError("a model with the doc feature needs a first-stage tagger, and only such a model "
                             "takes one")
        # the windows both stages compute alike (as a rule all but doc's) are computed once, by the first
        self._shared = encoder.shared_with(first_stage.encoder) if first_stage is not None else None
        labels, valid = encoder.labels, model.head.valid_sequences
        self._converts = labels.converts_output(valid)
        self._output_tags = np.asarray(labels.output_tags(valid), dtype=object)

    def decoded_by(self, decode: str) -> Tagger:
        """The same model (sharing its parameters) decoding by ``decode``: "viterbi" or "argmax"
        (softmax head only)."""
        if not hasattr(self.model.head, "with_decode"):
            raise InputError(f"the {self.model.head.name} head has one way of decoding; it takes no decode option")
        model = copy.copy(self.model)
        model.head = self.model.head.with_decode(decode)
        model.config = replace(self.model.config, head_options=model.head.options)
        return Tagger(model, self.encoder, self.info, self.first_stage)

    # ----- encoding -----
    def encode(self, token_lists: Sequence[Sequence[str]], gold: Sequence[Sequence[str]] | None = None,
               gold_scheme: str | None = None, documents: Sequence[int] | None = None,
               context: np.ndarray | None = None) -> EncodedCorpus:
        """The model's input for these sentences (see :meth:`Encoder.encode`); with a first stage, its type
        probabilities give the doc feature its numbers (``context`` overrides them, e.g. cross-fitted ones)."""
        if self.first_stage is None:
            return self.encoder.encode(token_lists, gold, gold_scheme, documents=documents, context=context)
        first = self.first_stage.encode(token_lists, documents=documents)
        if context is None:
            context = self.first_stage.type_probabilities(first, self.encoder.features[DOC].types)
        return self.encoder.encode(token_lists, gold, gold_scheme, documents=documents, context=context,
                                   reuse=(first, *self._shared))

    def type_probabilities(self, data: EncodedCorpus, types: Sequence[str]) -> np.ndarray:
        """(n_tokens, len(types) + 1): this tagger's probability of each entity type per token of ``data``, O
        last (what a first stage gives the doc feature of the second)."""
        return np.exp(self.log_probs(data)) @ type_matrix(self.encoder.tags, types)

    # ----- persistence -----
    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write the model file atomically (a folder gets ``model.safetensors`` inside)."""
        target = model_path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        metadata = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": __version__,
            "model": self.model.config.to_dict(),
            "encoder": self.encoder.to_dict(),
            "info": {**self.info, **(extra or {})},
        }
        tensors = self.model.state_dict()
        if self.first_stage is not None:  # the first stage travels in the same file, its tensors prefixed
            first = self.first_stage
            metadata[FIRST_STAGE] = {"model": first.model.config.to_dict(), "encoder": first.encoder.to_dict(),
                                     "info": first.info}
            tensors.update({f"{FIRST_STAGE}.{name}": values for name, values in first.model.state_dict().items()})
        nn.io.save(target, tensors, metadata)
        return target

    @classmethod
    def load(cls, path: str | Path) -> Tagger:
        """Load a model folder or file written by ``save`` (safetensors + JSON: never runs code). A file of
        window-ner 0.1 (before output heads) is read and upgraded on the way in."""
        target = model_path(path)
        if not target.exists():
            raise FileNotFoundError(f"no model at {target}: train one with 'window-ner train --out DIR'")
        tensors, metadata = nn.io.load(target)
        for name, values in tensors.items():
            # min and max propagate NaN and need no copy: one check for NaN, infinities and absurd sizes
            if np.issubdtype(values.dtype, np.floating) and values.size and not (
                    values.min() >= -MAX_WEIGHT and values.max() <= MAX_WEIGHT):
                raise nn.io.ModelFileError(f"{target}: tensor {name!r} holds NaN, infinite or absurdly large values "
                                           f"(beyond {MAX_WEIGHT:g}, where a trained model's never go): the file is "
                                           "corrupted, or training diverged; train the model again")
        try:
            tensors, metadata = upgrade(tensors, metadata, target)
            first = None
            if FIRST_STAGE in metadata:
                prefix = FIRST_STAGE + "."
                own = {name[len(prefix):]: values for name, values in tensors.items() if name.startswith(prefix)}
                tensors = {name: values for name, values in tensors.items() if not name.startswith(prefix)}
                part = metadata[FIRST_STAGE]
                first = cls(*_model_from(own, part), part.get("info", {}))
            return cls(*_model_from(tensors, metadata), metadata.get("info", {}), first)
        except nn.io.ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as error:
            # metadata and tensors that do not fit each other: name the file, never a bare KeyError
            what = f"missing entry {error}" if isinstance(error, KeyError) else str(error)
            raise nn.io.ModelFileError(f"{target}: the model's metadata or tensors are inconsistent ({what}): "
                                       "the file is corrupted or was not written by Tagger.save; train the "
                                       "model again") from error

    # ----- scoring -----
    def log_probs(self, data: EncodedCorpus) -> np.ndarray:
        """Per-token log-probabilities of each tag (n_tokens, n_tags); binary models give (n_tokens, 2)."""
        out = []
        with no_grad():
            for first in range(0, len(data), CHUNK):
                part = slice(first, first + CHUNK)
                out.append(self.model.head.log_probs(self.model(*data.inputs(part))))
        if not out:
            return np.zeros((0, len(self.encoder.tags)), dtype=np.float32)
        return np.concatenate(out)

    def decode_ids(self, log_probs: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Best tag ids per token, sentence by sentence."""
        return self.model.head.decode(log_probs, starts)

    def predict(self, token_lists: Sequence[Sequence[str]], documents: Sequence[int] | None = None
                ) -> list[list[str]]:
        """IOB2 tags for each sentence of pre-tokenised input (binary models: the type or 'O').

        ``documents`` numbers the document of each sentence (a model with the doc feature reads each
        document as a whole); without it each sentence is a document of its own.
        """
        tags, _ = self._predict(token_lists, documents)
        return tags

    def predict_encoded(self, data: EncodedCorpus) -> list[list[str]]:
        """IOB2 tags for each sentence of an already encoded corpus."""
        return self._predict_encoded(data)[0]

    def _predict(self, token_lists: Sequence[Sequence[str]], documents: Sequence[int] | None = None
                 ) -> tuple[list[list[str]], list[np.ndarray]]:
        if isinstance(token_lists, str) or any(isinstance(tokens, str) for tokens in token_lists):
            raise TypeError("predict() takes lists of tokens, one list per sentence (a string would be read "
                            "character by character); call the tagger on raw text: tagger(text)")
        return self._predict_encoded(self.encode(token_lists, documents=documents))

    def _predict_encoded(self, data: EncodedCorpus) -> tuple[list[list[str]], list[np.ndarray]]:
        return self._decode(data)[1:]

    def _decode(self, data: EncodedCorpus) -> tuple[np.ndarray, list[list[str]], list[np.ndarray]]:
        """Decoded tag ids of every token, output tags per sentence, and each token's probability."""
        log_probs = self.log_probs(data)
        ids = self.decode_ids(log_probs, data.starts)
        entity_scores = getattr(self.model.head, "entity_scores", None)
        if entity_scores is not None:  # a CRF's tokens carry their whole entity's probability (see _entities)
            probs = entity_scores(log_probs, data.starts, ids)
        else:
            probs = np.exp(log_probs[np.arange(len(ids)), ids])
        names = self._output_tags[ids]
        tags, confidences = [], []
        for first, last in zip(data.starts[:-1], data.starts[1:], strict=True):
            sentence = names[first:last].tolist()
            if self._converts:
                sentence = self.encoder.labels.to_output(sentence)
            tags.append(sentence)
            confidences.append(probs[first:last])
        return ids, tags, confidences

    # ----- explanations -----
    def explain(self, text_or_tokens: str | Sequence[str],
                spans: Sequence[tuple[int, int] | tuple[int, int, str]] | None = None) -> list[Explanation]:
        """Why each entity of a text (or of one pre-tokenised sentence) got its label: for every word of the
        entity's windows, the gradient of the span's log-probability with respect to the word's vector, the
        gradient times the vector, and the change when the word is replaced by the unknown word.

        ``spans`` explains chosen spans instead of the predicted entities: ``(start, end)`` or ``(start, end,
        label)`` in the offsets the entities use (characters of the text, or token indices); without a label
        the span's most probable one. See :mod:`window_ner.ner.inference.explain`.
        """
        from window_ner.ner.inference.explain import explain

        return explain(self, text_or_tokens, spans)

    # ----- entities -----
    def tag_tokens(self, token_lists: Sequence[Sequence[str]], documents: Sequence[int] | None = None
                   ) -> list[list[Entity]]:
        """Entities of each pre-tokenised sentence; start/end are token indices (end exclusive). ``documents``
        as for :meth:`predict`."""
        tags, confidences = self._predict(token_lists, documents)
        return [self._entities(tokens, sentence_tags, conf, None)
                for tokens, sentence_tags, conf in zip(token_lists, tags, confidences, strict=True)]

    def __call__(self, text: str | Iterable[str]) -> list[Entity] | list[list[Entity]]:
        """Entities in raw text, with character offsets; a list of texts gives one list per text."""
        if isinstance(text, str):
            return self.tag_texts([text])[0]
        return self.tag_texts(list(text))

    def tag_texts(self, texts: Sequence[str]) -> list[list[Entity]]:
        """Entities for a batch of documents, scored together for speed (each text is one document).

        Memory stays bounded whatever the input: the texts are scored in batches of about
        :data:`BATCH_CHARS` characters, and a text longer than :data:`PIECE_CHARS` is cut into pieces at
        sentence ends (see :func:`pieces`), each tagged as its own text, with offsets into the whole text.
        """
        result: list[list[Entity]] = [[] for _ in texts]
        batch: list[tuple[int, int, str]] = []  # (text index, offset of the piece in its text, piece)
        size = 0
        for doc, text in enumerate(texts):
            for offset, piece in pieces(text, PIECE_CHARS):
                batch.append((doc, offset, piece))
                size += len(piece)
                if size >= BATCH_CHARS:
                    self._tag_pieces(batch, texts, result)
                    batch, size = [], 0
        if batch:
            self._tag_pieces(batch, texts, result)
        return result

    def _tag_pieces(self, batch: list[tuple[int, int, str]], texts: Sequence[str],
                    result: list[list[Entity]]) -> None:
        sentences, owner = [], []
        for doc, offset, piece in batch:
            for sentence in tokenize(piece):
                sentences.append(sentence)
                owner.append((doc, offset))
        # each text is a document (its pieces too, when they are scored together)
        tags, confidences = self._predict([sentence.words for sentence in sentences], [doc for doc, _ in owner])
        for (doc, offset), sentence, sentence_tags, conf in zip(owner, sentences, tags, confidences, strict=True):
            result[doc].extend(self._entities(sentence.tokens, sentence_tags, conf, texts[doc], offset))

    def _entities(self, tokens: Sequence[Any], tags: list[str], confidence: np.ndarray,
                  text: str | None, offset: int = 0) -> list[Entity]:
        entities = []
        for start, end, label in tagging.spans(tags):  # a binary model's bare tags ("LOC") read as I- tags
            # The per-token model's probability of the whole span: the product over its tokens; a head with
            # entity_scores (a CRF) gives every token of the span the span's own probability.
            if hasattr(self.model.head, "entity_scores"):
                score = float(confidence[start])
            else:
                score = float(np.prod(confidence[start:end], dtype=np.float64))
            if text is None:
                entities.append(Entity(" ".join(tokens[start:end]), label, start, end, score))
            else:
                first, last = tokens[start].start + offset, tokens[end - 1].end + offset
                entities.append(Entity(text[first:last], label, first, last, score))
        return entities


def pieces(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """``(offset, piece)``: ``text`` cut into pieces of at most about ``limit`` characters, each cut made at
    the last paragraph break, else sentence end (". ", "! ", "? "), else space before the limit, so that
    the tokens and sentences of the pieces are those of the whole text (a text with no space at all is cut
    at the limit). A text within the limit is one piece."""
    start = 0
    while len(text) - start > limit:
        window = text[start:start + limit]
        cut = window.rfind("\n\n")
        if cut <= 0:
            cut = max(window.rfind(mark) for mark in (". ", "! ", "? ", ".\n", "!\n", "?\n"))
            cut = cut + 1 if cut > 0 else -1
        if cut <= 0:
            cut = max(window.rfind(" "), window.rfind("\n"))
        if cut <= 0:
            cut = limit
        yield start, text[start:start + cut]
        start += cut
    yield start, text[start:]
