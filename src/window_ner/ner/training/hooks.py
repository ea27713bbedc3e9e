"""Hooks: what happens around the training loop, each one plug-in (metrics.jsonl, the progress bar, saving
and keeping the best model, early stopping, learning-rate schedules).

A hook has four methods, all optional through :class:`Hook`: ``on_start(state)``, ``on_batch(state, loss)``,
``on_epoch(state, log)`` and ``on_end(state)`` (also after Ctrl-C). Pass your own to ``train(hooks=...)``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from window_ner import nn
from window_ner.registry import Registry

__all__ = ["Hook", "MetricsFile", "ProgressBar", "SaveBest", "KeepBest", "History", "EarlyStopping",
           "SCHEDULES", "default_hooks"]


class Hook:
    """Does nothing at every moment; subclasses override the moments they need."""

    def on_start(self, state: Any) -> None:
        """Before the first batch."""

    def on_batch(self, state: Any, loss: float) -> None:
        """After each update, with the batch's mean loss."""

    def on_epoch(self, state: Any, log: Any) -> None:
        """After each epoch and its dev evaluation, with its :class:`EpochLog`."""

    def on_end(self, state: Any) -> None:
        """When training ends, whatever the reason."""


class SaveBest(Hook):
    """Calls ``save(model, {"epoch", "dev"})`` after every epoch that improves the best dev score."""

    def __init__(self, save: Callable[[Any, dict[str, Any]], None]):
        self.save = save

    def on_epoch(self, state: Any, log: Any) -> None:
        if log.best:
            self.save(state.model, {"epoch": log.epoch, "dev": log.dev})


class KeepBest(Hook):
    """Keeps a copy of the best epoch's parameters and puts them back into the model at the end.

    Placed after :class:`SaveBest`: a save cut short by Ctrl-C leaves the kept copy matching the file.
    """

    def __init__(self) -> None:
        self.best: dict[str, Any] | None = None

    def on_epoch(self, state: Any, log: Any) -> None:
        if log.best:
            self.best = state.model.state_dict()

    def on_end(self, state: Any) -> None:
        if self.best is not None:
            state.model.load_state_dict(self.best)


class History(Hook):
    """Appends each epoch's log to ``state.logs`` (what :func:`train` returns)."""

    def on_epoch(self, state: Any, log: Any) -> None:
        state.logs.append(log)


class MetricsFile(Hook):
    """One JSON line per epoch in ``path``, started afresh when the first epoch ends."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def on_epoch(self, state: Any, log: Any) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w" if log.epoch == 1 else "a") as handle:
            handle.write(json.dumps(asdict(log)) + "\n")


class ProgressBar(Hook):
    """A bar over every batch of every epoch (on a terminal only) and one line per epoch, on stderr; either
    may be turned off."""

    def __init__(self, bar: bool = True, lines: bool = True) -> None:
        self.show_bar, self.lines = bar, lines
        self.bar: Any = None

    def on_start(self, state: Any) -> None:
        from tqdm.auto import tqdm

        # disable=None: no bar when stderr is not a terminal (a log file would fill with redraws)
        self.bar = tqdm(total=state.config.epochs * state.batches_per_epoch, unit="batch", dynamic_ncols=True,
                        leave=False, disable=None if self.show_bar else True, file=sys.stderr)

    def on_batch(self, state: Any, loss: float) -> None:
        self.bar.update(1)

    def on_epoch(self, state: Any, log: Any) -> None:
        if not self.lines:
            return
        dev = "" if log.dev is None else f", dev F1 {100 * log.dev['f1']:.2f}" + (" (best)" if log.best else "")
        self.bar.write(f"epoch {log.epoch}: loss {log.train_loss:.4f}{dev}, {log.tokens_per_s:,.0f} tokens/s",
                       file=sys.stderr)

    def on_end(self, state: Any) -> None:
        if self.bar is not None:
            self.bar.close()


class EarlyStopping(Hook):
    """Stops training after ``patience`` epochs without a better score (0: never)."""

    def __init__(self, patience: int):
        self.patience, self.waited = patience, 0

    def on_epoch(self, state: Any, log: Any) -> None:
        self.waited = 0 if log.best else self.waited + 1
        if self.patience and self.waited >= self.patience:
            state.stop = True


# Learning-rate schedules, by name: each is a hook that steps its nn schedule at its own moment.
SCHEDULES: Registry[Callable[[Any], Hook]] = Registry("schedule")


@SCHEDULES.register("constant")
class ConstantRate(Hook):
    """The learning rate stays as given."""

    def __init__(self, config: Any):
        self.config = config


@SCHEDULES.register("step")
class StepEachEpoch(ConstantRate):
    """lr x lr_decay after every epoch."""

    def on_start(self, state: Any) -> None:
        self.schedule = nn.StepLR(state.optimizer, step_size=1, gamma=self.config.lr_decay)

    def on_epoch(self, state: Any, log: Any) -> None:
        self.schedule.step()


@SCHEDULES.register("plateau")
class ReduceOnPlateau(ConstantRate):
    """lr x lr_decay when the dev score has not improved for more than an epoch."""

    def on_start(self, state: Any) -> None:
        self.schedule = nn.ReduceLROnPlateau(state.optimizer, mode="max", factor=self.config.lr_decay, patience=1)

    def on_epoch(self, state: Any, log: Any) -> None:
        self.schedule.step(state.score)


@SCHEDULES.register("linear")
class LinearWarmupDecay(ConstantRate):
    """Linear warm-up over the first epoch, then linear decay to 0 at the last update."""

    def on_start(self, state: Any) -> None:
        total = self.config.epochs * state.batches_per_epoch
        self.schedule = nn.LinearWarmup(state.optimizer, warmup_steps=min(state.batches_per_epoch, total - 1),
                                        total_steps=total)

    def on_batch(self, state: Any, loss: float) -> None:
        self.schedule.step()


def default_hooks(config: Any, save_best: Callable[[Any, dict[str, Any]], None] | None = None,
                  out_dir: str | Path | None = None, progress: bool = True,
                  epoch_lines: bool | None = None) -> list[Hook]:
    """The hooks of :func:`train`, in the order they run at each epoch's end."""
    hooks: list[Hook] = [SaveBest(save_best)] if save_best is not None else []
    hooks += [KeepBest(), History()]
    if out_dir is not None:
        hooks.append(MetricsFile(Path(out_dir) / "metrics.jsonl"))
    lines = progress if epoch_lines is None else epoch_lines
    if progress or lines:
        hooks.append(ProgressBar(bar=progress, lines=lines))
    return hooks + [SCHEDULES.get(config.schedule)(config), EarlyStopping(config.patience)]
