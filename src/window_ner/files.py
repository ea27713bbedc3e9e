"""Files written all or nothing, and folders one process at a time: helpers that both the nn layer (models)
and the ner layer (CoNLL files, training runs) use, kept below both so that neither borrows them from the
other."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import socket
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from window_ner.errors import InputError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; lock_folder then only marks the folder
    fcntl = None  # type: ignore[assignment]

__all__ = ["FolderInUse", "LOCK_NAME", "bounded_lines", "lock_folder", "open_atomic"]

LOCK_NAME = ".window-ner.lock"


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None,
                newline: str | None = None) -> Iterator[IO[Any]]:
    """A new file beside ``path`` to write in the ``with`` block; when the block ends it is fsynced and renamed
    over ``path``: all or nothing. An exception in the block (bad input, full disk, Ctrl-C) leaves ``path`` as
    it was and no temporary file. A replaced file keeps its permissions; a new one gets open()'s (umask).

    A temporary file of ``path`` left by a process that was killed inside its write is removed first.
    A symbolic link is written through: its target is replaced, the link stays. A pipe, device or socket
    (``/dev/stdout``, a FIFO) cannot be replaced, so it is opened and written as a stream, not atomically.
    A folder is refused with IsADirectoryError."""
    path = Path(path)
    try:
        kind = os.stat(path).st_mode  # follows links
    except OSError:  # nothing there yet (or a dangling link): a new file
        kind = stat.S_IFREG
    if stat.S_ISDIR(kind):
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", os.fspath(path))
    if not stat.S_ISREG(kind):
        try:
            with open(path, mode, encoding=encoding, newline=newline) as stream:
                yield stream
        except OSError as error:
            if error.filename is None:  # a full device (/dev/full) names no file
                raise OSError(error.errno, error.strerror or str(error), os.fspath(path)) from error
            raise
        return
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    _sweep_dead_temporaries(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # O_EXCL: never write through someone else's file; mode 0o666 lets the umask decide as for open().
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the rename must not become visible before the data is on disk
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if error.filename is None or error.filename == os.fspath(temp):  # a full disk names no file
            raise OSError(error.errno, error.strerror or str(error), os.fspath(path)) from error
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    # Make the rename itself durable; directories cannot be opened on every platform, so best effort.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _sweep_dead_temporaries(path: Path) -> None:
    """Remove the temporary files of ``path`` left by processes that died inside a write (SIGKILL, power
    loss): their names hold the writer's pid, and a pid that no longer runs will never rename its file."""
    prefix = f".{path.name}."
    with contextlib.suppress(OSError):
        for name in os.listdir(path.parent):
            if not (name.startswith(prefix) and name.endswith(".tmp")):
                continue
            pid, _, token = name[len(prefix):-len(".tmp")].partition(".")
            if pid.isdigit() and len(token) == 8 and int(pid) != os.getpid() and not _running(int(pid)):
                with contextlib.suppress(OSError):
                    os.unlink(path.parent / name)


def _running(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: leave its file alone
    return True


class FolderInUse(InputError):
    """Another process holds the folder's lock (see :func:`lock_folder`)."""


@contextlib.contextmanager
def lock_folder(folder: str | os.PathLike, what: str = "run") -> Iterator[Path]:
    """Hold an exclusive lock on ``folder`` (an existing folder) for the ``with`` block, so that two runs
    never write into it at once; a second one raises :class:`FolderInUse` naming the process that holds it.

    The lock is the kernel's (``flock`` on ``folder/.window-ner.lock``): it goes with its process, even one
    killed with SIGKILL, so a lock file left behind never blocks the next run. The file holds the holder's
    pid, host and start time, for the message.
    """
    path = Path(folder) / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").split()
            os.close(fd)
            who = (f"process {holder[0]} on {holder[1]}, since {' '.join(holder[2:])}" if len(holder) >= 3
                   else "a process that is starting")
            raise FolderInUse(f"{folder} is in use by another {what} ({who}); wait for it to end or choose "
                              "another output folder") from None
        except BaseException:
            os.close(fd)
            raise
        try:  # the holder before us may have removed the file between our open and our lock: lock anew
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        yield Path(folder)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


def bounded_lines(stream: IO[bytes], limit: int, too_long: Callable[[int], Exception]) -> Iterator[bytes]:
    """The lines of a binary stream, newline included, each at most ``limit`` bytes before its newline; a
    longer one raises ``too_long(line_number)`` instead of filling the memory (``/dev/zero`` has no end of
    line)."""
    readline = stream.readline
    number = 0
    while line := readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            raise too_long(number)
        yield line
