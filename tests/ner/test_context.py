"""Document context: the doc feature's numbers, the two-stage tagger, cross-fitting, and the model file."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests._interrupts import interrupt_at_dev_score
from window_ner.errors import InputError
from window_ner.ner.data.conll import load_conll
from window_ner.ner.experiment import Experiment, run_experiment, sample_corpus
from window_ner.ner.inference.tagger import FIRST_STAGE, Tagger
from window_ner.ner.model.classifier import ModelOptions
from window_ner.ner.model.context import DocumentFeature, type_matrix
from window_ner.ner.model.features import feature_from_dict
from window_ner.ner.training.loop import TrainConfig
from window_ner.nn.io import ModelFileError, load, save


def test_type_matrix_sums_each_types_tags_and_puts_o_last() -> None:
    matrix = type_matrix(["O", "B-LOC", "I-LOC", "S-PER", "E-PER"], ["LOC", "PER"])
    assert matrix.tolist() == [[0, 0, 1], [1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]]
    probs = np.array([[0.1, 0.2, 0.3, 0.25, 0.15]])
    assert np.allclose(probs @ matrix, [[0.5, 0.4, 0.1]])


def test_each_token_gets_the_mean_over_the_other_occurrences_in_its_document() -> None:
    feature = DocumentFeature(["LOC", "PER"])
    tokens = ["Major", "said", "Major", "MAJOR", "major", "Major"]
    documents = np.array([0, 0, 0, 0, 0, 1])
    probs = np.array([[0.1, 0.8, 0.1], [0.0, 0.0, 1.0], [0.3, 0.4, 0.3], [0.2, 0.2, 0.6], [0.0, 0.5, 0.5],
                      [0.9, 0.05, 0.05]])
    values = feature.values(tokens, documents, probs)
    assert values.shape == (6, feature.dim) == (6, 8) and values.dtype == np.float32
    exact, exact_count, lower, lower_count = values[:, :3], values[:, 3], values[:, 4:7], values[:, 7]
    # "Major" twice in document 0: each sees the other; "Major" of document 1 is alone there
    assert np.allclose(exact[0], probs[2]) and np.allclose(exact[2], probs[0])
    assert np.allclose(exact[[1, 3, 4, 5]], 0) and np.allclose(exact_count, np.log1p([1, 0, 1, 0, 0, 0]))
    # lowercased, "major" is four tokens of document 0: each gets the mean of the three others
    for i in (0, 2, 3, 4):
        others = [j for j in (0, 2, 3, 4) if j != i]
        assert np.allclose(lower[i], probs[others].mean(axis=0))
    assert np.allclose(lower[[1, 5]], 0) and np.allclose(lower_count, np.log1p([3, 0, 3, 3, 3, 0]))


def test_the_feature_refuses_tokens_without_their_first_pass_and_saves_its_types() -> None:
    feature = DocumentFeature(["LOC", "MISC", "ORG", "PER"])
    assert feature.dim == 12 and feature.size == 0  # the study's 12 numbers per position; no table
    with pytest.raises(TypeError, match="Tagger.encode"):
        feature.ids(["a"])
    with pytest.raises(ValueError, match=r"\(1, 5\) type probabilities"):
        feature.values(["a"], np.zeros(1), np.zeros((1, 3)))
    assert feature_from_dict(json.loads(json.dumps(feature.to_dict()))) == feature


def options(**kw: object) -> Experiment:
    base = dict(train_path=sample_corpus("train"), dev_path=sample_corpus("dev"), test_path=sample_corpus("test"),
                model=ModelOptions(features=("caps", "doc")), training=TrainConfig(epochs=3), progress=False,
                doc_folds=2)
    return Experiment(**{**base, **kw})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Tagger, Path]:
    out = tmp_path_factory.mktemp("doc") / "model"
    results, tagger = run_experiment(options(out=out), log=io.StringIO())
    return results, tagger, out


def test_a_doc_model_is_two_stages_in_one_file_and_tags_the_same_after_loading(trained) -> None:
    results, tagger, out = trained
    assert tagger.first_stage is not None and "doc" not in tagger.first_stage.encoder.features
    assert results["first_stage"]["folds"] == 2 and results["first_stage"]["best_epoch"] >= 1
    tensors, metadata = load(out / "model.safetensors")
    assert FIRST_STAGE in metadata and any(name.startswith(FIRST_STAGE + ".") for name in tensors)
    loaded = Tagger.load(out)
    sentences = load_conll(sample_corpus("test"))[:60]
    tokens, documents = [s.tokens for s in sentences], [s.doc for s in sentences]
    assert loaded.predict(tokens, documents) == tagger.predict(tokens, documents)
    ours = tagger.log_probs(tagger.encode(tokens, documents=documents))
    theirs = loaded.log_probs(loaded.encode(tokens, documents=documents))
    assert np.array_equal(ours, theirs)


def test_what_the_document_says_reaches_the_second_stage(trained) -> None:
    _, tagger, _ = trained
    sentences = [["Smith", "arrived", "in", "Paris", "."], ["Mr", "Smith", "said", "."]]
    together = tagger.encode(sentences, documents=[0, 0]).feature_windows["doc"]
    apart = tagger.encode(sentences, documents=[0, 1]).feature_windows["doc"]
    alone = tagger.encode(sentences).feature_windows["doc"]  # each sentence a document of its own
    assert np.array_equal(apart, alone)
    centre = together.shape[1] // 2
    assert np.abs(together[0, centre]).sum() > 0  # "Smith" also occurs in the other sentence
    assert np.abs(apart[0, centre]).sum() == 0
    # raw text: each text is one document
    assert tagger.tag_texts(["Smith arrived in Paris. Mr Smith said."]) is not None


def test_cross_fitted_probabilities_differ_from_the_first_stages_own(trained) -> None:
    from window_ner.ner.experiment import _first_stage, _load_splits

    exp = options()
    splits = _load_splits(exp)
    _, fitted, _ = _first_stage(exp, splits, io.StringIO())
    _, own, _ = _first_stage(options(doc_folds=0), splits, io.StringIO())
    n = sum(len(s.tokens) for s in splits.train)
    assert fitted.shape == own.shape == (n, 5)
    assert np.allclose(fitted.sum(axis=1), 1, atol=1e-5) and np.allclose(own.sum(axis=1), 1, atol=1e-5)
    # a model that saw the sentence is surer of its gold types than one that did not
    gold_o = np.concatenate([[tag == "O" for tag in s.tags] for s in splits.train])
    assert own[gold_o, 4].mean() > fitted[gold_o, 4].mean()


def test_bad_doc_settings_are_refused_before_any_work() -> None:
    from window_ner.ner.model.heads import BinaryHead

    with pytest.raises(InputError, match="--doc-folds"):
        options(doc_folds=1)
    with pytest.raises(InputError, match="binary head"):
        options(head="binary", head_options=BinaryHead.Options("LOC"))


def test_a_tagger_and_its_first_stage_must_match(trained) -> None:
    _, tagger, _ = trained
    with pytest.raises(InputError, match="first-stage tagger"):
        Tagger(tagger.model, tagger.encoder)  # the doc feature with nothing to give it its numbers
    first = tagger.first_stage
    with pytest.raises(InputError, match="first-stage tagger"):
        Tagger(first.model, first.encoder, first_stage=first)  # no doc feature to read a first stage


def test_a_file_without_its_first_stage_is_refused(trained, tmp_path: Path) -> None:
    _, _, out = trained
    tensors, metadata = load(out / "model.safetensors")
    del metadata[FIRST_STAGE]
    damaged = tmp_path / "damaged.safetensors"
    save(damaged, {k: v for k, v in tensors.items() if not k.startswith(FIRST_STAGE + ".")}, metadata)
    with pytest.raises(ModelFileError, match="first-stage tagger"):
        Tagger.load(damaged)


def test_the_cli_trains_tags_and_evaluates_a_doc_model(tmp_path: Path) -> None:
    out = tmp_path / "m"
    run = subprocess.run([sys.executable, "-m", "window_ner", "train", "--train", str(sample_corpus("train")),
                          "--dev", str(sample_corpus("dev")), "--features", "caps,doc", "--doc-folds", "0",
                          "--epochs", "2", "--no-progress", "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "first stage" in run.stderr
    tagged = subprocess.run([sys.executable, "-m", "window_ner", "tag", "--model", str(out),
                             "Peter Blackburn went to Brussels. Blackburn spoke."], capture_output=True, text=True)
    assert tagged.returncode == 0, tagged.stderr
    scored = subprocess.run([sys.executable, "-m", "window_ner", "evaluate", "--model", str(out), "--data",
                             str(sample_corpus("test"))], capture_output=True, text=True)
    assert scored.returncode == 0 and "FB1" in scored.stdout + scored.stderr, scored.stderr


def test_tagging_a_conll_file_keeps_each_document_in_one_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    from window_ner.cli import tag
    from window_ner.ner.data.conll import Sentence

    monkeypatch.setattr(tag, "CONLL_CHUNK", 3)
    monkeypatch.setattr(tag, "MAX_CHUNK", 5)
    docs = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3]  # document 2 runs past MAX_CHUNK: it is cut there
    chunks = list(tag._sentence_chunks(iter(Sentence(["x"], doc=d) for d in docs)))
    assert [[s.doc for s in chunk] for chunk in chunks] == [[0, 0, 0, 0], [1, 1, 2, 2, 2], [2, 2, 2, 2], [3]]


def test_the_second_stage_takes_the_windows_it_shares_with_the_first_and_gets_the_same(trained) -> None:
    _, tagger, _ = trained
    assert tagger._shared == (True, frozenset({"caps"}))  # same words and caps; doc is the second's own
    sentences = load_conll(sample_corpus("dev"))[:40]
    tokens, documents = [s.tokens for s in sentences], [s.doc for s in sentences]
    shared = tagger.encode(tokens, documents=documents)
    first = tagger.first_stage.encode(tokens, documents=documents)
    context = tagger.first_stage.type_probabilities(first, tagger.encoder.features["doc"].types)
    alone = tagger.encoder.encode(tokens, documents=documents, context=context)  # everything computed again
    assert np.array_equal(shared.word_windows, alone.word_windows)
    assert shared.feature_windows.keys() == alone.feature_windows.keys()
    for name in alone.feature_windows:
        assert np.array_equal(shared.feature_windows[name], alone.feature_windows[name])
    with pytest.raises(ValueError, match="other sentences"):
        tagger.encoder.encode(tokens[:3], context=context[:sum(map(len, tokens[:3]))], reuse=(first, True, frozenset()))


def test_ctrl_c_during_the_first_stage_writes_nothing_and_exits_130(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from window_ner.cli import main

    interrupt_at_dev_score(monkeypatch, 2)
    out = tmp_path / "run"
    code = main(["train", "--train", str(sample_corpus("train")), "--dev", str(sample_corpus("dev")), "--out",
                 str(out), "--epochs", "5", "--hidden", "16", "--no-progress"])  # caps,doc: the default
    assert code == 130
    assert not (out / "model.safetensors").exists() and not (out / "results.json").exists()


def test_a_file_without_documents_is_cross_fitted_by_sentences_and_a_tiny_one_not_at_all(tmp_path: Path) -> None:
    from window_ner.ner.experiment import _first_stage, _load_splits

    text = sample_corpus("train").read_text(encoding="utf-8")
    flat = tmp_path / "flat.conll"  # no -DOCSTART-: the whole file is one document
    flat.write_text("\n".join(line for line in text.splitlines() if not line.startswith("-DOCSTART-")) + "\n",
                    encoding="utf-8")
    exp = options(train_path=flat, training=TrainConfig(epochs=1))
    splits = _load_splits(exp)
    assert len({s.doc for s in splits.train}) == 1
    _, context, summary = _first_stage(exp, splits, io.StringIO())
    assert summary["folds"] == 2
    assert np.allclose(context.sum(axis=1), 1, atol=1e-5)  # every sentence got its numbers from a fold model
    tiny = tmp_path / "tiny.conll"
    tiny.write_text("Paris B-LOC\n", encoding="utf-8")
    log = io.StringIO()
    results, _ = run_experiment(options(train_path=tiny, doc_folds=5, training=TrainConfig(epochs=1)), log=log)
    assert results["first_stage"]["folds"] == 0 and "1 training sentence cannot make 5 folds" in log.getvalue()
