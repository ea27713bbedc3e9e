"""The neutral file helpers: a folder lock that names its holder and dies with it, and a full disk that names
the file it was writing."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from window_ner.files import LOCK_NAME, FolderInUse, lock_folder, open_atomic

HOLD = """
import sys, time
from window_ner.files import lock_folder
with lock_folder(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def hold_lock(folder: Path) -> subprocess.Popen[str]:
    """Another process that takes the folder's lock and keeps it."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path)
    try:
        with pytest.raises(FolderInUse, match=rf"in use by another run \(process {holder.pid} on .*, since "), \
                lock_folder(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_dies_with_its_process_even_on_sigkill(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / LOCK_NAME).exists()  # the file stays, the kernel's lock does not
    with lock_folder(tmp_path):
        assert (tmp_path / LOCK_NAME).read_text().split()[0] == str(os.getpid())
    assert not (tmp_path / LOCK_NAME).exists()


def test_the_same_process_cannot_take_the_lock_twice(tmp_path: Path) -> None:
    with lock_folder(tmp_path), pytest.raises(FolderInUse), lock_folder(tmp_path):
        pass
    with lock_folder(tmp_path):  # released at the end of the block
        pass


def test_a_full_disk_names_the_file_being_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "model.safetensors"
    with pytest.raises(OSError, match="No space left on device") as info, open_atomic(target) as f:
        f.write(b"data")
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(target)
    assert os.listdir(tmp_path) == []  # nothing left: neither the file nor its temporary


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_device_names_itself() -> None:
    with pytest.raises(OSError) as info, open_atomic("/dev/full", "w", encoding="utf-8") as f:
        f.write("x" * 100_000)
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, "/dev/full")


def test_a_temporary_file_of_a_dead_writer_is_swept_by_the_next_write(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "model.safetensors"
    left = tmp_path / f".model.safetensors.{dead.pid}.0123abcd.tmp"
    alive = tmp_path / f".model.safetensors.{os.getppid()}.89abcdef.tmp"  # a running writer's: kept
    other = tmp_path / f".results.json.{dead.pid}.0123abcd.tmp"  # another target's: not this write's business
    for path in (left, alive, other):
        path.write_bytes(b"half a file")
    with open_atomic(target) as f:
        f.write(b"whole")
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, alive.name, other.name])
