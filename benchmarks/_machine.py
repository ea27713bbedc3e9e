"""What the benchmarks say about the machine they ran on: usable cores, NumPy's BLAS and its threads."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def usable_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def blas_threads() -> tuple[int, str]:
    """Threads OpenBLAS uses, and where that number comes from: its environment variable, else every core."""
    for variable in THREAD_VARIABLES:
        if os.environ.get(variable, "").isdigit():
            return int(os.environ[variable]), f"from {variable}"
    return usable_cores(), "default: every usable core"


def blas_name() -> str:
    """The BLAS NumPy was built with, when NumPy can say (NumPy >= 1.25)."""
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]  # type: ignore[func-returns-value]
        return f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # older NumPy prints instead of returning; the name is only informative
        return "unknown"


def thread_settings() -> str:
    """The thread variables set for this run, as a command prefix ("" when none)."""
    return "".join(f"{k}={os.environ[k]} " for k in THREAD_VARIABLES if k in os.environ)


def cpu_model() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it (these machines differ from session to session)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
