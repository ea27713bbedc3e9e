"""Training: mini-batches, backpropagation, and a loop that yields its progress to hooks.

:func:`train_while_improving` is a generator: it trains and yields a :class:`Progress` after every batch and
at the end of every epoch (with the epoch's log and dev scores); it does no I/O. :func:`train` drives it and
hands every progress to its hooks (metrics.jsonl, the progress bar, saving and keeping the best model,
early stopping, learning-rate schedules: see ``hooks.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from window_ner import nn
from window_ner.errors import InputError
from window_ner.ner.model.classifier import WindowClassifier
from window_ner.ner.model.encoder import EncodedCorpus
from window_ner.ner.training.batches import BATCHINGS, Batch, Batching
from window_ner.ner.training.hooks import SCHEDULES, Hook, default_hooks
from window_ner.registry import Registry

__all__ = ["TrainConfig", "TrainState", "TrainingDiverged", "Progress", "EpochLog", "TrainLogs", "OPTIMIZERS", "train",
           "train_while_improving", "train_step", "batch_loss", "make_optimizer"]

DIVERGED_FACTOR = 100.0  # a batch loss this many times the first batch's (an untrained model's) is divergence

OPTIMIZERS: Registry[Callable[[list[nn.Parameter], Any], nn.Optimizer]] = Registry("optimizer")


@OPTIMIZERS.register("adam")
def _adam(params: list[nn.Parameter], config: TrainConfig) -> nn.Optimizer:
    return nn.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


@OPTIMIZERS.register("adamw")
def _adamw(params: list[nn.Parameter], config: TrainConfig) -> nn.Optimizer:
    return nn.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


@OPTIMIZERS.register("sgd")
def _sgd(params: list[nn.Parameter], config: TrainConfig) -> nn.Optimizer:
    return nn.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


@OPTIMIZERS.register("adagrad")
def _adagrad(params: list[nn.Parameter], config: TrainConfig) -> nn.Optimizer:
    return nn.Adagrad(params, lr=config.lr, weight_decay=config.weight_decay)


@dataclass
class TrainConfig:
    """How to train; saved with the model."""

    epochs: int = 25
    batch_size: int = 256  # token windows per mini-batch (sentence batches: about as many tokens)
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD only
    clip: float = 5.0  # max gradient norm; 0 turns clipping off
    patience: int = 5  # epochs without a better dev F1 before stopping; 0 trains every epoch
    schedule: str = "constant"  # step: lr x lr_decay each epoch; plateau: x lr_decay when dev F1 stalls;
    lr_decay: float = 0.5  # linear: warm up over the first epoch, then decay linearly to 0
    seed: int = 1
    batching: str = ""  # "windows" or "sentences"; empty: the head's own choice

    def __post_init__(self) -> None:
        SCHEDULES.get(self.schedule)  # an unknown name lists the choices
        OPTIMIZERS.get(self.optimizer)
        if self.batching:
            BATCHINGS.get(self.batching)
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 < self.lr < math.inf:
            raise InputError(f"lr must be a positive number, not {self.lr}")
        for name in ("patience", "clip", "weight_decay", "momentum"):
            if not 0 <= getattr(self, name) < math.inf:
                raise InputError(f"{name} must be a number >= 0, not {getattr(self, name)}")
        if not 0 < self.lr_decay < 1:
            raise InputError(f"lr_decay must be in (0, 1), not {self.lr_decay}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class TrainingDiverged(InputError):
    """The loss or the parameters stopped being sensible numbers: the settings (most often the learning
    rate) made training diverge. Raised before the diverged parameters can be saved."""


def check_loss(loss: float, first: float, epoch: int, batch: int, config: TrainConfig) -> None:
    """Raise :class:`TrainingDiverged` when a batch loss is not finite or far above the first batch's."""
    if math.isfinite(loss) and loss <= DIVERGED_FACTOR * max(first, 1e-3):
        return
    clip = "" if config.clip else " or clip the gradient norm (clip=5, --clip 5)"
    raise TrainingDiverged(f"training diverged: the loss reached {loss:.3g} at epoch {epoch}, batch {batch} "
                           f"(the first batch's was {first:.3g}); lower the learning rate (lr={config.lr:g}, "
                           f"--lr){clip}; nothing of this epoch was saved")


def check_parameters(model: WindowClassifier, epoch: int, config: TrainConfig) -> None:
    """Raise :class:`TrainingDiverged` when a parameter holds NaN or an infinity (checked once per epoch)."""
    for name, param in model.named_parameters():
        if not np.isfinite(param.data).all():
            raise TrainingDiverged(f"training diverged: parameter {name!r} holds NaN or infinite values after "
                                   f"epoch {epoch}; lower the learning rate (lr={config.lr:g}, --lr); nothing of "
                                   "this epoch was saved")


class TrainLogs(list):
    """The finished epochs' logs (a list of EpochLog), and whether Ctrl-C ended training early."""

    interrupted: bool = False


@dataclass
class EpochLog:
    """One line of metrics.jsonl."""

    epoch: int
    seconds: float
    tokens_per_s: float
    train_loss: float
    lr: float
    dev: dict[str, float] | None
    best: bool


@dataclass
class TrainState:
    """What the loop and its hooks share: the model, the optimiser, where training is, the best so far."""

    model: WindowClassifier
    optimizer: nn.Optimizer
    config: TrainConfig
    batching: Batching
    epoch: int = 0
    score: float = -math.inf  # this epoch's: dev F1, or minus the training loss without dev scores
    best_score: float = -math.inf
    best_epoch: int = 0
    stop: bool = False  # a hook sets it to end training after this epoch
    logs: TrainLogs = field(default_factory=TrainLogs)

    @property
    def batches_per_epoch(self) -> int:
        return len(self.batching)


@dataclass
class Progress:
    """After a batch (``log`` None, ``loss`` its mean loss) or at an epoch's end (``log`` set)."""

    state: TrainState
    loss: float = math.nan
    log: EpochLog | None = None


def make_optimizer(params: list[nn.Parameter], config: TrainConfig) -> nn.Optimizer:
    """The optimiser named in the config, with torch.optim's argument names."""
    return OPTIMIZERS.get(config.optimizer)(params, config)


def batch_loss(model: WindowClassifier, data: EncodedCorpus, index: np.ndarray, batch: Batch | None = None) -> Any:
    """The head's mean loss on the tokens ``index``."""
    return model.head.batch_loss(model, data.inputs(index), data.targets[index], batch)


def train_step(model: WindowClassifier, data: EncodedCorpus, index: np.ndarray, optimizer: nn.Optimizer,
               clip: float, batch: Batch | None = None) -> float:
    """One update on the tokens ``index``: loss, backward, gradient-norm clipping (if clip > 0), optimiser
    step. Returns the batch's mean loss."""
    loss = batch_loss(model, data, index, batch)
    optimizer.zero_grad()  # its flat list: cheaper than walking the module tree
    loss.backward()
    if clip > 0:
        nn.clip_grad_norm(optimizer.params, clip)
    optimizer.step()
    return loss.item()


def train_while_improving(state: TrainState, data: EncodedCorpus,
                          evaluate: Callable[[WindowClassifier], dict[str, float]] | None = None) -> Iterator[Progress]:
    """Train epoch after epoch, yielding after every batch and at every epoch's end; stops after
    ``config.epochs`` or when a hook sets ``state.stop``.

    ``evaluate(model)`` returns dev metrics with an "f1" key; without it, an epoch is best when its
    training loss is the lowest so far. A diverging run raises :class:`TrainingDiverged` (see
    :func:`check_loss`) before the epoch's progress reaches the hooks that save.
    """
    model, config = state.model, state.config
    rng = np.random.default_rng(config.seed)
    n = len(data)
    first_loss: float | None = None  # an untrained model's loss: the yardstick for divergence
    for epoch in range(1, config.epochs + 1):
        state.epoch = epoch
        model.train()
        start, total_loss = time.perf_counter(), 0.0
        for number, batch in enumerate(state.batching.epoch(rng), 1):
            with np.errstate(over="ignore", invalid="ignore"):  # what overflows is caught just below
                loss = train_step(model, data, batch.tokens, state.optimizer, config.clip, batch)
            first_loss = loss if first_loss is None else first_loss
            check_loss(loss, first_loss, epoch, number, config)
            total_loss += loss * len(batch)
            yield Progress(state, loss)
        seconds = time.perf_counter() - start
        check_parameters(model, epoch, config)
        train_loss = total_loss / n
        model.eval()
        dev = evaluate(model) if evaluate is not None else None
        state.score = dev["f1"] if dev is not None else -train_loss
        improved = state.score > state.best_score
        if improved:
            state.best_score, state.best_epoch = state.score, epoch
        yield Progress(state, train_loss, EpochLog(epoch, round(seconds, 3), round(n / seconds, 1),
                                                   round(train_loss, 6), state.optimizer.lr, dev, improved))
        if state.stop:
            return


def train(
    model: WindowClassifier,
    train_data: EncodedCorpus,
    config: TrainConfig,
    evaluate: Callable[[WindowClassifier], dict[str, float]] | None = None,
    save_best: Callable[[WindowClassifier, dict[str, Any]], None] | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    hooks: Sequence[Hook] = (),
    epoch_lines: bool | None = None,
) -> TrainLogs:
    """Train ``model`` in place, keeping the parameters of the epoch with the best dev F1.

    ``evaluate(model)`` returns dev metrics with an "f1" key (see :func:`train_while_improving`).
    ``save_best(model, info)`` is called each time dev F1 improves (write the model file there).
    One JSON line per epoch goes to ``out_dir/metrics.jsonl``, started afresh when the first epoch ends (so
    an interrupted first epoch leaves an earlier run's files as they were). With ``progress``, a bar and one
    line per epoch go to stderr (the bar only on a terminal; ``epoch_lines`` turns the lines on or off on
    their own). ``hooks`` run after the standard ones.
    Ctrl-C stops at once and returns the finished epochs' logs, marked ``interrupted``, with the best
    parameters so far restored (no logs if it came during the first epoch).
    """
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], config)
    batching = BATCHINGS.get(config.batching or model.head.batching)(train_data, config.batch_size)
    state = TrainState(model, optimizer, config, batching)
    every = default_hooks(config, save_best, out_dir, progress, epoch_lines) + list(hooks)
    return run_hooks(train_while_improving(state, train_data, evaluate), state, every)


def run_hooks(progress: Iterator[Progress], state: TrainState, hooks: Sequence[Hook]) -> TrainLogs:
    """Drive the loop, handing each progress to every hook; Ctrl-C ends it, marked interrupted."""
    for hook in hooks:
        hook.on_start(state)
    try:
        for item in progress:
            for hook in hooks:
                if item.log is None:
                    hook.on_batch(state, item.loss)
                else:
                    hook.on_epoch(state, item.log)
    except KeyboardInterrupt:
        state.logs.interrupted = True
    finally:
        for hook in hooks:
            hook.on_end(state)
    state.model.eval()
    return state.logs
