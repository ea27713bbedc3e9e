"""The window-ner command line: help and defaults, train, evaluate, tag, demo, and one-line errors (exit 2)."""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._interrupts import interrupt_at_dev_score
from tests.ner._trained import binary_model, multiclass_model
from window_ner import __version__
from window_ner.cli import build_parser, main
from window_ner.cli.demo import DEMO_SENTENCES
from window_ner.ner.data.conll import load_conll
from window_ner.ner.experiment import sample_corpus
from window_ner.ner.inference.tagger import MODEL_FILE

TEXT = "Maria Lopez met officials of the United Nations in Geneva on Monday."
COMMANDS = ("train", "evaluate", "tag", "explain", "plot", "serve", "demo")


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``window-ner argv``; argparse's SystemExit counts as a return."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("window-ner: error:"), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)


def model_dir() -> Path:
    return multiclass_model().folder


# ----------------------------------------------------------------------------- version and help

def test_console_script_prints_the_version() -> None:
    script = shutil.which("window-ner", path=str(Path(sys.executable).parent)) or shutil.which("window-ner")
    assert script is not None, "the window-ner console script is not installed"
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"window-ner {__version__}"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_there_is_one_sub_command_per_job() -> None:
    assert set(_subparsers()) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_sub_command_shows_each_option_with_its_default(capsys: pytest.CaptureFixture[str],
                                                                     command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    text = " ".join(out.split())  # the formatter wraps lines wherever the terminal is narrow
    options = [a for a in _subparsers()[command]._actions
               if a.option_strings and not isinstance(a, argparse._HelpAction)]
    assert options
    body = text[text.index("options:"):]
    positions = [body.index(action.option_strings[-1] + " ") for action in options]
    for i, action in enumerate(options):
        # the option's own entry runs from its name to the next option's name
        following = [p for p in positions if p > positions[i]]
        entry = body[positions[i]:min(following, default=len(body))]
        if action.default is None or action.default is False:  # required options and flags have none to show
            assert "(default:" not in entry, (action.option_strings, entry)
        else:
            assert f"(default: {action.default})" in entry, (action.option_strings, entry)


def test_train_help_names_the_important_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "train", "--help")
    text = " ".join(out.split())
    for fragment in ("--epochs", "(default: 25)", "--lr", "(default: 0.001)", "--hidden", "(default: [300])",
                     "--dropout-input", "(default: 0.2)", "--scheme", "(default: iobes)", "--vectors"):
        assert fragment in text


def test_no_command_shows_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 2
    assert all(command in out for command in COMMANDS)


# ----------------------------------------------------------------------------- train and evaluate

def test_train_on_the_sample_corpus_writes_every_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                         "--test", sample_corpus("test"), "--out", out_dir, "--epochs", 2, "--hidden", 64,
                         "--no-progress")
    assert code == 0, err
    results = json.loads(out.strip().splitlines()[-1])
    assert results["epochs"] == 2 and {"dev", "test"} <= results.keys()
    for name in (MODEL_FILE, "metrics.jsonl", "results.json", "dev.predictions.conll", "test.predictions.conll"):
        assert (out_dir / name).is_file(), name
    assert json.loads((out_dir / "results.json").read_text()) == results
    assert len((out_dir / "metrics.jsonl").read_text().splitlines()) == 2
    predictions = load_conll(out_dir / "test.predictions.conll", tag_column=-2)
    gold = load_conll(sample_corpus("test"))
    assert [s.tokens for s in predictions] == [s.tokens for s in gold]
    assert [s.tags for s in predictions] == [s.tags for s in gold]  # column -2 is gold, the last is ours
    assert "processed" in err and "FB1" in err  # the conlleval tables go to stderr


def test_ctrl_c_in_the_first_epoch_exits_130_and_claims_no_model(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from window_ner.ner import experiment as commands

    monkeypatch.setattr(commands, "train", lambda *args, **kwargs: [])  # what train() returns then
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                         "--out", out_dir, "--no-progress")
    assert code == 130
    assert "model written" not in err and not (out_dir / MODEL_FILE).exists()
    assert not (out_dir / "results.json").exists()  # no scores of an untrained model either


def test_evaluate_prints_a_conlleval_table_and_writes_predictions(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    output = tmp_path / "pred.conll"
    code, out, err = run(capsys, "evaluate", "--model", model_dir(), "--data", sample_corpus("dev"),
                         "--output", output)
    assert code == 0, err
    gold = load_conll(sample_corpus("dev"))
    n_tokens = sum(len(s) for s in gold)
    assert re.search(rf"^processed {n_tokens} tokens with \d+ phrases; found: \d+ phrases; correct: \d+\.$", out,
                     re.MULTILINE)
    assert re.search(r"^accuracy: +[\d.]+%; precision: +[\d.]+%; recall: +[\d.]+%; FB1: +[\d.]+$", out, re.MULTILINE)
    assert re.search(r"^ +LOC: precision: +[\d.]+%; recall: +[\d.]+%; FB1: +[\d.]+ +\d+$", out, re.MULTILINE)
    lines = [line.split() for line in output.read_text().splitlines() if line.strip()]
    assert len(lines) == n_tokens
    assert all(len(fields) == 3 for fields in lines)
    tokens = [t for s in gold for t in s.tokens]
    gold_tags = [t for s in gold for t in s.tags]
    assert [f[0] for f in lines] == tokens
    assert [f[1] for f in lines] == gold_tags
    f1 = float(re.search(r"FB1: +([\d.]+)", out).group(1))
    assert f1 == pytest.approx(100 * multiclass_model().results["dev"]["f1"], abs=0.01)


def test_evaluate_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evaluate", "--model", model_dir() / MODEL_FILE, "--data", sample_corpus("dev"),
                       "--json")
    assert code == 0
    assert json.loads(out) == pytest.approx(multiclass_model().results["dev"])


def test_evaluate_output_to_stdout_puts_the_scores_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "evaluate", "--model", model_dir(), "--data", sample_corpus("dev"), "--output", "-",
                         "--json")
    assert code == 0, err
    first_token = load_conll(sample_corpus("dev"))[0].tokens[0]
    assert len(out.split("\n\n")) > 100 and out.splitlines()[0].split()[0] == first_token
    assert json.loads(err) == pytest.approx(multiclass_model().results["dev"])


def test_evaluate_output_that_is_a_folder_fails_before_the_work(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    code, out, err = run(capsys, "evaluate", "--model", tmp_path / "no-model", "--data", sample_corpus("dev"),
                         "--output", tmp_path)
    assert_one_line_error(code, err, str(tmp_path), "is a folder")  # not the missing model: checked first


def test_a_binary_models_predictions_read_as_entities(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    output = tmp_path / "pred.conll"
    code, _, err = run(capsys, "evaluate", "--model", binary_model().folder, "--data", sample_corpus("dev"),
                       "--output", output, "--json")
    assert code == 0, err
    predicted = [s.tags for s in load_conll(output)]
    flat = {tag for tags in predicted for tag in tags}
    assert flat <= {"O", "B-LOC", "I-LOC"} and "I-LOC" in flat  # the gold file's IOB1, as conlleval reads it


def test_bare_type_gold_tags_are_answered_in_their_style(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "bare.conll"
    data.write_text("Paris LOC\nis O\nnice O\n\nBerlin LOC\n\n", encoding="utf-8")
    output = tmp_path / "pred.conll"
    code, out, err = run(capsys, "evaluate", "--model", model_dir(), "--data", data, "--output", output, "--json")
    assert code == 0, err
    tags = {line.split()[-1] for line in output.read_text().splitlines() if line}
    assert tags <= {"O", "LOC", "PER", "ORG", "MISC"}
    scores = json.loads(out)
    right = sum(line.split()[1] == line.split()[2] for line in output.read_text().splitlines() if line)
    assert scores["accuracy"] == pytest.approx(right / 4)


def test_model_file_without_a_suffix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "tagger"
    shutil.copyfile(model_dir() / MODEL_FILE, path)
    code, out, err = run(capsys, "tag", "--model", path, TEXT)
    assert code == 0, err
    assert "[" in out


def test_model_with_nan_weights_names_the_file_and_tensor(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from window_ner.ner.inference.tagger import Tagger

    tagger = Tagger.load(model_dir())
    tagger.model.head.U.data[0, 0] = float("nan")
    tagger.save(tmp_path / "broken")
    code, _, err = run(capsys, "tag", "--model", tmp_path / "broken", TEXT)
    assert_one_line_error(code, err, str(tmp_path / "broken" / MODEL_FILE), "holds NaN, infinite or absurdly")


# ----------------------------------------------------------------------------- tag

def test_tag_inline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tag", "--model", model_dir(), TEXT)
    assert code == 0
    line = out.rstrip("\n")
    assert "\n" not in line
    assert re.search(r"\[[^\]]+ (PER|LOC|ORG|MISC)\]", line)
    assert re.sub(r"\[([^\]]+) (?:PER|LOC|ORG|MISC)\]", r"\1", line) == TEXT


def test_tag_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tag", "--model", model_dir(), "--format", "jsonl", TEXT)
    assert code == 0
    record = json.loads(out)
    assert record["text"] == TEXT
    assert record["entities"]
    for entity in record["entities"]:
        assert set(entity) == {"text", "label", "start", "end", "score"}
        assert TEXT[entity["start"]:entity["end"]] == entity["text"]


def test_tag_conll(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tag", "--model", model_dir(), "--format", "conll", TEXT + " Paris is big.")
    assert code == 0
    blocks = out.strip("\n").split("\n\n")
    assert len(blocks) == 2  # one block per sentence
    rows = [line.split(" ") for line in blocks[0].splitlines()]
    assert [r[0] for r in rows] == ["Maria", "Lopez", "met", "officials", "of", "the", "United", "Nations", "in",
                                    "Geneva", "on", "Monday", "."]
    assert all(len(r) == 2 and (r[1] == "O" or r[1][:2] in ("B-", "I-")) for r in rows)


def test_tag_input_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_text(TEXT + "\n\nBrazil beat Germany in Sao Paulo.\n", encoding="utf-8")
    code, out, _ = run(capsys, "tag", "--model", model_dir(), "--input", path, "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]  # one per line of the file, as from stdin
    assert [r["text"] for r in records] == [TEXT, "", "Brazil beat Germany in Sao Paulo."]
    assert records[0]["entities"] and records[2]["entities"] and not records[1]["entities"]


def test_tag_input_file_with_a_byte_order_mark_and_windows_line_ends(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_bytes(("\ufeffParis is nice.\r\n" + TEXT + "\r\n").encode("utf-8"))
    code, out, _ = run(capsys, "tag", "--model", model_dir(), "--input", path, "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == ["Paris is nice.", TEXT]
    code, plain, _ = run(capsys, "tag", "--model", model_dir(), "Paris is nice.", "--format", "jsonl")
    assert records[0] == json.loads(plain)  # same offsets and scores as without the mark


def test_tag_stdin_that_is_not_utf8_names_the_line(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"Paris is nice.\nPar\xe9s is nice.\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    code, out, err = run(capsys, "tag", "--model", model_dir(), "-", "--format", "jsonl")
    assert_one_line_error(code, err, "stdin:2", "UTF-8")
    assert json.loads(out)["text"] == "Paris is nice."  # the good line before it was tagged


def test_tag_a_pre_tokenised_conll_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    gold = load_conll(sample_corpus("dev"))[:20]
    tokens_only = tmp_path / "tokens.conll"
    tokens_only.write_text("".join("\n".join(s.tokens) + "\n\n" for s in gold), encoding="utf-8")
    code, out, err = run(capsys, "tag", "--model", model_dir(), "--conll", tokens_only)
    assert code == 0, err
    written = tmp_path / "tagged.conll"
    written.write_text(out, encoding="utf-8")
    tagged = load_conll(written)
    assert [s.tokens for s in tagged] == [s.tokens for s in gold]
    from window_ner.ner.inference.tagger import Tagger

    assert [s.tags for s in tagged] == Tagger.load(model_dir()).predict([s.tokens for s in gold])


def test_tag_reads_stdin_line_by_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lines = [TEXT, "", "Brazil beat Germany in Sao Paulo."]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out, _ = run(capsys, "tag", "--model", model_dir(), "-", "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == lines
    assert records[1]["entities"] == []
    assert records[0]["entities"] and records[2]["entities"]


# ----------------------------------------------------------------------------- demo

def test_demo_trains_and_tags_the_demo_sentences(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "demo", "--epochs", 2, "--no-progress", "--out", tmp_path / "demo")
    assert code == 0, err
    assert re.search(r"dev F1 +\d+\.\d\d +test F1 +\d+\.\d\d", out)
    tagged = [line for line in out.splitlines() if line and not line.startswith("dev F1")]
    assert len(tagged) == len(DEMO_SENTENCES)
    for line, sentence in zip(tagged, DEMO_SENTENCES, strict=True):
        assert re.sub(r"\[([^\]]+) (?:PER|LOC|ORG|MISC)\]", r"\1", line) == sentence
    assert "[" in "".join(tagged)
    assert (tmp_path / "demo" / MODEL_FILE).is_file()


def test_ctrl_c_after_an_epoch_keeps_the_best_model_and_exits_130(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    interrupt_at_dev_score(monkeypatch, 2)
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                         "--out", out_dir, "--epochs", 5, "--hidden", 32, "--features", "caps", "--no-progress")
    assert code == 130
    results = json.loads(out)  # stdout holds only the results, as after a full run
    assert results["interrupted"] is True and results["epochs"] == 1 and results["best_epoch"] == 1
    assert json.loads((out_dir / "results.json").read_text()) == results
    assert err.splitlines()[-1].startswith("window-ner: interrupted after epoch 1: the model of epoch 1")
    assert (out_dir / MODEL_FILE).is_file()


def test_a_bad_tag_in_the_test_file_stops_before_training(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "test.conll"
    bad.write_text("Paris B-LOC\nis O\nnice X-MISC\n", encoding="utf-8")
    out_dir = tmp_path / "run"
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--test", bad, "--out", out_dir, "--no-progress")
    assert_one_line_error(code, err, f"{bad}:3", "X-MISC")
    assert not out_dir.exists()


def test_out_that_is_a_file_and_an_unknown_binary_type_stop_before_training(capsys: pytest.CaptureFixture[str],
                                                                            tmp_path: Path) -> None:
    taken = tmp_path / "news.txt"
    taken.write_text("keep me", encoding="utf-8")
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--out", taken, "--no-progress")
    assert_one_line_error(code, err, str(taken), "must be a folder")
    assert taken.read_text(encoding="utf-8") == "keep me"
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--out", tmp_path / "run", "--binary", "CITY", "--no-progress")
    assert_one_line_error(code, err, "'CITY' is not an entity type", "LOC, MISC, ORG, PER")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--patience", "-1", "argument --patience: must be >= 0, not -1"),
    ("--lr", "nan", "argument --lr: must be > 0, not nan"),
    ("--lr-decay", "0", "argument --lr-decay: must be in (0, 1), not 0"),
    ("--clip", "-1", "argument --clip: must be >= 0"),
    ("--hidden", "0", "argument --hidden: must be >= 1, not 0"),
    ("--dropout-hidden", "1.0", "argument --dropout-hidden: must be in [0, 1), not 1.0"),
    ("--weight-decay", "-1", "argument --weight-decay: must be >= 0"),
    ("--epochs", "x", "argument --epochs: expected an integer, not 'x'"),
])
def test_train_options_out_of_range_are_named(capsys: pytest.CaptureFixture[str], option: str, value: str,
                                              message: str) -> None:
    code, out, err = run(capsys, "train", "--train", "a", "--dev", "b", option, value)
    assert_one_line_error(code, err, message)
    assert out == ""


# ----------------------------------------------------------------------------- errors: one line, exit code 2

def test_missing_training_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.conll"
    code, _, err = run(capsys, "train", "--train", missing, "--dev", sample_corpus("dev"), "--out", tmp_path / "o",
                       "--no-progress")
    assert_one_line_error(code, err, str(missing))


def test_missing_input_file_for_tag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    code, _, err = run(capsys, "tag", "--model", model_dir(), "--input", missing)
    assert_one_line_error(code, err, str(missing))


def test_malformed_conll_names_file_and_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.conll"
    bad.write_text("Paris B-LOC\nis O\nnice extra O\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--train", bad, "--dev", sample_corpus("dev"), "--out", tmp_path / "o",
                       "--no-progress")
    assert_one_line_error(code, err, f"{bad}:3", "columns")
    code, _, err = run(capsys, "evaluate", "--model", model_dir(), "--data", bad)
    assert_one_line_error(code, err, f"{bad}:3")


def test_model_path_that_does_not_exist(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "tag", "--model", tmp_path / "no-model", TEXT)
    assert_one_line_error(code, err, str(tmp_path / "no-model"))
    code, _, err = run(capsys, "evaluate", "--model", tmp_path / "no-model", "--data", sample_corpus("dev"))
    assert_one_line_error(code, err, str(tmp_path / "no-model"))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_model_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, damage: str) -> None:
    path = tmp_path / "model" / MODEL_FILE
    path.parent.mkdir()
    data = (model_dir() / MODEL_FILE).read_bytes()
    path.write_bytes(b"not a model at all" if damage == "garbage" else data[: len(data) // 3])
    code, _, err = run(capsys, "tag", "--model", path.parent, TEXT)
    assert_one_line_error(code, err, str(path))


@pytest.mark.parametrize("argv", [
    ["--bogus"],
    ["tag", "--model", "m", "--bogus", "text"],
    ["train", "--train", "a.conll"],  # --dev is required
    ["tag", "--model", "m", "--format", "xml", "text"],
    ["train", "--train", "a", "--dev", "b", "--epochs", "many"],
    ["frobnicate"],
])
def test_bad_options(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, err)
    assert out == ""


def test_tag_without_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "tag", "--model", model_dir())
    assert_one_line_error(code, err, "nothing to tag")


def test_tag_with_both_text_and_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("Paris", encoding="utf-8")
    code, _, err = run(capsys, "tag", "--model", model_dir(), "--input", path, "Paris")
    assert_one_line_error(code, err)


def test_ragged_vectors_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("the 0.1 0.2 0.3\nof 0.4 0.5\nand 0.6 0.7 0.8\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--vectors", vectors, "--out", tmp_path / "o", "--no-progress")
    assert_one_line_error(code, err, f"{vectors}:2")
    assert not (tmp_path / "o" / MODEL_FILE).exists()


def test_truncated_compressed_vectors_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt.gz"
    payload = gzip.compress("".join(f"w{i} " + " ".join(["0.1"] * 50) + "\n" for i in range(5000)).encode())
    vectors.write_bytes(payload[: len(payload) // 2])
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--vectors", vectors, "--out", tmp_path / "o", "--no-progress")
    assert_one_line_error(code, err, str(vectors), "truncated")


def test_tag_input_that_is_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Café in Zürich".encode("utf-16"))
    code, _, err = run(capsys, "tag", "--model", model_dir(), "--input", path)
    assert_one_line_error(code, err, str(path), "UTF-8")


def test_a_bug_shows_its_traceback_and_asks_to_be_reported_with_exit_1(capsys: pytest.CaptureFixture[str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from window_ner.ner.inference import tagger

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("an internal invariant broke")  # a plain ValueError: not the user's input

    monkeypatch.setattr(tagger.Tagger, "load", broken)
    code, _, err = run(capsys, "tag", "--model", "m", TEXT)
    assert code == 1
    assert "Traceback" in err and "an internal invariant broke" in err
    assert "bug in window-ner" in err and "please report it" in err


def test_choices_of_the_train_command_come_from_the_registries(capsys: pytest.CaptureFixture[str]) -> None:
    from window_ner import nn
    from window_ner.ner.model.heads import HEADS
    from window_ner.ner.training.hooks import SCHEDULES
    from window_ner.ner.training.loop import OPTIMIZERS

    code, out, _ = run(capsys, "train", "--help")
    assert code == 0
    text = " ".join(out.split())
    for registry in (nn.ACTIVATIONS, HEADS, SCHEDULES, OPTIMIZERS):
        assert "{" + ",".join(registry.names()) + "}" in text


def test_the_binary_head_without_a_type_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--out", tmp_path / "run", "--head", "binary", "--no-progress")
    assert_one_line_error(code, err, "--binary TYPE")


def test_no_progress_hides_the_bar_but_keeps_the_line_per_epoch(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--out", tmp_path / "run", "--epochs", "2", "--word-dim", "8", "--hidden", "8",
                       "--no-progress")
    assert code == 0, err
    assert "epoch 1: loss" in err and "epoch 2: loss" in err


def test_a_negative_seed_is_refused_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("train --train a --dev b", "demo"):
        code, _, err = run(capsys, *command.split(), "--seed", "-1")
        assert_one_line_error(code, err, "--seed", ">= 0")


def test_evaluate_refuses_to_write_its_predictions_over_the_gold_file(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    gold = tmp_path / "gold.conll"
    gold.write_bytes(sample_corpus("dev").read_bytes())
    code, _, err = run(capsys, "evaluate", "--model", multiclass_model().folder, "--data", gold,
                       "--output", tmp_path / "." / "gold.conll")
    assert_one_line_error(code, err, "overwrite the gold tags")
    assert gold.read_bytes() == sample_corpus("dev").read_bytes()


def test_a_bare_ctrl_c_says_interrupted(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from window_ner.ner.inference import tagger

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tagger.Tagger, "load", interrupted)
    code, _, err = run(capsys, "tag", "--model", "m", TEXT)
    assert code == 130 and err == "window-ner: interrupted\n"


def test_an_output_folder_whose_name_has_a_dot_holds_the_model(capsys: pytest.CaptureFixture[str],
                                                                tmp_path: Path) -> None:
    out = tmp_path / "o" / "glove.6B.50d"
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--out", out, "--epochs", "1", "--word-dim", "8", "--hidden", "8", "--no-progress")
    assert code == 0, err
    assert (out / MODEL_FILE).is_file() and (out / "metrics.jsonl").is_file()
    code, stdout, err = run(capsys, "tag", "--model", out, TEXT)
    assert code == 0, err


def test_an_output_folder_that_cannot_be_written_is_found_before_any_work(capsys: pytest.CaptureFixture[str],
                                                                         tmp_path: Path) -> None:
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--out", "/proc/window-ner-test", "--no-progress")
    assert_one_line_error(code, err, "/proc/window-ner-test")
    assert "train:" not in err and "epoch" not in err  # nothing was loaded or trained


def test_a_dev_file_whose_tags_mix_schemes_is_an_error_naming_the_line(capsys: pytest.CaptureFixture[str],
                                                                       tmp_path: Path) -> None:
    mixed = tmp_path / "dev.conll"  # IOB1, with one IOBES tag slipped in
    mixed.write_text("EU I-ORG\nrejects O\nGerman I-MISC\ncall O\n\nPeter I-PER\nvisited O\nACME E-ORG\n",
                     encoding="utf-8")
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", mixed,
                       "--out", tmp_path / "run", "--no-progress")
    assert_one_line_error(code, err, f"{mixed}:8: the tags mix schemes: E-ORG is a tag of IOBES (1 such in the "
                          "file), but 2 sentences break IOBES, the first on line 1")
    code, _, err = run(capsys, "evaluate", "--model", model_dir(), "--data", mixed)  # evaluate reads it alike
    assert_one_line_error(code, err, f"{mixed}:8: the tags mix schemes")


def test_an_iobes_file_with_a_slip_blames_the_slip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    slipped = tmp_path / "dev.conll"
    slipped.write_text("EU S-ORG\nrejects O\n\nPeter B-PER\nSmith E-PER\n\nACME I-ORG\n\nBonn S-LOC\n",
                       encoding="utf-8")
    code, _, err = run(capsys, "evaluate", "--model", model_dir(), "--data", slipped)
    assert_one_line_error(code, err, f"{slipped}:7: the tags mix schemes: the file has 3 E-/S- tags (the first, "
                          "S-ORG, on line 1), so it is read as IOBES, but")


def test_a_diverging_training_exits_2_in_one_line_and_leaves_no_model(capsys: pytest.CaptureFixture[str],
                                                                       tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--out", out_dir, "--epochs", 2, "--lr", "1e30", "--no-progress")
    assert code == 2 and "Traceback" not in err and "Warning" not in err
    assert err.splitlines()[-1].startswith("window-ner: error: training diverged: the loss reached"), err
    assert "--lr" in err.splitlines()[-1]
    assert not (out_dir / MODEL_FILE).exists()


def test_a_second_training_into_a_folder_in_use_names_the_process_that_holds_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom window_ner.files import lock_folder\n"
                               "with lock_folder(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(60)",
                               str(out_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                           "--out", out_dir, "--epochs", 1, "--no-progress")
    finally:
        holder.kill()
        holder.wait()
    assert_one_line_error(code, err, f"{out_dir} is in use by another training run (process {holder.pid} on")
    assert sorted(p.name for p in out_dir.iterdir()) == [".window-ner.lock"]  # the holder's, untouched


def test_a_run_that_ends_leaves_no_lock_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--out", out_dir, "--epochs", 1, "--hidden", 16, "--no-progress")
    assert code == 0, err
    assert not (out_dir / ".window-ner.lock").exists()
    assert (out_dir / MODEL_FILE).is_file()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_standard_output_is_one_line_naming_it() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "window_ner.cli", "tag", "--model", str(model_dir()), TEXT],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["window-ner: error: standard output: No space left on device"]


def test_running_out_of_memory_is_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(path: object) -> None:
        raise MemoryError

    monkeypatch.setattr("window_ner.cli.tag.Tagger.load", exhausted)
    code, _, err = run(capsys, "tag", "--model", model_dir(), TEXT)
    assert_one_line_error(code, err, "out of memory")


@pytest.mark.parametrize("option", [("--hidden", 10_000_000), ("--window", 100_000), ("--word-dim", 100_000_000)])
def test_a_model_too_big_for_the_machine_is_refused_before_any_data_is_read(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, option: tuple[str, int]) -> None:
    code, _, err = run(capsys, "train", "--train", tmp_path / "not-read-yet.conll", "--dev", sample_corpus("dev"),
                       *option, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "of memory to train", f"{option[0]} {option[1]}", "choose smaller sizes")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("where", ["--vectors", "--train"])
def test_an_endless_line_is_refused_as_a_training_input(capsys: pytest.CaptureFixture[str], where: str) -> None:
    paths = {"--train": sample_corpus("train"), "--dev": sample_corpus("dev"), where: "/dev/zero"}
    code, _, err = run(capsys, "train", *[str(a) for pair in paths.items() for a in pair], "--epochs", 1)
    assert_one_line_error(code, err, "/dev/zero:1: the line is longer than 1,048,576 bytes")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_line_is_refused_as_text_to_tag(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "tag", "--model", model_dir(), "--input", "/dev/zero")
    assert_one_line_error(code, err, "/dev/zero:1: the line is longer than 67,108,864 bytes", "shorter lines")


def test_under_a_memory_limit_the_estimate_reads_the_limit() -> None:
    resource = pytest.importorskip("resource")
    limit = 2 << 30

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run([sys.executable, "-m", "window_ner", "train", "--train", str(sample_corpus("train")),
                           "--dev", str(sample_corpus("dev")), "--hidden", "40000", "--epochs", "1"],
                          preexec_fn=cap, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    last = done.stderr.splitlines()[-1]
    assert "of memory to train" in last and "--hidden 40000" in last and "Traceback" not in done.stderr


@pytest.mark.parametrize("fmt", ["inline", "conll"])
def test_control_characters_never_reach_the_terminal(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, err = run(capsys, "tag", "--model", model_dir(), "--format", fmt,
                         "Maria Lopez \x1b[2J\x1b]0;owned\x07 met \u202eUN\x7f officials in Geneva.")
    assert code == 0, err
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", out), repr(out)
    assert "\\x1b" in out and "\\x07" in out and "\\u202e" in out and "\\x7f" in out


def test_jsonl_escapes_every_control_character_and_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    text = "Maria Lopez \x1b[2J met \u202eUN\x85 officials in Geneva."
    code, out, err = run(capsys, "tag", "--model", model_dir(), "--format", "jsonl", text)
    assert code == 0, err
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e]", out.rstrip("\n")), repr(out)
    assert json.loads(out)["text"] == text


def test_a_text_argument_that_is_not_utf8_is_one_line() -> None:
    done = subprocess.run([sys.executable, "-m", "window_ner", "tag", "--model", str(model_dir()),
                           b"Maria Lopez \xff in Geneva"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["window-ner: error: the TEXT argument is not UTF-8 text (a byte that is "
                                        "not UTF-8 at character 13); convert it to UTF-8, or pass it with --input "
                                        "FILE"]


def test_training_lists_the_entity_types_and_warns_of_a_rare_one(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    lines = sample_corpus("train").read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.endswith(" B-MISC"))
    lines[at] = lines[at].replace("B-MISC", "I-FOO")
    train_file = tmp_path / "train.conll"
    train_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--train", train_file, "--dev", sample_corpus("dev"), "--epochs", 1,
                       "--hidden", 16, "--no-progress")
    assert code == 0, err
    assert re.search(r"^entity types in train: FOO 1, LOC [\d,]+, MISC [\d,]+, ORG [\d,]+, PER [\d,]+$", err, re.M)
    assert (f"warning: {train_file}:{at + 1}: the entity type 'FOO' occurs only 1 time in the training data: a "
            "typo in a tag?") in err


@pytest.mark.parametrize("tag", ["B-PER\x01", "I-OR G", "B-\x1bORG"])
def test_a_tag_with_a_control_character_or_space_is_refused_at_its_line(capsys: pytest.CaptureFixture[str],
                                                                        tmp_path: Path, tag: str) -> None:
    train_file = tmp_path / "train.conll"
    train_file.write_text(f"Paris\tB-LOC\nMaria\t{tag}\n\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--train", train_file, "--dev", sample_corpus("dev"), "--epochs", 1)
    assert_one_line_error(code, err, f"{train_file}:2: cannot read tag", "without spaces or control characters")


def test_a_feature_given_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--features", "caps,caps")
    assert_one_line_error(code, err, "the feature 'caps' is given twice")


def test_training_data_without_a_single_entity_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "train.conll"
    empty.write_text("Paris O\nis O\nnice O\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--train", empty, "--dev", sample_corpus("dev"))
    assert_one_line_error(code, err, f"{empty}: the training data holds no entity")


def test_a_dev_type_that_train_lacks_is_warned_of(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    dev = tmp_path / "dev.conll"
    dev.write_text("Paris B-LOC\nOlympics B-EVENT\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", dev, "--epochs", 1,
                       "--hidden", 8, "--no-progress")
    assert code == 0, err
    assert f"warning: {dev} has entity types the training data has not (EVENT)" in err


def test_a_binary_file_as_training_data_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    binary = tmp_path / "train.conll"
    binary.write_bytes(b"EU B-ORG\n\x7fELF\x02\x01\x00\x00 x\n")
    code, _, err = run(capsys, "train", "--train", binary, "--dev", sample_corpus("dev"))
    assert_one_line_error(code, err, f"{binary}:2: the line holds a NUL byte, which no CoNLL text has: is this a "
                          "binary file?")


def test_no_command_also_says_so_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys)
    assert_one_line_error(code, err, "no command given; choose one of " + ", ".join(COMMANDS))


def test_vectors_that_cover_no_training_word_are_warned_of(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("zzqx 0.1 0.2\nqqzz 0.3 0.4\n", encoding="utf-8")
    code, _, err = run(capsys, "train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
                       "--vectors", vectors, "--epochs", 1, "--hidden", 8, "--no-progress")
    assert code == 0, err
    assert f"warning: {vectors} has a vector for none of the" in err


def test_evaluate_warns_of_gold_types_the_model_lacks(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "gold.conll"
    data.write_text("Paris B-LOC\nOlympics B-EVENT\n", encoding="utf-8")
    code, _, err = run(capsys, "evaluate", "--model", model_dir(), "--data", data)
    assert code == 0, err
    assert f"warning: {data} has entity types the model was not trained on (EVENT)" in err
