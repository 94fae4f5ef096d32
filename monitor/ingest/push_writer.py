"""Group commit for push callbacks: verify, parse and store concurrent pushes together, and
acknowledge each only once its own events are committed (docs/architecture.md "Push ingest").

A carrier's push is acknowledged only once its events and its body as received are committed,
so a crash never loses an acknowledged push: the carrier sends again anything we did not
acknowledge, and sending again doubles nothing (events, kept bodies and outbox rows each have
their own de-duplication key). Committing each push in its own transaction, from many request
threads at once, makes SQLite writers queue behind each other's locks and pays a commit per
push; instead every request hands its push, still unparsed, to one writer task. The writer
gathers whatever has arrived by the time the event loop has nothing else ready, verifies and
parses those pushes in its thread (off the event loop, which goes on reading requests), and
stores all that parsed in one transaction: bodies and updates together.

Each submitter gets its own truthful answer:
- a push that does not verify or parse fails alone with its parser's exception (the others of
  its batch are stored);
- when the store is unavailable (locked, unreachable, disk full: `StoreUnavailable`) the whole
  batch fails at once, each submitter told so, and nothing of it is stored; the carrier sends
  its push again;
- any other failure of a batch's transaction is about the data of one of its pushes: the
  batch is split in halves and each half committed on its own, until the push that cannot be
  stored fails alone (`PushNotStored`) and every other one is stored once;
- a writer that fails in itself, or is closed, answers every push it holds or has queued with
  `StoreUnavailable`: no submitter waits forever. A batch already in its transaction when the
  writer is closed is finished first, so its submitters hear the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

from carriers.base import PushResult, TrackingUpdate
from monitor.store.raw_answers import RawPush

log = logging.getLogger(__name__)
MAX_BATCH = 500  # pushes per transaction
# How long the writer waits for more pushes before it starts a batch, at most; it starts
# sooner as soon as two turns of the event loop brought nothing new.
GATHER_SECONDS = 0.002
QUIET_TURNS = 2


@dataclass(frozen=True)
class Accepted:
    """A push that verified and parsed: the updates to store, its body as received, and the
    carrier's answer (`PushResult.reply_body`) to send once they are committed."""

    updates: Sequence[TrackingUpdate]
    raw: RawPush | None
    result: PushResult


# Runs in the writer's thread; raising rejects this one push (signature, format).
Prepare = Callable[[], Accepted]
# Stores a batch in one transaction, in the writer's thread.
Write = Callable[[Sequence[Accepted]], object]
Outcome = Accepted | BaseException


class StoreUnavailable(Exception):
    """The store could not take a batch (locked, unreachable, out of space): nothing of it
    was stored, and the push should be sent again later."""


class PushNotStored(Exception):
    """This push's own data could not be stored (its batch's others were): nothing of it
    was kept. The storing error is its `__cause__`."""


# Failures of the store itself rather than of one push's data.
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError, OSError)


@dataclass
class _Item:
    prepare: Prepare
    done: asyncio.Future[Accepted]


class PushWriter:
    def __init__(self, write: Write) -> None:
        """`write` stores the accepted pushes of a batch in one transaction (blocking; it
        runs in a thread)."""
        self.write = write
        self.queue: asyncio.Queue[_Item] | None = None
        self.task: asyncio.Task[None] | None = None

    async def submit(self, prepare: Prepare) -> Accepted:
        """Returns the accepted push once it is committed; raises what `prepare` raised, or
        StoreUnavailable, or what storing this push's own data raised."""
        if self.task is None or self.task.done():
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._run(self.queue))
        assert self.queue is not None
        item = _Item(prepare, asyncio.get_running_loop().create_future())
        self.queue.put_nowait(item)
        return await item.done

    async def close(self) -> None:
        """Stop the writer: a batch in its transaction is finished and answered, every push
        still queued is answered with StoreUnavailable."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def _run(self, queue: asyncio.Queue[_Item]) -> None:
        batch: list[_Item] = []
        try:
            while True:
                batch = [await queue.get()]
                await _gather(queue, batch)
                await self._settle(batch)
                batch = []
        except asyncio.CancelledError:  # closed
            _refuse(batch, queue)
            raise
        except Exception:  # broken in itself: the next push starts a new writer
            log.exception("the push writer failed; its pushes are refused, to be sent again")
            _refuse(batch, queue)

    async def _settle(self, batch: list[_Item]) -> None:
        """Verify, parse and store one batch in the writer's thread and answer its
        submitters. Cancelling waits for the batch's transaction to end, so that each
        submitter is told what really happened to its push."""
        work = asyncio.ensure_future(asyncio.to_thread(self._handle, [i.prepare for i in batch]))
        try:
            outcomes = await asyncio.shield(work)
        except asyncio.CancelledError:
            outcomes = await work
            _answer(batch, outcomes)
            raise
        _answer(batch, outcomes)

    # -- in the writer's thread ----------------------------------------------------------

    def _handle(self, prepares: Sequence[Prepare]) -> list[Outcome]:
        """Each push's outcome: verified, parsed and committed, or why not."""
        outcomes: list[Outcome] = []
        for prepare in prepares:
            try:
                outcomes.append(prepare())
            except Exception as exc:  # this push alone is rejected
                outcomes.append(exc)
        accepted = {i: o for i, o in enumerate(outcomes) if isinstance(o, Accepted)}
        for i, failure in self._commit(accepted).items():
            outcomes[i] = failure
        return outcomes

    def _commit(self, pushes: dict[int, Accepted]) -> dict[int, BaseException]:
        """Store `pushes` (by position in the batch) in one transaction; on a failure that
        is about their data, split them in halves until the push that cannot be stored is
        alone. Returns the failures by position."""
        if not pushes:
            return {}
        try:
            self.write(list(pushes.values()))
        except UNAVAILABLE as exc:
            reason = str(getattr(exc, "orig", None) or exc)  # the driver's words, not the SQL
            log.error("storing %d push(es) failed, the store is unavailable: %s",
                      len(pushes), reason)  # fmt: skip
            unavailable = StoreUnavailable(reason)
            return dict.fromkeys(pushes, unavailable)
        except Exception as exc:
            if len(pushes) == 1:
                log.exception("storing a push failed")
                failure = PushNotStored(f"this push could not be stored: {exc}")
                failure.__cause__ = exc
                return dict.fromkeys(pushes, failure)
            positions = list(pushes)
            half = len(positions) // 2
            first = self._commit({i: pushes[i] for i in positions[:half]})
            return first | self._commit({i: pushes[i] for i in positions[half:]})
        return {}


def _answer(batch: Sequence[_Item], outcomes: Sequence[Outcome]) -> None:
    for item, outcome in zip(batch, outcomes, strict=True):
        if item.done.done():  # its request went away meanwhile
            continue
        if isinstance(outcome, BaseException):
            item.done.set_exception(outcome)
        else:
            item.done.set_result(outcome)


def _refuse(batch: Sequence[_Item], queue: asyncio.Queue[_Item]) -> None:
    """Answer every push of `batch` not yet answered, and every queued push, with
    StoreUnavailable: the carrier sends it again."""
    waiting = list(batch)
    while not queue.empty():
        waiting.append(queue.get_nowait())
    for item in waiting:
        if not item.done.done():
            item.done.set_exception(StoreUnavailable("the push writer stopped"))


async def _gather(queue: asyncio.Queue[_Item], batch: list[_Item]) -> None:
    """Add what arrives while the event loop still has ready work (requests read but not yet
    handed over), for at most GATHER_SECONDS: a batch then holds the pushes of one burst
    rather than its first alone."""
    deadline = time.monotonic() + GATHER_SECONDS
    quiet = 0
    while len(batch) < MAX_BATCH and quiet < QUIET_TURNS and time.monotonic() < deadline:
        if queue.empty():
            quiet += 1
            await asyncio.sleep(0)
            continue
        quiet = 0
        while not queue.empty() and len(batch) < MAX_BATCH:
            batch.append(queue.get_nowait())
