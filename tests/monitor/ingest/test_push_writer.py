"""Group commit for push callbacks (monitor/ingest/push_writer.py): concurrent submissions share
one transaction, at most MAX_BATCH pushes each; a submission returns only once its push is
stored, and raises what rejecting or storing it raised; a batch whose data fails is split until
the bad push is alone, so nothing is lost or stored twice; a store that is unavailable fails
the whole batch at once, retry-able; a writer closed or broken answers every push it holds.

Plain asyncio with a store callback of the test's own (it runs in a thread, as the real one
does); no sockets, no database."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from carriers.base import PushResult, SignatureError, TrackingUpdate
from carriers.status import ParcelStatus
from monitor.ingest.push_writer import (
    MAX_BATCH,
    Accepted,
    PushNotStored,
    PushWriter,
    StoreUnavailable,
)

T = TypeVar("T")


def update(number: str) -> TrackingUpdate:
    return TrackingUpdate(number, "zto", ParcelStatus.IN_TRANSIT, (), source="push")


def push(name: str, updates: int = 1) -> Callable[[], Accepted]:
    """One carrier push, to be parsed in the writer's thread: `updates` parcels, numbered
    `name-0`, `name-1`, ..."""

    def prepare() -> Accepted:
        numbers = [update(f"{name}-{i}") for i in range(updates)]
        return Accepted(numbers, None, PushResult(numbers, name.encode()))

    return prepare


def forged(name: str) -> Callable[[], Accepted]:
    def prepare() -> Accepted:
        raise SignatureError(f"{name}: forged")

    return prepare


class Store:
    """The transaction callback: records each call, and what it committed. With `hold_first`
    the first call waits until the test opens `gate`; a call with any `bad` number fails and
    commits nothing; `down` makes every call fail as an unreachable store does."""

    def __init__(self, *, hold_first: bool = False, bad: frozenset[str] = frozenset()) -> None:
        self.calls: list[list[str]] = []
        self.committed: list[str] = []
        self.bad = bad
        self.down = False
        self.started = threading.Event()
        self.gate = threading.Event()
        if not hold_first:
            self.gate.set()
        self.lock = threading.Lock()

    def __call__(self, pushes: Sequence[Accepted]) -> None:
        numbers = [u.tracking_number for p in pushes for u in p.updates]
        with self.lock:
            self.calls.append(numbers)
            first = len(self.calls) == 1
        if first:
            self.started.set()
            assert self.gate.wait(10), "the test never opened the gate"
        if self.down:
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        failing = sorted(self.bad.intersection(numbers))
        if failing:  # nothing committed
            raise IntegrityError("INSERT ...", {}, Exception(f"cannot store {', '.join(failing)}"))
        with self.lock:
            self.committed.extend(numbers)

    def batch_sizes(self) -> list[int]:
        return [len(call) for call in self.calls]


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=30))


async def queued(writer: PushWriter, count: int) -> None:
    """Wait until `count` submissions wait in the writer's queue."""
    while writer.queue is None or writer.queue.qsize() < count:
        await asyncio.sleep(0)


async def submit_while_the_first_commit_is_held(
    store: Store, pushes: list[Callable[[], Accepted]]
) -> list[Any]:
    """Submit `pushes[0]`, hold its commit, submit the others meanwhile, then let it go.
    Returns what each submission returned or raised."""
    writer = PushWriter(store)
    first = asyncio.create_task(writer.submit(pushes[0]))
    await asyncio.to_thread(store.started.wait, 10)
    rest = [asyncio.create_task(writer.submit(p)) for p in pushes[1:]]
    await queued(writer, len(rest))
    store.gate.set()
    try:
        return await asyncio.gather(first, *rest, return_exceptions=True)
    finally:
        await writer.close()


def replies(results: list[Any]) -> list[bytes | None]:
    return [r.result.reply_body if isinstance(r, Accepted) else None for r in results]


def test_a_submission_returns_once_its_updates_are_stored() -> None:
    store = Store()

    async def scenario() -> tuple[list[str], bytes]:
        writer = PushWriter(store)
        accepted = await writer.submit(push("a", 3))
        seen = list(store.committed)  # already committed when submit returns
        await writer.close()
        return seen, accepted.result.reply_body

    assert run(scenario) == (["a-0", "a-1", "a-2"], b"a")
    assert store.calls == [["a-0", "a-1", "a-2"]]


def test_pushes_arriving_during_a_commit_share_the_next_transaction() -> None:
    store = Store(hold_first=True)
    pushes = [push(f"p{i}") for i in range(20)]
    results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert replies(results) == [f"p{i}".encode() for i in range(20)]  # each its own answer
    assert store.batch_sizes() == [1, 19]  # two transactions for twenty pushes
    assert store.calls[1] == [f"p{i}-0" for i in range(1, 20)]  # in arrival order


def test_a_burst_is_gathered_into_one_transaction() -> None:
    """Submissions made in the same turns of the event loop as the first share its batch:
    the writer does not start with the first alone."""
    store = Store()

    async def scenario() -> None:
        writer = PushWriter(store)

        async def later(i: int) -> Accepted:
            await asyncio.sleep(0)  # one turn after the first
            return await writer.submit(push(f"p{i}"))

        await asyncio.gather(writer.submit(push("p0")), *(later(i) for i in range(1, 10)))
        await writer.close()

    run(scenario)
    assert store.batch_sizes() == [10]


def test_a_transaction_takes_at_most_max_batch_pushes() -> None:
    store = Store(hold_first=True)
    pushes = [push(f"p{i}", updates=2) for i in range(MAX_BATCH + 11)]
    results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert all(isinstance(r, Accepted) for r in results)
    # MAX_BATCH counts pushes, not the updates inside them
    assert store.batch_sizes() == [2, 2 * MAX_BATCH, 2 * 10]
    assert sorted(store.committed) == sorted(u.tracking_number for p in pushes for u in p().updates)


def test_an_unavailable_store_fails_the_batch_at_once_retryable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A locked or unreachable store is nobody's data: every waiting submitter is told at
    once (no push-by-push retries, each of which would wait on the same lock), with an
    exception the route answers 503 for, and nothing was stored."""
    store = Store(hold_first=True)
    store.down = True
    pushes = [push(f"p{i}") for i in range(6)]
    with caplog.at_level(logging.ERROR, "monitor.ingest.push_writer"):
        results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert "database is locked" in str(results[0])
    assert store.committed == []
    assert store.batch_sizes() == [1, 5]  # one transaction each batch, no retries
    assert len(caplog.records) == 2


def test_a_failing_batch_is_split_until_every_push_fails_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    everything = frozenset(f"p{i}-0" for i in range(5))
    store = Store(hold_first=True, bad=everything)
    pushes = [push(f"p{i}") for i in range(5)]
    with caplog.at_level(logging.ERROR, "monitor.ingest.push_writer"):
        results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert all(isinstance(r, PushNotStored) for r in results), results
    assert all(isinstance(r.__cause__, IntegrityError) for r in results)
    assert [f"p{i}-0" in str(r) for i, r in enumerate(results)] == [True] * 5
    assert store.committed == []
    # The first alone; then the four together, halves of two, then each alone.
    assert store.batch_sizes() == [1, 4, 2, 1, 1, 2, 1, 1]
    assert [r.getMessage() for r in caplog.records] == ["storing a push failed"] * 5


def test_one_bad_push_fails_alone_and_its_neighbours_are_stored_once() -> None:
    store = Store(hold_first=True, bad=frozenset({"p3-1"}))
    pushes = [push(f"p{i}", updates=2) for i in range(9)]
    results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert [i for i, r in enumerate(results) if not isinstance(r, Accepted)] == [3]
    assert isinstance(results[3], PushNotStored) and "p3-1" in str(results[3])
    assert isinstance(results[3].__cause__, IntegrityError)
    good = [f"p{i}-{j}" for i in range(9) if i != 3 for j in range(2)]
    assert sorted(store.committed) == sorted(good)  # nothing lost, nothing twice
    assert len(store.committed) == len(set(store.committed))
    # halving finds it in a few transactions, not one per push
    assert len(store.calls) <= 1 + 2 * 3 + 1


def test_a_push_that_does_not_verify_fails_alone_and_is_not_stored() -> None:
    store = Store(hold_first=True)
    pushes = [push("p0"), push("p1"), forged("p2"), push("p3")]
    results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert isinstance(results[2], SignatureError)
    assert replies(results) == [b"p0", b"p1", None, b"p3"]
    assert store.calls == [["p0-0"], ["p1-0", "p3-0"]]


def test_parsing_runs_off_the_event_loop() -> None:
    """The writer parses in its thread: the loop that reads requests never runs it."""
    store = Store()
    threads: list[threading.Thread] = []

    def prepare() -> Accepted:
        threads.append(threading.current_thread())
        return push("a")()

    async def scenario() -> threading.Thread:
        writer = PushWriter(store)
        await writer.submit(prepare)
        await writer.close()
        return threading.current_thread()

    loop_thread = run(scenario)
    assert threads and threads[0] is not loop_thread


def test_many_concurrent_pushes_lose_nothing_and_store_nothing_twice() -> None:
    store = Store()

    async def one(writer: PushWriter, i: int) -> None:
        await asyncio.sleep((i % 7) / 1000)
        await writer.submit(push(f"p{i}", updates=1 + i % 3))

    async def scenario() -> None:
        writer = PushWriter(store)
        await asyncio.gather(*(one(writer, i) for i in range(300)))
        await writer.close()

    run(scenario)
    expected = [f"p{i}-{j}" for i in range(300) for j in range(1 + i % 3)]
    assert sorted(store.committed) == sorted(expected)
    assert len(store.calls) < 300  # grouped, not one transaction per push


def test_the_writer_starts_again_after_close() -> None:
    store = Store()

    async def scenario() -> None:
        writer = PushWriter(store)
        await writer.submit(push("a"))
        await writer.close()
        assert writer.task is None
        await writer.submit(push("b"))  # a new writer task
        await writer.close()

    run(scenario)
    assert store.calls == [["a-0"], ["b-0"]]


def test_closing_finishes_the_batch_in_its_transaction_and_refuses_the_queued() -> None:
    """Closing the writer while a batch commits: that batch's submitters get its true
    outcome (stored), those still queued get StoreUnavailable at once (no one waits forever),
    and nothing queued is stored."""
    store = Store(hold_first=True)

    async def scenario() -> list[Any]:
        writer = PushWriter(store)
        first = asyncio.create_task(writer.submit(push("p0")))
        await asyncio.to_thread(store.started.wait, 10)
        queued_ones = [asyncio.create_task(writer.submit(push(f"p{i}"))) for i in (1, 2)]
        await queued(writer, 2)
        closing = asyncio.create_task(writer.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # it waits for the transaction under way
        store.gate.set()
        await closing
        return await asyncio.gather(first, *queued_ones, return_exceptions=True)

    results = run(scenario)
    assert isinstance(results[0], Accepted)
    assert all(isinstance(r, StoreUnavailable) for r in results[1:]), results
    assert store.committed == ["p0-0"]


def test_a_writer_broken_in_itself_answers_its_pushes_and_starts_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fault of the writer's own (not of a push, not of the store) must not leave requests
    waiting: its batch is refused, retry-able, and the next push gets a new writer."""
    store = Store()

    async def scenario() -> tuple[Any, Accepted]:
        writer = PushWriter(store)
        broken = writer._handle

        def fails_once(prepares: Sequence[Callable[[], Accepted]]) -> Any:
            writer._handle = broken  # type: ignore[method-assign]
            raise RuntimeError("a fault of the writer's own")

        writer._handle = fails_once  # type: ignore[method-assign]
        failed = await asyncio.gather(writer.submit(push("a")), return_exceptions=True)
        stored = await writer.submit(push("b"))
        await writer.close()
        return failed[0], stored

    with caplog.at_level(logging.ERROR, "monitor.ingest.push_writer"):
        failed, stored = run(scenario)
    assert isinstance(failed, StoreUnavailable)
    assert stored.result.reply_body == b"b"
    assert store.committed == ["b-0"]
    assert "the push writer failed" in caplog.text
