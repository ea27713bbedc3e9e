"""Checks of the bundled CC0 sample corpus: size, entity counts, valid IOB2 and tokenizer conventions."""
from __future__ import annotations

from collections import Counter
from importlib import resources

import pytest

from window_ner.ner.data.tokenize import tokenize

SPLITS = ("train", "dev", "test")
TYPES = ("PER", "LOC", "ORG", "MISC")


def read_split(split: str) -> list[list[list[tuple[str, str]]]]:
    """Documents of one split, each a list of sentences of (token, tag) pairs."""
    path = resources.files("window_ner.ner.data") / "corpus" / f"sample.{split}.conll"
    documents: list[list[list[tuple[str, str]]]] = []
    sentence: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if not fields:
            if sentence:
                documents[-1].append(sentence)
                sentence = []
            continue
        if fields[0] == "-DOCSTART-":
            assert not sentence
            documents.append([])
            continue
        assert len(fields) == 2, f"expected 'token TAG', got {line!r}"
        assert documents, "sentence before the first -DOCSTART-"
        sentence.append((fields[0], fields[-1]))
    if sentence:
        documents[-1].append(sentence)
    return documents


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[list[list[tuple[str, str]]]]]:
    return {split: read_split(split) for split in SPLITS}


def entities(sentence: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(entity text, type) for each entity of an IOB2 sentence."""
    found, current, label = [], [], None
    for token, tag in [*sentence, ("", "O")]:
        if tag.startswith("I-") and label == tag[2:]:
            current.append(token)
            continue
        if current:
            found.append((" ".join(current), label))
        current, label = ([token], tag[2:]) if tag.startswith("B-") else ([], None)
    return found


def test_files_are_packaged_with_licence_and_readme() -> None:
    folder = resources.files("window_ner.ner.data") / "corpus"
    assert "CC0 1.0" in (folder / "LICENSE").read_text(encoding="utf-8")
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "make_sample_corpus.py" in readme
    total = sum(len((folder / f"sample.{s}.conll").read_bytes()) for s in SPLITS)
    assert total < 500_000


def test_sizes_and_entity_counts(corpus) -> None:
    sentences = {s: [x for doc in docs for x in doc] for s, docs in corpus.items()}
    assert sum(len(v) for v in sentences.values()) >= 600
    counts = Counter(label for v in sentences.values() for x in v for _, label in entities(x))
    assert sum(counts.values()) >= 1500
    for label in TYPES:
        assert counts[label] >= 200, counts
    assert set(counts) == set(TYPES)
    documents = {s: len(docs) for s, docs in corpus.items()}
    assert 30 <= sum(documents.values()) <= 60
    # Roughly 70/15/15 by document, every split with every type.
    assert documents["train"] > documents["dev"] + documents["test"]
    for split in SPLITS:
        split_counts = Counter(label for x in sentences[split] for _, label in entities(x))
        assert all(split_counts[label] >= 20 for label in TYPES), (split, split_counts)
    assert any(not entities(x) for x in sentences["train"]), "no sentence without entities"
    assert any(len(entities(x)) >= 3 for x in sentences["train"])


def test_tags_are_valid_iob2(corpus) -> None:
    valid = {"O"} | {f"{p}-{t}" for p in "BI" for t in TYPES}
    for docs in corpus.values():
        for doc in docs:
            assert doc, "empty document"
            for sentence in doc:
                previous = "O"
                for token, tag in sentence:
                    assert tag in valid, tag
                    if tag.startswith("I-"):
                        assert previous != "O" and previous[2:] == tag[2:], (token, previous, tag, sentence)
                    previous = tag


def test_tokens_follow_the_tokenizer(corpus) -> None:
    for docs in corpus.values():
        for doc in docs:
            for sentence in doc:
                tokens = [token for token, _ in sentence]
                resplit = tokenize(" ".join(tokens))
                assert len(resplit) == 1, tokens
                assert [t.text for t in resplit[0]] == tokens


def test_dev_and_test_contain_names_unseen_in_train(corpus) -> None:
    def names(split: str) -> set[tuple[str, str]]:
        return {e for doc in corpus[split] for x in doc for e in entities(x)}

    train = names("train")
    for split in ("dev", "test"):
        held = names(split)
        unseen = held - train
        assert 0.1 <= len(unseen) / len(held) <= 0.9
        assert len(held & train) >= 20
