"""The outbox's store side: claim due rows with a lease, load them with their per-sink
deliveries, save deliveries, settle rows. Every write is a compare-and-set, so a replica
that lost its lease changes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from alerts.outbox.policy import DeliveryPolicy, DeliveryStats, Item, Target, Waiting
from alerts.sinks.base import Notification
from alerts.sinks.routing import Route


def claim_due(engine: Engine, outbox: Table, now: datetime, policy: DeliveryPolicy) -> list[Any]:
    """Take due rows with a lease (compare-and-set on `available_at`), oldest first."""
    o = outbox.c
    # A materialized CTE, so PostgreSQL takes the LIMIT once: as `id IN (subquery)` it may
    # plan a semi-join that re-runs the locking subquery and claims every due row.
    due = (
        select(o.id)
        .where(o.available_at <= now, o.delivered_at.is_(None))
        .order_by(o.id)
        .limit(policy.batch_size)
        .with_for_update(skip_locked=True)
        .cte("due")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    claim = (
        update(outbox)
        .where(o.id.in_(select(due.c.id)), o.available_at <= now, o.delivered_at.is_(None))
        .values(available_at=now + policy.lease, attempts=o.attempts + 1)
        .returning(
            o.id, o.alert_id, o.event, o.payload, o.idempotency_key, o.created_at, o.attempts
        )
    )
    with engine.begin() as conn:
        return sorted(conn.execute(claim), key=lambda r: r.id)


def notification(row: Any) -> Notification:
    payload = row.payload if isinstance(row.payload, Mapping) else {}
    return Notification(
        event=row.event,
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        payload=payload,
        outbox_id=row.id,
    )


def targets_for(
    row_id: int, n: Notification, sinks: Sequence[Route], known: Mapping[tuple[int, str], Any]
) -> dict[str, Target]:
    targets = {}
    for route in sinks:
        if not route.accepts(n):
            continue
        stored = known.get((row_id, route.name))
        targets[route.name] = (
            Target(
                row_id,
                route.name,
                attempts=stored.attempts,
                delivered_at=stored.delivered_at,
                permanent=bool(stored.permanent),
                last_error=stored.last_error,
                next_attempt_at=stored.next_attempt_at,
            )
            if stored is not None
            else Target(row_id, route.name)
        )
    return targets


def load_claimed(
    engine: Engine,
    outbox: Table,
    deliveries: Table,
    rows: Sequence[Any],
    sinks: Sequence[Route],
    now: datetime,
) -> tuple[list[Item], dict[str, Waiting]]:
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
        n = notification(row)
        items.append(
            Item(
                row.id,
                row.alert_id,
                row.created_at,
                row.attempts,
                n,
                targets_for(row.id, n, sinks, known),
            )
        )
    waiting: dict[str, Waiting] = {}
    for row in sorted(older, key=lambda r: r.id):
        for name, target in targets_for(row.id, notification(row), sinks, known).items():
            if not target.settled:
                until = max(target.next_attempt_at or now, row.available_at, now)
                waiting.setdefault(name, {}).setdefault(row.alert_id, (row.id, until))
    return items, waiting


def save_deliveries(
    engine: Engine, deliveries: Table, targets: Sequence[Target], now: datetime
) -> None:
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


def settle(
    engine: Engine,
    outbox: Table,
    items: Sequence[Item],
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
