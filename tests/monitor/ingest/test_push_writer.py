"""Group commit for push callbacks (monitor/ingest/push_writer.py): concurrent submissions share
one transaction, at most MAX_BATCH pushes each; a submission returns only once its updates are
stored, and raises what storing them raised; a failed batch is retried push by push, so nothing
is lost or stored twice.

Plain asyncio with a store callback of the test's own (it runs in a thread, as the real one
does); no sockets, no database."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import pytest

from carriers.base import TrackingUpdate
from carriers.status import ParcelStatus
from monitor.ingest.push_writer import MAX_BATCH, PushWriter

T = TypeVar("T")


def update(number: str) -> TrackingUpdate:
    return TrackingUpdate(number, "zto", ParcelStatus.IN_TRANSIT, (), source="push")


def push(name: str, updates: int = 1) -> list[TrackingUpdate]:
    """One carrier push: `updates` parcels, numbered `name-0`, `name-1`, ..."""
    return [update(f"{name}-{i}") for i in range(updates)]


class Store:
    """The transaction callback: records each call, and what it committed. With `hold_first`
    the first call waits until the test opens `gate`; a call with any `bad` number fails and
    commits nothing."""

    def __init__(self, *, hold_first: bool = False, bad: frozenset[str] = frozenset()) -> None:
        self.calls: list[list[str]] = []
        self.committed: list[str] = []
        self.bad = bad
        self.started = threading.Event()
        self.gate = threading.Event()
        if not hold_first:
            self.gate.set()
        self.lock = threading.Lock()

    def __call__(self, updates: Sequence[TrackingUpdate]) -> None:
        numbers = [u.tracking_number for u in updates]
        with self.lock:
            self.calls.append(numbers)
            first = len(self.calls) == 1
        if first:
            self.started.set()
            assert self.gate.wait(10), "the test never opened the gate"
        failing = sorted(self.bad.intersection(numbers))
        if failing:
            raise ValueError(f"cannot store {', '.join(failing)}")  # nothing committed
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
    store: Store, pushes: list[list[TrackingUpdate]]
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


def test_a_submission_returns_once_its_updates_are_stored() -> None:
    store = Store()

    async def scenario() -> list[str]:
        writer = PushWriter(store)
        await writer.submit(push("a", 3))
        seen = list(store.committed)  # already committed when submit returns
        await writer.close()
        return seen

    assert run(scenario) == ["a-0", "a-1", "a-2"]
    assert store.calls == [["a-0", "a-1", "a-2"]]


def test_pushes_arriving_during_a_commit_share_the_next_transaction() -> None:
    store = Store(hold_first=True)
    pushes = [push(f"p{i}") for i in range(20)]
    results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert results == [None] * 20
    assert store.batch_sizes() == [1, 19]  # two transactions for twenty pushes
    assert store.calls[1] == [f"p{i}-0" for i in range(1, 20)]  # in arrival order


def test_a_transaction_takes_at_most_max_batch_pushes() -> None:
    store = Store(hold_first=True)
    pushes = [push(f"p{i}", updates=2) for i in range(MAX_BATCH + 11)]
    results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert results == [None] * (MAX_BATCH + 11)
    # MAX_BATCH counts pushes, not the updates inside them
    assert store.batch_sizes() == [2, 2 * MAX_BATCH, 2 * 10]
    assert sorted(store.committed) == sorted(u.tracking_number for p in pushes for u in p)


def test_a_failing_store_fails_every_waiting_submitter(caplog: pytest.LogCaptureFixture) -> None:
    everything = frozenset(f"p{i}-0" for i in range(6))
    store = Store(hold_first=True, bad=everything)
    pushes = [push(f"p{i}") for i in range(6)]
    with caplog.at_level(logging.ERROR, "monitor.ingest.push_writer"):
        results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert all(isinstance(r, ValueError) for r in results), results
    assert [str(r) for r in results] == [f"cannot store p{i}-0" for i in range(6)]
    assert store.committed == []
    # The first alone; then the five together, then each of them alone to find the bad one.
    assert store.batch_sizes() == [1, 5, 1, 1, 1, 1, 1]
    assert [r.getMessage() for r in caplog.records] == ["storing a push failed"] * 6


def test_one_bad_push_fails_alone_and_its_neighbours_are_stored_once() -> None:
    store = Store(hold_first=True, bad=frozenset({"p3-1"}))
    pushes = [push(f"p{i}", updates=2) for i in range(8)]
    results = run(lambda: submit_while_the_first_commit_is_held(store, pushes))
    assert [i for i, r in enumerate(results) if r is not None] == [3]
    assert isinstance(results[3], ValueError) and "p3-1" in str(results[3])
    good = [u.tracking_number for i, p in enumerate(pushes) if i != 3 for u in p]
    assert sorted(store.committed) == sorted(good)  # nothing lost, nothing twice
    assert len(store.committed) == len(set(store.committed))


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


def test_raw_bodies_are_kept_with_their_batch_and_a_failing_keep_fails_the_push() -> None:
    store, kept = Store(), []

    def keep(raws: Sequence[Any]) -> None:
        if "broken" in raws:
            raise OSError("disk full")
        kept.extend(raws)

    async def scenario() -> list[BaseException | None]:
        writer = PushWriter(store, keep)
        ok = await asyncio.gather(writer.submit(push("a"), "body-a"), writer.submit(push("b")))
        failed = await asyncio.gather(writer.submit(push("c"), "broken"), return_exceptions=True)
        await writer.close()
        return [*ok, *failed]

    results = run(scenario)
    assert results[:2] == [None, None] and isinstance(results[2], OSError)
    assert kept == ["body-a"]  # kept once; a push without a body keeps nothing
    assert sorted(store.committed) == ["a-0", "b-0"]  # a push whose body could not be kept is
    # not acknowledged and not stored: the carrier sends it again
