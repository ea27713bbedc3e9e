"""One tagging thread fed by a bounded queue: concurrent requests are tagged together, in one batch.

The model's work is matrix products that already use every core, so one thread tags at a time and the event
loop stays free for I/O. Requests that arrive while a batch is being tagged wait in the queue and are tagged
together next (a batch of 30 one-sentence requests costs little more than one). A full queue refuses new
work at once (:class:`Busy`), so a flood of requests gets quick 503s instead of ever-growing latency.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

from window_ner.ner.inference.tagger import Entity, Tagger

T = TypeVar("T")

__all__ = ["Batcher", "Busy"]


class Busy(Exception):
    """The queue is full: try again shortly."""


class Batcher:
    """Tags the texts of concurrent requests in batches of up to ``batch_chars`` characters."""

    def __init__(self, tagger: Tagger, max_pending: int = 64, batch_chars: int = 200_000):
        self.tagger = tagger
        self.max_pending = max_pending
        self.batch_chars = batch_chars
        self.pending = 0  # requests queued or being served (tagging and explaining)
        self._queue: asyncio.Queue[tuple[list[str], asyncio.Future[list[list[Entity]]]]] = asyncio.Queue()
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="window-ner-model")
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._serve())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._thread.shutdown(wait=True, cancel_futures=True)

    def _admit(self) -> None:
        if self.pending >= self.max_pending:
            raise Busy(f"{self.pending} requests are already waiting")
        self.pending += 1

    async def tag(self, texts: list[str]) -> list[list[Entity]]:
        """The entities of each text, tagged in a batch with whatever other requests are waiting."""
        self._admit()
        try:
            future: asyncio.Future[list[list[Entity]]] = asyncio.get_running_loop().create_future()
            self._queue.put_nowait((texts, future))
            return await future
        finally:
            self.pending -= 1

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run other model work (an explanation, tokens) on the model's thread, counted in the same bound."""
        self._admit()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)
        finally:
            self.pending -= 1

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            size = sum(map(len, jobs[0][0]))
            while size < self.batch_chars and not self._queue.empty():
                job = self._queue.get_nowait()
                jobs.append(job)
                size += sum(map(len, job[0]))
            jobs = [job for job in jobs if not job[1].cancelled()]  # a client that left needs no answer
            texts = [text for job_texts, _ in jobs for text in job_texts]
            try:
                results = await loop.run_in_executor(self._thread, self.tagger.tag_texts, texts)
            except Exception as error:  # noqa: BLE001 - handed to each waiting request, which reports it
                for _, future in jobs:
                    if not future.done():
                        future.set_exception(error)
                continue
            first = 0
            for job_texts, future in jobs:
                if not future.done():
                    future.set_result(results[first:first + len(job_texts)])
                first += len(job_texts)
