"""The Tagger API: load, tag raw text and token lists, batches, threads, round trips, bad files, binary models."""

from __future__ import annotations

import itertools
import json
import shutil
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import window_ner
from tests.ner._trained import binary_model, multiclass_model
from window_ner import nn
from window_ner.cli.demo import DEMO_SENTENCES
from window_ner.ner.data import tags as tagging
from window_ner.ner.data.conll import load_conll
from window_ner.ner.data.text import canonical_word
from window_ner.ner.data.tokenize import tokenize
from window_ner.ner.experiment import sample_corpus
from window_ner.ner.inference.tagger import MODEL_FILE, Entity, Tagger, pieces

TEXT = "Angela Merkel flew from Berlin to Paris on Tuesday."


@cache
def tagger() -> Tagger:
    return multiclass_model().load()


@cache
def dev_texts() -> tuple[str, ...]:
    """Sentences of the sample dev corpus as raw text (tokens joined by spaces)."""
    return tuple(" ".join(s.tokens) for s in load_conll(sample_corpus("dev")))


def all_entities(results: list[list[Entity]]) -> list[Entity]:
    return [entity for entities in results for entity in entities]


def check_offsets(text: str, entities: list[Entity]) -> None:
    labels = {tag.split("-", 1)[1] for tag in tagger().encoder.tags if tag != "O"}
    for entity in entities:
        assert entity.text == text[entity.start:entity.end]
        assert entity.text == entity.text.strip() and entity.text
        assert entity.label in labels
        assert 0 < entity.score <= 1


def test_load_from_folder_or_file_gives_the_same_tagger() -> None:
    folder = multiclass_model().folder
    by_folder, by_file = Tagger.load(folder), Tagger.load(folder / MODEL_FILE)
    assert by_folder(TEXT) == by_file(TEXT)
    assert window_ner.Tagger is Tagger  # the package-level shortcut


def test_raw_text_gives_entities_with_character_offsets() -> None:
    entities = tagger()(TEXT)
    assert isinstance(entities, list) and all(isinstance(e, Entity) for e in entities)
    check_offsets(TEXT, entities)
    assert ("Berlin", "LOC") in [(e.text, e.label) for e in entities]
    found = 0
    for text in (*DEMO_SENTENCES, *dev_texts()[:100]):
        entities = tagger()(text)
        check_offsets(text, entities)
        found += len(entities)
    assert found > 50


ODD = "  Maria Lopez ,  the chief executive\tof Nordwind Energy , met officials in  Geneva on Monday .\n\n" \
      "Brazil   beat Germany 2-1 in Sao Paulo .  "


@pytest.mark.parametrize("text", [TEXT, ODD, *DEMO_SENTENCES])
def test_raw_text_entities_are_the_token_entities_mapped_to_characters(text: str) -> None:
    sentences = tokenize(text)
    by_tokens = tagger().tag_tokens([[t.text for t in s.tokens] for s in sentences])
    expected = []
    for sentence, entities in zip(sentences, by_tokens, strict=True):
        for e in entities:
            assert 0 <= e.start < e.end <= len(sentence.tokens)
            assert e.text == " ".join(t.text for t in sentence.tokens[e.start:e.end])
            first, last = sentence.tokens[e.start].start, sentence.tokens[e.end - 1].end
            expected.append(Entity(text[first:last], e.label, first, last, e.score))
    entities = tagger()(text)
    check_offsets(text, entities)
    assert entities == expected


def test_odd_spacing_still_finds_entities() -> None:
    entities = tagger()(ODD)
    check_offsets(ODD, entities)
    assert len(entities) >= 3
    assert "Geneva" in {e.text for e in entities}


def test_empty_text_and_empty_batch() -> None:
    assert tagger()("") == []
    assert tagger()("   \n ") == []
    assert tagger()([]) == []
    assert tagger().tag_tokens([]) == []
    assert tagger().tag_tokens([[]]) == [[]]


def test_tag_tokens_gives_token_indices() -> None:
    sentences = [["EU", "rejects", "German", "call"],
                 ["Maria", "Lopez", "met", "officials", "in", "Geneva", "on", "Monday", "."]]
    results = tagger().tag_tokens(sentences)
    assert len(results) == 2
    for tokens, entities in zip(sentences, results, strict=True):
        for entity in entities:
            assert 0 <= entity.start < entity.end <= len(tokens)
            assert entity.text == " ".join(tokens[entity.start:entity.end])
            assert 0 < entity.score <= 1
    assert (5, 6, "Geneva", "LOC") in [(e.start, e.end, e.text, e.label) for e in results[1]]


def test_tag_tokens_agrees_with_predict() -> None:
    sentences = [s.tokens for s in load_conll(sample_corpus("dev"))[:40]]
    predicted = tagger().predict(sentences)
    for tags, entities in zip(predicted, tagger().tag_tokens(sentences), strict=True):
        tagging.validate(tags, "IOB2")  # constrained Viterbi never outputs an impossible sequence
        assert [(s, e, label) for s, e, label in tagging.spans(tags)] == \
            [(e.start, e.end, e.label) for e in entities]


def test_a_batch_of_documents_equals_each_alone() -> None:
    texts = [TEXT, *DEMO_SENTENCES, "", *dev_texts()[:20]]
    together = tagger()(texts)
    assert len(together) == len(texts)
    for text, entities in zip(texts, together, strict=True):
        alone = tagger()(text)
        assert [(e.text, e.label, e.start, e.end) for e in entities] == \
            [(e.text, e.label, e.start, e.end) for e in alone]
        assert [e.score for e in entities] == pytest.approx([e.score for e in alone], rel=1e-5)
    assert [[(e.text, e.start) for e in x] for x in tagger()(iter(texts[:3]))] == \
        [[(e.text, e.start) for e in x] for x in together[:3]]  # any iterable of texts


def test_several_threads_give_the_sequential_results() -> None:
    texts = list(dev_texts()[:50])
    assert len(texts) == 50
    shared = tagger()
    sequential = [shared(text) for text in texts]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(shared, texts))
    assert threaded == sequential
    assert sum(len(e) for e in sequential) > 20


def test_save_load_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    original = tagger()
    path = original.save(tmp_path / "copy", extra={"note": "round trip"})
    assert path == tmp_path / "copy" / MODEL_FILE
    copy = Tagger.load(tmp_path / "copy")
    assert copy.info["note"] == "round trip"
    assert copy.model.config == original.model.config and copy.encoder.tags == original.encoder.tags
    sentences = [s.tokens for s in load_conll(sample_corpus("test"))]
    data = original.encoder.encode(sentences)
    np.testing.assert_array_equal(copy.log_probs(data), original.log_probs(data))
    assert copy.predict(sentences) == original.predict(sentences)
    texts = list(dev_texts()[:30])
    assert copy(texts) == original(texts)


def test_a_missing_model_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="window-ner train"):
        Tagger.load(tmp_path / "nothing")


def _damaged(tmp_path: Path, damage: str) -> Path:
    path = tmp_path / damage / MODEL_FILE
    path.parent.mkdir()
    shutil.copy(multiclass_model().folder / MODEL_FILE, path)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "tail-cut":
        path.write_bytes(data[:-10])
    elif damage == "header":
        path.write_bytes(data[:8] + b"#" + data[9:])
    elif damage == "garbage":
        path.write_bytes(b"this is not a model\n" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "pickle":
        path.write_bytes(b"\x80\x04\x95" + data[3:])
    return path


@pytest.mark.parametrize("damage", ["truncated", "tail-cut", "header", "garbage", "empty", "pickle"])
def test_a_corrupted_model_file_is_a_clear_error_naming_it(tmp_path: Path, damage: str) -> None:
    path = _damaged(tmp_path, damage)
    with pytest.raises(ValueError) as caught:
        Tagger.load(path.parent)
    assert isinstance(caught.value, nn.ModelFileError)
    assert str(path) in str(caught.value)


def _rewritten(tmp_path: Path, change: str) -> Path:
    tensors, metadata = nn.io.load(multiclass_model().folder / MODEL_FILE)
    metadata = json.loads(json.dumps(metadata))
    if change == "no-metadata":
        metadata = {}
    elif change == "hidden":
        metadata["model"]["hidden"] = [10]
    elif change == "no-encoder":
        del metadata["encoder"]
    elif change == "activation":
        metadata["model"]["activation"] = "swish"
    elif change == "missing-tensor":
        del tensors["head.U"]
    elif change == "dropped-tag":
        metadata["encoder"]["labels"]["tags"].pop()
    elif change == "tag-twice":
        tags = metadata["encoder"]["labels"]["tags"]
        tags[2] = tags[1]
    elif change == "renamed-tag":
        metadata["encoder"]["labels"]["tags"][1] = "B-FOO"
    elif change == "tags-reordered":
        metadata["encoder"]["labels"]["tags"].reverse()
    elif change == "word-dropped":
        metadata["encoder"]["vocab"]["words"].pop()
    elif change == "encoder-window":
        metadata["encoder"]["window"] += 1
    path = tmp_path / f"{change}.safetensors"
    nn.io.save(path, tensors, metadata)
    return path


@pytest.mark.parametrize("change", ["no-metadata", "hidden", "no-encoder", "activation", "missing-tensor",
                                    "dropped-tag", "tag-twice", "renamed-tag", "tags-reordered", "word-dropped",
                                    "encoder-window"])
def test_a_model_file_whose_parts_do_not_fit_is_a_clear_error_naming_it(tmp_path: Path, change: str) -> None:
    """Rewritten with valid checksums (as a tool that edits the metadata would): the parts are checked
    against each other at load time, not when tagging."""
    path = _rewritten(tmp_path, change)
    with pytest.raises(nn.ModelFileError) as caught:
        Tagger.load(path)
    assert str(path) in str(caught.value)


def _flipped(tmp_path: Path, where: str) -> Path:
    data = bytearray((multiclass_model().folder / MODEL_FILE).read_bytes())
    header_end = 8 + int.from_bytes(data[:8], "little")
    if where == "weights":
        data[header_end + (len(data) - header_end) // 2] ^= 0x10  # one bit of one weight
    else:  # a word of the vocabulary, in the JSON metadata
        at = data.index(b"monday", 0, header_end)
        data[at:at + 6] = b"mondax"
    path = tmp_path / MODEL_FILE
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("where", "message"), [
    ("weights", r"tensor '[\w.]+' does not match its checksum"),
    ("vocabulary", r"the window-ner metadata \(vocabulary, tags, configuration\) does not match its checksum"),
])
def test_flipped_bytes_are_found_at_load_time(tmp_path: Path, where: str, message: str) -> None:
    path = _flipped(tmp_path, where)
    with pytest.raises(nn.ModelFileError, match=message) as caught:
        Tagger.load(path)
    assert str(path) in str(caught.value)


def test_a_header_length_equal_to_the_file_size_says_what_follows(tmp_path: Path) -> None:
    data = (multiclass_model().folder / MODEL_FILE).read_bytes()
    path = tmp_path / MODEL_FILE
    path.write_bytes(len(data).to_bytes(8, "little") + data[8:])
    with pytest.raises(nn.ModelFileError, match=rf"claims {len(data):,} bytes but only {len(data) - 8:,} follow it"):
        Tagger.load(path)


def test_unknown_decoder_is_refused() -> None:
    with pytest.raises(ValueError, match="decode"):
        tagger().decoded_by("beam")


def test_argmax_decoding_is_available() -> None:
    viterbi = tagger()
    argmax = viterbi.decoded_by("argmax")
    assert argmax.model.head.U is viterbi.model.head.U and viterbi.model.head.options.decode == "viterbi"
    sentences = [s.tokens for s in load_conll(sample_corpus("dev"))]
    data = viterbi.encoder.encode(sentences)
    ids = argmax.decode_ids(argmax.log_probs(data), data.starts)
    np.testing.assert_array_equal(ids, argmax.log_probs(data).argmax(axis=1))


def test_entity_to_dict_is_json_ready() -> None:
    entity = Entity("Paris", "LOC", 3, 8, 0.123456)
    assert json.loads(json.dumps(entity.to_dict())) == {"text": "Paris", "label": "LOC", "start": 3, "end": 8,
                                                        "score": 0.1235}


def test_binary_model_end_to_end(tmp_path: Path) -> None:
    trained = binary_model()
    binary = trained.load()
    assert binary.model.config.head == "binary" and binary.encoder.tags == ["O", "LOC"]
    assert trained.results["dev"]["f1"] > 0.5
    text = "Talks in Geneva ended , and Brazil beat Germany in Sao Paulo ."
    entities = binary(text)
    assert entities and all(e.label == "LOC" for e in entities)
    assert {"Geneva", "Sao Paulo"} <= {e.text for e in entities}
    for entity in entities:
        assert entity.text == text[entity.start:entity.end]
        assert 0 < entity.score <= 1
    # the two scores of a binary model are log sigma(-s) ("O") and log sigma(s) (LOC): they sum to one
    data = binary.encoder.encode([text.split()])
    np.testing.assert_allclose(np.exp(binary.log_probs(data)).sum(axis=1), 1, rtol=1e-5)
    binary.save(tmp_path)
    assert Tagger.load(tmp_path)(text) == entities
    assert all(tag in ("O", "LOC") for tags in binary.predict([text.split()]) for tag in tags)


def test_viterbi_output_read_tag_by_tag_equals_span_conversion() -> None:
    """The fast IOBES -> IOB2 reading of Viterbi output equals converting each sentence through its spans."""
    fast = tagger()
    sentences = [s.tokens for s in load_conll(sample_corpus("dev"))]
    slow = Tagger(fast.model, fast.encoder)
    data = slow.encoder.encode(sentences)
    ids = slow.decode_ids(slow.log_probs(data), data.starts)
    names = [slow.encoder.tags[i] for i in ids]
    expected = [tagging.convert(names[a:b], slow.encoder.labels.scheme, "IOB2")
                for a, b in zip(data.starts[:-1], data.starts[1:], strict=True)]
    assert slow.encoder.labels.scheme == "IOBES"
    assert any(tag.startswith(("E-", "S-")) for tag in names)  # the mapping is really exercised
    assert fast.predict(sentences) == expected


def test_predict_refuses_a_string_where_tokens_are_expected() -> None:
    tagger = Tagger.load(multiclass_model().folder)
    for wrong in ("Angela Merkel", ["Angela Merkel"]):
        with pytest.raises(TypeError, match="lists of tokens"):
            tagger.predict(wrong)


def test_decomposed_letters_and_joiners_tag_like_the_composed_text() -> None:
    composed = "Jos\u00e9 Mar\u00eda Aznar met officials of the United Nations in S\u00e3o Paulo and Berlin."
    decomposed = unicodedata.normalize("NFD", composed).replace("Berlin", "Ber\u200dlin")
    expected = tagger()(composed)
    got = tagger()(decomposed)
    check_offsets(decomposed, got)
    assert expected  # the test means something only if the model finds entities here
    assert [(e.label, round(e.score, 6)) for e in got] == [(e.label, round(e.score, 6)) for e in expected]
    assert [canonical_word(e.text).replace(" ", "") for e in got] == [e.text.replace(" ", "") for e in expected]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab .!?\n", max_size=300), st.integers(1, 40))
def test_pieces_cover_the_text_in_order_within_the_limit(text: str, limit: int) -> None:
    parts = list(pieces(text, limit))
    assert "".join(piece for _, piece in parts) == text
    assert [offset for offset, _ in parts] == list(itertools.accumulate([0] + [len(p) for _, p in parts[:-1]]))
    assert all(len(piece) <= limit for _, piece in parts)


def test_a_long_text_is_tagged_in_pieces_like_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    text = " ".join(DEMO_SENTENCES * 30)
    whole = tagger()(text)
    monkeypatch.setattr("window_ner.ner.inference.tagger.PIECE_CHARS", 500)
    monkeypatch.setattr("window_ner.ner.inference.tagger.BATCH_CHARS", 2_000)
    assert len(list(pieces(text, 500))) > 10
    cut = tagger()(text)
    # the same entities; the scores up to float32 rounding (BLAS may sum a smaller batch in another order)
    assert [replace(e, score=0.0) for e in cut] == [replace(e, score=0.0) for e in whole]
    assert [e.score for e in cut] == pytest.approx([e.score for e in whole], rel=1e-5)
    check_offsets(text, whole)
    assert whole  # something to compare
