"""Why the tagger chose a tag: the gradient of an entity's log-probability with respect to its window words.

The lecture: the gradient at the input says how much the output changes when the input changes. An entity
over tokens a..b-1 has the probability its score reports, p(span) = prod_i p(tag_i | window_i), and what is
explained is log p(span) = sum_i log p(tag_i | window_i). Each window's x is made a leaf of the graph and
backpropagation gives d log p(span) / dx. The vector of one sentence position sits in up to 2w + 1 of the
span's windows, once in each (x's layout: every position's word vector, then every position's vector of
each feature), so its gradient is the sum over those slots: fan-out sums.

For every position of the span's windows this reports

- ``gradient_norm``: ||g||, how sensitive log p(span) is to the word's vector;
- ``gradient_x_input``: g . e, the first-order change of log p(span) were the vector removed (set to 0):
  positive when the word speaks for the label;
- ``occlusion``: the actual change, log p(span) - log p(span with the word replaced by the unknown word),
  from re-scoring (the word's features, e.g. its capitalisation, stay);
- ``occlusion_first_order``: g . (e - e_unk), the first-order estimate of that change: where it is far
  from ``occlusion``, the straight-line picture of the gradient does not hold;

and the gradient's norm and g . f for each of the position's feature vectors.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from window_ner.autodiff import Tensor, no_grad, to_dot, trace
from window_ner.errors import InputError
from window_ner.ner.data import tags as tagging
from window_ner.ner.data.labels import SchemeLabels
from window_ner.ner.data.tokenize import tokenize
from window_ner.ner.data.vocab import BOS, EOS, UNK
from window_ner.ner.inference.tagger import Entity
from window_ner.ner.model.classifier import WindowClassifier

if TYPE_CHECKING:
    from window_ner.ner.inference.tagger import Tagger

__all__ = ["Explanation", "WordEffect", "FeatureEffect", "explain", "constant_model", "window_graph"]

Span = tuple[int, int] | tuple[int, int, str]


@dataclass(frozen=True)
class FeatureEffect:
    """One feature vector of a window word: the gradient's norm and gradient . vector."""

    name: str
    gradient_norm: float
    gradient_x_input: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WordEffect:
    """One word of the entity's windows and how it moves the entity's log-probability."""

    position: int  # token index in the sentence; below 0 or past its end for the window's padding
    word: str  # the token, or the padding's name ("<s>", "</s>")
    vocabulary: str  # the vocabulary entry whose vector it is (its normalised form, or "<unk>")
    in_entity: bool
    gradient_norm: float
    gradient_x_input: float
    occlusion: float | None  # None for padding, which cannot be replaced
    occlusion_first_order: float | None
    features: tuple[FeatureEffect, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "features": [f.to_dict() for f in self.features]}


@dataclass(frozen=True)
class Explanation:
    """An entity, the model's tag for each of its tokens, log p(span), and its window words' effects."""

    entity: Entity
    tags: tuple[str, ...]
    log_prob: float
    words: tuple[WordEffect, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity.to_dict(), "tags": list(self.tags), "log_prob": self.log_prob,
                "words": [w.to_dict() for w in self.words]}


def constant_model(model: WindowClassifier) -> WindowClassifier:
    """A copy of ``model`` sharing its arrays, whose parameters ask for no gradient: backpropagating to the
    input through it writes no ``.grad`` on the tagger's parameters, so explaining changes nothing."""
    parameters = list(model.parameters())
    copied = copy.deepcopy(model, memo={id(p.data): p.data for p in parameters})
    for parameter in copied.parameters():
        parameter.requires_grad = False
    return copied


def explain(tagger: Tagger, text_or_tokens: str | Sequence[str], spans: Sequence[Span] | None = None
            ) -> list[Explanation]:
    """The explanations :meth:`Tagger.explain` returns."""
    if isinstance(text_or_tokens, str):
        sentences = tokenize(text_or_tokens)
        words = [sentence.words for sentence in sentences]
        bounds = [[(token.start, token.end) for token in sentence.tokens] for sentence in sentences]
    else:
        if any(not isinstance(token, str) for token in text_or_tokens):
            raise TypeError("explain() takes a text or one sentence as a list of token strings")
        words = [list(text_or_tokens)] if text_or_tokens else []
        bounds = [[(i, i + 1) for i in range(len(text_or_tokens))]] if text_or_tokens else []
    text = text_or_tokens if isinstance(text_or_tokens, str) else None
    if not words:
        return []
    data = tagger.encode(words, documents=[0] * len(words))  # the text is one document (for the doc feature)
    ids, tags, _ = tagger._decode(data)
    log_probs = tagger.log_probs(data)
    model = _constant(tagger)
    if spans is not None:
        _check_spans_inside(spans, bounds)
    out = []
    for k, (first, last) in enumerate(zip(data.starts[:-1], data.starts[1:], strict=True)):
        chosen = (_predicted(tags[k], ids[first:last]) if spans is None
                  else _chosen(tagger, spans, bounds[k], log_probs[first:last]))
        if not chosen:
            continue
        window = slice(first, last)
        effects = _effects(tagger, model, data.inputs(window), chosen)
        for (start, end, label, span_ids), (log_prob, words_effects) in zip(chosen, effects, strict=True):
            # the score exactly as the tagger reports it: the product of the span's token probabilities
            probs = np.exp(log_probs[first + np.arange(start, end), span_ids])
            entity = _entity(words[k], bounds[k], text, start, end, label, float(np.prod(probs, dtype=np.float64)))
            names = tuple(tagger.encoder.tags[i] for i in span_ids)
            out.append(Explanation(entity, names, log_prob, tuple(_named(words[k], tagger, words_effects,
                                                                        start, end))))
    return out


def _constant(tagger: Tagger) -> WindowClassifier:
    model = getattr(tagger, "_constant_model", None)
    if model is None or model.config is not tagger.model.config:
        model = tagger._constant_model = constant_model(tagger.model)
    return model


def _predicted(sentence_tags: list[str], ids: np.ndarray) -> list[tuple[int, int, str, np.ndarray]]:
    return [(start, end, label, ids[start:end]) for start, end, label in tagging.spans(sentence_tags)]


def _chosen(tagger: Tagger, spans: Sequence[Span], bounds: list[tuple[int, int]], log_probs: np.ndarray
            ) -> list[tuple[int, int, str, np.ndarray]]:
    """The chosen spans that fall in this sentence, as token ranges with the tag ids of their label."""
    starts = {b[0]: i for i, b in enumerate(bounds)}
    ends = {b[1]: i + 1 for i, b in enumerate(bounds)}
    out = []
    for span in spans:
        first, last = int(span[0]), int(span[1])
        if not bounds or first >= bounds[-1][1] or last <= bounds[0][0]:
            continue  # another sentence's span
        if first not in starts or last not in ends or ends[last] <= starts[first]:
            raise InputError(f"the span {first}-{last} does not start and end at token boundaries")
        start, end = starts[first], ends[last]
        labels = tagger.encoder.labels
        choices = sorted({tagging.tag_type(t) for t in labels.tags} - {"O"})
        label = span[2] if len(span) > 2 else None  # type: ignore[misc]
        if label is not None and label not in choices:
            raise InputError(f"the label {label!r} is not one the model predicts ({', '.join(choices)})")
        options = [(label, _span_ids(labels, end - start, label))] if label else \
            [(c, _span_ids(labels, end - start, c)) for c in choices]
        best = max(options, key=lambda o: log_probs[np.arange(start, end), o[1]].sum())
        out.append((start, end, best[0], best[1]))
    return out


def _check_spans_inside(spans: Sequence[Span], bounds: list[list[tuple[int, int]]]) -> None:
    """Refuse a span that starts or ends outside every sentence's tokens (it would explain nothing)."""
    for span in spans:
        first, last = int(span[0]), int(span[1])
        if not any(sentence and first >= sentence[0][0] and last <= sentence[-1][1] for sentence in bounds):
            raise InputError(f"the span {first}-{last} is not inside one sentence of the text: give the offsets "
                             "of its first and last token")


def _span_ids(labels: Any, length: int, label: str) -> np.ndarray:
    """The model's tag ids for an entity of ``length`` tokens and type ``label``."""
    iob2 = [f"B-{label}"] + [f"I-{label}"] * (length - 1)
    return labels.targets([iob2], "IOB2" if isinstance(labels, SchemeLabels) else None)


def _effects(tagger: Tagger, model: WindowClassifier, inputs: tuple[np.ndarray, dict[str, np.ndarray]],
             chosen: list[tuple[int, int, str, np.ndarray]]) -> list[tuple[float, list[dict[str, Any]]]]:
    """For each chosen span: log p(span) and, per position of its windows, the gradient figures."""
    word_windows, feature_windows = inputs
    w = tagger.encoder.window
    width = 2 * w + 1
    unknown = model.words.weight.data[UNK]
    results = []
    for start, end, _, span_ids in chosen:
        rows = slice(start, end)
        length = end - start
        with no_grad():
            parts = [p.data for p in model.window_parts(word_windows[rows],
                                                        {n: f[rows] for n, f in feature_windows.items()})]
        x = Tensor(np.concatenate(parts, axis=1), requires_grad=True)
        picked = np.zeros((length, len(tagger.encoder.tags)), dtype=x.dtype)
        picked[np.arange(length), span_ids] = 1
        log_prob = (model.head.log_prob_tensor(model.head(model.hidden(x))) * picked).sum()
        log_prob.backward()
        positions = length + 2 * w  # the span's windows cover tokens start - w .. end - 1 + w
        gradients, values, offset = [], [], 0
        for part in parts:
            size = part.shape[1] // width
            block = x.grad[:, offset:offset + part.shape[1]].reshape(length, width, size)
            value = part.reshape(length, width, size)
            gradient, vector = np.zeros((positions, size)), np.zeros((positions, size))
            for slot in range(width):  # window i's slot holds position i + slot
                gradient[slot:slot + length] += block[:, slot]
                vector[slot:slot + length] = value[:, slot]
            gradients.append(gradient)
            values.append(vector)
            offset += part.shape[1]
        occluded = _occlusion(model, word_windows[rows], {n: f[rows] for n, f in feature_windows.items()},
                              span_ids, start, length, w)
        base = float(log_prob.data)
        ids = np.concatenate([word_windows[start, :w], word_windows[rows, w], word_windows[end - 1, w + 1:]])
        per_position = []
        for q in range(positions):
            token = start - w + q
            real = ids[q] not in (BOS, EOS)
            change = base - occluded[token] if token in occluded else None
            per_position.append({
                "token": token, "id": int(ids[q]), "real": real,
                "gradient_norm": float(np.linalg.norm(gradients[0][q])),
                "gradient_x_input": float(gradients[0][q] @ values[0][q]),
                "occlusion": change,
                "occlusion_first_order": float(gradients[0][q] @ (values[0][q] - unknown)) if change is not None
                else None,
                "features": [(name, float(np.linalg.norm(g[q])), float(g[q] @ v[q]))
                             for name, g, v in zip(model.features, gradients[1:], values[1:], strict=True)]})
        results.append((base, per_position))
    return results


def _occlusion(model: WindowClassifier, word_windows: np.ndarray, feature_windows: dict[str, np.ndarray],
               span_ids: np.ndarray, start: int, length: int, w: int) -> dict[int, float]:
    """log p(span) with each real token of the span's windows replaced by the unknown word, by token index."""
    width = 2 * w + 1
    variants, tokens = [], []
    for q in range(length + 2 * w):
        slots = [(i, q - i) for i in range(length) if 0 <= q - i < width]  # where position q sits
        if word_windows[slots[0]] in (BOS, EOS):
            continue  # padding, not a word to replace
        window_ids = word_windows.copy()
        for slot in slots:
            window_ids[slot] = UNK
        variants.append(window_ids)
        tokens.append(start - w + q)
    if not variants:
        return {}
    stacked = np.concatenate(variants)
    features = {n: np.concatenate([f] * len(variants)) for n, f in feature_windows.items()}
    with no_grad():
        lp = model.head.log_probs(model(stacked, features)).reshape(len(variants), length, -1)
    scores = lp[:, np.arange(length), span_ids].sum(axis=1)
    return dict(zip(tokens, scores.astype(float).tolist(), strict=True))


def _named(words: list[str], tagger: Tagger, effects: list[dict[str, Any]], start: int, end: int
           ) -> list[WordEffect]:
    vocab = tagger.encoder.vocab
    out = []
    for e in effects:
        token = e["token"]
        word = words[token] if 0 <= token < len(words) else vocab.words[e["id"]]
        out.append(WordEffect(token, word, vocab.words[e["id"]], start <= token < end, e["gradient_norm"],
                              e["gradient_x_input"], e["occlusion"], e["occlusion_first_order"],
                              tuple(FeatureEffect(*f) for f in e["features"])))
    return out


def _entity(words: list[str], bounds: list[tuple[int, int]], text: str | None, start: int, end: int,
            label: str, score: float) -> Entity:
    if text is None:
        return Entity(" ".join(words[start:end]), label, start, end, score)
    first, last = bounds[start][0], bounds[end - 1][1]
    return Entity(text[first:last], label, first, last, score)



def window_graph(tagger: Tagger, text_or_tokens: str | Sequence[str], explanation: Explanation | None) -> str:
    """DOT text of the computation graph of one window of the real model, traced through its backward
    pass: the window of the explained entity's first token (else the first token), from the word and
    feature tables to log p(tag), each edge labelled with the gradient that flowed back along it."""
    if isinstance(text_or_tokens, str):
        sentences = tokenize(text_or_tokens)
        spans = [[(token.start, token.end) for token in sentence.tokens] for sentence in sentences]
        words = [sentence.words for sentence in sentences]
    else:
        words = [list(text_or_tokens)]
        spans = [[(i, i + 1) for i in range(len(text_or_tokens))]]
    if not words:
        raise InputError("nothing to draw: the text has no tokens")
    where = (0, 0)
    if explanation is not None:
        where = next((k, i) for k, sentence in enumerate(spans) for i, span in enumerate(sentence)
                     if span[0] == explanation.entity.start)
    data = tagger.encode(words, documents=[0] * len(words))  # the whole text: the doc feature reads it all
    first = int(data.starts[where[0]]) + where[1]
    position = slice(first, first + 1)
    tag = (int(np.flatnonzero([t == explanation.tags[0] for t in tagger.encoder.tags])[0]) if explanation
           else int(tagger.log_probs(data)[first].argmax()))
    # a copy sharing the arrays but with gradients of its own: the tagger's parameters get no .grad
    parameters = list(tagger.model.parameters())
    model = copy.deepcopy(tagger.model, memo={id(p.data): p.data for p in parameters})
    for parameter in model.parameters():
        parameter.requires_grad = True
    log_probs = model.head.log_prob_tensor(model(*data.inputs(position)))
    chosen = np.zeros(log_probs.shape, dtype=log_probs.dtype)
    chosen[0, tag] = 1
    log_prob = (log_probs * chosen).sum()
    with trace(model.named_parameters()) as recording:
        log_prob.backward()
    return to_dot(recording, names={f"log p({tagger.encoder.tags[tag]} | window of {words[where[0]][where[1]]!r})":
                                    log_prob})
