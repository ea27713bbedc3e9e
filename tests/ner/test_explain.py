"""Explanations: the saliency is the true gradient (central differences on a float64 copy of the model),
occlusion is re-scoring, the figures belong to the entity the tagger reports, and explaining changes nothing."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from tests.ner._trained import binary_model, multiclass_model
from window_ner.errors import InputError
from window_ner.ner.data.vocab import UNK
from window_ner.ner.inference.tagger import Tagger
from window_ner.ner.model.classifier import WindowClassifier

TEXT = "Angela Merkel flew from Berlin to Paris on Tuesday . The EU said Merkel met Chirac ."
TOKENS = ["Angela", "Merkel", "flew", "from", "Berlin", "to", "Paris", "on", "Tuesday", "."]


def _float64(tagger: Tagger) -> Tagger:
    """The same model with every parameter in float64, so that central differences are exact to ~1e-9."""
    with_rng = np.random.default_rng(0)
    model = WindowClassifier(tagger.model.config, tagger.encoder.labels, with_rng, dtype=np.float64)
    model.load_state_dict({name: value.astype(np.float64) for name, value in tagger.model.state_dict().items()})
    return Tagger(model, tagger.encoder, tagger.info)


@cache
def _taggers() -> dict[str, Tagger]:
    return {"softmax": _float64(multiclass_model().load()), "binary": _float64(binary_model().load())}


def _span_log_prob(tagger: Tagger, tokens: list[str], start: int, end: int, ids: np.ndarray,
                   word_windows: np.ndarray | None = None) -> float:
    """log p(span) by the tagger's own scoring of the whole sentence (optionally with other word windows)."""
    data = tagger.encoder.encode([tokens])
    if word_windows is not None:
        data.word_windows = word_windows
    return float(tagger.log_probs(data)[np.arange(start, end), ids].sum())


@pytest.mark.parametrize("head", ["softmax", "binary"])
def test_saliency_equals_central_differences_along_each_word_vector(head: str) -> None:
    tagger = _taggers()[head]
    explanations = tagger.explain(TOKENS, spans=[(4, 5, "LOC"), (0, 2, None)] if head == "softmax" else [(4, 5)])
    table = tagger.model.words.weight.data
    checked = 0
    for explanation in explanations:
        start, end = explanation.entity.start, explanation.entity.end
        ids = np.array([tagger.encoder.tags.index(tag) for tag in explanation.tags])
        assert np.isclose(explanation.log_prob, _span_log_prob(tagger, TOKENS, start, end, ids), atol=1e-10)
        by_row: dict[int, list] = {}
        for word in explanation.words:
            by_row.setdefault(tagger.encoder.vocab.words.index(word.vocabulary), []).append(word)
        # A row's directional derivative is the sum of the gradients at every position holding that row.
        for row, words in by_row.items():
            gradient_x_input = sum(w.gradient_x_input for w in words)
            eps = 1e-6
            saved = table[row].copy()
            table[row] = saved * (1 + eps)
            up = _span_log_prob(tagger, TOKENS, start, end, ids)
            table[row] = saved * (1 - eps)
            down = _span_log_prob(tagger, TOKENS, start, end, ids)
            table[row] = saved
            # along the vector itself: d/dt log p(e (1 + t)) at 0 is g . e
            assert (up - down) / (2 * eps) == pytest.approx(gradient_x_input, rel=1e-5, abs=1e-9)
            if len(words) == 1:  # a row at one position: its whole gradient, coordinate by coordinate
                numeric = np.empty_like(saved)
                for k in range(len(saved)):
                    table[row, k] = saved[k] + eps
                    up = _span_log_prob(tagger, TOKENS, start, end, ids)
                    table[row, k] = saved[k] - eps
                    down = _span_log_prob(tagger, TOKENS, start, end, ids)
                    table[row, k] = saved[k]
                    numeric[k] = (up - down) / (2 * eps)
                assert np.linalg.norm(numeric) == pytest.approx(words[0].gradient_norm, rel=1e-5, abs=1e-9)
                checked += 1
    assert checked >= 3


def test_feature_saliency_equals_central_differences() -> None:
    tagger = _taggers()["softmax"]
    (explanation,) = tagger.explain(TOKENS, spans=[(0, 2, "PER")])
    ids = np.array([tagger.encoder.tags.index(tag) for tag in explanation.tags])
    caps_table = tagger.model.features["caps"].weight.data
    caps = tagger.encoder.encode([TOKENS]).feature_windows["caps"]
    classes = np.concatenate([caps[0, :2], caps[0:2, 2], caps[1, 3:]])  # the positions of the span's windows
    for cls in np.unique(classes):
        expected = sum(w.features[0].gradient_x_input for w, c in zip(explanation.words, classes, strict=True)
                       if c == cls)
        saved = caps_table[cls].copy()
        caps_table[cls] = saved * (1 + 1e-6)
        up = _span_log_prob(tagger, TOKENS, 0, 2, ids)
        caps_table[cls] = saved * (1 - 1e-6)
        down = _span_log_prob(tagger, TOKENS, 0, 2, ids)
        caps_table[cls] = saved
        assert (up - down) / 2e-6 == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_occlusion_equals_rescoring_the_sentence_with_the_word_unknown() -> None:
    tagger = _taggers()["softmax"]
    (explanation,) = tagger.explain(TOKENS, spans=[(4, 5, "LOC")])
    ids = np.array([tagger.encoder.tags.index(tag) for tag in explanation.tags])
    assert tagger.encoder.window == 2
    data = tagger.encoder.encode([TOKENS])
    word_ids = data.word_windows[:, 2]
    seen = 0
    for word in explanation.words:
        if word.occlusion is None:
            continue
        changed = word_ids.copy()
        changed[word.position] = UNK
        # the windows of the sentence with that word's id replaced (its features stay as they were)
        padded = np.concatenate([[2, 2], changed, [3, 3]])
        windows = np.stack([padded[i:i + 5] for i in range(len(TOKENS))])
        occluded = _span_log_prob(tagger, TOKENS, 4, 5, ids, windows)
        assert word.occlusion == pytest.approx(explanation.log_prob - occluded, abs=1e-10)
        first_order = word.occlusion_first_order
        assert first_order is not None
        seen += 1
    assert seen == 5  # Paris's window has five real words: from Berlin to Paris on -> 'from'..'Paris'


def test_explanations_are_those_of_the_tagged_entities_and_deterministic() -> None:
    tagger = multiclass_model().load()
    entities = tagger(TEXT)
    first, second = tagger.explain(TEXT), tagger.explain(TEXT)
    assert [e.entity for e in first] == entities
    assert [e.to_dict() for e in first] == [e.to_dict() for e in second]
    for explanation in first:
        assert np.exp(explanation.log_prob) == pytest.approx(explanation.entity.score, rel=1e-5)
        inside = [w.word for w in explanation.words if w.in_entity]
        assert " ".join(inside) == explanation.entity.text
        assert len(explanation.words) == (len(inside) + 4)  # the span plus window 2 each side


def test_explaining_leaves_no_gradient_on_the_tagger() -> None:
    tagger = multiclass_model().load()
    tagger.explain(TEXT)
    assert all(p.grad is None for p in tagger.model.parameters())


def test_chosen_spans_take_the_best_label_or_the_given_one() -> None:
    tagger = multiclass_model().load()
    (berlin,) = tagger.explain(TEXT, spans=[(24, 30)])
    assert berlin.entity.text == "Berlin"
    best = max(("LOC", "PER", "ORG", "MISC"), key=lambda label: tagger.explain(TEXT, spans=[(24, 30, label)])[0]
               .log_prob)
    assert berlin.entity.label == best
    (as_person,) = tagger.explain(TEXT, spans=[(24, 30, "PER")])
    assert as_person.entity.label == "PER" and as_person.tags == ("S-PER",)
    with pytest.raises(InputError, match="token boundaries"):
        tagger.explain(TEXT, spans=[(25, 30)])
    with pytest.raises(InputError, match="not one the model predicts"):
        tagger.explain(TEXT, spans=[(24, 30, "CITY")])


def test_to_dict_is_plain_json() -> None:
    import json

    (explanation, *_) = multiclass_model().load().explain(TEXT)
    data = json.loads(json.dumps(explanation.to_dict()))
    assert set(data) == {"entity", "tags", "log_prob", "words"}
    assert set(data["words"][0]) >= {"word", "gradient_norm", "gradient_x_input", "occlusion", "features"}


def test_empty_input_and_a_sentence_without_entities() -> None:
    tagger = multiclass_model().load()
    assert tagger.explain("") == [] and tagger.explain([]) == []
    quiet = "the cat sat on the mat ."
    assert len(tagger.explain(quiet)) == len(tagger(quiet))
