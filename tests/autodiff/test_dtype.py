"""The dtype a tensor comes in is the dtype of its values and of its gradient, for every op."""

from __future__ import annotations

import numpy as np
import pytest

from tests.autodiff._cases import ALL_CASES, Case
from window_ner.autodiff import Tensor, functional, ops
from window_ner.autodiff.tensor import RowSparseGrad


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_values_and_gradients_keep_the_input_dtype(case: Case, dtype: type) -> None:
    leaves = [Tensor(x, requires_grad=True, dtype=dtype) for x in case.inputs]
    out = case.fn(*leaves)
    assert out.dtype == dtype
    out.backward(np.ones(out.shape, dtype=dtype))
    for leaf in leaves:
        assert leaf.grad is not None
        assert leaf.grad.dtype == dtype, f"{type(leaf.grad).__name__} of {leaf.grad.dtype}"
        if not isinstance(leaf.grad, RowSparseGrad):
            assert np.shape(leaf.grad) == leaf.shape


@pytest.mark.parametrize("value", [3.0, 2, [1.0, 2.0], [[1, 2], [3, 4]], True])
def test_python_numbers_and_lists_become_float32(value) -> None:
    assert Tensor(value).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32])
def test_an_explicit_dtype_wins(dtype: type) -> None:
    assert Tensor([1.0, 2.0], dtype=dtype).dtype == dtype
    assert Tensor(np.ones(2), dtype=dtype).dtype == dtype


def test_numpy_arrays_keep_their_dtype() -> None:
    assert Tensor(np.ones(2)).dtype == np.float64
    assert Tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.int64
    assert Tensor(Tensor(np.ones(2))).dtype == np.float64


@pytest.mark.parametrize("expression", [
    lambda x: x * 2.0, lambda x: 2.0 * x, lambda x: x + 1, lambda x: 1.5 - x, lambda x: x / 3.0,
    lambda x: 3.0 / x, lambda x: x**2, lambda x: x**0.5, lambda x: 2.0**x, lambda x: ops.maximum(x, 0.0),
    lambda x: ops.clip(x, 0.1, 0.9), lambda x: functional.mean(x), lambda x: ops.where(x.data > 0.5, x, 0.0),
    lambda x: ops.sigmoid(x) * 0.5 + 0.25,
], ids=["x*2.0", "2.0*x", "x+1", "1.5-x", "x/3.0", "3.0/x", "x**2", "x**0.5", "2.0**x", "maximum(x,0.0)",
        "clip", "mean", "where(x,0.0)", "sigmoid*0.5+0.25"])
def test_python_scalars_do_not_promote_float32(expression) -> None:
    x = Tensor([0.25, 0.5, 0.75], requires_grad=True)
    out = expression(x)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    assert x.grad.dtype == np.float32


def test_float32_training_step_stays_float32() -> None:
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((5, 3)), requires_grad=True, dtype=np.float32)
    table = Tensor(rng.standard_normal((7, 5)), requires_grad=True, dtype=np.float32)
    ids = np.array([[1, 2], [2, 6]])
    h = ops.tanh(ops.embedding(table, ids).sum(axis=1) @ w)
    loss = ops.softmax_cross_entropy(h, np.array([0, 2]))
    assert loss.dtype == np.float32
    loss.backward()
    assert w.grad.dtype == np.float32
    assert table.grad.dtype == np.float32 and table.grad.values.dtype == np.float32


def test_an_upstream_gradient_in_another_dtype_is_cast_to_the_tensor_dtype() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).backward(np.ones(2, dtype=np.float64))
    assert x.grad.dtype == np.float32


def test_the_float32_default_is_documented_where_users_meet_it() -> None:
    from pathlib import Path

    assert "float32" in Tensor.__doc__ and "Python numbers" in Tensor.__doc__
    lecture = (Path(__file__).resolve().parents[2] / "docs" / "lecture.md").read_text()
    assert "float32" in lecture and "dtype=np.float64" in lecture
