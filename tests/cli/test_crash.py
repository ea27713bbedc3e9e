"""Crash tests (issue 18): a real ``window-ner`` process killed with SIGKILL keeps what it had finished and leaves
no half-written file.

SIGKILL runs no cleanup, so each test kills a real subprocess and reads what it left: a model file that loads
and tags, whole metrics.jsonl lines, output files that are absent or complete. Three kinds of moment:
- seeded: fractions of an uninterrupted run (timed once per module), one in each 1/n of it, so the kills fall
  during start-up and data loading, the epochs and their saves, the final evaluation and its writes; a
  training run is killed that long after the stderr line that began the stage in the timed run (a loaded
  machine slows runs unevenly);
- at an epoch line: as soon as stderr shows ``epoch k:``, plus a fraction of an epoch, near the next save;
- mid-write: the folder is polled and the process stopped (SIGSTOP) at the first sign of a write to one file
  (open_atomic's temporary file, or the file itself changing), then killed while stopped.
Whatever the moment, the assertions are the same: they follow from the order in which the code writes.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from window_ner.files import LOCK_NAME
from window_ner.ner.experiment import sample_corpus
from window_ner.ner.inference.tagger import MODEL_FILE, Tagger

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs SIGSTOP and /proc (Linux)")

SCRIPT = shutil.which("window-ner", path=str(Path(sys.executable).parent)) or "window-ner"
TEXT = "Maria Lopez met officials of the United Nations in Geneva on Monday."
EPOCHS = 12  # a run of about 1 s on the sample corpus with the sizes below (on a quiet machine)
# the one-stage model (caps): a doc model writes nothing while its first stage trains, then writes as this one
TRAIN_OPTIONS = ("--hidden", "32", "--word-dim", "50", "--patience", "0", "--seed", "7", "--features", "caps",
                 "--no-progress")
TRAIN_OUTPUTS = {MODEL_FILE, "metrics.jsonl", "dev.predictions.conll", "test.predictions.conll", "results.json"}
LOCK = LOCK_NAME  # the output folder's flock file: removed at the end, left by SIGKILL by design
TEMP = re.compile(r"\.(?P<target>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp")  # open_atomic: .{name}.{pid}.{hex}.tmp
EPOCH_LINE = re.compile(r"epoch (\d+): loss \S+(?:, dev F1 \S+( \(best\))?)?, [\d,]+ tokens/s$")


def moments(count: int, seed: int) -> list[float]:
    """``count`` fractions of a run, one in each ``1/count`` of it, placed by a fixed seed."""
    rng = random.Random(seed)
    return [round((part + rng.random()) / count, 3) for part in range(count)]


TRAIN_MOMENTS = moments(10, 18)
EVALUATE_MOMENTS = moments(6, 1818)
TAG_MOMENTS = moments(4, 181818)


# ----------------------------------------------------------------------------- running and killing


class Run:
    """A ``window-ner`` subprocess; a thread collects its stderr lines, with their times, as they come."""

    def __init__(self, *argv: object, stdout: IO[Any] | int = subprocess.DEVNULL):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # two shared cores
        self.began = time.perf_counter()
        self.process = subprocess.Popen([SCRIPT, *map(str, argv)], stdout=stdout, stderr=subprocess.PIPE,
                                        text=True, env=env)
        self.lines: list[tuple[float, str]] = []
        self.seconds = 0.0  # its duration, once ended
        self.closed = False
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self.changed:
                self.lines.append((time.perf_counter() - self.began, line.rstrip("\n")))
                self.changed.notify_all()
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stderr(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def line_time(self, prefix: str, timeout: float = 60) -> float:
        """Seconds from the start to the first stderr line starting with ``prefix``."""
        def seen() -> float | None:
            return next((at for at, line in self.lines if line.startswith(prefix)), None)
        with self.changed:
            self.changed.wait_for(lambda: self.closed or seen() is not None, timeout)
            at = seen()
        assert at is not None, f"window-ner never printed {prefix!r}:\n{self.stderr}"
        return at

    def kill_at(self, seconds: float) -> bool:
        """SIGKILL at ``seconds`` after the start; True if the process was still running then."""
        time.sleep(max(0.0, self.began + seconds - time.perf_counter()))
        return self.kill()

    def kill(self) -> bool:
        self.process.send_signal(signal.SIGKILL)  # harmless on a process that has just ended
        return self.finish() == -signal.SIGKILL

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        self.seconds = time.perf_counter() - self.began
        self.reader.join(timeout)
        return code

    def stage(self) -> str:
        """Where a training run was when it died, as its stderr tells."""
        epochs = [line for _, line in self.lines if EPOCH_LINE.match(line)]
        if self.process.returncode != -signal.SIGKILL:
            return "after the end"
        if not any(line.startswith("train:") for _, line in self.lines):
            return "start-up or data loading"
        if len(epochs) < EPOCHS:
            return f"epoch {len(epochs) + 1} (training, dev evaluation or save)"
        return "final evaluation and writes"


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _temps_of(folder: Path, name: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [entry for entry in names if (match := TEMP.fullmatch(entry)) and match["target"] == name]


def _wait_stopped(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rpartition(")")[2].split()[0] in ("T", "Z"):  # stopped (or already dead)
                return
        time.sleep(0.0005)
    raise AssertionError(f"process {pid} did not stop within 10 s of SIGSTOP")


def kill_mid_write(run: Run, folder: Path, name: str, after: str | None = None) -> bool:
    """SIGKILL ``run`` while it writes ``folder/name`` (the first write after the stderr line ``after``).

    The folder is polled; at the first sign of the write (a temporary file of ``name`` or ``name`` changing)
    the process is stopped, then killed while stopped. True if a temporary file of ``name`` was there at the
    kill: then it died inside open_atomic's write; if not, the poll missed it and the kill came just after."""
    if after is not None:
        run.line_time(after)
    before = _file_state(folder / name)
    while run.process.poll() is None:
        if _temps_of(folder, name) or _file_state(folder / name) != before:
            run.process.send_signal(signal.SIGSTOP)
            _wait_stopped(run.pid)
            inside = bool(_temps_of(folder, name))
            assert run.kill(), "the stopped process was not killed"
            return inside
        time.sleep(0.0002)  # a temporary file lives a millisecond or more (its fsync)
    raise AssertionError(f"window-ner ended (exit {run.finish()}) before anything wrote {folder / name}:\n"
                         f"{run.stderr}")


def strays(folder: Path, expected: set[str], pid: int) -> tuple[set[str], set[str]]:
    """The names in ``folder`` beyond ``expected``: (open_atomic temporary files of the killed process, others)."""
    names = set(os.listdir(folder)) if folder.exists() else set()
    temps = {name for name in names - expected
             if (match := TEMP.fullmatch(name)) and match["target"] in expected and int(match["pid"]) == pid}
    return temps, names - expected - temps


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True)
class Reference:
    """An uninterrupted training run: its folder (the model for the evaluate and tag tests) and its times."""

    folder: Path
    seconds: float
    epoch_seconds: float
    landmarks: list[tuple[float, str]]  # (seconds, stderr line prefix): when each stage began

    def moment(self, fraction: float) -> tuple[str, float]:
        """``fraction`` of this run as (the last landmark line before it, seconds after that line), so that a
        slower or faster run is killed at the same stage ("" is the start)."""
        at = fraction * self.seconds
        began, prefix = max((mark for mark in self.landmarks if mark[0] <= at), default=(0.0, ""))
        return prefix, at - began


def train_argv(out: Path, epochs: int = EPOCHS) -> list[object]:
    return ["train", "--train", sample_corpus("train"), "--dev", sample_corpus("dev"),
            "--test", sample_corpus("test"), "--out", out, "--epochs", epochs, *TRAIN_OPTIONS]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    folder = tmp_path_factory.mktemp("reference") / "run"
    run = Run(*train_argv(folder))
    assert run.finish() == 0, run.stderr
    first, last = run.line_time("epoch 1:"), run.line_time(f"epoch {EPOCHS}:")
    assert set(os.listdir(folder)) == TRAIN_OUTPUTS
    prefixes = ["train:", *(f"epoch {epoch}:" for epoch in range(1, EPOCHS + 1)), "dev (", "test ("]
    landmarks = [(0.0, ""), *((run.line_time(prefix), prefix) for prefix in prefixes)]
    return Reference(folder, run.seconds, (last - first) / (EPOCHS - 1), landmarks)


def check_training_folder(folder: Path, run: Run, reference: Reference) -> set[str]:
    """Assert what a killed training run must have left, whenever it died; returns its temporary files.

    The code's order at each epoch's end: save the model if dev F1 improved (atomic), append the metrics line,
    print the epoch line; after the last epoch: dev predictions, test predictions (atomic), results.json."""
    where = f"killed during {run.stage()}; stderr:\n{run.stderr}"
    temps, others = strays(folder, TRAIN_OUTPUTS, run.pid)
    assert not others - {LOCK}, f"unexpected files {sorted(others)} in {folder}; {where}"
    if LOCK in others:  # the kernel's lock went with the process; the file names it (or is still empty)
        holder = (folder / LOCK).read_text().split()
        assert holder[:1] in ([], [str(run.pid)]), (holder, where)

    metrics = folder / "metrics.jsonl"
    text = metrics.read_text() if metrics.exists() else ""
    assert text == "" or text.endswith("\n"), f"metrics.jsonl ends in a partial line {text[-80:]!r}; {where}"
    rows = [json.loads(line) for line in text.splitlines()]  # one write per line: every line is whole
    assert [row["epoch"] for row in rows] == list(range(1, len(rows) + 1)), where
    printed = [match for _, line in run.lines if (match := EPOCH_LINE.match(line))]
    assert len(rows) - len(printed) in (0, 1), f"metrics.jsonl has {len(rows)} lines, stderr {len(printed)} epochs"
    assert [row["best"] for row in rows[:len(printed)]] == [bool(match[2]) for match in printed], where

    model = folder / MODEL_FILE
    if not model.exists():
        assert rows == [], f"metrics.jsonl has epochs but no model was written; {where}"
    else:
        tagger = Tagger.load(folder)
        assert all(entity.label in {"PER", "LOC", "ORG", "MISC"} for entity in tagger(TEXT)), where
        last_best = max((row["epoch"] for row in rows if row["best"]), default=None)
        # saved, then its metrics line: the model is the last best epoch in metrics.jsonl, or the next one
        assert tagger.info["best_epoch"] in (last_best, len(rows) + 1), (tagger.info["best_epoch"], where)

    finished = [name for name in ("dev.predictions.conll", "test.predictions.conll", "results.json")
                if (folder / name).exists()]
    assert finished == ["dev.predictions.conll", "test.predictions.conll", "results.json"][:len(finished)], where
    if finished:
        assert len(rows) == EPOCHS, where
    for name in finished[:2]:  # written whole or not at all: the same bytes as the uninterrupted run's
        assert (folder / name).read_bytes() == (reference.folder / name).read_bytes(), f"{name} differs; {where}"
    if "results.json" in finished:
        assert json.loads((folder / "results.json").read_text())["epochs"] == EPOCHS, where
    return temps


def report(what: str, landed: str, temps: set[str]) -> None:
    """One line for the log (pytest -s or -rP): where the kill landed and what it left."""
    print(f"{what}: {landed}" + (f"; left {sorted(temps)}" if temps else ""))


@pytest.mark.parametrize("fraction", TRAIN_MOMENTS, ids=[f"{m:.3f}-of-run" for m in TRAIN_MOMENTS])
def test_training_killed_at_a_seeded_moment_keeps_every_finished_epoch(
        fraction: float, reference: Reference, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    landmark, offset = reference.moment(fraction)
    run = Run(*train_argv(folder))
    run.kill_at((run.line_time(landmark) if landmark else 0.0) + offset)
    # a temporary file is left only when the kill lands inside a write (rare here): the test of that is below
    temps = check_training_folder(folder, run, reference)
    report(f"kill {offset:.3f} s after {landmark or 'the start'!r}", run.stage(), temps)


@pytest.mark.parametrize(("epoch", "fraction"), [(1, 0.0), (1, 0.9), (10, 0.97)],
                         ids=["at-epoch-1-line", "0.9-epoch-after-epoch-1", "0.97-epoch-after-epoch-10"])
def test_training_killed_after_an_epoch_line_keeps_that_epoch(
        epoch: int, fraction: float, reference: Reference, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    run = Run(*train_argv(folder))
    at = run.line_time(f"epoch {epoch}:") + fraction * reference.epoch_seconds
    run.kill_at(at)
    temps = check_training_folder(folder, run, reference)
    report(f"kill {fraction} epoch after 'epoch {epoch}:'", run.stage(), temps)
    # the epoch line comes after the epoch's save and its metrics line
    assert len((folder / "metrics.jsonl").read_text().splitlines()) >= epoch
    assert (folder / MODEL_FILE).exists()


@dataclass(frozen=True)
class MidWrite:
    """A run killed inside a write, and whether open_atomic's temporary file was there when it died."""

    folder: Path
    run: Run
    name: str
    inside: bool
    temps: set[str]


TRAINING_WRITES = {"first-model-save": (MODEL_FILE, None), "later-model-save": (MODEL_FILE, "epoch 3:"),
                   "dev-predictions": ("dev.predictions.conll", None)}


@pytest.fixture(scope="module", params=list(TRAINING_WRITES))
def training_killed_mid_write(request: pytest.FixtureRequest, reference: Reference,
                              tmp_path_factory: pytest.TempPathFactory) -> MidWrite:
    name, after = TRAINING_WRITES[request.param]
    folder = tmp_path_factory.mktemp(request.param) / "run"
    run = Run(*train_argv(folder))
    inside = kill_mid_write(run, folder, name, after)
    temps, _ = strays(folder, TRAIN_OUTPUTS, run.pid)
    report(f"kill inside the write of {name} (after {after!r})", run.stage(), temps)
    return MidWrite(folder, run, name, inside, temps)


def test_training_killed_inside_a_write_keeps_the_last_complete_file(
        training_killed_mid_write: MidWrite, reference: Reference) -> None:
    killed = training_killed_mid_write
    check_training_folder(killed.folder, killed.run, reference)
    printed_best = [int(match[1]) for _, line in killed.run.lines if (match := EPOCH_LINE.match(line)) and match[2]]
    if killed.inside and killed.name == MODEL_FILE:  # the save before stays: the last best epoch printed, if any
        if printed_best:
            assert Tagger.load(killed.folder).info["best_epoch"] == printed_best[-1]
        else:
            assert not (killed.folder / MODEL_FILE).exists()
    if killed.inside and killed.name == "dev.predictions.conll":
        assert not (killed.folder / killed.name).exists()
        assert Tagger.load(killed.folder).info["best_epoch"] == Tagger.load(reference.folder).info["best_epoch"]


def test_a_temporary_file_left_inside_a_write_is_swept_by_the_next_run(training_killed_mid_write: MidWrite,
                                                                        tmp_path: Path) -> None:
    """SIGKILL runs no cleanup, so a kill inside open_atomic's write leaves its temporary file; the next write
    of the same file removes it (its writer's pid no longer runs)."""
    killed = training_killed_mid_write
    if not killed.inside:
        pytest.skip("the poll missed the write: the kill came just after it")
    assert killed.temps, "a kill inside the write leaves the writer's temporary file"
    folder = tmp_path / "run"
    shutil.copytree(killed.folder, folder)
    run = Run(*train_argv(folder, epochs=2))
    assert run.finish() == 0, run.stderr
    assert set(os.listdir(folder)) == TRAIN_OUTPUTS  # no temporary file, no lock file


@pytest.mark.parametrize("training_killed_mid_write", ["later-model-save"], indirect=True)
def test_the_folder_of_a_killed_run_takes_the_next_run(training_killed_mid_write: MidWrite, tmp_path: Path) -> None:
    # the kernel's lock went with the killed process: the lock file it left does not refuse the next run
    folder = tmp_path / "run"
    shutil.copytree(training_killed_mid_write.folder, folder)
    run = Run(*train_argv(folder, epochs=2))
    assert run.finish() == 0, run.stderr
    assert json.loads((folder / "results.json").read_text())["epochs"] == 2
    assert Tagger.load(folder).info["best_epoch"] in (1, 2)
    left = set(os.listdir(folder)) - TRAIN_OUTPUTS
    assert not left  # the lock file is gone, and so is a dead run's temporary file
    report("a new run in the killed run's folder", "finished", left)


# ----------------------------------------------------------------------------- evaluate --output


@dataclass(frozen=True)
class Evaluation:
    """A labelled file large enough for about a second of ``evaluate``, and the uninterrupted run's output."""

    data: Path
    output: bytes
    seconds: float


@pytest.fixture(scope="module")
def evaluation(reference: Reference, tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    folder = tmp_path_factory.mktemp("evaluate")
    data = folder / "eight-times-train.conll"
    data.write_text("\n".join([sample_corpus("train").read_text()] * 8))
    output = folder / "reference.conll"
    run = Run("evaluate", "--model", reference.folder, "--data", data, "--output", output)
    assert run.finish() == 0, run.stderr
    return Evaluation(data, output.read_bytes(), run.seconds)


def evaluate(reference: Reference, evaluation: Evaluation, output: Path) -> Run:
    return Run("evaluate", "--model", reference.folder, "--data", evaluation.data, "--output", output)


@pytest.mark.parametrize("fraction", EVALUATE_MOMENTS, ids=[f"{m:.3f}-of-run" for m in EVALUATE_MOMENTS])
def test_evaluate_killed_at_a_seeded_moment_writes_its_output_whole_or_not_at_all(
        fraction: float, reference: Reference, evaluation: Evaluation, tmp_path: Path) -> None:
    output = tmp_path / "predictions.conll"
    run = evaluate(reference, evaluation, output)
    killed = run.kill_at(fraction * evaluation.seconds)
    temps, others = strays(tmp_path, {output.name}, run.pid)
    landed = "inside its write" if temps else "after its write" if output.exists() else "before its write"
    report(f"kill at {fraction * evaluation.seconds:.2f} s", landed if killed else "after the end", temps)
    assert not others
    if output.exists():
        assert output.read_bytes() == evaluation.output, f"{output} is not the whole output"


@pytest.fixture(scope="module")
def evaluate_killed_mid_write(reference: Reference, evaluation: Evaluation,
                              tmp_path_factory: pytest.TempPathFactory) -> MidWrite:
    folder = tmp_path_factory.mktemp("evaluate-mid-write")
    output = folder / "predictions.conll"
    output.write_text("an earlier file\n")
    run = evaluate(reference, evaluation, output)
    inside = kill_mid_write(run, folder, output.name)
    temps, _ = strays(folder, {output.name}, run.pid)
    report(f"kill inside the write of {output.name}", "inside" if inside else "just after", temps)
    return MidWrite(folder, run, output.name, inside, temps)


def test_evaluate_killed_inside_its_write_keeps_the_earlier_file(evaluate_killed_mid_write: MidWrite,
                                                                 evaluation: Evaluation) -> None:
    killed = evaluate_killed_mid_write
    assert not strays(killed.folder, {killed.name}, killed.run.pid)[1]
    written = (killed.folder / killed.name).read_bytes()
    allowed = [b"an earlier file\n"] if killed.inside else [b"an earlier file\n", evaluation.output]
    assert written in allowed, f"{killed.name} holds {len(written)} bytes of neither file: {written[:80]!r}"


def test_a_temporary_file_left_by_a_killed_evaluate_is_swept_by_the_next_one(evaluate_killed_mid_write: MidWrite,
                                                                              reference: Reference,
                                                                              evaluation: Evaluation) -> None:
    killed = evaluate_killed_mid_write
    if not killed.inside:
        pytest.skip("the poll missed the write: the kill came just after it")
    assert killed.temps, "a kill inside the write leaves the writer's temporary file"
    output = killed.folder / killed.name
    assert evaluate(reference, evaluation, output).finish() == 0
    assert os.listdir(killed.folder) == [killed.name]
    assert output.read_bytes() == evaluation.output


def test_a_rerun_killed_after_its_first_save_leaves_no_results_of_the_earlier_run(reference: Reference,
                                                                                 tmp_path: Path) -> None:
    """The model in the folder is the new run's from its first save on: the earlier run's results.json and
    predictions, which describe another model, are gone from then on."""
    folder = tmp_path / "run"
    shutil.copytree(reference.folder, folder)
    run = Run(*train_argv(folder), "--seed", "8")  # the last --seed counts
    run.line_time("epoch 1:")  # printed after the epoch's save
    assert run.kill(), "the run ended before it could be killed"
    names = set(os.listdir(folder))
    assert {"results.json", "dev.predictions.conll", "test.predictions.conll"}.isdisjoint(names), names
    assert Tagger.load(folder).info["training"]["seed"] == 8


# ----------------------------------------------------------------------------- tag (stdout)


@pytest.fixture(scope="module")
def tag_input(reference: Reference, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, float]:
    """The sample training corpus as raw text, one sentence a line (about a second of ``tag``), and the
    uninterrupted run's stdout and duration."""
    folder = tmp_path_factory.mktemp("tag")
    sentences = sample_corpus("train").read_text().split("\n\n")
    text = folder / "sentences.txt"
    text.write_text("".join(" ".join(line.split()[0] for line in block.splitlines()) + "\n"
                            for block in sentences if block.strip() and not block.startswith("-DOCSTART-")))
    with open(folder / "reference.jsonl", "wb") as stdout:
        run = Run("tag", "--model", reference.folder, "--input", text, "--format", "jsonl", stdout=stdout)
        assert run.finish() == 0, run.stderr
    return text, (folder / "reference.jsonl").read_bytes(), run.seconds


@pytest.mark.parametrize("fraction", TAG_MOMENTS, ids=[f"{m:.3f}-of-run" for m in TAG_MOMENTS])
def test_tag_killed_at_a_seeded_moment_has_printed_whole_lines(
        fraction: float, reference: Reference, tag_input: tuple[Path, bytes, float], tmp_path: Path) -> None:
    # tag has no --output: it prints one line per text, flushed, so stdout holds whole lines, never all-or-nothing
    text, full, seconds = tag_input
    with open(tmp_path / "tagged.jsonl", "wb") as stdout:
        run = Run("tag", "--model", reference.folder, "--input", text, "--format", "jsonl", stdout=stdout)
        killed = run.kill_at(fraction * seconds)
    printed = (tmp_path / "tagged.jsonl").read_bytes()
    lines, total = printed.count(b"\n"), full.count(b"\n")
    landed = f"{lines} of {total} lines printed"
    report(f"kill at {fraction * seconds:.2f} s", landed if killed else "after the end", set())
    assert full.startswith(printed)
    assert printed == b"" or printed.endswith(b"\n")
