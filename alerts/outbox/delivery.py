"""`deliver_due`: one run of the outbox job (claim, fan out per sink, pace, mark, settle).
The package docstring (alerts/outbox/__init__.py) gives the whole protocol."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, Table

from alerts.outbox.policy import (
    OK,
    PERMANENT,
    TRANSIENT,
    DeliveryPolicy,
    DeliveryStats,
    Item,
    OutcomeHook,
    Pair,
    Target,
    Waiting,
)
from alerts.outbox.store import claim_due, load_claimed, save_deliveries, settle
from alerts.sinks.base import Notification, SinkError
from alerts.sinks.routing import Route

log = logging.getLogger(__name__)
DEFAULT_POLICY = DeliveryPolicy()


async def deliver_due(
    engine: Engine,
    sinks: Sequence[Route],
    now: datetime,
    *,
    outbox: Table,
    deliveries: Table,
    policy: DeliveryPolicy = DEFAULT_POLICY,
    on_outcome: OutcomeHook | None = None,
) -> DeliveryStats:
    """One run: claim due rows, deliver them to the sinks that want them, mark, settle.

    `sinks` are built once per process (alerts/sinks/routing.py `build_routes`) so that
    their rate limiters remember earlier runs. `outbox` and `deliveries` are the `outbox`
    and `outbox_delivery` tables."""
    stats = DeliveryStats()
    rows = await asyncio.to_thread(claim_due, engine, outbox, now, policy)
    if not rows:
        return stats
    stats.claimed = len(rows)
    lease_until = now + policy.lease
    items, waiting = await asyncio.to_thread(
        load_claimed, engine, outbox, deliveries, rows, sinks, now
    )
    job = _Run(engine, deliveries, policy, now, stats, on_outcome)
    await asyncio.to_thread(job.give_up_stale, items)
    try:
        async with asyncio.TaskGroup() as group:
            for route in sinks:
                group.create_task(job.deliver(route, items, waiting.get(route.name, {})))
    except BaseExceptionGroup as failed:  # a store error: the leases bring the rows back
        if len(failed.exceptions) == 1:
            raise failed.exceptions[0] from None
        raise
    await asyncio.to_thread(settle, engine, outbox, items, now, lease_until, policy, stats)
    return stats


class _Run:
    """The state of one `deliver_due` run."""

    def __init__(
        self,
        engine: Engine,
        deliveries: Table,
        policy: DeliveryPolicy,
        now: datetime,
        stats: DeliveryStats,
        on_outcome: OutcomeHook | None,
    ) -> None:
        self.engine = engine
        self.deliveries = deliveries
        self.policy = policy
        self.now = now
        self.stats = stats
        self.on_outcome = on_outcome

    def count(self, sink: str, outcome: str, n: int) -> None:
        self.stats.outcomes[(sink, outcome)] += n
        if outcome == OK:
            self.stats.delivered += n
        elif outcome == TRANSIENT:
            self.stats.transient += n
        elif outcome == PERMANENT:
            self.stats.permanent += n
        if self.on_outcome is not None:
            try:
                self.on_outcome(sink, outcome, n)
            except Exception:  # a metrics hook must never stop delivery
                log.exception("notification outcome hook failed")

    def give_up_stale(self, items: Sequence[Item]) -> None:
        """Rows the job keeps dying on, and rows too old to be worth sending."""
        changed: list[Target] = []
        for item in items:
            reason = None
            if item.claims > self.policy.max_claims:
                reason = (
                    f"gave up: claimed {item.claims} times without finishing (the delivery "
                    "job died on this message each time)"
                )
            elif (
                self.policy.max_age is not None and item.created_at < self.now - self.policy.max_age
            ):
                reason = f"expired: not delivered within {self.policy.max_age} of being written"
            if reason is None:
                continue
            for target in item.targets.values():
                if not target.settled:
                    target.permanent, target.last_error = True, reason
                    changed.append(target)
        if changed:
            save_deliveries(self.engine, self.deliveries, changed, self.now)
            self.stats.permanent += len(changed)

    async def deliver(self, route: Route, items: Sequence[Item], waiting: Waiting) -> None:
        blocked = dict(waiting)  # alert id -> (oldest pending row id, until when), this sink
        due: list[Pair] = []
        for item in items:
            target = item.targets.get(route.name)
            if (
                target is not None
                and target.due(self.now)
                and not self._held((item, target), blocked)
            ):
                due.append((item, target))
        if not due:
            return
        digest = route.digest_after is not None and len(due) > route.digest_after
        groups = deque([due] if digest else [[pair] for pair in due])
        while groups:
            group = [pair for pair in groups.popleft() if not self._held(pair, blocked)]
            if not group:
                continue
            if route.limiter is not None and not await route.limiter.acquire(
                self.policy.max_rate_wait
            ):
                later = self.now + timedelta(seconds=route.limiter.delay())
                self.defer([group, *groups], later)
                return
            error, crashed = await self.send(route, [item.notification for item, _ in group])
            targets = [target for _, target in group]
            self.apply(route.name, targets, error)
            await asyncio.to_thread(
                save_deliveries, self.engine, self.deliveries, targets, self.now
            )
            if error is None or error.permanent:
                continue
            if not crashed:  # the channel is unwell: hold the rest until it may be back
                self.defer(groups, targets[0].next_attempt_at or self.now)
                return
            for item, target in group:  # keep this alert's later messages behind this one
                if item.alert_id is not None and not target.settled:
                    blocked.setdefault(
                        item.alert_id, (item.row_id, target.next_attempt_at or self.now)
                    )

    def _held(self, pair: Pair, blocked: Mapping[int, tuple[int, datetime]]) -> bool:
        """Whether an older message about the same alert is still pending for this sink;
        if so this one waits for it."""
        item, target = pair
        if item.alert_id is None or item.alert_id not in blocked:
            return False
        older_id, until = blocked[item.alert_id]
        if item.row_id <= older_id:
            return False
        target.deferred_until = until
        self.stats.deferred += 1
        return True

    def defer(self, groups: Iterable[Sequence[Pair]], until: datetime) -> None:
        for group in groups:
            for _, target in group:
                target.deferred_until = until
                self.stats.deferred += 1

    async def send(
        self, route: Route, messages: Sequence[Notification]
    ) -> tuple[SinkError | None, bool]:
        """(error or None, whether the sink crashed rather than reporting an error)."""
        self.stats.sends += 1
        try:
            await route.sink.send(messages)
        except SinkError as exc:
            log.warning("sink %s: %s", route.name, exc.message)
            return exc, False
        except Exception as exc:
            log.exception(
                "sink %s crashed on outbox rows %s", route.name, [m.outbox_id for m in messages]
            )
            return SinkError(f"crashed: {type(exc).__name__}: {exc}"), True
        return None, False

    def apply(self, sink: str, targets: Sequence[Target], error: SinkError | None) -> None:
        now, policy = self.now, self.policy
        outcome = OK
        for target in targets:
            target.attempts += 1
            if error is None:
                target.delivered_at, target.last_error, target.next_attempt_at = now, None, None
                continue
            target.last_error = error.message[:1000]
            if error.permanent:
                target.permanent, outcome = True, PERMANENT
            elif target.attempts >= policy.max_attempts:
                target.permanent, outcome = True, PERMANENT
                target.last_error = f"gave up after {target.attempts} attempts: {error.message}"
            else:
                outcome = TRANSIENT
                target.next_attempt_at = now + policy.backoff(target.attempts, error.retry_after)
        self.count(sink, outcome, len(targets))
