"""CoNLL-2003 with GloVe 50d: three epochs of the window classifier reach dev entity F1 >= 0.85.

Three epochs take about 11 s on an idle 2-core machine (the issue asks for under 2 minutes); that time is
a benchmark figure (docs/benchmarks.md), not asserted here, since a loaded machine would make it flaky.

Needs ../shared/data (skips with a reason otherwise). Marked slow so a developer can deselect it with
``-m "not slow"``; the default run and CI include it. A broken model, loss or optimiser cannot reach 0.85:
the measured figure is about 0.898, and a tagger marking every capitalised word as its most frequent type
stays far below.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from window_ner.ner.data.conll import load_conll
from window_ner.ner.experiment import Experiment, predict_and_score, run_experiment
from window_ner.ner.inference.tagger import Tagger
from window_ner.ner.model.classifier import ModelOptions
from window_ner.ner.training.loop import TrainConfig

pytestmark = pytest.mark.slow

MIN_DEV_F1 = 0.85


def test_glove_window_model_reaches_dev_f1_085(conll2003_dir: Path, glove_path: Path, tmp_path: Path) -> None:
    log = io.StringIO()
    exp = Experiment(
        train_path=conll2003_dir / "train.txt", dev_path=conll2003_dir / "dev.txt",
        test_path=conll2003_dir / "test.txt", vectors_path=glove_path, out=tmp_path,
        training=TrainConfig(epochs=3, patience=0, seed=1),
        model=ModelOptions(dropout_input=0.2, dropout_hidden=0.5), progress=False,
    )
    began = time.perf_counter()
    results, tagger = run_experiment(exp, log=log)
    seconds = time.perf_counter() - began
    assert results["epochs"] == 3
    assert results["dev"]["f1"] >= MIN_DEV_F1, log.getvalue()
    assert results["test"]["f1"] >= 0.80, log.getvalue()  # test is harder (measured about 0.85)
    print(f"dev F1 {results['dev']['f1']:.4f}, test F1 {results['test']['f1']:.4f}, {seconds:.1f} s")
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    epoch_f1 = [json.loads(line)["dev"]["f1"] for line in lines]
    assert results["dev"]["f1"] == pytest.approx(max(epoch_f1))  # the best epoch's parameters were kept
    # The saved file is the best epoch's model: loaded again, it scores the same dev F1.
    loaded = Tagger.load(tmp_path)
    dev = load_conll(conll2003_dir / "dev.txt")
    assert predict_and_score(loaded, dev)[1].summary()["f1"] == pytest.approx(results["dev"]["f1"])
    entities = loaded("Angela Merkel flew from Berlin to Paris on Tuesday.")
    assert ("Berlin", "LOC") in [(e.text, e.label) for e in entities]
    assert ("Paris", "LOC") in [(e.text, e.label) for e in entities]


MIN_CRF_DEV_F1 = 0.85


def test_the_crf_head_learns_on_the_real_corpus(conll2003_dir: Path, glove_path: Path) -> None:
    """Two epochs of the CRF head (sentence batches, the forward algorithm's gradient) reach dev F1 0.85.

    A CRF whose loss or gradient is broken does not train its emissions and stays far below; the test also
    checks that the transition scores were learned and that entities get span probabilities.
    """
    from window_ner.ner.model.heads import CRFHead

    log = io.StringIO()
    exp = Experiment(
        train_path=conll2003_dir / "train.txt", dev_path=conll2003_dir / "dev.txt", vectors_path=glove_path,
        training=TrainConfig(epochs=2, patience=0, seed=1), head="crf", head_options=CRFHead.Options(),
        model=ModelOptions(dropout_input=0.2, dropout_hidden=0.5), progress=False,
    )
    results, tagger = run_experiment(exp, log=log)
    assert results["dev"]["f1"] >= MIN_CRF_DEV_F1, log.getvalue()
    head = tagger.model.head
    allowed = head.allowed
    assert abs(head.transitions.data[allowed]).max() > 0.1  # the transition scores moved from their zeros
    entities = tagger("Angela Merkel flew from Berlin to Paris on Tuesday.")
    assert ("Angela Merkel", "PER") in [(e.text, e.label) for e in entities]
    assert all(0 < e.score <= 1 for e in entities)  # span probabilities from forward-backward
