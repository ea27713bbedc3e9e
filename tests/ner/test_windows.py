"""Windows around every token: compared with a slow reference loop on random corpora."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from window_ner.ner.data.vocab import BOS, EOS
from window_ner.ner.data.windows import flatten, windows


def windows_for(arrays, size=2, left_pad=BOS, right_pad=EOS):
    """Windows of every token of per-sentence id arrays: flatten, then windows()."""
    flat, starts = flatten(arrays)
    return windows(flat, starts, size, left_pad, right_pad)


def reference(sentences: list[list[int]], size: int, left_pad: int, right_pad: int) -> list[list[int]]:
    """One window at a time, the obvious way."""
    rows = []
    for sentence in sentences:
        for p in range(len(sentence)):
            row = []
            for q in range(p - size, p + size + 1):
                row.append(left_pad if q < 0 else right_pad if q >= len(sentence) else sentence[q])
            rows.append(row)
    return rows


corpora = st.lists(st.lists(st.integers(min_value=4, max_value=10_000), min_size=0, max_size=12),
                   min_size=0, max_size=15)


@settings(max_examples=300, deadline=None)
@given(sentences=corpora, size=st.integers(min_value=0, max_value=6))
def test_matches_the_reference_loop(sentences, size):
    out = windows_for([np.asarray(s, dtype=np.int64) for s in sentences], size)
    assert out.shape == (sum(map(len, sentences)), 2 * size + 1)
    assert out.dtype == np.int64
    assert out.tolist() == reference(sentences, size, BOS, EOS)


@settings(max_examples=200, deadline=None)
@given(sentences=corpora, size=st.integers(min_value=0, max_value=4))
def test_centre_is_the_token_and_neighbours_stay_in_the_sentence(sentences, size):
    # ids that say which sentence and position they come from: 1000 * sentence + position + 1
    tagged = [[1000 * i + p + 1 for p in range(len(s))] for i, s in enumerate(sentences)]
    out = windows_for(tagged, size, left_pad=-1, right_pad=-2)
    flat = [t for s in tagged for t in s]
    assert out[:, size].tolist() == flat
    for row in out.tolist():
        centre = row[size]
        for k, value in enumerate(row):
            offset = k - size
            if value < 0:  # padding: left pads only left of the centre, right pads only right of it
                assert (value == -1) == (offset < 0) and offset != 0
            else:
                assert value // 1000 == centre // 1000 and value - centre == offset


@settings(max_examples=100, deadline=None)
@given(sentences=corpora)
def test_flatten(sentences):
    flat, starts = flatten([np.asarray(s, dtype=np.int64) for s in sentences])
    assert flat.tolist() == [t for s in sentences for t in s]
    assert starts.tolist() == [sum(map(len, sentences[:i])) for i in range(len(sentences))]
    assert starts.dtype == np.int64


def test_small_example_and_feature_padding():
    sentences = [np.array([10, 11, 12]), np.array([], dtype=np.int64), np.array([20])]
    assert windows_for(sentences, 2).tolist() == [
        [BOS, BOS, 10, 11, 12],
        [BOS, 10, 11, 12, EOS],
        [10, 11, 12, EOS, EOS],
        [BOS, BOS, 20, EOS, EOS],
    ]
    caps = [np.array([3, 1]), np.array([2])]
    assert windows_for(caps, 1, left_pad=0, right_pad=0).tolist() == [[0, 3, 1], [3, 1, 0], [0, 2, 0]]


def test_plain_lists_and_empty_input():
    assert windows_for([[5, 6]], 1).tolist() == [[BOS, 5, 6], [5, 6, EOS]]
    for empty in ([], [[]], [[], []]):
        out = windows_for(empty, 2)
        assert out.shape == (0, 5) and out.dtype == np.int64


def test_trailing_end_offset_is_accepted():
    flat = np.array([1, 2, 3], dtype=np.int64)
    np.testing.assert_array_equal(windows(flat, np.array([0, 2, 3]), 1), windows(flat, np.array([0, 2]), 1))


def test_keeps_the_ids_dtype():
    out = windows(np.array([7, 8], dtype=np.int32), np.array([0]), 1)
    assert out.dtype == np.int32 and out.tolist() == [[BOS, 7, 8], [7, 8, EOS]]
    with pytest.raises(ValueError, match="does not fit"):
        windows(np.array([7], dtype=np.uint8), np.array([0]), 1, left_pad=-1)


@pytest.mark.parametrize("flat, starts, size, error, message", [
    (np.array([1, 2]), np.array([0]), -1, ValueError, "0 or more"),
    (np.array([1.0, 2.0]), np.array([0]), 1, TypeError, "integers"),
    (np.array([[1, 2]]), np.array([0]), 1, ValueError, "1-d"),
    (np.array([1, 2]), np.array([1]), 1, ValueError, "offset 0"),
    (np.array([1, 2]), np.array([0, 2, 1]), 1, ValueError, "non-decreasing"),
    (np.array([1, 2]), np.array([0, 3]), 1, ValueError, "between 0 and 2"),
    (np.array([1, 2]), np.array([], dtype=np.int64), 1, ValueError, "offset 0"),
])
def test_bad_arguments(flat, starts, size, error, message):
    with pytest.raises(error, match=message):
        windows(flat, starts, size)


def test_corpus_sized_input():
    # Its speed (target < 0.2 s for 204k tokens) is measured by benchmarks/bench_data.py, not here.
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, size=14_000)
    flat = rng.integers(4, 20_000, size=int(lengths.sum()))
    starts = np.concatenate([[0], np.cumsum(lengths[:-1])])
    out = windows(flat, starts, 2)
    assert out.shape == (flat.size, 5)
    np.testing.assert_array_equal(out[:, 2], flat)
