"""Decoding: argmax, constrained Viterbi (against brute force), batches and the tag-string decoder."""

import itertools

import numpy as np
import pytest

from window_ner.ner.data import tags as T
from window_ner.ner.model import decode as D


def _brute_force(log_probs, allowed, start, end, transition_scores=None):
    """Best feasible path and its score by trying every sequence (None, -inf when none is feasible)."""
    n, n_tags = log_probs.shape
    trans = np.zeros((n_tags, n_tags)) if transition_scores is None else transition_scores
    best, best_score = None, -np.inf
    for path in itertools.product(range(n_tags), repeat=n):
        if not (start[path[0]] and end[path[-1]]):
            continue
        if not all(allowed[a, b] for a, b in itertools.pairwise(path)):
            continue
        score = sum(log_probs[i, t] for i, t in enumerate(path))
        score += sum(trans[a, b] for a, b in itertools.pairwise(path))
        if score > best_score:
            best, best_score = path, score
    return best, best_score


def _path_score(log_probs, path, transition_scores=None):
    score = log_probs[np.arange(len(path)), path].sum()
    if transition_scores is not None:
        score += sum(transition_scores[a, b] for a, b in itertools.pairwise(path))
    return score


def test_argmax_decode():
    scores = np.array([[0.1, 0.9], [2.0, -1.0], [0.0, 0.5]])
    assert D.argmax_decode(scores).tolist() == [1, 0, 1]
    assert D.argmax_decode(np.zeros((0, 3))).tolist() == []
    with pytest.raises(ValueError, match="2-D"):
        D.argmax_decode(np.zeros(3))


@pytest.mark.parametrize("with_scores", [False, True])
def test_viterbi_equals_brute_force(with_scores):
    rng = np.random.default_rng(0)
    checked = infeasible = 0
    for _ in range(400):
        n, n_tags = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        log_probs = np.log(rng.dirichlet(np.ones(n_tags), size=n))
        allowed = rng.random((n_tags, n_tags)) < 0.6
        start = rng.random(n_tags) < 0.7
        end = rng.random(n_tags) < 0.7
        transition_scores = rng.normal(size=(n_tags, n_tags)) if with_scores else None
        best, best_score = _brute_force(log_probs, allowed, start, end, transition_scores)
        if best is None:
            infeasible += 1
            with pytest.raises(ValueError, match="no tag sequence"):
                D.viterbi(log_probs, allowed, start, end, transition_scores=transition_scores)
            continue
        path = D.viterbi(log_probs, allowed, start, end, transition_scores=transition_scores)
        assert path.dtype == np.int64 and path.shape == (n,)
        assert _path_score(log_probs, path, transition_scores) == pytest.approx(best_score)
        assert tuple(path.tolist()) == best  # continuous random scores: the optimum is unique
        checked += 1
    assert checked > 200 and infeasible > 10  # both branches really ran


def test_viterbi_without_constraints_is_argmax():
    rng = np.random.default_rng(1)
    log_probs = rng.normal(size=(7, 5))
    np.testing.assert_array_equal(D.viterbi(log_probs), log_probs.argmax(axis=1))
    assert D.viterbi(np.zeros((0, 5))).tolist() == []


def test_start_and_end_scores_are_added():
    log_probs = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert D.viterbi(log_probs).tolist() == [0, 0]
    assert D.viterbi(log_probs, start_scores=np.array([0.0, 1.0])).tolist() == [1, 0]
    assert D.viterbi(log_probs, end_scores=np.array([0.0, 1.0])).tolist() == [0, 1]


def _scheme_setup(scheme):
    tags = T.tag_set(["LOC", "MISC", "ORG", "PER"], scheme)
    allowed = T.allowed_transitions(tags, scheme)
    return tags, allowed, T.allowed_starts(tags, scheme), T.allowed_ends(tags, scheme)


@pytest.mark.parametrize("scheme", ["IOB1", "IOB2", "IOBES", "BILOU"])
def test_viterbi_output_is_always_valid(scheme):
    tags, allowed, start, end = _scheme_setup(scheme)
    rng = np.random.default_rng(2)
    for _ in range(200):
        n = int(rng.integers(1, 15))
        # peaked random distributions make argmax invalid often
        log_probs = np.log(rng.dirichlet(np.full(len(tags), 0.3), size=n) + 1e-12)
        path = D.viterbi(log_probs, allowed, start, end)
        T.validate([tags[i] for i in path], scheme)


@pytest.mark.parametrize("scheme", ["IOB2", "IOBES"])
def test_viterbi_keeps_a_valid_argmax(scheme):
    tags, allowed, start, end = _scheme_setup(scheme)
    index = {tag: i for i, tag in enumerate(tags)}
    rng = np.random.default_rng(3)
    for _ in range(100):
        spans = []
        i, n = 0, int(rng.integers(1, 12))
        while i < n:
            size = int(rng.integers(1, 4))
            if rng.random() < 0.5 and i + size <= n:
                spans.append((i, i + size, str(rng.choice(["LOC", "PER"]))))
                i += size
            else:
                i += 1
        target = [index[t] for t in T.from_spans(spans, n, scheme)]
        log_probs = np.log(rng.dirichlet(np.ones(len(tags)), size=n))
        # make the valid target the per-token favourite by a small margin only
        log_probs[np.arange(n), target] = log_probs.max(axis=1) + 0.01
        np.testing.assert_array_equal(D.viterbi(log_probs, allowed, start, end), target)


def test_viterbi_fixes_an_invalid_argmax_in_iob2():
    tags = ["O", "B-PER", "I-PER"]
    allowed = T.allowed_transitions(tags, "IOB2")
    start = T.allowed_starts(tags, "IOB2")
    # argmax would be O I-PER I-PER, which IOB2 forbids
    log_probs = np.log(np.array([[0.5, 0.1, 0.4], [0.1, 0.4, 0.5], [0.2, 0.1, 0.7]]))
    assert D.viterbi(log_probs, allowed, start).tolist() == [0, 1, 2]


def test_minus_infinity_log_probs_still_give_a_valid_path():
    tags, allowed, start, end = _scheme_setup("IOBES")
    log_probs = np.full((3, len(tags)), -np.inf)
    log_probs[:, tags.index("I-PER")] = 0.0  # the model only believes in a tag that cannot start
    path = D.viterbi(log_probs, allowed, start, end)
    T.validate([tags[i] for i in path], "IOBES")
    assert [tags[i] for i in path] == ["B-PER", "I-PER", "E-PER"]


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="NaN"):
        D.viterbi(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"allowed must have shape \(2, 2\)"):
        D.viterbi(np.zeros((3, 2)), np.ones((3, 3), dtype=bool))
    with pytest.raises(TypeError, match="boolean mask"):
        D.viterbi(np.zeros((3, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        D.viterbi(np.zeros(4))


def test_viterbi_batch_equals_one_by_one():
    tags, allowed, start, end = _scheme_setup("IOBES")
    rng = np.random.default_rng(4)
    lengths = rng.integers(0, 20, size=2500)  # more than one internal batch, empty sentences too
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    log_probs = np.log(rng.dirichlet(np.full(len(tags), 0.5), size=int(bounds[-1])) + 1e-12)
    trans = rng.normal(scale=0.1, size=(len(tags), len(tags)))
    ids = D.viterbi_batch(log_probs, bounds, allowed, start, end, transition_scores=trans)
    assert ids.shape == (bounds[-1],)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        one = D.viterbi(log_probs[a:b], allowed, start, end, transition_scores=trans)
        np.testing.assert_array_equal(ids[a:b], one)


def test_viterbi_batch_checks_bounds_and_feasibility():
    log_probs = np.zeros((4, 2))
    with pytest.raises(ValueError, match="bounds"):
        D.viterbi_batch(log_probs, [0, 3])
    with pytest.raises(ValueError, match="bounds"):
        D.viterbi_batch(log_probs, [0, 3, 2, 4])
    assert D.viterbi_batch(np.zeros((0, 2)), [0]).tolist() == []
    never = np.zeros((2, 2), dtype=bool)
    with pytest.raises(ValueError, match="no tag sequence of length 3"):
        D.viterbi_batch(log_probs, [0, 1, 4], never)


def test_decoder():
    tags = T.tag_set(["PER"], "IOBES")  # O B-PER I-PER E-PER S-PER
    log_probs = np.log(np.array([
        [0.1, 0.1, 0.7, 0.05, 0.05],  # argmax I-PER cannot start a sentence
        [0.1, 0.1, 0.2, 0.5, 0.1],
        [0.9, 0.025, 0.025, 0.025, 0.025],
    ]))
    viterbi = D.Decoder(tags, "iobes")
    argmax = D.Decoder(tags, "IOBES", method="argmax")
    assert [tags[i] for i in argmax.decode_batch_ids(log_probs, [0, 3])] == ["I-PER", "E-PER", "O"]
    assert [tags[i] for i in viterbi.decode_batch_ids(log_probs, [0, 3])] == ["B-PER", "E-PER", "O"]
    batch = viterbi.decode_batch_ids(np.concatenate([log_probs, log_probs[2:]]), [0, 3, 3, 4])
    assert [tags[i] for i in batch] == ["B-PER", "E-PER", "O", "O"]
    with pytest.raises(ValueError, match=r"shape \(n_tokens, 5\)"):
        viterbi.decode_batch_ids(np.zeros((2, 3)), [0, 2])
    with pytest.raises(ValueError, match="method"):
        D.Decoder(tags, "IOBES", method="beam")
