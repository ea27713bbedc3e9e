"""Ctrl-C at a chosen moment of training, for the tests of what an interrupted run keeps."""

from __future__ import annotations

from typing import Any

import pytest


def interrupt_at_dev_score(monkeypatch: pytest.MonkeyPatch, which: int = 2) -> None:
    """Make every training of the experiment module raise KeyboardInterrupt at its ``which``-th dev score."""
    from window_ner.ner import experiment

    real_train = experiment.train

    def train(model: Any, data: Any, config: Any, evaluate: Any, *rest: Any, **options: Any) -> Any:
        scored: list[int] = []

        def evaluate_then_interrupt(current: Any) -> Any:
            scored.append(1)
            if len(scored) == which:
                raise KeyboardInterrupt
            return evaluate(current)

        return real_train(model, data, config, evaluate_then_interrupt, *rest, **options)

    monkeypatch.setattr(experiment, "train", train)
