"""window-ner explain: tables with signed bars, JSON lines, chosen spans, colour only when asked, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.cli.test_cli import run
from tests.ner._trained import multiclass_model

TEXT = "Angela Merkel flew from Berlin to Paris on Tuesday."


def test_text_output_lists_each_entity_with_its_window_words(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "--model", multiclass_model().folder, TEXT)
    entities = multiclass_model().load()(TEXT)
    assert code == 0 and entities
    for entity in entities:
        assert f"{entity.text}  {entity.label}  p = {entity.score:.3f}" in out
    assert "[Berlin]" in out or "[Paris]" in out
    assert "|" in out and "occlusion" in out and "\x1b[" not in out  # captured output: no colour


def test_colour_always_paints_the_bars(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "explain", "--model", multiclass_model().folder, "--color", "always", TEXT)
    assert "\x1b[32m" in out or "\x1b[31m" in out


def test_jsonl_gives_one_object_per_entity_equal_to_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "--model", multiclass_model().folder, "--format", "jsonl", TEXT)
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert lines == [json.loads(json.dumps(e.to_dict())) for e in multiclass_model().load().explain(TEXT)]


def test_a_chosen_span_with_a_label(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "--model", multiclass_model().folder, "--format", "jsonl",
                       "--span", "24:30:PER", TEXT)
    (line,) = out.splitlines()
    assert code == 0 and json.loads(line)["entity"] == {**json.loads(line)["entity"], "text": "Berlin",
                                                         "label": "PER"}


@pytest.mark.parametrize(("argv", "message"), [
    (["--span", "5:2", TEXT], "START:END"),
    (["--span", "25:30", TEXT], "token boundaries"),
    (["--span", "24:30:CITY", TEXT], "not one the model predicts"),
    (["   "], "nothing to explain"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "explain", "--model", multiclass_model().folder, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_no_entities_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    tagger = multiclass_model().load()
    quiet = next(t for t in ("the cat sat on the mat .", "it was raining .", "no .") if not tagger(t))
    code, out, _ = run(capsys, "explain", "--model", multiclass_model().folder, quiet)
    assert code == 0 and out == "no entities found\n"


def test_graph_draws_one_window_of_the_real_model(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    code, _, err = run(capsys, "explain", "--model", multiclass_model().folder, "--graph", tmp_path / "w.dot", TEXT)
    dot = (tmp_path / "w.dot").read_text()
    assert code == 0 and "w.dot" in err
    config = multiclass_model().load().model.config
    for name in ("words.weight", "features.caps.weight", f"layers.0.W ({config.hidden[0]}, {config.input_dim})",
                 "head.U", "log p("):
        assert name in dot
    assert dot.count(" -> ") >= 10 and "norm" in dot  # edges carry the gradient that flowed along them


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)")
def test_graph_as_svg(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    code, _, _ = run(capsys, "explain", "--model", multiclass_model().folder, "--graph", tmp_path / "w.svg", TEXT)
    assert code == 0 and (tmp_path / "w.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def test_graph_to_an_unknown_format_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    code, _, err = run(capsys, "explain", "--model", multiclass_model().folder, "--graph", tmp_path / "w.gif", TEXT)
    assert code == 2 and "--graph" in err and len(err.strip().splitlines()) == 1


def test_stdin_that_is_not_utf8_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Paris \xff is big")))
    code, _, err = run(capsys, "explain", "--model", multiclass_model().folder, "-")
    assert code == 2 and "not UTF-8" in err and "byte 7" in err


def test_stdin_text_is_explained(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TEXT.encode())))
    code, out, _ = run(capsys, "explain", "--model", multiclass_model().folder, "--format", "jsonl", "-")
    assert code == 0 and len(out.splitlines()) == len(multiclass_model().load()(TEXT))
