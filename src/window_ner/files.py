"""Files written all or nothing: the one helper that both the nn layer (models) and the ner layer (CoNLL
files) use, kept below both so that neither borrows it from the other."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["open_atomic"]


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None,
                newline: str | None = None) -> Iterator[IO[Any]]:
    """A new file beside ``path`` to write in the ``with`` block; when the block ends it is fsynced and renamed
    over ``path``: all or nothing. An exception in the block (bad input, full disk, Ctrl-C) leaves ``path`` as
    it was and no temporary file. A replaced file keeps its permissions; a new one gets open()'s (umask).

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
        with open(path, mode, encoding=encoding, newline=newline) as stream:
            yield stream
        return
    if path.is_symlink():
        path = Path(os.path.realpath(path))
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
