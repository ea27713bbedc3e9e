"""Tagging in bulk: chunks of input handed to a function with a loaded tagger, in order, in this process or
in worker processes that each load the model once.

:func:`map_chunks` keeps at most a few chunks in flight per worker, so memory stays bounded by the chunk
size whatever the input size; results come back in input order. Worker processes ignore Ctrl-C: the
caller's KeyboardInterrupt cancels the chunks not yet started and waits for the running ones (each a
fraction of a second). A worker that dies (killed, out of memory) raises :class:`WorkerDied` naming the
chunk it held, instead of hanging.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from window_ner.ner.inference.tagger import Tagger

__all__ = ["WorkerDied", "map_chunks", "usable_cores"]

C = TypeVar("C")
R = TypeVar("R")
IN_FLIGHT = 2  # chunks queued per worker: enough to keep it busy, few enough to bound memory
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

_tagger: Tagger | None = None  # a worker process's model, loaded once by _start_worker


class WorkerDied(RuntimeError):
    """A worker process ended while it held a chunk (killed by a signal, out of memory)."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _start_worker(model: str) -> None:
    global _tagger
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _tagger = Tagger.load(model)


def _run_in_worker(work: Callable[[Tagger, C], R], chunk: C) -> R:
    assert _tagger is not None, "the worker's initializer did not run"
    return work(_tagger, chunk)


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
    yield from _in_workers(str(model), work, chunks, workers, describe)


def _in_workers(model: str, work: Callable[[Tagger, C], R], chunks: Iterable[C], workers: int,
                describe: Callable[[C], str]) -> Iterator[tuple[C, R]]:
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"  # no fork of a threaded parent
    # One BLAS thread per worker, or N workers would run 2N threads on N cores. The pool starts its processes
    # as work arrives, so the variables stay set for the pool's whole life.
    saved = {name: os.environ.get(name) for name in _THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(_THREAD_VARIABLES, "1"))
    executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                   initializer=_start_worker, initargs=(model,))
    pending: collections.deque[tuple[C, Future[R]]] = collections.deque()
    source = iter(chunks)
    try:
        for chunk in source:
            pending.append((chunk, executor.submit(_run_in_worker, work, chunk)))
            if len(pending) >= IN_FLIGHT * workers:
                yield _next_result(pending, describe)
        while pending:
            yield _next_result(pending, describe)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _next_result(pending: collections.deque[tuple[Any, Future[Any]]],
                 describe: Callable[[Any], str]) -> tuple[Any, Any]:
    chunk, future = pending.popleft()
    try:
        return chunk, future.result()
    except BrokenProcessPool as error:
        raise WorkerDied(f"a worker process died while tagging {describe(chunk)} (killed, or out of memory?); "
                         "nothing after it was written") from error
