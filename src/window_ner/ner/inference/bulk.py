"""Tagging in bulk: chunks of input handed to a function with a loaded tagger, in order, in this process or
in worker processes that each load the model once.

The workers are a small pool of our own, one pipe per worker, each worker holding one chunk at a time:
a worker that dies (killed, out of memory) shows at once through its process sentinel or the end of its pipe,
and raises :class:`WorkerDied` naming the chunk it held. (concurrent.futures' pool hangs for good when a
worker dies while writing its result to the shared result pipe: seen here with CPython 3.11.) Results come
back in input order, with at most a few chunks waiting, so memory stays bounded by the chunk size. Workers
ignore Ctrl-C: the caller's KeyboardInterrupt stops them all, and the chunks they held are dropped.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TypeVar

from window_ner.ner.inference.tagger import Tagger

__all__ = ["WorkerDied", "map_chunks", "usable_cores"]

C = TypeVar("C")
R = TypeVar("R")
AHEAD = 2  # finished chunks that may wait per worker for an earlier one: bounds memory, keeps workers busy
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class WorkerDied(RuntimeError):
    """A worker process ended while it held a chunk (killed by a signal, out of memory)."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def map_chunks(model: str | Path | Tagger, work: Callable[[Tagger, C], R], chunks: Iterable[C],
               workers: int = 1, describe: Callable[[C], str] = lambda chunk: "a chunk") -> Iterator[tuple[C, R]]:
    """``(chunk, work(tagger, chunk))`` for each chunk, in order.

    With ``workers`` > 1, ``model`` must be a path (each worker loads it once) and ``work`` a module-level
    function (it is sent to the workers by name); ``describe(chunk)`` names a chunk in a WorkerDied error.
    """
    if workers <= 1:
        tagger = model if isinstance(model, Tagger) else Tagger.load(model)
        for chunk in chunks:
            yield chunk, work(tagger, chunk)
        return
    if isinstance(model, Tagger):
        raise TypeError("worker processes load the model themselves: pass its path, not a Tagger")
    pool = _Pool(str(model), workers)
    try:
        yield from pool.map(work, chunks, describe)
    finally:
        pool.close()


def _worker_main(connection: Connection, model: str) -> None:
    """A worker: load the model, then answer each ``(work, chunk)`` with ``("ok", result)`` or
    ``("error", exception, traceback text)`` until it receives None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    tagger = Tagger.load(model)
    while (message := connection.recv()) is not None:
        work, chunk = message
        try:
            connection.send(("ok", work(tagger, chunk)))
        except Exception as error:  # reported to the parent, which raises it
            text = traceback.format_exc()
            try:
                connection.send(("error", error, text))
            except Exception:  # an exception that does not pickle
                connection.send(("error", RuntimeError(str(error)), text))


class _Pool:
    def __init__(self, model: str, size: int):
        method = "forkserver" if sys.platform.startswith("linux") else "spawn"  # no fork of a threaded parent
        context = multiprocessing.get_context(method)
        saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
        os.environ.update(dict.fromkeys(_THREAD_VARIABLES, "1"))  # one BLAS thread per worker: N on N cores
        self.workers: list[tuple[Any, Connection]] = []
        try:
            for _ in range(size):
                ours, theirs = context.Pipe()
                process = context.Process(target=_worker_main, args=(theirs, model), daemon=True)
                process.start()
                theirs.close()  # the worker's end lives in the worker only: its death ends our reads
                self.workers.append((process, ours))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def map(self, work: Callable[[Tagger, C], R], chunks: Iterable[C],
            describe: Callable[[C], str]) -> Iterator[tuple[C, R]]:
        source = enumerate(chunks)
        held: dict[int, tuple[int, C]] = {}  # worker -> (chunk number, chunk) it is working on
        done: dict[int, tuple[C, R]] = {}  # finished chunks waiting for an earlier one
        next_out, exhausted = 0, False
        while True:
            for worker, (_, connection) in enumerate(self.workers):  # hand a chunk to every idle worker
                if worker in held or exhausted or len(done) + len(held) >= AHEAD * len(self.workers):
                    continue
                item = next(source, None)
                if item is None:
                    exhausted = True
                    continue
                held[worker] = item
                try:
                    connection.send((work, item[1]))
                except (BrokenPipeError, ConnectionResetError):
                    raise self._died(worker, item[1], describe) from None
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if not held:
                if exhausted and not done:
                    return
                continue
            busy = {self.workers[w][1]: w for w in held} | {self.workers[w][0].sentinel: w for w in held}
            for ready in wait(list(busy)):
                worker = busy[ready]
                if worker not in held:  # its pipe and its sentinel were both ready
                    continue
                number, chunk = held.pop(worker)
                connection = self.workers[worker][1]
                if ready is not connection and not connection.poll():
                    raise self._died(worker, chunk, describe)
                try:
                    answer = connection.recv()
                except (EOFError, OSError):  # died while writing its result
                    raise self._died(worker, chunk, describe) from None
                if answer[0] == "error":
                    raise answer[1] from RuntimeError(f"in a worker process:\n{answer[2]}")
                done[number] = (chunk, answer[1])

    def _died(self, worker: int, chunk: Any, describe: Callable[[Any], str]) -> WorkerDied:
        process = self.workers[worker][0]
        process.join(1)
        how = f"killed by signal {-process.exitcode}" if (process.exitcode or 0) < 0 else f"exit {process.exitcode}"
        return WorkerDied(f"a worker process died ({how}) while tagging {describe(chunk)} (killed, or out of "
                          "memory?); nothing after it was written")

    def close(self) -> None:
        """Stop every worker: idle ones when told, busy ones (after Ctrl-C or an error) by a signal."""
        for _process, connection in self.workers:
            with contextlib.suppress(OSError, ValueError):
                connection.send(None)
        for process, connection in self.workers:
            process.join(0.5)
            if process.is_alive():
                process.terminate()
                process.join(2)
            if process.is_alive():
                process.kill()
                process.join()
            connection.close()
