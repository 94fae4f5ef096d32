"""Group commit for push callbacks: store, then acknowledge, at thousands of pushes a second.

A carrier's push is acknowledged only once its events are committed (so a crash never loses
an acknowledged push: the carrier retries anything we did not acknowledge). Committing each
push in its own transaction, from many request threads at once, makes SQLite writers queue
behind each other's locks; instead every request hands its updates to one writer task,
which commits whatever has arrived meanwhile in a single transaction and then answers all of
those requests. If a batch fails, its pushes are retried one by one, so one bad push cannot
fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from carriers.base import TrackingUpdate

log = logging.getLogger(__name__)
MAX_BATCH = 500  # pushes per transaction


@dataclass
class _Item:
    updates: Sequence[TrackingUpdate]
    done: asyncio.Future[None]


class PushWriter:
    def __init__(self, store: Callable[[Sequence[TrackingUpdate]], object]) -> None:
        """`store` writes updates in one transaction (blocking; it runs in a thread)."""
        self.store = store
        self.queue: asyncio.Queue[_Item] | None = None
        self.task: asyncio.Task[None] | None = None

    async def submit(self, updates: Sequence[TrackingUpdate]) -> None:
        """Returns once `updates` are committed; raises what storing them raised."""
        if self.task is None or self.task.done():
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._run(self.queue))
        assert self.queue is not None
        item = _Item(updates, asyncio.get_running_loop().create_future())
        await self.queue.put(item)
        await item.done

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def _run(self, queue: asyncio.Queue[_Item]) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < MAX_BATCH:
                batch.append(queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[_Item]) -> None:
        updates = [u for item in batch for u in item.updates]
        try:
            await asyncio.to_thread(self.store, updates)
        except Exception as exc:
            if len(batch) == 1:
                log.exception("storing a push failed")
                if not batch[0].done.done():
                    batch[0].done.set_exception(exc)
                return
            for item in batch:  # find the bad one; store the others
                await self._commit([item])
            return
        for item in batch:
            if not item.done.done():
                item.done.set_result(None)
