"""``window-ner tag`` in bulk: JSON records, chunks in order, worker processes, bad records, Ctrl-C, progress."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import model_dir, run
from window_ner.cli.demo import DEMO_SENTENCES
from window_ner.ner.inference.tagger import Tagger

CLI = [sys.executable, "-m", "window_ner"]


def texts(n: int) -> list[str]:
    return [f"{DEMO_SENTENCES[i % len(DEMO_SENTENCES)]} (item {i})" for i in range(n)]


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_json_records_keep_their_fields_and_order(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    records = [{"id": i, "text": text, "source": "wire"} for i, text in enumerate(texts(50))]
    path = write_jsonl(tmp_path / "docs.jsonl", records)
    code, out, err = run(capsys, "tag", "--model", model_dir(), "--input", path, "--format", "jsonl")
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    tagger = Tagger.load(model_dir())
    assert [r["id"] for r in results] == list(range(50))
    assert all(r["source"] == "wire" and r["text"] == records[r["id"]]["text"] for r in results)
    assert [r["entities"] for r in results] == [[e.to_dict() for e in tagger(r["text"])] for r in results]


@pytest.mark.parametrize(("line", "reason"), [
    (b"not json", "not a JSON object"),
    (b"[1, 2]", "a JSON list, not an object"),
    (b'{"id": 3}', 'the object has no "text" field'),
    (b'{"text": 5}', 'the object has a "text" of type int'),
    (b'{"text": "\\ud800"}', 'the "text" holds a lone surrogate'),
    (b'{"text": "caf\xe9"}', "not UTF-8 text"),
])
def test_a_bad_record_stops_at_its_line_after_tagging_the_records_before_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, line: bytes, reason: str) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_bytes(b'{"id": 1, "text": "Maria Lopez is in Geneva."}\n\n' + line + b'\n{"id": 4, "text": "Paris."}\n')
    code, out, err = run(capsys, "tag", "--model", model_dir(), "--input", path, "--format", "jsonl")
    assert code == 2
    assert err.splitlines() == [err.strip()] and err.startswith(f"window-ner: error: {path}:3: {reason}"), err
    assert "--skip-bad" in err
    assert [json.loads(x)["id"] for x in out.splitlines()] == [1]


def test_skip_bad_skips_and_counts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_bytes(b'{"id": 1, "text": "Paris."}\nnope\n{"id": 2}\n{"id": 3, "text": "Rome."}\n')
    code, out, err = run(capsys, "tag", "--model", model_dir(), "--input", path, "--format", "jsonl", "--skip-bad")
    assert code == 0, err
    assert [json.loads(x)["id"] for x in out.splitlines()] == [1, 3]
    assert f"skipped 2 bad records (the first: {path}:2: not a JSON object" in err


def test_plain_text_lines_in_chunks_give_what_each_line_gives_alone(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path) -> None:
    lines = texts(5000)  # several chunks
    path = tmp_path / "news.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "tagged.jsonl"
    code, _, err = run(capsys, "tag", "--model", model_dir(), "--input", path, "--format", "jsonl", "--output",
                       output)
    assert code == 0, err
    got = [json.loads(x) for x in output.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in got] == lines
    tagger = Tagger.load(model_dir())
    for i in (0, 1, 2, 2999, 4999):
        assert got[i]["entities"] == [e.to_dict() for e in tagger(lines[i])]


def test_output_that_is_the_input_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_text("Paris.\n", encoding="utf-8")
    code, _, err = run(capsys, "tag", "--model", model_dir(), "--input", path, "--output", path)
    assert code == 2 and "is the input file" in err
    assert path.read_text(encoding="utf-8") == "Paris.\n"


def test_two_workers_write_what_one_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "news.txt"
    path.write_text("\n".join(texts(6000)) + "\n", encoding="utf-8")
    outputs = []
    for workers in ("1", "2"):
        output = tmp_path / f"tagged.{workers}.jsonl"
        done = subprocess.run([*CLI, "tag", "--model", str(model_dir()), "--input", str(path), "--format", "jsonl",
                               "--output", str(output), "--workers", workers], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(output.read_bytes())
    assert outputs[0] == outputs[1]


def big_input(tmp_path: Path, lines: int = 60_000) -> Path:
    path = tmp_path / "big.txt"
    path.write_text("\n".join(texts(lines)) + "\n", encoding="utf-8")
    return path


def wait_for_output(path: Path, size: int = 1, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.stat().st_size >= size):
        assert time.monotonic() < deadline, "no output appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_leaves_a_complete_prefix_and_says_where_it_stopped(tmp_path: Path, workers: str) -> None:
    source = big_input(tmp_path)
    output = tmp_path / "tagged.jsonl"
    process = subprocess.Popen([*CLI, "tag", "--model", str(model_dir()), "--input", str(source), "--format", "jsonl",
                                "--output", str(output), "--workers", workers], stderr=subprocess.PIPE, text=True)
    wait_for_output(output, 700_000)  # two chunks or more: the signal lands after a whole chunk was counted
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    last = err.strip().splitlines()[-1]
    written = output.read_text(encoding="utf-8")
    assert last.startswith(f"window-ner: interrupted: {output} holds the results of {source} up to line "), err
    up_to = int(last.split(" up to line ")[1].split(" ")[0].replace(",", ""))
    assert written.endswith("\n")
    rows = [json.loads(line) for line in written.splitlines()]  # every line whole
    assert 0 < len(rows) == up_to < 60_000
    assert [r["text"] for r in rows] == texts(up_to)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the worker processes through /proc")
def test_a_worker_that_dies_is_an_error_naming_its_chunk_not_a_hang(tmp_path: Path) -> None:
    source = big_input(tmp_path)
    output = tmp_path / "tagged.jsonl"
    process = subprocess.Popen([*CLI, "tag", "--model", str(model_dir()), "--input", str(source), "--format", "jsonl",
                                "--output", str(output), "--workers", "2"], stderr=subprocess.PIPE, text=True)
    wait_for_output(output)
    workers = [pid for child in _children(process.pid) for pid in _children(child)]  # the forkserver's children
    assert len(workers) == 2, workers
    for pid in workers:  # both: one of them is sure to hold a chunk
        os.kill(pid, signal.SIGKILL)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert "window-ner: error: a worker process died (killed by signal 9) while tagging input lines " in err, err
    assert "Traceback" not in err


def test_a_progress_bar_shows_on_a_terminal_and_not_on_a_pipe(tmp_path: Path) -> None:
    source = big_input(tmp_path, 3000)
    piped = subprocess.run([*CLI, "tag", "--model", str(model_dir()), "--input", str(source), "--output",
                            str(tmp_path / "a.txt")], capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == ""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    try:
        process = subprocess.Popen([*CLI, "tag", "--model", str(model_dir()), "--input", str(source), "--output",
                                    str(tmp_path / "b.txt")], stderr=terminal)
        os.close(terminal)
        shown = b""
        while True:
            try:
                data = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not data:
                break
            shown += data
        assert process.wait(timeout=120) == 0
    finally:
        os.close(controller)
    assert b"tagging" in shown and b"B/s" in shown, shown
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
