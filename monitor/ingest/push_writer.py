"""Group commit for push callbacks: store, then acknowledge, at thousands of pushes a second.

A carrier's push is acknowledged only once its events are committed (so a crash never loses
an acknowledged push: the carrier retries anything we did not acknowledge). Committing each
push in its own transaction, from many request threads at once, makes SQLite writers queue
behind each other's locks; instead every request hands its updates to one writer task,
which commits whatever has arrived meanwhile in a single transaction and then answers all of
those requests. If a batch fails, its pushes are retried one by one, so one bad push cannot
fail its neighbours. A push may bring its raw body, kept (by `keep`) in the same batch, just
before its updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from carriers.base import TrackingUpdate

log = logging.getLogger(__name__)
MAX_BATCH = 500  # pushes per transaction


@dataclass
class _Item:
    updates: Sequence[TrackingUpdate]
    done: asyncio.Future[None]
    raw: Any = None


class PushWriter:
    def __init__(
        self,
        store: Callable[[Sequence[TrackingUpdate]], object],
        keep: Callable[[Sequence[Any]], object] | None = None,
    ) -> None:
        """`store` writes updates in one transaction; `keep` the raw bodies of the same
        batch (both blocking; they run in a thread)."""
        self.store = store
        self.keep = keep
        self.queue: asyncio.Queue[_Item] | None = None
        self.task: asyncio.Task[None] | None = None

    async def submit(self, updates: Sequence[TrackingUpdate], raw: Any = None) -> None:
        """Returns once `updates` (and `raw`, if given) are committed; raises what storing
        them raised."""
        if self.task is None or self.task.done():
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._run(self.queue))
        assert self.queue is not None
        item = _Item(updates, asyncio.get_running_loop().create_future(), raw)
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

    def _write(self, updates: Sequence[TrackingUpdate], raws: Sequence[Any]) -> None:
        if raws and self.keep is not None:
            self.keep(raws)
        self.store(updates)

    async def _commit(self, batch: list[_Item]) -> None:
        updates = [u for item in batch for u in item.updates]
        raws = [item.raw for item in batch if item.raw is not None]
        try:
            await asyncio.to_thread(self._write, updates, raws)
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
