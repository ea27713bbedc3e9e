"""Embedding lookups and their row-sparse gradient: repeated ids add up, sparse equals dense."""

from __future__ import annotations

import numpy as np
import pytest

from window_ner.autodiff import RowSparseGrad, Tensor, embedding, gradcheck, no_grad, ops

rng = np.random.default_rng(7)
TABLE = rng.standard_normal((6, 4))
WINDOWS = np.array([[0, 2, 2, 5, 1], [2, 2, 3, 0, 0]])  # two windows of five word ids, with repeats


def table_param(dtype: type = np.float64) -> Tensor:
    return Tensor(TABLE.copy(), requires_grad=True, dtype=dtype)


def dense_reference(ids: np.ndarray, upstream: np.ndarray, vocab: int) -> np.ndarray:
    """Loop over occurrences: each one adds its upstream row to its word's row."""
    expected = np.zeros((vocab, upstream.shape[-1]))
    for position in np.ndindex(ids.shape):
        expected[ids[position]] += upstream[position]
    return expected


def test_forward_is_a_row_lookup() -> None:
    out = embedding(table_param(), WINDOWS)
    assert out.shape == (2, 5, 4)
    np.testing.assert_array_equal(out.data, TABLE[WINDOWS])


def test_sparse_gradient_sums_repeated_ids() -> None:
    table = table_param()
    upstream = rng.standard_normal((2, 5, 4))
    embedding(table, WINDOWS).backward(upstream)
    grad = table.grad
    assert isinstance(grad, RowSparseGrad)
    np.testing.assert_array_equal(grad.rows, [0, 1, 2, 3, 5])  # unique and sorted; row 4 never touched
    assert grad.shape == TABLE.shape
    np.testing.assert_allclose(grad.to_dense(), dense_reference(WINDOWS, upstream, 6), rtol=1e-14)


def test_sparse_and_dense_gradients_agree_with_each_other_and_with_gradcheck() -> None:
    upstream = rng.standard_normal((2, 5, 4))
    sparse, dense = table_param(), table_param()
    embedding(sparse, WINDOWS, sparse=True).backward(upstream)
    embedding(dense, WINDOWS, sparse=False).backward(upstream)
    assert isinstance(dense.grad, np.ndarray) and dense.grad.shape == TABLE.shape
    np.testing.assert_allclose(sparse.grad.to_dense(), dense.grad, rtol=1e-14)
    np.testing.assert_allclose(dense.grad, dense_reference(WINDOWS, upstream, 6), rtol=1e-14)
    for flag in (True, False):
        assert gradcheck(lambda t, s=flag: embedding(t, WINDOWS, sparse=s), [table_param()])


def test_window_gradient_splits_back_into_word_vectors() -> None:
    """The lecture: dJ/dx_window (5d) is cut into five d-sized pieces, one per word; repeated words add."""
    d = TABLE.shape[1]
    table = table_param()
    window = np.array([3, 1, 3, 3, 0])
    x = embedding(table, window).reshape(-1)  # x = [x_{i-2}, ..., x_{i+2}], length 5d
    w = rng.standard_normal(5 * d)
    (x @ w).backward()
    pieces = w.reshape(5, d)  # dJ/dx, split into one piece per window position
    expected = np.zeros_like(TABLE)
    expected[3] = pieces[0] + pieces[2] + pieces[3]
    expected[1] = pieces[1]
    expected[0] = pieces[4]
    np.testing.assert_allclose(table.grad.to_dense(), expected, rtol=1e-14)


@pytest.mark.parametrize("sparse", [True, False])
def test_a_table_used_by_embedding_and_a_dense_op_accumulates_both(sparse: bool) -> None:
    table = table_param()
    upstream = rng.standard_normal((2, 5, 4))
    looked_up = (embedding(table, WINDOWS, sparse=sparse) * upstream).sum()
    (looked_up + table.sum() + (table * table).sum() * 0.5).backward()
    grad = table.grad.to_dense() if isinstance(table.grad, RowSparseGrad) else table.grad
    np.testing.assert_allclose(grad, dense_reference(WINDOWS, upstream, 6) + 1.0 + TABLE, rtol=1e-14)
    assert gradcheck(lambda t: (embedding(t, WINDOWS, sparse=sparse) * upstream).sum() + t.sum(),
                     [table_param()])


def test_two_lookups_of_the_same_table_merge_their_rows() -> None:
    table = table_param()
    first = embedding(table, np.array([1, 4]))
    second = embedding(table, np.array([4, 0, 0]))
    (first.sum() + 2.0 * second.sum()).backward()
    assert isinstance(table.grad, RowSparseGrad)
    np.testing.assert_array_equal(table.grad.rows, [0, 1, 4])
    np.testing.assert_allclose(table.grad.to_dense()[[0, 1, 4, 2]],
                               [[4.0] * 4, [1.0] * 4, [3.0] * 4, [0.0] * 4])


def test_sparse_gradients_accumulate_across_backward_calls() -> None:
    table = table_param()
    embedding(table, np.array([2, 2])).sum().backward()
    embedding(table, np.array([5])).sum().backward()
    expected = np.zeros_like(TABLE)
    expected[2], expected[5] = 2.0, 1.0
    np.testing.assert_array_equal(table.grad.to_dense(), expected)
    table.sum().backward()  # then a dense contribution on top
    np.testing.assert_array_equal(np.asarray(table.grad), expected + 1.0)


def test_embedding_of_a_computed_table_passes_a_dense_gradient_upstream() -> None:
    base = table_param()
    scaled = base * 3.0
    embedding(scaled, np.array([1, 1, 2])).sum().backward()
    expected = np.zeros_like(TABLE)
    expected[1], expected[2] = 6.0, 3.0
    np.testing.assert_array_equal(base.grad, expected)


def test_embedding_keeps_float32() -> None:
    table = table_param(np.float32)
    out = embedding(table, WINDOWS)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert table.grad.dtype == np.float32 and table.grad.values.dtype == np.float32
    assert table.grad.to_dense().dtype == np.float32


def test_embedding_rejects_float_ids() -> None:
    with pytest.raises(TypeError, match="integers"):
        embedding(table_param(), np.array([0.0, 1.0]))


def test_embedding_ids_may_be_a_tensor_or_a_list() -> None:
    table = table_param()
    np.testing.assert_array_equal(embedding(table, Tensor(np.array([1, 2]))).data, TABLE[[1, 2]])
    np.testing.assert_array_equal(embedding(table, [3, 3]).data, TABLE[[3, 3]])


@pytest.mark.parametrize("ids", [[-1, 5], [2, 6], [7]])
def test_ids_outside_the_table_are_rejected_with_the_range(ids: list[int]) -> None:
    with pytest.raises(IndexError, match=r"embedding ids must be in \[0, 6\), got values"):
        embedding(table_param(), np.array(ids))


# ------------------------------------------------------------------ RowSparseGrad itself

def test_from_ids_sums_duplicates_in_sorted_order() -> None:
    ids = np.array([[3, 1], [3, 3]])
    grads = np.arange(8.0).reshape(2, 2, 2)
    sparse = RowSparseGrad.from_ids(ids, grads, (5, 2))
    np.testing.assert_array_equal(sparse.rows, [1, 3])
    np.testing.assert_array_equal(sparse.values, [[2.0, 3.0], [0.0 + 4 + 6, 1.0 + 5 + 7]])
    assert sparse.rows.dtype == np.int64


@pytest.mark.parametrize("vocab", [6, 50, 100_000])  # a one-hot product for small tables, a sort for big ones
@pytest.mark.parametrize("distinct", [3, 400])
def test_from_ids_matches_a_loop_over_occurrences(vocab: int, distinct: int) -> None:
    local = np.random.default_rng(vocab + distinct)
    ids = local.choice(local.choice(vocab, size=min(distinct, vocab), replace=False), size=(128, 5))
    grads = local.standard_normal((128, 5, 3))
    sparse = RowSparseGrad.from_ids(ids, grads, (vocab, 3))
    expected = dense_reference(ids, grads, vocab)
    np.testing.assert_array_equal(sparse.rows, np.unique(ids))
    np.testing.assert_allclose(sparse.to_dense(), expected, rtol=1e-12, atol=1e-12)
    single = RowSparseGrad.from_ids(ids, grads.astype(np.float32), (vocab, 3))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single.to_dense(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("vocab", [6, 100_000])  # both ways of summing: one-hot product and sort
@pytest.mark.parametrize("padding_idx", [0, 2, 5])
def test_from_ids_leaves_out_the_padding_id(vocab: int, padding_idx: int) -> None:
    local = np.random.default_rng(padding_idx)
    ids = local.integers(0, 6, size=(64, 5))
    ids[:, 0] = padding_idx  # the padding id occurs, repeatedly
    grads = local.standard_normal((64, 5, 3))
    sparse = RowSparseGrad.from_ids(ids, grads, (vocab, 3), padding_idx=padding_idx)
    expected = dense_reference(ids, grads, vocab)
    expected[padding_idx] = 0
    assert padding_idx not in sparse.rows
    np.testing.assert_array_equal(sparse.rows, np.setdiff1d(np.unique(ids), [padding_idx]))
    np.testing.assert_allclose(sparse.to_dense(), expected, rtol=1e-12, atol=1e-12)
    only_padding = RowSparseGrad.from_ids(np.full(4, padding_idx), np.ones((4, 3)), (vocab, 3), padding_idx)
    assert only_padding.rows.size == 0 and only_padding.values.shape == (0, 3)


@pytest.mark.parametrize("sparse", [True, False])
def test_embedding_padding_ids_pass_no_gradient(sparse: bool) -> None:
    table = table_param()
    out = embedding(table, WINDOWS, sparse=sparse, padding_idx=0)
    np.testing.assert_array_equal(out.data, TABLE[WINDOWS])  # padding still looks its row up
    upstream = rng.standard_normal(out.shape)
    out.backward(upstream)
    expected = dense_reference(WINDOWS, upstream, len(TABLE))
    expected[0] = 0
    dense = table.grad.to_dense() if sparse else table.grad
    np.testing.assert_allclose(dense, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(IndexError, match="padding_idx"):
        embedding(table, WINDOWS, padding_idx=6)


@pytest.mark.parametrize("bound", [7, 100_000, 2**62])  # the last overflows the packed keys: plain argsort
@pytest.mark.parametrize("size", [1, 2, 1280, 5000])
def test_stable_order_is_the_stable_argsort(bound: int, size: int) -> None:
    from window_ner.autodiff.tensor import _stable_order

    local = np.random.default_rng(size)
    for dtype in (np.int64, np.int32):
        ids = local.integers(0, min(bound, 2**31 - 1), size=size).astype(dtype)
        order, sorted_ids = _stable_order(ids, bound)
        expected = np.argsort(ids, kind="stable")
        np.testing.assert_array_equal(order, expected)  # equal ids keep their positions' order
        np.testing.assert_array_equal(sorted_ids, ids[expected])


def test_from_ids_keeps_float32_and_handles_no_ids() -> None:
    sparse = RowSparseGrad.from_ids(np.array([2, 2]), np.ones((2, 3), dtype=np.float32), (4, 3))
    assert sparse.dtype == np.float32
    empty = RowSparseGrad.from_ids(np.zeros(0, dtype=np.int64), np.zeros((0, 3), dtype=np.float32), (4, 3))
    assert empty.rows.size == 0
    np.testing.assert_array_equal(empty.to_dense(), np.zeros((4, 3)))


def test_row_sparse_arithmetic() -> None:
    a = RowSparseGrad(np.array([0, 2]), np.array([[1.0], [2.0]]), (4, 1))
    b = RowSparseGrad(np.array([2, 3]), np.array([[10.0], [20.0]]), (4, 1))
    merged = a + b
    assert isinstance(merged, RowSparseGrad)
    np.testing.assert_array_equal(merged.rows, [0, 2, 3])
    np.testing.assert_array_equal(merged.to_dense()[:, 0], [1.0, 0.0, 12.0, 20.0])
    dense = np.ones((4, 1))
    np.testing.assert_array_equal((a + dense)[:, 0], [2.0, 1.0, 3.0, 1.0])
    np.testing.assert_array_equal(dense, np.ones((4, 1)))  # the dense operand is not modified
    np.testing.assert_array_equal(a.scale(0.5).values[:, 0], [0.5, 1.0])
    assert a.astype(np.float32).scale(np.float64(0.5)).dtype == np.float32  # scaling keeps the dtype
    assert a.astype(np.float32).dtype == np.float32
    assert "rows=2" in repr(a)


def test_dense_plus_row_sparse_in_that_order() -> None:
    a = RowSparseGrad(np.array([0, 2]), np.array([[1.0], [2.0]]), (4, 1))
    np.testing.assert_array_equal((np.ones((4, 1)) + a)[:, 0], [2.0, 1.0, 3.0, 1.0])


def test_gradcheck_accepts_a_sparse_gradient_of_a_big_table() -> None:
    big = Tensor(np.random.default_rng(1).standard_normal((500, 8)), requires_grad=True, dtype=np.float64)
    ids = np.array([[3, 499, 3], [0, 7, 7]])
    assert gradcheck(lambda t: ops.tanh(embedding(t, ids)).sum(axis=1), [big])


def test_a_row_sparse_gradient_times_a_number_stays_row_sparse() -> None:
    a = RowSparseGrad(np.array([0, 2]), np.array([[1.0], [2.0]], dtype=np.float32), (4, 1))
    for scaled in (0.1 * a, a * 0.1, a / 10, a * np.float64(0.1), a * np.array(0.1)):
        assert isinstance(scaled, RowSparseGrad) and scaled.dtype == np.float32
        np.testing.assert_allclose(scaled.values[:, 0], [0.1, 0.2], rtol=1e-6)
        np.testing.assert_array_equal(scaled.rows, [0, 2])
    np.testing.assert_array_equal((-a).values[:, 0], [-1.0, -2.0])
    np.testing.assert_array_equal((np.ones((4, 1)) - a)[:, 0], [0.0, 1.0, -1.0, 1.0])
    np.testing.assert_array_equal((a - np.ones((4, 1)))[:, 0], [0.0, -1.0, 1.0, -1.0])
    np.testing.assert_array_equal((a - a).to_dense(), np.zeros((4, 1)))


def test_an_sgd_step_by_hand_on_an_embedding_table_updates_only_the_touched_rows() -> None:
    table = Tensor(np.ones((6, 2), dtype=np.float32), requires_grad=True, name="L")
    embedding(table, np.array([1, 4, 1])).sum().backward()
    assert isinstance(table.grad, RowSparseGrad)
    with no_grad():
        table -= 0.1 * table.grad
    expected = np.ones((6, 2), dtype=np.float32)
    expected[1] -= 0.2  # id 1 occurs twice
    expected[4] -= 0.1
    np.testing.assert_allclose(table.data, expected, rtol=1e-6)
    assert table.dtype == np.float32
    with no_grad():
        table += table.grad
    expected[1] += 2.0
    expected[4] += 1.0
    np.testing.assert_allclose(table.data, expected, rtol=1e-6)


@pytest.mark.parametrize("operation", [
    lambda g: g ** 2, lambda g: g @ np.ones(1), lambda g: g * np.ones((4, 1)), lambda g: np.ones((4, 1)) * g,
    lambda g: 1.0 / g, lambda g: g[0], lambda g: np.asarray(g), np.sqrt, lambda g: np.maximum(g, 0),
])
def test_an_operation_a_row_sparse_gradient_cannot_do_says_to_call_to_dense(operation) -> None:
    a = RowSparseGrad(np.array([0, 2]), np.array([[1.0], [2.0]]), (4, 1))
    with pytest.raises(TypeError, match=r"RowSparseGrad.*call \.to_dense\(\)"):
        operation(a)


def test_an_array_minus_a_row_sparse_gradient_in_place_changes_the_touched_rows_of_that_array() -> None:
    table = np.ones((4, 1))
    same = table
    table -= 0.5 * RowSparseGrad(np.array([0, 2]), np.array([[1.0], [2.0]]), (4, 1))
    assert table is same
    np.testing.assert_array_equal(table[:, 0], [0.5, 1.0, 0.0, 1.0])


def test_an_array_method_on_a_row_sparse_gradient_says_to_call_to_dense() -> None:
    a = RowSparseGrad(np.array([0, 2]), np.array([[1.0], [2.0]]), (4, 1))
    with pytest.raises(AttributeError, match=r"RowSparseGrad has no \.sum.*call \.to_dense\(\)"):
        a.sum()
    assert getattr(a, "__deepcopy__", None) is None  # protocols that probe attributes still work
    import copy
    np.testing.assert_array_equal(copy.deepcopy(a).to_dense(), a.to_dense())


def test_an_in_place_product_with_a_row_sparse_gradient_says_what_works() -> None:
    table = Tensor(np.ones((4, 1)))
    a = RowSparseGrad(np.array([0, 2]), np.array([[1.0], [2.0]]), (4, 1))
    with pytest.raises(TypeError, match=r"in-place multiply.*\+= and -= are.*to_dense"):
        table *= a
    with pytest.raises(ValueError, match=r"shape \(4, 1\) cannot update a tensor of shape \(3, 1\)"):
        small = Tensor(np.ones((3, 1)))
        small -= a
