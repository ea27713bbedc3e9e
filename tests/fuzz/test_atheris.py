"""Each atheris target of tools/fuzz.py runs for a few seconds without a crash (the harness works, and the
seeds and their near neighbours read or are refused cleanly). Long runs are by hand: see tools/fuzz.py."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz._harness import FUZZ_TOOL, load_fuzz_tool

SECONDS = 2  # per target: with about 2 s of start-up each (instrumenting, libFuzzer), the five take about 20 s

pytestmark = pytest.mark.skipif(importlib.util.find_spec("atheris") is None,
                                reason="atheris is not installed (pip install -e '.[fuzz]' to fuzz)")


@pytest.mark.parametrize("target", list(load_fuzz_tool().TARGETS))
def test_fuzz_target_runs_without_a_crash(target: str, tmp_path: Path) -> None:
    # -seed: the same mutations in every run, so that a red CI is red again when rerun
    command = [sys.executable, str(FUZZ_TOOL), target, "--seconds", str(SECONDS), "--crashes", str(tmp_path),
               "-seed=1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS + 60, check=False)
    assert run.returncode == 0, f"{' '.join(command)} exited {run.returncode}:\n{run.stderr[-4000:]}"
    assert "Done" in run.stderr, run.stderr[-2000:]  # libFuzzer's closing line: it really fuzzed
