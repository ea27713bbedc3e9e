"""docs/reliability.md stays true: every bad input in tools/bad_inputs.py still gives the exit code and the first
line of stderr the document records."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(sys.platform != "linux", reason="the cases use /dev/zero, /dev/full, /proc, FIFOs and rlimits")
def test_every_bad_input_behaves_as_docs_reliability_md_records() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "bad_inputs.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, (
        "cases of tools/bad_inputs.py changed behaviour; if the change is intended, run "
        f"'python tools/bad_inputs.py --write' and review docs/reliability.md:\n{done.stdout}{done.stderr}")
