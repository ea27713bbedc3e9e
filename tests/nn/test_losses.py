"""Losses: values against NumPy references (and torch's definitions), gradients by gradcheck in float64."""

from __future__ import annotations

import numpy as np
import pytest

from window_ner import nn
from window_ner.autodiff import Tensor, gradcheck

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((6, 4))
TARGETS = np.array([0, 3, 1, 1, 2, 3])
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 3.0])


def reference_ce(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(targets)), targets]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_plain(reduction: str) -> None:
    out = nn.cross_entropy(Tensor(LOGITS), TARGETS, reduction=reduction)
    losses = reference_ce(LOGITS, TARGETS)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_weighted_with_ignore_index_as_torch_defines_it(reduction: str) -> None:
    targets = TARGETS.copy()
    targets[2] = -100
    out = nn.cross_entropy(Tensor(LOGITS), targets, weight=CLASS_WEIGHT, ignore_index=-100, reduction=reduction)
    keep = targets != -100
    w = np.where(keep, CLASS_WEIGHT[np.where(keep, targets, 0)], 0.0)
    losses = w * reference_ce(LOGITS, np.where(keep, targets, 0))
    expected = {"mean": losses.sum() / w.sum(), "sum": losses.sum(), "none": losses}[reduction]
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)


def test_cross_entropy_matches_torch_when_installed() -> None:
    torch = pytest.importorskip("torch")
    targets = TARGETS.copy()
    targets[0] = 7
    ours = nn.cross_entropy(Tensor(LOGITS), targets, weight=CLASS_WEIGHT, ignore_index=7)
    theirs = torch.nn.functional.cross_entropy(torch.tensor(LOGITS), torch.tensor(targets),
                                               weight=torch.tensor(CLASS_WEIGHT), ignore_index=7)
    np.testing.assert_allclose(ours.data, theirs.item(), rtol=1e-12)


@pytest.mark.parametrize("weight, ignore_index, reduction", [
    (None, None, "mean"), (None, None, "sum"), (CLASS_WEIGHT, None, "mean"), (None, 1, "mean"),
    (CLASS_WEIGHT, 3, "sum"), (CLASS_WEIGHT, 3, "none"),
])
def test_cross_entropy_gradcheck(weight: np.ndarray | None, ignore_index: int | None, reduction: str) -> None:
    logits = Tensor(LOGITS.copy(), requires_grad=True)
    assert gradcheck(lambda z: nn.cross_entropy(z, TARGETS, weight=weight, ignore_index=ignore_index,
                                                reduction=reduction), [logits])


def test_cross_entropy_errors_and_all_ignored() -> None:
    with pytest.raises(ValueError, match="reduction"):
        nn.cross_entropy(Tensor(LOGITS), TARGETS, reduction="avg")
    with pytest.raises(ValueError, match="one per class"):
        nn.cross_entropy(Tensor(LOGITS), TARGETS, weight=np.ones(3))
    with np.errstate(invalid="ignore"):
        out = nn.cross_entropy(Tensor(LOGITS), np.full(6, -1), ignore_index=-1)
    assert np.isnan(out.item())  # as torch: 0 / 0


def test_cross_entropy_keeps_float32() -> None:
    logits = Tensor(LOGITS.astype(np.float32), requires_grad=True)
    out = nn.cross_entropy(logits, TARGETS, weight=CLASS_WEIGHT)
    out.backward()
    assert out.dtype == np.float32 and logits.grad.dtype == np.float32


# ----------------------------------------------------------------------------- J = sigma(s)

def test_bce_with_logits_values_and_gradient() -> None:
    s = np.array([-3.0, -0.5, 0.0, 0.7, 4.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    sigma = 1 / (1 + np.exp(-s))
    expected = -(y * np.log(sigma) + (1 - y) * np.log(1 - sigma))
    scores = Tensor(s, requires_grad=True)
    out = nn.binary_cross_entropy_with_logits(scores, y, reduction="none")
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    nn.binary_cross_entropy_with_logits(scores, y, reduction="sum").backward()
    np.testing.assert_allclose(scores.grad, sigma - y, rtol=1e-12)  # dJ/ds = sigma(s) - y, also at s = 0
    nonzero = Tensor(np.array([-2.0, -0.3, 0.4, 1.5]), requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        assert gradcheck(lambda z, r=reduction: nn.binary_cross_entropy_with_logits(z, y[:4], reduction=r),
                         [nonzero])


def test_bce_with_logits_is_stable_for_huge_scores() -> None:
    s = Tensor(np.array([1e4, -1e4, 1e4, -1e4, 500.0]), requires_grad=True)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is harmless
        losses = nn.binary_cross_entropy_with_logits(s, y, reduction="none")
        losses.sum().backward()
    np.testing.assert_allclose(losses.data, [0.0, 0.0, 1e4, 1e4, 0.0], atol=1e-12)
    np.testing.assert_allclose(s.grad, [0.0, 0.0, 1.0, -1.0, 0.0], atol=1e-12)
    s32 = Tensor(np.array([1e4, -1e4], dtype=np.float32), requires_grad=True)
    out = nn.binary_cross_entropy_with_logits(s32, [0.0, 1.0])
    out.backward()
    assert np.isfinite(out.item()) and out.dtype == np.float32 and np.all(np.isfinite(s32.grad))


# ----------------------------------------------------------------------------- max-margin

def test_max_margin_window_loss() -> None:
    s = Tensor(np.array([2.0, 0.2, 1.0]), requires_grad=True)
    s_c = Tensor(np.array([0.5, 0.5, 1.5]), requires_grad=True)
    out = nn.max_margin(s, s_c)
    np.testing.assert_allclose(out.item(), np.mean([0.0, 1.3, 1.5]))
    out.backward()
    np.testing.assert_allclose(s.grad, [0.0, -1 / 3, -1 / 3])  # dJ/ds = -1 where the margin is violated
    np.testing.assert_allclose(s_c.grad, [0.0, 1 / 3, 1 / 3])
    assert gradcheck(lambda a, b: nn.max_margin(a, b, margin=1.0), [s, s_c])


def test_max_margin_several_corrupt_windows_each() -> None:
    s = Tensor(np.array([1.0, 3.0]), requires_grad=True)
    s_c = Tensor(np.array([[0.5, 1.5], [0.1, 2.5]]), requires_grad=True)
    out = nn.max_margin(s, s_c, margin=1.0, reduction="none")
    np.testing.assert_allclose(out.data, [[0.5, 1.5], [0.0, 0.5]])
    assert gradcheck(lambda a, b: nn.max_margin(a, b, reduction="sum"), [s, s_c])


def test_cross_entropy_with_every_position_ignored_is_nan_with_a_zero_gradient() -> None:
    logits = Tensor(LOGITS, requires_grad=True)
    loss = nn.cross_entropy(logits, np.full(len(LOGITS), -100), ignore_index=-100)
    assert np.isnan(loss.item())
    loss.backward()
    assert np.array_equal(logits.grad, np.zeros_like(LOGITS))  # one padding-only batch must not poison a model
