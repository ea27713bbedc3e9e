"""Optimisers against their published formulas, sparse against dense, clipping and schedules."""

from __future__ import annotations

import math

import numpy as np
import pytest

from window_ner import nn
from window_ner.autodiff import RowSparseGrad, Tensor

STEPS = 5


def grads_sequence(shape: tuple[int, ...], seed: int = 0) -> list[np.ndarray]:
    """A fixed gradient for each step (the optimiser sees them as if from backward)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(STEPS)]


def run(optimizer_class: type, start: np.ndarray, grads: list[np.ndarray], **kwargs: object) -> list[np.ndarray]:
    """Parameter values after each step of ``optimizer_class`` fed ``grads``."""
    param = nn.Parameter(start.copy())
    optimizer = optimizer_class([param], **kwargs)
    history = []
    for grad in grads:
        param.grad = grad.copy()
        optimizer.step()
        history.append(param.data.copy())
    return history


START = np.array([[0.5, -1.0, 2.0], [0.0, 0.25, -0.75]])
GRADS = grads_sequence(START.shape)


# ----------------------------------------------------------------------------- formulas by hand

@pytest.mark.parametrize("momentum, dampening, weight_decay, nesterov", [
    (0.0, 0.0, 0.0, False),
    (0.0, 0.0, 0.1, False),
    (0.9, 0.0, 0.0, False),
    (0.9, 0.3, 0.05, False),
    (0.9, 0.0, 0.05, True),
])
def test_sgd_follows_torch_formula(momentum: float, dampening: float, weight_decay: float, nesterov: bool) -> None:
    lr = 0.1
    ours = run(nn.SGD, START, GRADS, lr=lr, momentum=momentum, dampening=dampening,
               weight_decay=weight_decay, nesterov=nesterov)
    p, buf = START.copy(), None
    for t, grad in enumerate(GRADS):
        g = grad + weight_decay * p
        if momentum:
            buf = g.copy() if t == 0 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        np.testing.assert_allclose(ours[t], p, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("lr_decay, weight_decay, initial", [(0.0, 0.0, 0.0), (0.1, 0.05, 0.3)])
def test_adagrad_follows_torch_formula(lr_decay: float, weight_decay: float, initial: float) -> None:
    lr, eps = 0.5, 1e-10
    ours = run(nn.Adagrad, START, GRADS, lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
               initial_accumulator_value=initial, eps=eps)
    p, total = START.copy(), np.full(START.shape, initial)
    for t, grad in enumerate(GRADS, start=1):
        g = grad + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        total = total + g * g
        p = p - clr * g / (np.sqrt(total) + eps)
        np.testing.assert_allclose(ours[t - 1], p, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("optimizer_class, weight_decay", [
    (nn.Adam, 0.0), (nn.Adam, 0.1), (nn.AdamW, 0.0), (nn.AdamW, 0.1),
])
def test_adam_and_adamw_follow_torch_formulas(optimizer_class: type, weight_decay: float) -> None:
    lr, (b1, b2), eps = 0.05, (0.8, 0.95), 1e-6
    ours = run(optimizer_class, START, GRADS, lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay)
    p, m, v = START.copy(), np.zeros(START.shape), np.zeros(START.shape)
    for t, grad in enumerate(GRADS, start=1):
        g = grad
        if optimizer_class is nn.AdamW:
            p = p * (1 - lr * weight_decay)  # decoupled decay
        else:
            g = g + weight_decay * p  # L2 penalty in the gradient
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        np.testing.assert_allclose(ours[t - 1], p, rtol=1e-12, atol=1e-14)


def test_defaults_and_names_match_torch() -> None:
    param = nn.Parameter(np.zeros(3))
    assert nn.AdaGrad is nn.Adagrad
    adagrad = nn.Adagrad([param])
    assert (adagrad.lr, adagrad.lr_decay, adagrad.weight_decay, adagrad.initial_accumulator_value,
            adagrad.eps) == (0.01, 0.0, 0.0, 0.0, 1e-10)
    adam = nn.Adam([param])
    assert (adam.lr, adam.betas, adam.eps, adam.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    assert nn.AdamW([param]).weight_decay == 1e-2
    sgd = nn.SGD([param], lr=0.1)
    assert (sgd.momentum, sgd.dampening, sgd.weight_decay, sgd.nesterov) == (0.0, 0.0, 0.0, False)
    with pytest.raises(ValueError, match="nesterov"):
        nn.SGD([param], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        nn.Adam([])


def test_against_torch_optim_when_installed() -> None:
    torch = pytest.importorskip("torch")
    cases = [
        (nn.SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01, "nesterov": True}),
        (nn.Adagrad, torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01}),
        (nn.Adam, torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.01}),
        (nn.AdamW, torch.optim.AdamW, {"lr": 0.01}),
    ]
    for ours_class, torch_class, kwargs in cases:
        ours = run(ours_class, START, GRADS, **kwargs)
        param = torch.tensor(START.copy(), requires_grad=True)
        optimizer = torch_class([param], **kwargs)
        for t, grad in enumerate(GRADS):
            param.grad = torch.tensor(grad)
            optimizer.step()
            np.testing.assert_allclose(ours[t], param.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=ours_class.__name__)


def test_float32_parameters_and_state_stay_float32() -> None:
    param = nn.Parameter(START.astype(np.float32))
    optimizer = nn.Adam([param], lr=0.1, weight_decay=0.1)
    param.grad = GRADS[0].astype(np.float32)
    optimizer.step()
    assert param.dtype == np.float32
    assert all(v.dtype == np.float32 for v in optimizer.state[0].values() if isinstance(v, np.ndarray))


def test_step_skips_parameters_without_gradient_and_zero_grad_clears() -> None:
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    optimizer = nn.SGD([a, b], lr=0.5)
    a.grad = np.array([1.0, 2.0])
    optimizer.step()
    np.testing.assert_array_equal(a.data, [0.5, 0.0])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None


# ----------------------------------------------------------------------------- row-sparse updates

VOCAB, DIM = 12, 3


def sparse_grads(seed: int, all_rows: bool = False) -> list[RowSparseGrad]:
    """Row-sparse gradients touching a few rows per step (or every row)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(STEPS):
        rows = np.arange(VOCAB) if all_rows else np.unique(rng.choice(VOCAB, size=5))
        out.append(RowSparseGrad(rows.astype(np.int64), rng.standard_normal((rows.size, DIM)), (VOCAB, DIM)))
    return out


def run_rows(optimizer_class: type, grads: list, dense: bool, **kwargs: object) -> np.ndarray:
    start = np.random.default_rng(7).standard_normal((VOCAB, DIM))
    param = nn.Parameter(start)
    optimizer = optimizer_class([param], **kwargs)
    for grad in grads:
        param.grad = grad.to_dense() if dense else grad
        optimizer.step()
    return param.data


@pytest.mark.parametrize("optimizer_class, kwargs", [
    (nn.SGD, {"lr": 0.3}),
    (nn.Adagrad, {"lr": 0.3, "lr_decay": 0.1, "initial_accumulator_value": 0.1}),
])
def test_sparse_update_equals_dense_exactly(optimizer_class: type, kwargs: dict) -> None:
    grads = sparse_grads(1)
    sparse = run_rows(optimizer_class, grads, dense=False, **kwargs)
    dense = run_rows(optimizer_class, grads, dense=True, **kwargs)
    np.testing.assert_array_equal(sparse, dense)


@pytest.mark.parametrize("optimizer_class, kwargs", [
    (nn.Adam, {"lr": 0.1}),
    (nn.Adam, {"lr": 0.1, "weight_decay": 0.1}),
    (nn.AdamW, {"lr": 0.1, "weight_decay": 0.1}),
    (nn.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1, "nesterov": True}),
    (nn.Adagrad, {"lr": 0.1, "weight_decay": 0.1}),
])
def test_lazy_update_equals_dense_when_every_row_is_touched(optimizer_class: type, kwargs: dict) -> None:
    grads = sparse_grads(2, all_rows=True)
    sparse = run_rows(optimizer_class, grads, dense=False, **kwargs)
    dense = run_rows(optimizer_class, grads, dense=True, **kwargs)
    np.testing.assert_array_equal(sparse, dense)


def test_lazy_adam_leaves_untouched_rows_and_their_moments_alone() -> None:
    param = nn.Parameter(np.zeros((VOCAB, DIM)))
    optimizer = nn.Adam([param], lr=0.1)
    param.grad = RowSparseGrad(np.array([0, 1]), np.ones((2, DIM)), (VOCAB, DIM))
    optimizer.step()
    moved = param.data.copy()
    param.grad = RowSparseGrad(np.array([2]), np.ones((1, DIM)), (VOCAB, DIM))
    optimizer.step()
    # Rows 0 and 1 did not move again (dense Adam would move them by their remaining momentum).
    np.testing.assert_array_equal(param.data[:2], moved[:2])
    np.testing.assert_allclose(optimizer.state[0]["exp_avg"][:2], 0.1 * np.ones((2, DIM)), rtol=1e-15)
    # Row 2, first touched at global step 2, is bias-corrected with t = 2: lr m/(1-b1^2) / sqrt(v/(1-b2^2)).
    m, v = 0.1, 0.001
    expected = -0.1 * (m / (1 - 0.9**2)) / (math.sqrt(v / (1 - 0.999**2)) + 1e-8)
    np.testing.assert_allclose(param.data[2], expected, rtol=1e-12)
    assert np.all(param.data[3:] == 0)


def test_lazy_momentum_sgd_moves_only_touched_rows() -> None:
    param = nn.Parameter(np.zeros((VOCAB, DIM)))
    optimizer = nn.SGD([param], lr=1.0, momentum=0.5)
    param.grad = RowSparseGrad(np.array([0]), np.ones((1, DIM)), (VOCAB, DIM))
    optimizer.step()
    param.grad = RowSparseGrad(np.array([1]), np.ones((1, DIM)), (VOCAB, DIM))
    optimizer.step()
    np.testing.assert_array_equal(param.data[0], -np.ones(DIM))  # no coasting on untouched row 0
    np.testing.assert_array_equal(param.data[1], -np.ones(DIM))  # buffer started at 0: 0.5 * 0 + 1
    assert np.all(param.data[2:] == 0)


def test_sparse_update_allocates_nothing_table_sized() -> None:
    import tracemalloc

    big = nn.Parameter(np.zeros((200_000, 16), dtype=np.float32))  # 12.8 MB
    optimizer = nn.Adam([big], lr=0.1)
    grad = RowSparseGrad(np.arange(0, 200_000, 1000), np.ones((200, 16), dtype=np.float32), big.shape)
    big.grad = grad
    optimizer.step()  # first step allocates the moments (two table-sized arrays, once)
    tracemalloc.start()
    for _ in range(3):
        big.grad = grad
        optimizer.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1_000_000, f"a sparse step allocated {peak} bytes at its peak"


# ----------------------------------------------------------------------------- clipping

def test_clip_grad_norm_dense_and_sparse() -> None:
    dense = nn.Parameter(np.zeros(2))
    table = nn.Parameter(np.zeros((10, 2)))
    dense.grad = np.array([3.0, 0.0])
    table.grad = RowSparseGrad(np.array([4]), np.array([[0.0, 4.0]]), (10, 2))
    total = nn.clip_grad_norm([dense, table], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(dense.grad, [3 / (5 + 1e-6), 0.0])
    assert isinstance(table.grad, RowSparseGrad)
    np.testing.assert_allclose(table.grad.values, [[0.0, 4 / (5 + 1e-6)]])
    np.testing.assert_array_equal(table.grad.rows, [4])
    # Below the threshold nothing changes.
    dense.grad = np.array([0.3, 0.4])
    assert nn.clip_grad_norm([dense], max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(dense.grad, [0.3, 0.4])


# ----------------------------------------------------------------------------- schedules

def optimizer_with_lr(lr: float) -> nn.SGD:
    return nn.SGD([nn.Parameter(np.zeros(1))], lr=lr)


def test_step_lr() -> None:
    optimizer = optimizer_with_lr(1.0)
    schedule = nn.StepLR(optimizer, step_size=2, gamma=0.5)
    lrs = [optimizer.lr] + [schedule.step() for _ in range(5)]
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]


def test_linear_warmup_then_decay() -> None:
    optimizer = optimizer_with_lr(1.0)
    schedule = nn.LinearWarmup(optimizer, warmup_steps=4, total_steps=8)
    lrs = [optimizer.lr]  # the lr update k uses, k = 1, 2, ...
    for _ in range(9):
        schedule.step()
        lrs.append(optimizer.lr)
    assert lrs == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0])


def test_reduce_lr_on_plateau_mode_max() -> None:
    optimizer = optimizer_with_lr(1.0)
    schedule = nn.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=1)
    lrs = [schedule.step(f1) for f1 in [0.5, 0.6, 0.6, 0.6, 0.7, 0.65, 0.65, 0.65]]
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]


@pytest.mark.parametrize("mode", ["max", "min"])
def test_reduce_lr_on_plateau_matches_torch_also_for_negative_metrics(mode: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for _ in range(40):
        metrics = list(-1.0 + rng.choice([0.0, 5e-5, 2e-4, -5e-5, -2e-4], size=12).cumsum())
        optimizer = optimizer_with_lr(1.0)
        ours = nn.ReduceLROnPlateau(optimizer, mode=mode, factor=0.5, patience=1, threshold=1e-4)
        reference = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(reference, mode=mode, factor=0.5, patience=1,
                                                            threshold=1e-4)
        for metric in metrics:
            ours.step(metric)
            theirs.step(metric)
            assert optimizer.lr == pytest.approx(reference.param_groups[0]["lr"]), metrics


# ----------------------------------------------------------------------------- optimiser state

def test_optimizer_state_dict_resumes_identically() -> None:
    first = run(nn.Adam, START, GRADS, lr=0.1)
    param = nn.Parameter(START.copy())
    optimizer = nn.Adam([param], lr=0.1)
    for grad in GRADS[:2]:
        param.grad = grad.copy()
        optimizer.step()
    saved, saved_param = optimizer.state_dict(), param.data.copy()
    resumed_param = nn.Parameter(saved_param)
    resumed = nn.Adam([resumed_param], lr=0.5)
    resumed.load_state_dict(saved)
    assert resumed.lr == 0.1
    for grad in GRADS[2:]:
        resumed_param.grad = grad.copy()
        resumed.step()
    np.testing.assert_array_equal(resumed_param.data, first[-1])
    two = nn.Adam([Tensor(np.zeros(1), requires_grad=True), Tensor(np.zeros(1), requires_grad=True)])
    with pytest.raises(ValueError, match="holds 1 parameters"):
        two.load_state_dict(saved)
