"""Entity-level scores counted as conlleval counts them (expected figures computed by hand)."""

import json
from pathlib import Path

import numpy as np
import pytest

from window_ner.ner.data import metrics
from window_ner.ner.data import tags as T
from window_ner.ner.data.conll import read_conll


def read_tags(path: Path) -> list[list[str]]:
    """NER tags per sentence of a CoNLL file, without -DOCSTART- blocks."""
    return [sentence.tags for sentence in read_conll(path)]


# Gold spans: PER(0,2) LOC(3,4) LOC(4,5) | ORG(0,2) MISC(2,3)      -> 5
# Predicted:  PER(0,2) LOC(3,5)          | ORG(0,1) MISC(2,3)      -> 4, of which PER and MISC are right
# Tags equal at 6 of 9 tokens.
GOLD = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O"], ["I-ORG", "I-ORG", "I-MISC"]]
PRED = [["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "O"], ["I-ORG", "O", "I-MISC"]]
EXPECTED_TEXT = """\
processed 9 tokens with 5 phrases; found: 4 phrases; correct: 2.
accuracy:  66.67%; precision:  50.00%; recall:  40.00%; FB1:  44.44
              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
             MISC: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
              ORG: precision:   0.00%; recall:   0.00%; FB1:   0.00  1
              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1"""


def test_counts_and_scores():
    report = metrics.evaluate(GOLD, PRED)
    assert (report.n_tokens, report.n_gold, report.n_pred, report.n_correct) == (9, 5, 4, 2)
    assert report.n_correct_tags == 6
    assert report.accuracy == pytest.approx(6 / 9)
    assert report.precision == pytest.approx(0.5)
    assert report.recall == pytest.approx(0.4)
    assert report.f1 == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert list(report.per_type) == ["LOC", "MISC", "ORG", "PER"]
    loc = report.per_type["LOC"]
    assert (loc.n_gold, loc.n_pred, loc.n_correct, loc.support) == (2, 1, 0, 2)
    assert (loc.precision, loc.recall, loc.f1) == (0.0, 0.0, 0.0)
    per = report.per_type["PER"]
    assert (per.precision, per.recall, per.f1) == (1.0, 1.0, 1.0)


def test_format_report_is_conlleval_layout():
    assert metrics.format_report(metrics.evaluate(GOLD, PRED)) == EXPECTED_TEXT


def test_confusion_matrix_of_token_types():
    confusion = metrics.evaluate(GOLD, PRED).confusion
    assert confusion.labels == ["O", "LOC", "MISC", "ORG", "PER"]
    expected = [
        [2, 0, 0, 0, 0],  # gold O
        [0, 2, 0, 0, 0],  # gold LOC
        [0, 0, 1, 0, 0],  # gold MISC
        [1, 0, 0, 1, 0],  # gold ORG: one token predicted O
        [0, 0, 0, 0, 2],  # gold PER
    ]
    np.testing.assert_array_equal(confusion.matrix, expected)


def test_to_dict_is_json_ready():
    data = metrics.evaluate(GOLD, PRED).to_dict()
    again = json.loads(json.dumps(data))
    assert again["n_correct"] == 2
    assert again["per_type"]["LOC"]["n_gold"] == 2
    assert again["confusion"]["labels"][0] == "O"
    assert again["confusion"]["matrix"][3] == [1, 0, 0, 1, 0]


@pytest.mark.parametrize("gold, pred, counts", [
    # (n_gold, n_pred, n_correct)
    ([["I-PER", "I-PER"]], [["I-PER", "I-LOC"]], (1, 2, 0)),  # a type change splits the prediction
    ([["B-PER", "I-PER"]], [["I-PER", "I-PER"]], (1, 1, 1)),  # IOB2 against IOB1: same span
    ([["I-PER", "B-PER"]], [["I-PER", "I-PER"]], (2, 1, 0)),  # B- splits; merged prediction is wrong
    ([["O", "I-PER"], ["I-PER", "O"]], [["O", "I-PER"], ["I-PER", "O"]], (2, 2, 2)),  # boundary = O
    ([["I-PER", "I-PER", "O"]], [["I-PER", "I-PER", "I-PER"]], (1, 1, 0)),  # wrong end
    ([["O", "I-PER", "I-PER"]], [["I-PER", "I-PER", "I-PER"]], (1, 1, 0)),  # wrong start
    ([["O", "O"]], [["O", "O"]], (0, 0, 0)),
])
def test_edge_cases(gold, pred, counts):
    report = metrics.evaluate(gold, pred)
    assert (report.n_gold, report.n_pred, report.n_correct) == counts


def test_same_spans_different_scheme_is_perfect_f1_but_not_accuracy():
    gold = [["I-PER", "I-PER", "O", "I-LOC"]]
    pred = [T.convert(gold[0], "IOB1", "IOB2")]
    report = metrics.evaluate(gold, pred)
    assert report.f1 == 1.0
    assert report.accuracy == pytest.approx(2 / 4)


def test_nothing_found_gives_zero_precision():
    report = metrics.evaluate([["I-PER"]], [["O"]])
    assert (report.precision, report.recall, report.f1) == (0.0, 0.0, 0.0)
    assert metrics.format_report(report) == (
        "processed 1 tokens with 1 phrases; found: 0 phrases; correct: 0.\n"
        "accuracy:   0.00%; precision:   0.00%; recall:   0.00%; FB1:   0.00\n"
        "              PER: precision:   0.00%; recall:   0.00%; FB1:   0.00  0")


def test_empty_input_prints_only_the_count_line():
    report = metrics.evaluate([], [])
    assert report.accuracy == 0.0
    assert metrics.format_report(report) == "processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0."


def test_mismatched_lengths_name_the_sentence():
    with pytest.raises(ValueError, match=r"sentence 1: 2 gold tags but 1 predicted"):
        metrics.evaluate([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="2 sentences but the predictions have 1"):
        metrics.evaluate([["O"], ["O"]], [["O"]])
    with pytest.raises(TypeError, match="sentence 0 is a string"):
        metrics.evaluate(["O"], ["O"])


def test_binary_scores():
    gold = np.array([1, 1, 0, 0, 1], dtype=bool)
    pred = np.array([1, 0, 1, 0, 1], dtype=bool)
    p, r, f1 = metrics.binary_scores(gold, pred)
    assert (p, r) == (pytest.approx(2 / 3), pytest.approx(2 / 3))
    assert f1 == pytest.approx(2 / 3)
    assert metrics.binary_scores(gold, np.zeros(5, dtype=bool)) == (0.0, 0.0, 0.0)
    assert metrics.binary_scores(np.zeros(3, bool), np.zeros(3, bool)) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="shape"):
        metrics.binary_scores(gold, pred[:3])


# ----- the real corpus -----

@pytest.mark.parametrize("split, counts", [
    ("train", {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}),
    ("dev", {"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842}),
    ("test", {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}),
])
def test_conll2003_gold_against_itself(conll2003_dir, split, counts):
    gold = read_tags(conll2003_dir / f"{split}.txt")
    report = metrics.evaluate(gold, gold)
    assert {kind: s.n_gold for kind, s in report.per_type.items()} == counts
    assert report.n_gold == report.n_pred == report.n_correct == sum(counts.values())
    assert report.accuracy == 1.0
    # The same entities written in IOB2 are all correct, though many tags differ.
    iob2 = [T.convert(tags, "IOB1", "IOB2") for tags in gold]
    converted = metrics.evaluate(gold, iob2)
    assert converted.n_correct == sum(counts.values())
    assert converted.accuracy < 1.0


def test_conll2003_dev_header(conll2003_dir):
    gold = read_tags(conll2003_dir / "dev.txt")
    first = metrics.format_report(metrics.evaluate(gold, gold)).splitlines()[0]
    assert first == "processed 51362 tokens with 5942 phrases; found: 5942 phrases; correct: 5942."


# ----- an independent streaming count, the way conlleval walks a file -----

def _split(tag):
    return ("O", "") if tag == "O" else tuple(tag.split("-", 1))


def _chunk_end(prev, cur, prev_type, cur_type):
    return (prev in "BI" and cur in "BO") or (prev != "O" and prev_type != cur_type)


def _chunk_start(prev, cur, prev_type, cur_type):
    return cur == "B" or (prev == "O" and cur == "I") or (cur != "O" and prev_type != cur_type)


def _streaming_counts(gold, pred):
    """(n_gold, n_pred, n_correct) from one pass over the whole corpus with O between sentences."""
    stream = [pair for g, p in zip(gold, pred, strict=True) for pair in [*zip(g, p, strict=True), ("O", "O")]]
    n_gold = n_pred = n_correct = 0
    last_g, last_p = ("O", ""), ("O", "")
    matching = False
    for g_tag, p_tag in stream:
        g, p = _split(g_tag), _split(p_tag)
        g_end = _chunk_end(last_g[0], g[0], last_g[1], g[1])
        p_end = _chunk_end(last_p[0], p[0], last_p[1], p[1])
        if matching and g_end and p_end:
            n_correct += 1
            matching = False
        elif matching and (g_end != p_end or g[1] != p[1]):
            matching = False
        g_start = _chunk_start(last_g[0], g[0], last_g[1], g[1])
        p_start = _chunk_start(last_p[0], p[0], last_p[1], p[1])
        matching = matching or (g_start and p_start and g[1] == p[1])
        n_gold += g_start
        n_pred += p_start
        last_g, last_p = g, p
    return n_gold, n_pred, n_correct


def test_matches_a_streaming_count_on_random_iob_sequences():
    rng = np.random.default_rng(1)
    pool = np.array(["O", "O", "B-A", "I-A", "B-B", "I-B", "I-C"])
    for _ in range(500):
        gold = [rng.choice(pool, size=int(rng.integers(0, 7))).tolist() for _ in range(3)]
        pred = [[str(rng.choice(pool)) if rng.random() < 0.4 else t for t in s] for s in gold]
        report = metrics.evaluate(gold, pred)
        assert (report.n_gold, report.n_pred, report.n_correct) == _streaming_counts(gold, pred)
