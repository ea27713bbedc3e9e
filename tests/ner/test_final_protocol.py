"""The final-model protocol: after the train-only run, a model trained on train + dev, reported apart."""

from __future__ import annotations

import io
import json
from pathlib import Path

from window_ner.ner.data.conll import load_conll
from window_ner.ner.experiment import Experiment, run_experiment, sample_corpus
from window_ner.ner.inference.tagger import Tagger
from window_ner.ner.training.loop import TrainConfig


def _experiment(out: Path, final: bool) -> Experiment:
    return Experiment(train_path=sample_corpus("train"), dev_path=sample_corpus("dev"),
                      test_path=sample_corpus("dev"), out=out, final=final,
                      training=TrainConfig(epochs=3, patience=0, seed=2), progress=False)


def test_the_final_model_trains_on_train_and_dev_for_the_chosen_epochs(tmp_path: Path) -> None:
    log = io.StringIO()
    results, tagger = run_experiment(_experiment(tmp_path, final=True), log=log)
    final = results["final"]
    assert final["protocol"] == "train + dev" and final["epochs"] == results["best_epoch"]
    assert set(final) >= {"test", "train_seconds"} and "dev" not in final  # dev was seen: no dev score
    assert json.loads((tmp_path / "results.json").read_text())["final"] == final
    assert "final model (trained on train + dev)" in log.getvalue()
    trained_on = Tagger.load(tmp_path / "final")
    assert trained_on.info["protocol"] == "final (train + dev)"
    dev_words = {t for s in load_conll(sample_corpus("dev")) for t in s.tokens}
    train_words = {t for s in load_conll(sample_corpus("train")) for t in s.tokens}
    only_dev = sorted(w for w in dev_words - train_words if w.isalpha())[:20]
    assert only_dev and all(w in trained_on.encoder.vocab for w in only_dev)
    assert len(trained_on.encoder.vocab) > len(tagger.encoder.vocab)  # dev's new words joined the vocabulary
    assert (tmp_path / "final" / "metrics.jsonl").exists() and (tmp_path / "final" / "test.predictions.conll").exists()


def test_without_the_option_there_is_no_final_model(tmp_path: Path) -> None:
    results, _ = run_experiment(_experiment(tmp_path, final=False), log=io.StringIO())
    assert "final" not in results and not (tmp_path / "final").exists()
