"""The CRF head against brute-force enumeration of every tag path, in float64, and end to end on the sample corpus."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest

from window_ner import nn
from window_ner.autodiff import Tensor, gradcheck
from window_ner.errors import InputError
from window_ner.ner.data.labels import SchemeLabels
from window_ner.ner.data.tags import allowed_ends, allowed_starts, allowed_transitions, spans, tag_set
from window_ner.ner.experiment import Experiment, run_experiment, sample_corpus
from window_ner.ner.inference.tagger import Tagger
from window_ner.ner.model import crf
from window_ner.ner.model.classifier import ModelOptions
from window_ner.ner.model.heads import HEADS, CRFHead
from window_ner.ner.training.batches import Batch
from window_ner.ner.training.loop import TrainConfig

CASES = [(length, n_tags, forbid) for length in (1, 2, 3, 4) for n_tags in (3, 4, 5) for forbid in (False, True)]


def random_chain(rng: np.random.Generator, n_tags: int, forbid: bool) -> tuple[np.ndarray, ...]:
    """Random scores and masks; with ``forbid``, about a third of the moves, starts and ends are forbidden,
    keeping every tag reachable (each has an allowed start) so that some path always exists."""
    transitions, start, end = rng.standard_normal((n_tags, n_tags)), rng.standard_normal(n_tags), \
        rng.standard_normal(n_tags)
    allowed = np.ones((n_tags, n_tags), dtype=bool)
    starts, ends = np.ones(n_tags, dtype=bool), np.ones(n_tags, dtype=bool)
    if forbid:
        allowed = rng.random((n_tags, n_tags)) > 0.35
        np.fill_diagonal(allowed, True)  # staying in a tag is always allowed: a path always exists
        ends = rng.random(n_tags) > 0.35
        ends[0] = True
    return transitions, start, end, allowed, starts, ends


def masked_chain(transitions: np.ndarray, start: np.ndarray, end: np.ndarray, allowed: np.ndarray,
                 starts: np.ndarray, ends: np.ndarray) -> crf.Chain:
    return crf.Chain(np.where(allowed, transitions, -np.inf), np.where(starts, start, -np.inf),
                     np.where(ends, end, -np.inf))


def brute_force(emissions: np.ndarray, chain: crf.Chain) -> dict[tuple[int, ...], float]:
    """Every tag path of one sentence with its score (-inf for a forbidden one)."""
    n, n_tags = emissions.shape
    scores = {}
    for path in itertools.product(range(n_tags), repeat=n):
        score = chain.start[path[0]] + emissions[0, path[0]] + chain.end[path[-1]]
        score += sum(chain.transitions[path[t - 1], path[t]] + emissions[t, path[t]] for t in range(1, n))
        scores[path] = score
    return scores


def log_sum(values: list[float]) -> float:
    return float(np.logaddexp.reduce(np.asarray(values, dtype=np.float64)))


@pytest.mark.parametrize(("length", "n_tags", "forbid"), CASES)
def test_log_partition_and_marginals_equal_enumeration(length: int, n_tags: int, forbid: bool) -> None:
    rng = np.random.default_rng(100 * length + 10 * n_tags + forbid)
    raw = random_chain(rng, n_tags, forbid)
    chain = masked_chain(*raw)
    emissions = rng.standard_normal((length, n_tags))
    paths = brute_force(emissions, chain)
    log_z = log_sum(list(paths.values()))
    bounds = np.array([0, length])
    engine = crf.log_partition(Tensor(emissions), bounds, Tensor(chain.transitions), Tensor(chain.start),
                               Tensor(chain.end))
    assert engine.data[0] == pytest.approx(log_z, abs=1e-10)
    assert crf.log_partition_np(emissions, bounds, chain)[0] == pytest.approx(log_z, abs=1e-10)
    expected = np.zeros((length, n_tags))
    for path, score in paths.items():
        expected[np.arange(length), path] += np.exp(score - log_z)
    marginals = crf.marginals(emissions, bounds, chain)
    np.testing.assert_allclose(marginals, expected, atol=1e-12)
    np.testing.assert_allclose(marginals.sum(axis=1), 1.0, atol=1e-12)
    if forbid:  # a tag no allowed path reaches has probability exactly 0
        assert (marginals[expected == 0] == 0).all()


@pytest.mark.parametrize(("length", "n_tags", "forbid"), CASES)
def test_viterbi_with_transitions_finds_the_best_enumerated_path(length: int, n_tags: int, forbid: bool) -> None:
    rng = np.random.default_rng(7 + 100 * length + 10 * n_tags + forbid)
    transitions, start, end, allowed, starts, ends = random_chain(rng, n_tags, forbid)
    chain = masked_chain(transitions, start, end, allowed, starts, ends)
    emissions = rng.standard_normal((length, n_tags))
    paths = brute_force(emissions, chain)
    best = max(paths, key=paths.__getitem__)
    labels = SchemeLabels(["O", "B-X", "I-X", "B-Y", "I-Y"][:n_tags], "IOB2")
    head = CRFHead(2, labels, CRFHead.Options(scheme="IOB2"), np.random.default_rng(0), np.float64)
    head.transitions.data[...], head.start.data[...], head.end.data[...] = transitions, start, end
    head.allowed, head.allowed_start, head.allowed_end = allowed, starts, ends
    assert head.decode(emissions, np.array([0, length])).tolist() == list(best)


def test_span_probability_equals_enumeration() -> None:
    rng = np.random.default_rng(3)
    n_tags = 4
    for length in (1, 2, 3, 4):
        for forbid in (False, True):
            chain = masked_chain(*random_chain(rng, n_tags, forbid))
            emissions = rng.standard_normal((length, n_tags))
            paths = brute_force(emissions, chain)
            log_z = log_sum(list(paths.values()))
            for a in range(length):
                for b in range(a + 1, length + 1):
                    span_tags = rng.integers(0, n_tags, size=b - a)
                    banned = int(rng.integers(0, n_tags))  # the tag at b may not be this one
                    tags = np.zeros(length, dtype=np.int64)
                    tags[a:b] = span_tags
                    next_allowed = np.ones((1, n_tags), dtype=bool)
                    next_allowed[0, banned] = False
                    expected = sum(np.exp(s - log_z) for path, s in paths.items()
                                   if list(path[a:b]) == span_tags.tolist() and (b == length or path[b] != banned))
                    got = crf.span_log_probs(emissions, np.array([0, length]), chain, np.array([a]), np.array([b]),
                                             tags, next_allowed)
                    assert np.exp(got[0]) == pytest.approx(expected, abs=1e-12)


def iobes_head(types: tuple[str, ...] = ("LOC", "PER"), scheme: str = "IOBES", seed: int = 0) -> CRFHead:
    labels = SchemeLabels(tag_set(types, scheme), scheme)
    head = CRFHead(3, labels, CRFHead.Options(scheme=scheme), np.random.default_rng(seed), np.float64)
    rng = np.random.default_rng(seed + 1)
    for param in (head.c, head.transitions, head.start, head.end):
        param.data[...] = rng.standard_normal(param.shape)
    return head


@pytest.mark.parametrize("scheme", ["IOBES", "IOB2"])
def test_the_head_gives_an_entity_the_probability_of_exactly_that_span(scheme: str) -> None:
    head = iobes_head(scheme=scheme)
    rng = np.random.default_rng(5)
    lengths = [3, 4]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    emissions = rng.standard_normal((bounds[-1], len(head.labels.tags)))
    chain = head.chain()
    tags = head.labels.tags
    for sentence, (start, end) in itertools.product(range(2), [(0, 1), (1, 3), (0, 3), (2, 3)]):
        part = emissions[bounds[sentence]:bounds[sentence + 1]]
        paths = brute_force(part, chain)
        log_z = log_sum(list(paths.values()))
        expected = sum(np.exp(s - log_z) for path, s in paths.items()
                       if np.isfinite(s) and (start, end, "PER") in spans([tags[i] for i in path]))
        got = head.span_probabilities(emissions, bounds, [(sentence, start, end, "PER")])
        assert got[0] == pytest.approx(expected, abs=1e-12)
    with pytest.raises(InputError, match="no tags for the type"):
        head.span_probabilities(emissions, bounds, [(0, 0, 1, "ORG")])


def test_the_scheme_mask_is_what_the_tags_module_allows() -> None:
    head = iobes_head()
    tags = head.labels.tags
    assert (head.allowed == allowed_transitions(tags, "IOBES")).all()
    assert (head.allowed_start == allowed_starts(tags, "IOBES")).all()
    assert (head.allowed_end == allowed_ends(tags, "IOBES")).all()
    chain = head.chain()
    assert np.isneginf(chain.transitions[~head.allowed]).all() and np.isfinite(chain.transitions[head.allowed]).all()
    assert HEADS.get("crf") is CRFHead and CRFHead.batching == "sentences"


def sentence_batch(lengths: list[int], n_tags: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Batch]:
    """Emissions and valid-path targets of sentences laid out as the sentence batches lay them out."""
    mask = np.arange(max(lengths)) < np.asarray(lengths)[:, None]
    tokens = np.arange(int(mask.sum()))
    emissions = rng.standard_normal((len(tokens), n_tags))
    return emissions, tokens, Batch(tokens, mask)


def valid_targets(head: CRFHead, lengths: list[int], rng: np.random.Generator) -> np.ndarray:
    """Random valid tag paths (the best paths of random scores under the mask)."""
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return head.decode(rng.standard_normal((bounds[-1], len(head.labels.tags))), bounds)


def test_the_loss_gradient_matches_finite_differences() -> None:
    head = iobes_head(types=("LOC",))
    rng = np.random.default_rng(11)
    lengths = [3, 1, 4, 2]
    emissions, _, batch = sentence_batch(lengths, len(head.labels.tags), rng)
    targets = valid_targets(head, lengths, rng)
    scores = Tensor(emissions, requires_grad=True)
    params = [head.transitions, head.start, head.end]

    def loss(scores: Tensor, transitions: Tensor, start: Tensor, end: Tensor) -> Tensor:
        return crf.nll(scores, np.concatenate([[0], np.cumsum(lengths)]), targets, transitions, start, end,
                       (head.allowed, head.allowed_start, head.allowed_end))

    assert gradcheck(loss, [scores, *params])
    value = head.loss(scores, targets, batch)
    assert value.item() > 0 and np.isfinite(value.item())


def test_the_loss_is_the_mean_negative_log_likelihood_of_enumeration() -> None:
    head = iobes_head(types=("LOC",))
    rng = np.random.default_rng(12)
    lengths = [2, 3]
    emissions, _, batch = sentence_batch(lengths, len(head.labels.tags), rng)
    targets = valid_targets(head, lengths, rng)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    chain = head.chain()
    expected = []
    for k in range(len(lengths)):
        paths = brute_force(emissions[bounds[k]:bounds[k + 1]], chain)
        expected.append(log_sum(list(paths.values())) - paths[tuple(targets[bounds[k]:bounds[k + 1]])])
    assert head.loss(Tensor(emissions), targets, batch).item() == pytest.approx(np.mean(expected), abs=1e-10)


def test_a_padded_batch_gives_the_loss_and_gradients_of_its_sentences_one_by_one() -> None:
    head = iobes_head()
    rng = np.random.default_rng(13)
    lengths = [5, 1, 3, 5, 2]
    emissions, _, batch = sentence_batch(lengths, len(head.labels.tags), rng)
    targets = valid_targets(head, lengths, rng)
    params = [head.transitions, head.start, head.end]

    scores = Tensor(emissions, requires_grad=True)
    for param in params:
        param.grad = None
    head.loss(scores, targets, batch).backward()
    together = [scores.grad.copy(), *(param.grad.copy() for param in params)]

    bounds = np.concatenate([[0], np.cumsum(lengths)])
    losses, one_by_one = [], [np.zeros_like(emissions), *(np.zeros_like(param.data) for param in params)]
    for k, length in enumerate(lengths):
        part = Tensor(emissions[bounds[k]:bounds[k + 1]], requires_grad=True)
        for param in params:
            param.grad = None
        loss = head.loss(part, targets[bounds[k]:bounds[k + 1]], Batch(np.arange(length), np.ones((1, length), bool)))
        loss.backward()
        losses.append(loss.item())
        one_by_one[0][bounds[k]:bounds[k + 1]] = part.grad / len(lengths)
        for total, param in zip(one_by_one[1:], params, strict=True):
            total += param.grad / len(lengths)
    scores = Tensor(emissions)
    assert head.loss(scores, targets, batch).item() == pytest.approx(np.mean(losses), abs=1e-12)
    for got, expected in zip(together, one_by_one, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-12)
    # forbidden moves get no gradient, so training never makes them allowed
    assert (together[1][~head.allowed] == 0).all()


def test_the_crf_head_needs_sentence_batches() -> None:
    head = iobes_head()
    with pytest.raises(InputError, match="whole sentences"):
        head.loss(Tensor(np.zeros((3, len(head.labels.tags)))), np.zeros(3, dtype=np.int64), Batch(np.arange(3)))
    with pytest.raises(InputError, match="Viterbi"):
        CRFHead.Options(decode="argmax")
    with pytest.raises(InputError, match="scheme"):
        CRFHead.Options(scheme="IO")


def test_entity_scores_give_decoded_entities_their_span_probability() -> None:
    head = iobes_head()
    rng = np.random.default_rng(17)
    lengths = [4, 2, 3]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    emissions = rng.standard_normal((bounds[-1], len(head.labels.tags))) * 2
    ids = head.decode(emissions, bounds)
    scores = head.entity_scores(emissions, bounds, ids)
    marginals = head.marginals(emissions, bounds)
    names = np.asarray(head.labels.tags, dtype=object)[ids]
    inside = np.zeros(len(ids), dtype=bool)
    for k in range(len(lengths)):
        for start, end, label in spans(names[bounds[k]:bounds[k + 1]].tolist()):
            probability = head.span_probabilities(emissions, bounds, [(k, start, end, label)])[0]
            np.testing.assert_allclose(scores[bounds[k] + start:bounds[k] + end], probability)
            inside[bounds[k] + start:bounds[k] + end] = True
    np.testing.assert_allclose(scores[~inside], marginals[np.flatnonzero(~inside), ids[~inside]])


def test_a_crf_model_trains_on_the_sample_corpus_tags_saves_and_loads(tmp_path: Path) -> None:
    exp = Experiment(train_path=sample_corpus("train"), dev_path=sample_corpus("dev"), out=tmp_path / "crf",
                     model=ModelOptions(dropout_input=0.0, dropout_hidden=0.0), head="crf",
                     head_options=CRFHead.Options(), training=TrainConfig(epochs=2, patience=0, seed=1),
                     progress=False)
    results, _ = run_experiment(exp, log=io.StringIO())
    assert results["dev"]["f1"] > 0.5
    tagger = Tagger.load(tmp_path / "crf")
    assert tagger.model.head.name == "crf"
    text = "Angela Merkel flew to Paris on Monday with the European Union delegation."
    entities = tagger(text)
    assert entities and all(0 < entity.score <= 1 and text[entity.start:entity.end] == entity.text
                            for entity in entities)
    assert {entity.label for entity in entities} <= {"LOC", "MISC", "ORG", "PER"}
    tagger.save(tmp_path / "again")
    again = Tagger.load(tmp_path / "again")
    assert again(text) == entities
    for name, param in again.model.named_parameters():
        np.testing.assert_array_equal(param.data, dict(tagger.model.named_parameters())[name].data)
    tokens = [["Angela", "Merkel", "flew", "to", "Paris", "."]]
    (sentence,) = tagger.tag_tokens(tokens)
    data = tagger.encoder.encode(tokens)
    log_probs = tagger.log_probs(data)
    for entity in sentence:
        expected = tagger.model.head.span_probabilities(log_probs, data.starts,
                                                        [(0, entity.start, entity.end, entity.label)])[0]
        assert entity.score == pytest.approx(expected)


def test_the_transition_parameters_are_saved_with_the_model() -> None:
    head = iobes_head()
    names = {name for name, _ in head.named_parameters()}
    assert {"U", "c", "transitions", "start", "end"} <= names
    assert isinstance(head.transitions, nn.Parameter)
