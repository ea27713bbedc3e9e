"""Tag schemes: conlleval-style spans, conversion, validation, detection and transition constraints."""

import itertools
from pathlib import Path

import numpy as np
import pytest

from window_ner.ner.data import tags as T
from window_ner.ner.data.conll import read_conll

ALL_SCHEMES = ["IO", "IOB1", "IOB2", "IOBES", "BILOU"]


def read_tags(path: Path) -> list[list[str]]:
    """NER tags per sentence of a CoNLL file, without -DOCSTART- blocks."""
    return [sentence.tags for sentence in read_conll(path)]


# ----- spans: conlleval's chunk rules -----

@pytest.mark.parametrize("tags, expected", [
    ([], []),
    (["O", "O"], []),
    # IOB1: I- opens after O; B- splits adjacent entities of one type.
    (["I-PER", "I-PER", "B-PER", "O", "I-LOC"], [(0, 2, "PER"), (2, 3, "PER"), (4, 5, "LOC")]),
    # IOB2
    (["B-PER", "I-PER", "B-PER", "O", "B-LOC"], [(0, 2, "PER"), (2, 3, "PER"), (4, 5, "LOC")]),
    # an I- after another type opens a new chunk; a type change always ends one
    (["B-PER", "I-LOC", "I-LOC", "I-ORG"], [(0, 1, "PER"), (1, 3, "LOC"), (3, 4, "ORG")]),
    # B- after O (the CoNLL train quirk) is a start like any other
    (["O", "B-MISC", "I-MISC"], [(1, 3, "MISC")]),
    (["B-X", "B-X", "B-X"], [(0, 1, "X"), (1, 2, "X"), (2, 3, "X")]),
    # IOBES: E-/S- close, S-/B- open, I- after E- opens a new chunk
    (["B-PER", "I-PER", "E-PER", "S-PER", "O", "S-LOC"], [(0, 3, "PER"), (3, 4, "PER"), (5, 6, "LOC")]),
    (["B-PER", "E-PER", "I-PER", "E-PER"], [(0, 2, "PER"), (2, 4, "PER")]),
    (["E-PER", "E-PER"], [(0, 1, "PER"), (1, 2, "PER")]),
    (["B-PER", "E-PER", "B-PER", "E-PER"], [(0, 2, "PER"), (2, 4, "PER")]),
    (["I-PER", "S-PER", "I-PER"], [(0, 1, "PER"), (1, 2, "PER"), (2, 3, "PER")]),
    # unfinished IOBES entity still counts, up to the type change / sentence end
    (["B-PER", "I-PER"], [(0, 2, "PER")]),
    # BILOU reads like IOBES
    (["B-ORG", "L-ORG", "U-ORG", "U-LOC"], [(0, 2, "ORG"), (2, 3, "ORG"), (3, 4, "LOC")]),
    # IO, prefixed or bare
    (["I-PER", "I-PER", "O", "I-LOC", "I-PER"], [(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "PER")]),
    (["PER", "PER", "O", "LOC"], [(0, 2, "PER"), (3, 4, "LOC")]),
    # types may contain hyphens: the first one separates prefix and type, as in conlleval
    (["B-date-time", "I-date-time", "I-date"], [(0, 2, "date-time"), (2, 3, "date")]),
])
def test_spans_follow_conlleval_rules(tags, expected):
    assert T.spans(tags) == expected


@pytest.mark.parametrize("bad", ["B-", "X-PER", "O-PER", ""])
def test_spans_rejects_unreadable_tags(bad):
    with pytest.raises(ValueError, match="cannot read tag"):
        T.spans(["O", bad])


def test_tag_type():
    assert T.tag_type("B-PER") == "PER"
    assert T.tag_type("I-date-time") == "date-time"
    assert T.tag_type("PER") == "PER"
    assert T.tag_type("O") == "O"


# ----- conversion -----

def _random_spans(rng, length, types=("PER", "LOC", "ORG")):
    """Disjoint random spans, adjacent same-type ones included."""
    out, i = [], 0
    while i < length:
        if rng.random() < 0.5:
            size = int(rng.integers(1, 4))
            end = min(length, i + size)
            out.append((i, end, str(rng.choice(types))))
            i = end
        else:
            i += 1
    return out


def test_from_spans_examples():
    spans = [(0, 2, "PER"), (2, 3, "PER"), (4, 5, "LOC")]
    assert T.from_spans(spans, 6, "IOB1") == ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "O"]
    assert T.from_spans(spans, 6, "IOB2") == ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "O"]
    assert T.from_spans(spans, 6, "IOBES") == ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "O"]
    assert T.from_spans(spans, 6, "BILOU") == ["B-PER", "L-PER", "U-PER", "O", "U-LOC", "O"]
    assert T.from_spans(spans, 6, "IO") == ["I-PER", "I-PER", "I-PER", "O", "I-LOC", "O"]
    assert T.from_spans([(1, 4, "X")], 5, "IOBES") == ["O", "B-X", "I-X", "E-X", "O"]


@pytest.mark.parametrize("spans, message", [
    ([(0, 2, "A"), (1, 3, "A")], "overlaps"),
    ([(2, 5, "A")], "does not fit"),
    ([(0, 1, "")], "no entity type"),
])
def test_from_spans_rejects_bad_spans(spans, message):
    with pytest.raises(ValueError, match=message):
        T.from_spans(spans, 4, "IOB2")


def test_round_trips_keep_spans_and_are_valid():
    rng = np.random.default_rng(0)
    for _ in range(300):
        length = int(rng.integers(0, 12))
        spans = _random_spans(rng, length)
        for source in ["IOB1", "IOB2", "IOBES", "BILOU"]:
            tags = T.from_spans(spans, length, source)
            T.validate(tags, source)
            assert T.spans(tags) == spans
            for target in ["IOB1", "IOB2", "IOBES", "BILOU"]:
                converted = T.convert(tags, source, target, strict=True)
                T.validate(converted, target)
                assert T.spans(converted) == spans
                assert T.convert(converted, target, source) == tags


def test_convert_to_io_merges_adjacent_same_type():
    tags = ["B-PER", "B-PER", "O", "B-LOC"]
    assert T.convert(tags, "IOB2", "IO") == ["I-PER", "I-PER", "O", "I-LOC"]
    assert T.convert(["PER", "O", "LOC"], "IO", "IOB2") == ["B-PER", "O", "B-LOC"]


def test_convert_normalises_invalid_input_leniently_or_strictly():
    # IOB2 input that starts with I- is read as conlleval reads it, and written as valid IOB2.
    assert T.convert(["O", "I-PER", "I-PER"], "IOB2", "IOB2") == ["O", "B-PER", "I-PER"]
    with pytest.raises(T.TagSchemeError, match="position 1"):
        T.convert(["O", "I-PER"], "IOB2", "IOBES", strict=True)
    with pytest.raises(T.TagSchemeError, match=r"position 1: tag 'E-PER' is not an IOB2 tag"):
        T.convert(["B-PER", "E-PER"], "IOB2", "IOBES")


def test_scheme_names():
    assert T.normalize_scheme("iobes") == "IOBES"
    assert T.normalize_scheme("BIO") == "IOB2"
    assert T.normalize_scheme("bioes") == "IOBES"
    with pytest.raises(ValueError, match="unknown tag scheme 'IOE2'"):
        T.normalize_scheme("IOE2")


# ----- single tags and validation -----

@pytest.mark.parametrize("tag, schemes", [
    ("O", ALL_SCHEMES),
    ("I-PER", ALL_SCHEMES),
    ("B-PER", ["IOB1", "IOB2", "IOBES", "BILOU"]),
    ("E-PER", ["IOBES"]),
    ("S-PER", ["IOBES"]),
    ("L-PER", ["BILOU"]),
    ("U-PER", ["BILOU"]),
    ("PER", ["IO"]),
    ("B-", []),
    ("O-PER", []),
    ("X-PER", []),
    ("", []),
])
def test_is_valid_tag(tag, schemes):
    for scheme in ALL_SCHEMES:
        assert T.is_valid_tag(tag, scheme) == (scheme in schemes), (tag, scheme)


def test_tag_checker_message():
    check = T.tag_checker("IOB2")
    check("B-PER")
    check("O")
    with pytest.raises(ValueError) as info:
        check("X")
    assert str(info.value) == "tag 'X' is not an IOB2 tag (expected O or B-/I- followed by a type)"
    expected = r"not an IOBES tag \(expected O or B-/I-/E-/S- followed by a type\)"
    with pytest.raises(ValueError, match=expected):
        T.tag_checker("iobes")("L-PER")


@pytest.mark.parametrize("tags, scheme, message", [
    (["O", "I-PER"], "IOB2", r"position 1: tag 'I-PER' after 'O' is not allowed in IOB2"),
    (["I-PER"], "IOB2", r"position 0: tag 'I-PER' at sentence start"),
    (["B-LOC", "I-PER"], "IOB2", r"expected I-PER only after B-PER or I-PER"),
    (["O", "B-PER"], "IOB1", r"position 1: tag 'B-PER' after 'O' is not allowed in IOB1"),
    (["I-LOC", "B-PER"], "IOB1", r"start an entity with I-PER"),
    (["B-PER"], "IOB1", r"at sentence start"),
    (["B-PER", "I-LOC"], "IOBES", r"expected I-PER or E-PER after 'B-PER'"),
    (["B-PER", "O"], "IOBES", r"position 1: tag 'O' after 'B-PER'"),
    (["E-PER"], "IOBES", r"expected O, B- or S- at sentence start"),
    (["S-PER", "I-PER"], "IOBES", r"expected O, B- or S- after 'S-PER'"),
    (["O", "B-PER", "I-PER"], "IOBES", r"position 2: the sentence ends with 'I-PER'"),
    (["B-PER"], "BILOU", r"must end with an L-/U- tag"),
    (["B-PER", "E-PER"], "BILOU", r"position 1: tag 'E-PER' is not an BILOU tag"),
    (["O", "B-PER"], "IO", r"position 1: tag 'B-PER' is not an IO tag"),
])
def test_validate_names_position_and_expectation(tags, scheme, message):
    with pytest.raises(T.TagSchemeError, match=message):
        T.validate(tags, scheme)


@pytest.mark.parametrize("tags, scheme", [
    ([], "IOBES"),
    (["I-PER", "I-PER", "B-PER", "I-LOC", "O"], "IOB1"),
    (["B-PER", "I-PER", "B-PER", "B-LOC", "O"], "IOB2"),
    (["B-PER", "E-PER", "S-PER", "O", "B-LOC", "I-LOC", "E-LOC"], "IOBES"),
    (["U-PER", "B-LOC", "L-LOC"], "BILOU"),
    (["PER", "I-PER", "O", "LOC"], "IO"),
])
def test_validate_accepts_valid_sequences(tags, scheme):
    T.validate(tags, scheme)


def test_tag_scheme_error_is_value_error():
    assert issubclass(T.TagSchemeError, ValueError)


# ----- detection -----

@pytest.mark.parametrize("sequences, expected", [
    ([["I-PER", "O"], ["B-PER", "I-PER"]], "IOB1"),  # an I- opens an entity
    ([["B-PER", "B-PER", "I-PER"]], "IOB2"),
    ([["O", "O"]], "IOB2"),  # nothing to tell schemes apart
    ([["S-PER"], ["B-LOC", "E-LOC"]], "IOBES"),
    ([["U-PER"], ["B-LOC", "L-LOC"]], "BILOU"),
    ([["PER", "O", "LOC"]], "IO"),
    ([["B-PER", "I-LOC"]], "IOB1"),  # I-LOC opens a LOC entity
])
def test_detect_scheme(sequences, expected):
    assert T.detect_scheme(sequences) == expected


@pytest.mark.parametrize("sequences, message", [
    ([["PER", "B-LOC"]], "bare types"),
    ([["S-PER", "U-LOC"]], "both IOBES"),
    ([["Q-PER"]], "cannot detect"),
])
def test_detect_scheme_rejects_mixtures(sequences, message):
    with pytest.raises(T.TagSchemeError, match=message):
        T.detect_scheme(sequences)


# ----- tag sets and constraints -----

def test_tag_set_order():
    assert T.tag_set(["PER", "LOC", "PER"], "IOB2") == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert T.tag_set(["LOC"], "IOBES") == ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    assert T.tag_set(["LOC"], "bilou") == ["O", "B-LOC", "I-LOC", "L-LOC", "U-LOC"]
    assert T.tag_set(["LOC"], "IOB1") == ["O", "B-LOC", "I-LOC"]
    assert T.tag_set(["LOC", "MISC"], "IO") == ["O", "I-LOC", "I-MISC"]
    assert T.tag_set([], "IOB2") == ["O"]
    with pytest.raises(ValueError, match="not usable"):
        T.tag_set(["O"], "IOB2")


def test_iob2_constraints():
    tags = ["O", "B-A", "I-A", "B-B", "I-B"]
    allowed = T.allowed_transitions(tags, "IOB2")
    expected = np.array([
        # O  B-A I-A B-B I-B     (row: previous tag, column: next tag)
        [1, 1, 0, 1, 0],  # O
        [1, 1, 1, 1, 0],  # B-A
        [1, 1, 1, 1, 0],  # I-A
        [1, 1, 0, 1, 1],  # B-B
        [1, 1, 0, 1, 1],  # I-B
    ], dtype=bool)
    np.testing.assert_array_equal(allowed, expected)
    np.testing.assert_array_equal(T.allowed_starts(tags, "IOB2"), [1, 1, 0, 1, 0])
    assert T.allowed_ends(tags, "IOB2").all()


def test_iob1_constraints():
    tags = ["O", "B-A", "I-A", "B-B", "I-B"]
    allowed = T.allowed_transitions(tags, "IOB1")
    expected = np.array([
        [1, 0, 1, 0, 1],  # O: an entity opens with I-
        [1, 1, 1, 0, 1],  # B-A: B-A splits a further A entity
        [1, 1, 1, 0, 1],  # I-A
        [1, 0, 1, 1, 1],  # B-B
        [1, 0, 1, 1, 1],  # I-B
    ], dtype=bool)
    np.testing.assert_array_equal(allowed, expected)
    np.testing.assert_array_equal(T.allowed_starts(tags, "IOB1"), [1, 0, 1, 0, 1])
    assert T.allowed_ends(tags, "IOB1").all()


def test_iobes_constraints():
    tags = T.tag_set(["A", "B"], "IOBES")  # O, B-A, I-A, E-A, S-A, B-B, I-B, E-B, S-B
    allowed = T.allowed_transitions(tags, "IOBES")
    closed = [1, 1, 0, 0, 1, 1, 0, 0, 1]  # after O, E-, S-: O, B- or S- of any type
    open_a = [0, 0, 1, 1, 0, 0, 0, 0, 0]  # after B-A, I-A: I-A or E-A
    open_b = [0, 0, 0, 0, 0, 0, 1, 1, 0]
    expected = np.array([closed, open_a, open_a, closed, closed, open_b, open_b, closed, closed], dtype=bool)
    np.testing.assert_array_equal(allowed, expected)
    np.testing.assert_array_equal(T.allowed_starts(tags, "IOBES"), closed)
    np.testing.assert_array_equal(T.allowed_ends(tags, "IOBES"), [1, 0, 0, 1, 1, 0, 0, 1, 1])


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_constraints_agree_with_validate_on_every_short_sequence(scheme):
    tags = T.tag_set(["A", "B"], scheme)
    allowed = T.allowed_transitions(tags, scheme)
    starts = T.allowed_starts(tags, scheme)
    ends = T.allowed_ends(tags, scheme)
    for length in range(1, 4):
        for ids in itertools.product(range(len(tags)), repeat=length):
            steps_ok = all(allowed[a, b] for a, b in itertools.pairwise(ids))
            by_masks = starts[ids[0]] and ends[ids[-1]] and steps_ok
            try:
                T.validate([tags[i] for i in ids], scheme)
                valid = True
            except T.TagSchemeError:
                valid = False
            assert valid == by_masks, [tags[i] for i in ids]


def test_constraints_reject_tags_of_another_scheme():
    with pytest.raises(T.TagSchemeError, match="tag_set"):
        T.allowed_transitions(["O", "S-PER"], "IOB2")


# ----- the real corpus -----

GOLD_COUNTS = {
    "train": {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600},
    "dev": {"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842},
    "test": {"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617},
}


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_conll2003_spans_and_round_trips(conll2003_dir, split):
    sentences = read_tags(conll2003_dir / f"{split}.txt")
    assert T.detect_scheme(sentences) == "IOB1"
    counts = {kind: 0 for kind in GOLD_COUNTS[split]}
    for tags in sentences:
        spans = T.spans(tags)
        for _, _, kind in spans:
            counts[kind] += 1
        iob2 = T.convert(tags, "IOB1", "IOB2")
        iobes = T.convert(iob2, "IOB2", "IOBES")
        T.validate(iob2, "IOB2")
        T.validate(iobes, "IOBES")
        assert T.spans(iob2) == spans
        assert T.spans(iobes) == spans
        assert T.convert(iobes, "IOBES", "IOB2") == iob2
    assert counts == GOLD_COUNTS[split]
    assert sum(counts.values()) == {"train": 23499, "dev": 5942, "test": 5648}[split]


def test_conll2003_strict_iob1_flags_only_the_two_known_quirks(conll2003_dir):
    sentences = read_tags(conll2003_dir / "train.txt")
    failures = []
    for tags in sentences:
        try:
            T.validate(tags, "IOB1")
        except T.TagSchemeError as error:
            failures.append(str(error))
    assert len(failures) == 2
    assert all("tag 'B-MISC' after 'O'" in message for message in failures)
