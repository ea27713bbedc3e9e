"""How much memory this process may still take, so that a model too big to fit is refused before it is
allocated (rather than ending in MemoryError, or in the kernel's out-of-memory killer)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["available_bytes", "format_bytes"]


def available_bytes() -> int | None:
    """The least of: the memory the kernel says is available (MemAvailable), what the cgroup's limit
    leaves, and what the address-space limit (``ulimit -v``) leaves; None where none of them can be read."""
    limits = [_mem_available(), _cgroup_room(), _address_space_room()]
    known = [value for value in limits if value is not None]
    return min(known) if known else None


def format_bytes(size: float) -> str:
    """A size in bytes as a short human-readable figure: '512 MB', '1.5 TB'."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            return f"{size:.0f} {unit}" if unit == "bytes" or size >= 100 else f"{size:.3g} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _mem_available() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return None


def _cgroup_room() -> int | None:
    with contextlib.suppress(OSError, ValueError):
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            return int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text())
    return None


def _address_space_room() -> int | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return soft - int(line.split()[1]) * 1024
    return soft
