"""Deliver the notification outbox to the sinks: claim, send, mark; retry with backoff.

Detection and the alert queue write an outbox row in the same transaction as the alert
change it announces (and the tracking code writes one when a parcel ships or is delivered,
`lifecycle_outbox_rows`). `deliver_due` is the job that empties it:

1. Claim: one compare-and-set UPDATE takes up to `batch_size` due rows (`available_at <=
   now`, `delivered_at IS NULL`) and moves their `available_at` to `now + lease`, counting
   the claim in `attempts` (with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never
   take the same row). If this process dies, the lease lapses and the rows come back.
2. Fan out: each row goes to every sink whose filters accept it (event, kind, severity).
   Per (row, sink) an `outbox_delivery` row records attempts, delivered_at, last_error and
   whether the failure is permanent, so a sink that already has a message never gets it
   again because another sink failed. For one sink, messages keep the outbox order, and a
   message waits while an older message about the same alert is still pending for it.
3. Pace: each sink's sliding-window limiter (20 a minute for WeCom and DingTalk robots) is
   waited on for up to `max_rate_wait` seconds; beyond that the rest waits for the next run.
   More than `digest_after` messages waiting for one sink are sent as one digest.
4. Mark: after each send, its (row, sink) deliveries are written at once. A transient
   failure pushes that delivery's next attempt forward (30 s, 1 min, 2 min ... capped at
   1 h, or the channel's Retry-After if longer) and holds the sink's other messages until
   then; a permanent one (404, revoked token, bad signature) is marked and never retried;
   after `max_attempts` a transient failure becomes permanent. An exception a sink did not
   map (a bug, a payload it chokes on) counts as a transient failure of that one message,
   whose next attempt moves forward: it cannot crash-loop the job or block the others.
5. Settle: a row whose every target sink is delivered or has failed permanently gets
   `delivered_at` (= settled; `last_error` then lists the sinks that failed for good, NULL
   if every sink got it). Other rows get `available_at` = their earliest next attempt.
   A row claimed `max_claims` times without settling (the job was killed on it each time),
   or older than `max_age` before its first delivery, is given up on for its pending
   sinks: visible in `outbox_delivery` (permanent, last_error), never retried forever.

Delivery guarantee: at least once, per (row, sink). Nothing committed to the outbox is lost:
a row leaves the due set only when each target sink has it or has permanently refused it
(or it was given up on as above, visibly). A crash (even kill -9) after a sink accepted a
message and before its delivery was marked re-sends that message once the lease lapses, so
a sink may see it twice. Sinks that can de-duplicate get the row's idempotency key: the
webhook's `Idempotency-Key` header and body, e-mail's Message-ID; Alertmanager de-duplicates
by labels by design; chat robots cannot, and show the rare duplicate.

`deliver_due` is async (sinks speak HTTP over an injected client); store work runs in worker
threads. Run it as a singleton job (one scheduler; on PostgreSQL under an advisory lock), every
10-30 s. This module knows nothing of carriers: the tables are passed in.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from alerts.sinks.base import Notification, SinkError
from alerts.sinks.routing import Route

log = logging.getLogger(__name__)

# Outcomes per notification, as `parcelwatch_notifications_total{sink,outcome}` counts them.
OK, TRANSIENT, PERMANENT = "ok", "transient", "permanent"
OutcomeHook = Callable[[str, str, int], None]  # (sink, outcome, notifications)


@dataclass(frozen=True)
class DeliveryPolicy:
    batch_size: int = 200
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 12  # per (row, sink); with the backoff below, about 5 h of trying
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(hours=1)
    max_claims: int = 50  # per row: the job died on it this often -> give up
    max_rate_wait: float = 5.0  # seconds a run may wait for a sink's rate limit
    max_age: timedelta | None = timedelta(days=1)  # a day-old alert is news no more

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        step = self.backoff_base * (2 ** max(attempts - 1, 0))
        wait = min(step, self.backoff_max)
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        return wait


@dataclass
class DeliveryStats:
    claimed: int = 0  # rows taken this run
    settled: int = 0  # rows finished: every target delivered or failed for good
    sends: int = 0  # outbound messages tried (a digest is one)
    delivered: int = 0  # notifications delivered (a digest counts each)
    transient: int = 0  # notifications that failed and will be retried
    permanent: int = 0  # notifications failed for good (incl. given up, expired)
    deferred: int = 0  # notifications left for a later run (rate limit, sink backing off)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass
class _Target:
    """One (row, sink) delivery."""

    outbox_id: int
    sink: str
    attempts: int = 0
    delivered_at: datetime | None = None
    permanent: bool = False
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    deferred_until: datetime | None = None  # in memory only: left for a later run

    @property
    def settled(self) -> bool:
        return self.delivered_at is not None or self.permanent

    def due(self, now: datetime) -> bool:
        return not self.settled and (self.next_attempt_at is None or self.next_attempt_at <= now)

    def wake_at(self) -> datetime | None:
        times = [t for t in (self.deferred_until, self.next_attempt_at) if t is not None]
        return max(times) if times else None


@dataclass
class _Item:
    row_id: int
    alert_id: int | None
    created_at: datetime
    claims: int
    notification: Notification
    targets: dict[str, _Target]


_Pair = tuple[_Item, _Target]
_Waiting = dict[int, tuple[int, datetime]]  # alert id -> (oldest pending row id, until when)


# -- the job ---------------------------------------------------------------------------------


async def deliver_due(
    engine: Engine,
    sinks: Sequence[Route],
    now: datetime,
    *,
    outbox: Table,
    deliveries: Table,
    policy: DeliveryPolicy = DeliveryPolicy(),
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
    items, waiting = await asyncio.to_thread(_load, engine, outbox, deliveries, rows, sinks, now)
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
    await asyncio.to_thread(_settle, engine, outbox, items, now, lease_until, policy, stats)
    return stats


def claim_due(engine: Engine, outbox: Table, now: datetime, policy: DeliveryPolicy) -> list[Any]:
    """Take due rows with a lease (compare-and-set on `available_at`), oldest first."""
    o = outbox.c
    due = (
        select(o.id)
        .where(o.available_at <= now, o.delivered_at.is_(None))
        .order_by(o.id)
        .limit(policy.batch_size)
        .with_for_update(skip_locked=True)
    )
    claim = (
        update(outbox)
        .where(o.id.in_(due.scalar_subquery()), o.available_at <= now, o.delivered_at.is_(None))
        .values(available_at=now + policy.lease, attempts=o.attempts + 1)
        .returning(
            o.id, o.alert_id, o.event, o.payload, o.idempotency_key, o.created_at, o.attempts
        )
    )
    with engine.begin() as conn:
        return sorted(conn.execute(claim), key=lambda r: r.id)


def _notification(row: Any) -> Notification:
    payload = row.payload if isinstance(row.payload, Mapping) else {}
    return Notification(
        event=row.event,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        payload=payload,
        outbox_id=row.id,
    )


def _targets(
    row_id: int, n: Notification, sinks: Sequence[Route], known: Mapping[tuple[int, str], Any]
) -> dict[str, _Target]:
    targets = {}
    for route in sinks:
        if not route.accepts(n):
            continue
        stored = known.get((row_id, route.name))
        targets[route.name] = (
            _Target(
                row_id,
                route.name,
                attempts=stored.attempts,
                delivered_at=stored.delivered_at,
                permanent=bool(stored.permanent),
                last_error=stored.last_error,
                next_attempt_at=stored.next_attempt_at,
            )
            if stored is not None
            else _Target(row_id, route.name)
        )
    return targets


def _load(
    engine: Engine,
    outbox: Table,
    deliveries: Table,
    rows: Sequence[Any],
    sinks: Sequence[Route],
    now: datetime,
) -> tuple[list[_Item], dict[str, _Waiting]]:
    """The claimed rows with their deliveries, and per sink the alerts that must wait
    (alert id -> until when) because an older message about them is still pending there."""
    o, d = outbox.c, deliveries.c
    ids = [r.id for r in rows]
    alert_ids = sorted({r.alert_id for r in rows if r.alert_id is not None})
    with engine.connect() as conn:
        older = []
        if alert_ids:
            older = list(
                conn.execute(
                    select(
                        o.id,
                        o.alert_id,
                        o.event,
                        o.payload,
                        o.idempotency_key,
                        o.created_at,
                        o.attempts,
                        o.available_at,
                    ).where(
                        o.alert_id.in_(alert_ids),
                        o.delivered_at.is_(None),
                        o.id < max(ids),
                        o.id.not_in(ids),
                    )
                )
            )
        wanted = ids + [r.id for r in older]
        known = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for stored in conn.execute(select(deliveries).where(d.outbox_id.in_(chunk))):
                known[(stored.outbox_id, stored.sink)] = stored
    items = []
    for row in rows:
        n = _notification(row)
        items.append(
            _Item(
                row.id,
                row.alert_id,
                row.created_at,
                row.attempts,
                n,
                _targets(row.id, n, sinks, known),
            )
        )
    waiting: dict[str, _Waiting] = {}
    for row in sorted(older, key=lambda r: r.id):
        for name, target in _targets(row.id, _notification(row), sinks, known).items():
            if not target.settled:
                until = max(target.next_attempt_at or now, row.available_at, now)
                waiting.setdefault(name, {}).setdefault(row.alert_id, (row.id, until))
    return items, waiting


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

    def give_up_stale(self, items: Sequence[_Item]) -> None:
        """Rows the job keeps dying on, and rows too old to be worth sending."""
        changed: list[_Target] = []
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
            _save(self.engine, self.deliveries, changed, self.now)
            self.stats.permanent += len(changed)

    async def deliver(self, route: Route, items: Sequence[_Item], waiting: _Waiting) -> None:
        blocked = dict(waiting)  # alert id -> (oldest pending row id, until when), this sink
        due: list[_Pair] = []
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
            await asyncio.to_thread(_save, self.engine, self.deliveries, targets, self.now)
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

    def _held(self, pair: _Pair, blocked: Mapping[int, tuple[int, datetime]]) -> bool:
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

    def defer(self, groups: Iterable[Sequence[_Pair]], until: datetime) -> None:
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

    def apply(self, sink: str, targets: Sequence[_Target], error: SinkError | None) -> None:
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


def _save(engine: Engine, deliveries: Table, targets: Sequence[_Target], now: datetime) -> None:
    """Upsert (row, sink) deliveries in one transaction."""
    rows = [
        {
            "outbox_id": t.outbox_id,
            "sink": t.sink,
            "attempts": t.attempts,
            "delivered_at": t.delivered_at,
            "permanent": t.permanent,
            "last_error": t.last_error,
            "next_attempt_at": t.next_attempt_at,
            "updated_at": now,
        }
        for t in targets
    ]
    with engine.begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(deliveries)
        kept = ("attempts", "delivered_at", "permanent", "last_error", "next_attempt_at")
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["outbox_id", "sink"],
                set_={k: statement.excluded[k] for k in (*kept, "updated_at")},
            ),
            rows,
        )


def _settle(
    engine: Engine,
    outbox: Table,
    items: Sequence[_Item],
    now: datetime,
    lease_until: datetime,
    policy: DeliveryPolicy,
    stats: DeliveryStats,
) -> None:
    """Finish the rows of this run: settled, or back in the queue at their next attempt.
    Compare-and-set on the lease, so a run that outlived its lease changes nothing."""
    settled, pending = [], []
    for item in items:
        open_targets = [t for t in item.targets.values() if not t.settled]
        if not open_targets:
            failed = sorted(
                (name, t.last_error or "") for name, t in item.targets.items() if t.permanent
            )
            error = "; ".join(f"{name}: {e}" for name, e in failed) or None
            settled.append({"b_id": item.row_id, "b_error": error and error[:2000]})
            continue
        wake = [t.wake_at() for t in open_targets]
        next_at = min((w for w in wake if w is not None), default=now + policy.backoff_base)
        errors = [f"{t.sink}: {t.last_error}" for t in open_targets if t.last_error]
        pending.append(
            {
                "b_id": item.row_id,
                "b_next": max(next_at, now),
                "b_error": "; ".join(errors)[:2000] or None,
            }
        )
    o = outbox.c
    with engine.begin() as conn:
        if settled:
            conn.execute(
                update(outbox)
                .where(o.id == bindparam("b_id"), o.available_at == lease_until)
                .values(delivered_at=now, last_error=bindparam("b_error")),
                settled,
            )
        if pending:
            conn.execute(
                update(outbox)
                .where(o.id == bindparam("b_id"), o.available_at == lease_until)
                .values(available_at=bindparam("b_next"), last_error=bindparam("b_error")),
                pending,
            )
    stats.settled = len(settled)


# -- Alertmanager keeps only what is re-sent --------------------------------------------------

ALERT_FIELDS = (
    "kind",
    "severity",
    "state",
    "order_id",
    "tracking_number",
    "carrier",
    "warehouse",
    "province",
    "platform",
    "detail",
)


async def resend_active(
    engine: Engine, sinks: Sequence[Route], now: datetime, *, alerts: Table
) -> int:
    """Re-send every active (open or acknowledged) alert to the sinks that need it
    (Alertmanager: an alert not refreshed within its `endsAt` resolves by itself, §A3).
    Run it every `resend_seconds` (default 60). Best effort: a failure is logged and the
    next run sends again. Returns the number of alerts sent."""
    routes = [r for r in sinks if getattr(r.sink, "resends_active", False)]
    if not routes:
        return 0
    rows = await asyncio.to_thread(_active_alerts, engine, alerts)
    sent = 0
    for route in routes:
        batch = [
            n
            for row in rows
            if (n := _active_notification(row, now))
            and route.settings.accepts("opened", n.kind, n.severity)
        ]
        for start in range(0, len(batch), 500):
            chunk = batch[start : start + 500]
            try:
                await route.sink.send(chunk)
            except SinkError as exc:
                log.warning("re-sending active alerts to %s: %s", route.name, exc.message)
                break
            sent += len(chunk)
    return sent


def _active_alerts(engine: Engine, alerts: Table) -> list[Any]:
    a = alerts.c
    query = select(alerts).where(a.state != "resolved").order_by(a.id)
    with engine.connect() as conn:
        return list(conn.execute(query))


def _active_notification(row: Any, now: datetime) -> Notification:
    payload = {k: getattr(row, k, None) for k in ALERT_FIELDS}
    since = row.since
    payload.update(
        alert_id=row.id,
        event="active",
        since=since.isoformat() if isinstance(since, datetime) else since,
    )
    return Notification(
        event="active", idempotency_key=f"alert-{row.id}-active", created_at=now, payload=payload
    )


# -- customer-care hooks: parcel lifecycle events ---------------------------------------------

# Canonical statuses (DESIGN.md) before a carrier has the parcel; `unknown` counts as not yet
# scanned. Plain strings: this package knows nothing of carriers.
NOT_YET_SCANNED = frozenset({"awaiting_shipment", "label_created", "unknown"})
DELIVERED = "delivered"
PARCEL_FIELDS = (
    "order_id",
    "tracking_number",
    "carrier",
    "warehouse",
    "province",
    "platform",
    "shop",
)


def lifecycle_outbox_rows(
    before: Mapping[str, Any], after: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """Outbox rows for a parcel's status change, for customer-care webhooks
    (`events = ["shipped", "delivered"]`): `parcel_shipped` when it leaves the not-yet-scanned
    statuses (the carrier picked it up), `parcel_delivered` when it becomes delivered.

    `before` is the stored shipment row, `after` the new values (status, picked_up_at,
    delivered_at, carrier ...; missing keys keep `before`'s). Insert the rows in the same
    transaction as the change, ignoring duplicates: the idempotency key is one per order and
    event, so a parcel is announced shipped, and delivered, at most once. No phone number or
    address goes out: the receiver looks the buyer up by order id."""
    old = before.get("status")
    new = after.get("status", old)
    if old == new or not before.get("order_id"):
        return []
    merged = {**before, **after}
    events = []
    if old in NOT_YET_SCANNED and new not in NOT_YET_SCANNED:
        events.append(("parcel_shipped", "shipped", merged.get("picked_up_at")))
    if new == DELIVERED:
        events.append(("parcel_delivered", "delivered", merged.get("delivered_at")))
    rows = []
    for event, short, at in events:
        payload = {k: merged.get(k) for k in PARCEL_FIELDS}
        payload.update(
            event=event,
            status=new,
            at=(at if isinstance(at, datetime) else now).isoformat(),
            alert_id=None,
        )
        rows.append(
            {
                "alert_id": None,
                "event": event,
                "payload": payload,
                "idempotency_key": f"parcel-{before['order_id']}-{short}",
                "created_at": now,
                "available_at": now,
                "attempts": 0,
            }
        )
    return rows
