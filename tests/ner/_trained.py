"""Small models trained once per test session on the bundled sample corpus, shared by the NER and CLI tests.

Conftest files belong to the lead, so the session cache is a module-level ``functools.cache``: the first test that
asks for a model trains it (a few seconds), every later one gets the same folder. Callers must not change
the files; copy them first if a test needs to damage one.
"""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from window_ner.ner.experiment import Experiment, run_experiment, sample_corpus
from window_ner.ner.inference.tagger import Tagger
from window_ner.ner.model.classifier import ModelOptions
from window_ner.ner.model.heads import BinaryHead, SoftmaxHead
from window_ner.ner.training.loop import TrainConfig

EPOCHS = 3


@dataclass(frozen=True)
class Trained:
    """A trained model: its folder (model.safetensors, metrics.jsonl, results.json, predictions)."""

    folder: Path
    results: dict[str, Any]
    log: str

    def load(self) -> Tagger:
        return Tagger.load(self.folder)


def _folder(name: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"window-ner-{name}-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def _train(name: str, binary: str | None) -> Trained:
    folder = _folder(name)
    log = io.StringIO()
    exp = Experiment(train_path=sample_corpus("train"), dev_path=sample_corpus("dev"),
                     test_path=sample_corpus("test"), out=folder,
                     model=ModelOptions(dropout_input=0.0, dropout_hidden=0.0),
                     head="binary" if binary else "softmax",
                     head_options=BinaryHead.Options(binary) if binary else SoftmaxHead.Options(),
                     training=TrainConfig(epochs=EPOCHS, patience=0, seed=1), progress=False)
    results, _ = run_experiment(exp, log=log)
    return Trained(folder, results, log.getvalue())


@cache
def multiclass_model() -> Trained:
    """The default window classifier (IOBES, caps feature, hidden 300 tanh), 3 epochs on the sample corpus."""
    return _train("multiclass", None)


@cache
def binary_model() -> Trained:
    """The lecture's binary model J = sigma(u . h): is the centre word a LOC? 3 epochs on the sample corpus."""
    return _train("binary", "LOC")
