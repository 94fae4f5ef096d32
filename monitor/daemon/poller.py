"""The polling and subscription jobs: claim due parcels, ask the carrier, store the answer.

Work is claimed, then done: a claim sets a short lease on the parcels (with `FOR UPDATE SKIP
LOCKED` on PostgreSQL, so replicas never poll the same parcel), and the lease lapses by
itself if this process dies mid-poll, putting the parcels back in the queue. A call that
fails after its retries is recorded (the parcel keeps its place and is retried with
backoff) and counts against the carrier's health, which `carrier_api_failing` watches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from sqlalchemy import Engine, bindparam, select, update
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_random_exponential

from carriers.base import (
    CarrierAPIError,
    ParcelRef,
    PermanentCarrierError,
    RateLimited,
    TrackingAdapter,
    TransientCarrierError,
)
from carriers.status import TERMINAL_STATUSES
from monitor.clock import Clock
from monitor.config import Config
from monitor.ingest.poll_schedule import PlanInput, next_poll_at
from monitor.ingest.tracking import apply_updates
from monitor.metrics.instruments import TRACKING_DURATION, TRACKING_REQUESTS
from monitor.store.health import record_failure, record_success
from monitor.store.raw_answers import RawPush, keep_raw
from monitor.store.tables import SHIPMENTS

log = logging.getLogger(__name__)
S = SHIPMENTS.c
TERMINAL = sorted(s.value for s in TERMINAL_STATUSES)
RETRY_ATTEMPTS = 3
CALLS_IN_FLIGHT = 8  # concurrent calls per account, still under its rate limiter
RESUBSCRIBE_AFTER = timedelta(minutes=30)
MAX_RETRY_AFTER = 60.0  # seconds we are willing to wait inside one job for a 429


@dataclass
class CarrierClient:
    """One tracking API account and the carriers it serves."""

    adapter: TrackingAdapter
    carriers: frozenset[str]
    rate_per_second: float | None = None  # overrides the adapter's documented limit
    # Where its pushes arrive: /webhooks/<push_name> (carriers/apis.py; default the adapter's
    # name). Each API account verifies pushes at its own path only.
    push_name: str | None = None
    limiter: AsyncLimiter = field(init=False)

    def __post_init__(self) -> None:
        rate = max(self.rate_per_second or self.adapter.rate_per_second, 0.1)
        self.limiter = AsyncLimiter(max_rate=rate, time_period=1.0)
        self.push_name = self.push_name or self.adapter.name


@dataclass
class PollStats:
    claimed: int = 0
    calls: int = 0
    failed_calls: int = 0
    updates: int = 0
    events: int = 0


class _HonourRetryAfter(wait_base):
    """Wait what a 429 asked for (capped); otherwise jittered exponential backoff.
    `scale` shrinks every wait (tests and simulations on a fast clock)."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.fallback = wait_random_exponential(multiplier=0.5, max=8)

    def __call__(self, retry_state: Any) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, MAX_RETRY_AFTER) * self.scale
        return float(self.fallback(retry_state)) * self.scale


def _numbers(rows: Sequence[Any]) -> tuple[str, ...]:
    """The numbers a call asked about: what its answer is kept as speaking of."""
    return tuple(sorted({str(r.tracking_number) for r in rows}))


def _refs(rows: Sequence[Any], config: Config) -> list[ParcelRef]:
    origin = {w.id: w.province for w in config.warehouses}
    return [
        ParcelRef(
            tracking_number=r.tracking_number,
            carrier=r.carrier,
            phone=r.phone,
            origin=origin.get(r.warehouse),
            destination=r.province,
            destination_city=r.city,
        )
        for r in rows
    ]


class Poller:
    def __init__(
        self,
        engine: Engine,
        config: Config,
        clients: Sequence[CarrierClient],
        clock: Clock,
        *,
        callback_base: str | None = None,
        batch_limit: int = 400,
        retry_wait_scale: float = 1.0,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clients = list(clients)
        self.clock = clock
        self.callback_base = callback_base.rstrip("/") if callback_base else None
        self.batch_limit = batch_limit
        # A claimed parcel is this replica's until the lease ends; if the replica dies, its
        # parcels are polled by another once it has (docs/architecture.md "Scale").
        self.lease = timedelta(seconds=config.daemon.poll_lease_seconds)
        self.plan = PlanInput(config)
        self.retry_wait_scale = retry_wait_scale
        self.should_stop = should_stop  # the daemon is shutting down: claim no more

    # -- claiming ---------------------------------------------------------------------

    def _claim(self, carrier: str, now: datetime, *, for_subscribe: bool) -> list[Any]:
        due = select(S.id).where(S.carrier == carrier, S.tracking_number.is_not(None))
        if for_subscribe:
            due = due.where(
                S.subscribed_at.is_(None),
                S.status.not_in(TERMINAL),
                # Kuaidi100 refuses a new subscription sooner than 30 min after `abort`
                # (docs/tracking-apis.md "Kuaidi100 subscription").
                (S.tracking_stopped_at.is_(None))
                | (S.tracking_stopped_at < now - RESUBSCRIBE_AFTER),
            )
        else:
            due = due.where(S.next_poll_at <= now).order_by(S.next_poll_at)
        # A materialized CTE keeps the batch limit on PostgreSQL (as `id IN (subquery)` the
        # locking subquery may be re-run by a semi-join and claim every due parcel).
        lease_free = (S.poll_lease_until.is_(None)) | (S.poll_lease_until < now)
        due_cte = (
            due.where(lease_free)
            .limit(self.batch_limit)
            .with_for_update(skip_locked=True)
            .cte("due")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
        claim = (
            update(SHIPMENTS)
            .where(S.id.in_(select(due_cte.c.id)), lease_free)
            .values(poll_lease_until=now + self.lease)
            .returning(*SHIPMENTS.c)
        )
        with self.engine.begin() as conn:
            return list(conn.execute(claim))

    def _unclaim(self, rows: Sequence[Any], lease_until: datetime) -> None:
        """Give back parcels claimed but not done (a round cancelled at shutdown), where the
        lease is still this round's: compare-and-set on `poll_lease_until`."""
        if rows:
            with self.engine.begin() as conn:
                conn.execute(
                    update(SHIPMENTS)
                    .where(S.id.in_([r.id for r in rows]), S.poll_lease_until == lease_until)
                    .values(poll_lease_until=None)
                )

    def _release(self, rows: Sequence[Any], now: datetime, *, failed: bool) -> None:
        if not rows:
            return
        params = []
        for row in rows:
            failures = row.poll_failures + 1 if failed else row.poll_failures
            backoff = timedelta(minutes=min(5 * 2 ** max(failures - 1, 0), 120))
            params.append({"b_id": row.id, "b_failures": failures, "b_next": now + backoff})
        values: dict[str, Any] = {
            "poll_lease_until": None,
            "poll_failures": bindparam("b_failures"),
        }
        if failed:
            values["next_poll_at"] = bindparam("b_next")
        with self.engine.begin() as conn:
            conn.execute(
                update(SHIPMENTS).where(S.id == bindparam("b_id")).values(**values), params
            )

    def _mark_polled(self, rows: Sequence[Any], now: datetime, subscribed: bool = False) -> None:
        """Release the lease and schedule the next poll from each parcel's stored state.
        `subscribed`: the rows were just registered for push, which is no answer about them
        (their poll and answer times stay as they were)."""
        params = [
            {
                "b_id": r.id,
                "b_next": next_poll_at(
                    status=r.status,
                    shipped_at=r.shipped_at,
                    last_scan_at=r.last_event_at or r.picked_up_at,
                    now=now,
                    subscribed=subscribed or r.subscribed_at is not None,
                    thresholds=self.plan.for_parcel(r),
                ),
                "b_subscribed": r.subscribed_at or (now if subscribed else None),
                "b_polled": r.last_polled_at if subscribed else now,
                "b_answered": r.answered_at if subscribed else now,
            }
            for r in rows
        ]
        if not params:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(SHIPMENTS)
                .where(S.id == bindparam("b_id"))
                .values(
                    next_poll_at=bindparam("b_next"),
                    subscribed_at=bindparam("b_subscribed"),
                    last_polled_at=bindparam("b_polled"),
                    answered_at=bindparam("b_answered"),
                    poll_lease_until=None,
                    poll_failures=0,
                ),
                params,
            )

    # -- calling ----------------------------------------------------------------------

    async def _call(self, client: CarrierClient, carrier: str, operation: Any, *args: Any) -> Any:
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((TransientCarrierError, RateLimited)),
            wait=_HonourRetryAfter(self.retry_wait_scale),
            stop=stop_after_attempt(RETRY_ATTEMPTS),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                async with client.limiter:
                    started = time.perf_counter()
                    try:
                        result = await operation(*args)
                    except RateLimited:
                        TRACKING_REQUESTS.labels(carrier=carrier, outcome="rate_limited").inc()
                        raise
                    except TransientCarrierError:
                        TRACKING_REQUESTS.labels(carrier=carrier, outcome="transient").inc()
                        raise
                    except PermanentCarrierError:
                        TRACKING_REQUESTS.labels(carrier=carrier, outcome="permanent").inc()
                        raise
                    finally:
                        TRACKING_DURATION.labels(carrier=carrier).observe(
                            time.perf_counter() - started
                        )
                    TRACKING_REQUESTS.labels(carrier=carrier, outcome="ok").inc()
                    return result
        raise AssertionError("unreachable")  # pragma: no cover

    # -- jobs -------------------------------------------------------------------------

    async def poll_due(self) -> PollStats:
        """One round: every carrier's due parcels, batched and rate-limited."""
        stats = PollStats()
        for client in self.clients:
            for carrier in sorted(client.carriers):
                if self.should_stop():
                    return stats
                await self._poll_carrier(client, carrier, stats)
        return stats

    async def _poll_carrier(self, client: CarrierClient, carrier: str, stats: PollStats) -> None:
        """Ask about every claimed parcel, several calls in flight (within the account's rate
        limit), then store all answers in one transaction. Parcels whose call failed are
        released with backoff; if this process dies first, their leases lapse instead."""
        now = self.clock.now()
        rows = await asyncio.to_thread(self._claim, carrier, now, for_subscribe=False)
        if not rows:
            return
        stats.claimed += len(rows)
        try:
            await self._poll_claimed(client, carrier, rows, stats)
        except BaseException:
            # Cancelled at shutdown (or a store error): hand back what this round still
            # holds now rather than after the lease; answered parcels already let go.
            self._unclaim(rows, now + self.lease)
            raise

    async def _poll_claimed(
        self, client: CarrierClient, carrier: str, rows: list[Any], stats: PollStats
    ) -> None:
        size = max(client.adapter.batch_size, 1)
        batches = [rows[i : i + size] for i in range(0, len(rows), size)]
        in_flight = asyncio.Semaphore(CALLS_IN_FLIGHT)

        async def ask(batch: list[Any]) -> Any:
            async with in_flight:
                try:
                    return await self._call(client, carrier, client.adapter.track,
                                            _refs(batch, self.config))  # fmt: skip
                except CarrierAPIError as exc:
                    return exc

        answers = await asyncio.gather(*(ask(b) for b in batches))
        stats.calls += len(batches)
        answered = [(b, a) for b, a in zip(batches, answers, strict=True)
                    if not isinstance(a, CarrierAPIError)]  # fmt: skip
        failed = [(b, a) for b, a in zip(batches, answers, strict=True)
                  if isinstance(a, CarrierAPIError)]  # fmt: skip
        now = self.clock.now()
        if failed:
            stats.failed_calls += len(failed)
            log.warning("polling %s: %d of %d calls failed (%s)", carrier, len(failed),
                        len(batches), failed[0][1])  # fmt: skip
            await asyncio.to_thread(
                self._release, [r for b, _ in failed for r in b], now, failed=True
            )
        if answered:
            # Kept first, as pushes are: what the carrier said outlives a crash right after.
            api = client.push_name or client.adapter.name
            kept = [RawPush(api, {}, body, now, "poll", _numbers(batch))
                    for batch, a in answered for body in a.bodies]  # fmt: skip
            await asyncio.to_thread(
                keep_raw, self.engine, kept, now,
                self.config.raw_retention,
            )  # fmt: skip
            updates = [u for _, a in answered for u in a.updates]
            applied = await asyncio.to_thread(
                apply_updates, self.engine, updates, now, plan=self.plan
            )
            stats.updates += len(updates)
            stats.events += applied.events
            await asyncio.to_thread(
                self._mark_polled_after, [r for b, _ in answered for r in b], now
            )
            await asyncio.to_thread(record_success, self.engine, carrier, now)
        elif failed:
            await asyncio.to_thread(record_failure, self.engine, carrier, now, str(failed[0][1]))

    def _mark_polled_after(self, batch: Sequence[Any], now: datetime) -> None:
        """Schedule every parcel of an answered batch from the state now stored (those with
        news moved forward in apply_updates; the others keep theirs)."""
        with self.engine.connect() as conn:
            fresh = list(conn.execute(select(SHIPMENTS).where(S.id.in_([r.id for r in batch]))))
        self._mark_polled(fresh, now)

    async def subscribe_new(self) -> int:
        """Register parcels for push with the APIs that push (needs a public callback URL)."""
        if self.callback_base is None:
            return 0
        accepted_total = 0
        for client in self.clients:
            if not client.adapter.supports_push:
                continue
            callback = f"{self.callback_base}/webhooks/{client.push_name}"
            for carrier in sorted(client.carriers):
                if self.should_stop():
                    return accepted_total
                now = self.clock.now()
                rows = await asyncio.to_thread(self._claim, carrier, now, for_subscribe=True)
                try:
                    accepted_total += await self._subscribe_claimed(client, carrier, rows, callback)
                except BaseException:
                    self._unclaim(rows, now + self.lease)
                    raise
        return accepted_total

    async def _subscribe_claimed(
        self, client: CarrierClient, carrier: str, rows: list[Any], callback: str
    ) -> int:
        accepted_total = 0
        size = max(client.adapter.batch_size, 1)
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            refs = _refs(batch, self.config)
            try:
                result = await self._call(client, carrier, client.adapter.subscribe, refs, callback)
            except CarrierAPIError as exc:
                log.warning("subscribing %s numbers failed: %s", carrier, exc)
                now = self.clock.now()
                await asyncio.to_thread(self._release, batch, now, failed=True)
                await asyncio.to_thread(record_failure, self.engine, carrier, now, str(exc))
                continue
            accepted = set(result.accepted)
            now = self.clock.now()
            done = [r for r in batch if r.tracking_number in accepted]
            await asyncio.to_thread(self._mark_polled, done, now, True)
            await asyncio.to_thread(
                self._release, [r for r in batch if r.tracking_number not in accepted],
                now, failed=False,
            )  # fmt: skip
            await asyncio.to_thread(record_success, self.engine, carrier, now)
            accepted_total += len(done)
        return accepted_total
