"""Training: mini-batches of windows, backpropagation, early stopping on dev entity F1."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from window_ner import nn
from window_ner.autodiff import Tensor
from window_ner.ner.encoder import EncodedCorpus
from window_ner.ner.model import WindowClassifier

OPTIMIZERS = ("adam", "adamw", "sgd", "adagrad")
SCHEDULES = ("constant", "step", "plateau", "linear")


@dataclass
class TrainConfig:
    """How to train; saved with the model."""

    epochs: int = 25
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD only
    clip: float = 5.0  # max gradient norm; 0 turns clipping off
    patience: int = 5  # epochs without a better dev F1 before stopping; 0 trains every epoch
    schedule: str = "constant"  # step: lr x lr_decay each epoch; plateau: x lr_decay when dev F1 stalls;
    lr_decay: float = 0.5  # linear: warm up over the first epoch, then decay linearly to 0
    seed: int = 1

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 < self.lr < math.inf:
            raise ValueError(f"lr must be a positive number, not {self.lr}")
        for name in ("patience", "clip", "weight_decay", "momentum"):
            if not 0 <= getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be a number >= 0, not {getattr(self, name)}")
        if not 0 < self.lr_decay < 1:
            raise ValueError(f"lr_decay must be in (0, 1), not {self.lr_decay}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


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


def make_optimizer(params: list[nn.Parameter], config: TrainConfig) -> Any:
    """The optimiser named in the config, with torch.optim's argument names."""
    if config.optimizer == "adam":
        return nn.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return nn.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adagrad":
        return nn.Adagrad(params, lr=config.lr, weight_decay=config.weight_decay)
    return nn.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


def make_schedule(optimizer: Any, config: TrainConfig, batches_per_epoch: int) -> Any:
    """The learning-rate schedule named in the config (None for a constant rate)."""
    if config.schedule == "step":
        return nn.StepLR(optimizer, step_size=1, gamma=config.lr_decay)
    if config.schedule == "plateau":
        return nn.ReduceLROnPlateau(optimizer, mode="max", factor=config.lr_decay, patience=1)
    if config.schedule == "linear":
        total = config.epochs * batches_per_epoch
        return nn.LinearWarmup(optimizer, warmup_steps=min(batches_per_epoch, total - 1), total_steps=total)
    return None


def batch_loss(model: WindowClassifier, data: EncodedCorpus, index: np.ndarray) -> Tensor:
    """Mean loss of the windows ``index``: softmax cross-entropy, or the binary J = sigma(s) loss."""
    scores = model(data.word_windows[index], {k: v[index] for k, v in data.feature_windows.items()})
    if model.config.binary:
        return nn.binary_cross_entropy_with_logits(scores, data.targets[index].astype(scores.dtype))
    return nn.cross_entropy(scores, data.targets[index])


def train_step(model: WindowClassifier, data: EncodedCorpus, index: np.ndarray, optimizer: Any, clip: float) -> float:
    """One update on the windows ``index``: loss, backward, gradient-norm clipping (if clip > 0), optimiser
    step. Returns the batch's mean loss."""
    loss = batch_loss(model, data, index)
    optimizer.zero_grad()  # its flat list: cheaper than walking the module tree
    loss.backward()
    if clip > 0:
        nn.clip_grad_norm(optimizer.params, clip)
    optimizer.step()
    return loss.item()


def train(
    model: WindowClassifier,
    train_data: EncodedCorpus,
    config: TrainConfig,
    evaluate: Callable[[WindowClassifier], dict[str, float]] | None = None,
    save_best: Callable[[WindowClassifier, dict[str, Any]], None] | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
) -> TrainLogs:
    """Train ``model`` in place, keeping the parameters of the epoch with the best dev F1.

    ``evaluate(model)`` returns dev metrics with an "f1" key; without it, an epoch is best when its training
    loss is the lowest so far (early stopping and the restored parameters then follow the training loss).
    ``save_best(model, info)`` is called each time dev F1 improves (write the model file there).
    One JSON line per epoch goes to ``out_dir/metrics.jsonl``, started afresh when the first epoch ends (so
    an interrupted first epoch leaves an earlier run's files as they were). With ``progress``, a bar and one
    line per epoch go to stderr (the bar only on a terminal). Ctrl-C stops at once and returns the finished
    epochs' logs, marked ``interrupted``, with the best parameters so far restored (no logs if it came during
    the first epoch).
    """
    rng = np.random.default_rng(config.seed)
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], config)
    log_path = Path(out_dir) / "metrics.jsonl" if out_dir is not None else None
    logs = TrainLogs()
    best_f1, best_state, waited = -math.inf, None, 0
    n = len(train_data)
    n_batches = math.ceil(n / config.batch_size)
    schedule = make_schedule(optimizer, config, n_batches)
    per_step = isinstance(schedule, nn.LinearWarmup)
    bar = _progress_bar(config.epochs * n_batches, progress)
    try:
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = rng.permutation(n)
            start, total_loss = time.perf_counter(), 0.0
            for first in range(0, n, config.batch_size):
                index = order[first:first + config.batch_size]
                total_loss += train_step(model, train_data, index, optimizer, config.clip) * len(index)
                if per_step:
                    schedule.step()
                if bar is not None:
                    bar.update(1)
            seconds = time.perf_counter() - start
            train_loss = total_loss / n
            model.eval()
            dev = evaluate(model) if evaluate is not None else None
            f1 = dev["f1"] if dev is not None else -train_loss
            improved = f1 > best_f1
            if improved:
                if save_best is not None:  # first: a save cut short leaves best_state matching the file
                    save_best(model, {"epoch": epoch, "dev": dev})
                best_f1, best_state, waited = f1, model.state_dict(), 0
            else:
                waited += 1
            log = EpochLog(epoch, round(seconds, 3), round(n / seconds, 1), round(train_loss, 6),
                           optimizer.lr, dev, improved)
            logs.append(log)
            if log_path is not None:
                log_path.parent.mkdir(parents=True, exist_ok=True)
                with log_path.open("w" if epoch == 1 else "a") as handle:
                    handle.write(json.dumps(asdict(log)) + "\n")
            if bar is not None:
                dev_text = "" if dev is None else f", dev F1 {100 * dev['f1']:.2f}" + (" (best)" if improved else "")
                bar.write(f"epoch {epoch}: loss {train_loss:.4f}{dev_text}, {n / seconds:,.0f} tokens/s",
                          file=sys.stderr)
            if isinstance(schedule, nn.ReduceLROnPlateau):
                schedule.step(f1)
            elif schedule is not None and not per_step:
                schedule.step()
            if config.patience and waited >= config.patience:
                break
    except KeyboardInterrupt:
        logs.interrupted = True
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return logs


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    # disable=None: no bar when stderr is not a terminal (a log file would fill with redraws)
    return tqdm(total=total, unit="batch", dynamic_ncols=True, leave=False, disable=None, file=sys.stderr)
