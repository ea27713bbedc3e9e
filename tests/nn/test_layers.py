"""Layers and initialisers: values, gradients, padding, dropout, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from window_ner import nn
from window_ner.autodiff import RowSparseGrad, Tensor, gradcheck, no_grad


def test_linear_is_lecture_wx_plus_b_on_rows() -> None:
    layer = nn.Linear(4, 3, rng=np.random.default_rng(0), dtype=np.float64)
    assert layer.W.shape == (3, 4) and layer.b.shape == (3,)
    x = np.random.default_rng(1).standard_normal((5, 4))
    out = layer(Tensor(x))
    np.testing.assert_allclose(out.data, np.stack([layer.W.data @ row + layer.b.data for row in x]))
    # gradcheck perturbs the very W and b the layer holds, so checking layer(x) checks all three gradients
    assert gradcheck(lambda x, W, b: layer(x), [Tensor(x, requires_grad=True), layer.W, layer.b])


def test_linear_dtype_and_no_bias() -> None:
    layer = nn.Linear(2, 2, bias=False, rng=np.random.default_rng(0))
    assert layer.b is None and [n for n, _ in layer.named_parameters()] == ["W"]
    assert layer(Tensor(np.ones((1, 2), dtype=np.float32))).dtype == np.float32


def test_linear_gradients_match_lecture() -> None:
    layer = nn.Linear(3, 2, rng=np.random.default_rng(0), dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((4, 3))
    upstream = np.random.default_rng(2).standard_normal((4, 2))
    layer(Tensor(x)).backward(upstream)
    np.testing.assert_allclose(layer.W.grad, upstream.T @ x)  # dJ/dW = delta x^T summed over the batch
    np.testing.assert_allclose(layer.b.grad, upstream.sum(axis=0))


def test_embedding_lookup_and_row_sparse_gradient() -> None:
    table = nn.Embedding(10, 3, rng=np.random.default_rng(0), dtype=np.float64)
    ids = np.array([[1, 4], [4, 9]])
    out = table(ids)
    np.testing.assert_array_equal(out.data, table.weight.data[ids])
    out.backward(np.ones((2, 2, 3)))
    grad = table.weight.grad
    assert isinstance(grad, RowSparseGrad)
    np.testing.assert_array_equal(grad.rows, [1, 4, 9])
    np.testing.assert_array_equal(grad.values, [[1, 1, 1], [2, 2, 2], [1, 1, 1]])


def test_embedding_dense_option() -> None:
    table = nn.Embedding(5, 2, rng=np.random.default_rng(0), sparse=False)
    table(np.array([0, 3, 3])).sum().backward()
    assert isinstance(table.weight.grad, np.ndarray) and table.weight.grad.shape == (5, 2)
    np.testing.assert_array_equal(table.weight.grad[3], [2, 2])


def test_embedding_padding_row_is_zero_and_never_updated() -> None:
    table = nn.Embedding(6, 4, padding_idx=0, rng=np.random.default_rng(0))
    assert np.all(table.weight.data[0] == 0)
    optimizer = nn.Adam(table.parameters(), lr=0.1, weight_decay=0.1)
    for _ in range(3):
        table.zero_grad()
        ids = np.array([[0, 2, 0], [3, 0, 2]])
        (table(ids) * 2.0).sum().backward()
        assert 0 not in table.weight.grad.rows  # the padding row is left out of the gradient
        optimizer.step()
    assert np.all(table.weight.data[0] == 0)


def test_embedding_padding_keeps_forward_values() -> None:
    table = nn.Embedding(4, 2, padding_idx=1, rng=np.random.default_rng(0), dtype=np.float64)
    table.weight.data[1] = [5.0, 6.0]  # a non-zero padding vector is still looked up, as in torch
    out = table(np.array([1, 2]))
    np.testing.assert_array_equal(out.data[0], [5.0, 6.0])
    out.sum().backward()
    np.testing.assert_array_equal(table.weight.grad.to_dense()[1], [0.0, 0.0])
    with pytest.raises(ValueError, match="padding_idx 9"):
        nn.Embedding(4, 2, padding_idx=9)


def test_dropout_is_inverted_reproducible_and_off_in_eval() -> None:
    x = Tensor(np.ones((200, 50), dtype=np.float32), requires_grad=True)
    drop = nn.Dropout(0.25, rng=np.random.default_rng(3))
    out = drop(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.unique(out.data), [0.0, 1 / 0.75], rtol=1e-6)
    assert abs((out.data == 0).mean() - 0.25) < 0.02
    assert abs(out.data.mean() - 1.0) < 0.03  # inverted: the expectation is unchanged
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # gradient flows through the kept entries only
    same = nn.Dropout(0.25, rng=np.random.default_rng(3))(x)
    np.testing.assert_array_equal(same.data, out.data)  # same seed, same mask
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    with pytest.raises(ValueError):
        nn.Dropout(1.0)


def test_dropout_follows_a_changed_p() -> None:
    drop = nn.Dropout(0.1, rng=np.random.default_rng(0))
    drop.p = 0.6  # e.g. a schedule that raises dropout during training
    out = drop(Tensor(np.ones((400, 50), dtype=np.float32))).data
    assert abs((out == 0).mean() - 0.6) < 0.02
    assert abs(out.mean() - 1.0) < 0.05  # mask and scale both follow the new p


def test_activation_modules() -> None:
    x = Tensor(np.array([-2.0, -0.5, 0.0, 0.5, 2.0]))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data))
    np.testing.assert_allclose(nn.ReLU()(x).data, np.maximum(x.data, 0))
    np.testing.assert_allclose(nn.HardTanh()(x).data, np.clip(x.data, -1, 1))
    np.testing.assert_allclose(nn.HardTanh(-0.5, 0.25)(x).data, np.clip(x.data, -0.5, 0.25))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)))


def test_sequential_applies_in_order() -> None:
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 3, rng=rng), nn.Tanh(), nn.Linear(3, 1, rng=rng))
    x = Tensor(np.ones((4, 2), dtype=np.float32))
    expected = model[2](model[1](model[0](x)))
    np.testing.assert_array_equal(model(x).data, expected.data)


# ----------------------------------------------------------------------------- initialisers

@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal", "uniform", "normal"])
def test_initialisers_same_seed_bit_identical(name: str) -> None:
    make = getattr(nn.init, name)
    first = make((30, 20), np.random.default_rng(42))
    second = make((30, 20), np.random.default_rng(42))
    assert first.dtype == np.float32
    assert first.tobytes() == second.tobytes()
    assert first.tobytes() != make((30, 20), np.random.default_rng(43)).tobytes()


def test_same_seed_gives_bit_identical_models() -> None:
    def build(seed: int) -> nn.Module:
        rng = np.random.default_rng(seed)
        return nn.Sequential(nn.Embedding(50, 4, padding_idx=0, rng=rng), nn.Linear(4, 3, rng=rng))

    first, second = build(5).state_dict(), build(5).state_dict()
    assert all(first[k].tobytes() == second[k].tobytes() for k in first)


def test_initialiser_ranges() -> None:
    rng = np.random.default_rng(0)
    bound = math.sqrt(6 / (300 + 100))
    w = nn.init.xavier_uniform((300, 100), rng, dtype=np.float64)
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.95 * bound
    w = nn.init.xavier_normal((300, 100), rng, dtype=np.float64)
    assert w.std() == pytest.approx(math.sqrt(2 / 400), rel=0.03)
    w = nn.init.uniform((1000,), rng, -0.1, 0.1)
    assert w.min() >= -0.1 and w.max() <= 0.1
    w = nn.init.normal(5000, rng, mean=1.0, std=0.5, dtype=np.float64)
    assert w.mean() == pytest.approx(1.0, abs=0.03) and w.std() == pytest.approx(0.5, rel=0.05)
    assert not nn.init.zeros((2, 3)).any()
    assert nn.init.fan_in_and_out((300, 100)) == (100, 300)
    with pytest.raises(TypeError, match="Generator"):
        nn.init.normal(3, 0)


def test_no_grad_evaluation_builds_no_graph() -> None:
    model = nn.Sequential(nn.Embedding(10, 2, padding_idx=0, rng=np.random.default_rng(0)), nn.Tanh())
    with no_grad():
        out = model(np.array([0, 1, 2]))
    assert not out.requires_grad


def test_skipped_initialisers_draw_nothing_and_keep_shapes() -> None:
    rng = np.random.default_rng(0)
    with nn.init.skipped():
        layer = nn.Linear(4, 3, rng=rng)
        table = nn.Embedding(5, 2, padding_idx=0, rng=rng)
    assert (layer.W.shape, layer.b.shape, table.weight.shape) == ((3, 4), (3,), (5, 2))
    assert layer.W.data.dtype == np.float32
    assert rng.random() == np.random.default_rng(0).random()  # the generator did not move
    assert nn.Linear(4, 3, rng=np.random.default_rng(0)).W.data.any()  # outside the block: drawn again
