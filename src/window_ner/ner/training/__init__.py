"""Training: mini-batches (windows or sentences), the loop that yields its progress, and its hooks."""

from window_ner.ner.training.batches import BATCHINGS, Batch, SentenceBatches, WindowBatches
from window_ner.ner.training.hooks import SCHEDULES, Hook
from window_ner.ner.training.loop import (
    OPTIMIZERS,
    EpochLog,
    Progress,
    TrainConfig,
    TrainLogs,
    TrainState,
    train,
    train_step,
    train_while_improving,
)

__all__ = ["BATCHINGS", "Batch", "WindowBatches", "SentenceBatches", "SCHEDULES", "Hook", "OPTIMIZERS",
           "EpochLog", "Progress", "TrainConfig", "TrainLogs", "TrainState", "train", "train_step",
           "train_while_improving"]
