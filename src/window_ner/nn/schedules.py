"""Learning-rate schedules: each sets ``optimizer.lr`` when its ``step()`` is called."""

from __future__ import annotations

import math

from window_ner.nn.optim import Optimizer

__all__ = ["StepLR", "LinearWarmup", "ReduceLROnPlateau"]


class StepLR:
    """lr = base_lr * gamma ** (epoch // step_size), as torch.optim.lr_scheduler.StepLR (step each epoch)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        if step_size < 1:
            raise ValueError(f"step_size must be >= 1, not {step_size}")
        self.optimizer, self.step_size, self.gamma = optimizer, int(step_size), float(gamma)
        self.base_lr = optimizer.lr
        self.last_epoch = 0

    def step(self) -> float:
        """Count one epoch and set the learning rate for the next; returns it."""
        self.last_epoch += 1
        self.optimizer.lr = self.base_lr * self.gamma ** (self.last_epoch // self.step_size)
        return self.optimizer.lr


class LinearWarmup:
    """Linear warm-up to base_lr over ``warmup_steps`` updates, then linear decay to 0 after ``total_steps``.

    Call ``step()`` after each ``optimizer.step()``. Update k (k = 1, 2, ...) uses
    lr = base_lr * min(k / warmup_steps, (total_steps - k + 1) / (total_steps - warmup_steps)), clipped to
    [0, 1] x base_lr: the first update already moves (base_lr / warmup_steps), updates warmup_steps and
    warmup_steps + 1 use base_lr, and update total_steps is the last with lr > 0.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, total_steps: int):
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(f"need 0 <= warmup_steps < total_steps, got {warmup_steps} and {total_steps}")
        self.optimizer = optimizer
        self.warmup_steps, self.total_steps = int(warmup_steps), int(total_steps)
        self.base_lr = optimizer.lr
        self.last_step = 0
        optimizer.lr = self.base_lr * self.factor(1)

    def factor(self, k: int) -> float:
        """The multiple of base_lr that update k (1-based) uses."""
        rise = k / self.warmup_steps if self.warmup_steps else math.inf
        fall = (self.total_steps - k + 1) / (self.total_steps - self.warmup_steps)
        return min(1.0, max(0.0, min(rise, fall)))

    def step(self) -> float:
        """Count one update and set the learning rate for the next; returns it."""
        self.last_step += 1
        self.optimizer.lr = self.base_lr * self.factor(self.last_step + 1)
        return self.optimizer.lr


class ReduceLROnPlateau:
    """Multiply lr by ``factor`` once the metric has not improved for more than ``patience`` calls.

    As torch.optim.lr_scheduler.ReduceLROnPlateau with threshold_mode="rel": in mode "max" (dev F1) a value
    improves on the best if it exceeds best * (1 + threshold) ("min": below best * (1 - threshold)).
    After a reduction, ``cooldown`` calls pass before bad calls count again; lr never goes below ``min_lr``.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "max", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0, eps: float = 1e-8):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), not {factor}")
        self.optimizer, self.mode, self.factor = optimizer, mode, float(factor)
        self.patience, self.threshold, self.cooldown = int(patience), float(threshold), int(cooldown)
        self.min_lr, self.eps = float(min_lr), float(eps)
        self.best = -math.inf if mode == "max" else math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _improves(self, value: float) -> bool:
        # torch's own test, also for negative metrics (where best * (1 + threshold) lies below best)
        if self.mode == "max":
            return value > self.best * (1.0 + self.threshold)
        return value < self.best * (1.0 - self.threshold)

    def step(self, metric: float) -> float:
        """Record the epoch's metric; reduce lr if it has stalled; returns the learning rate."""
        metric = float(metric)
        if self._improves(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.optimizer.lr * self.factor, self.min_lr)
            if self.optimizer.lr - new_lr > self.eps:
                self.optimizer.lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.optimizer.lr
