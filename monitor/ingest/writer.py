"""Write ShipmentRecords to the store idempotently, in batches.

Order fields (platform, carrier, tracking number, destination ...) always take the newest
import. Tracking fields (status and scan times) only move forward: a stale ERP export must
not wind back what the carriers have told us since. The history an export carries (pickup,
delivery, last update) becomes tracking events with source "import", de-duplicated like any
other event, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from carriers.status import TERMINAL_STATUSES, ParcelStatus
from monitor.ingest.records import ShipmentRecord
from monitor.store.tables import SHIPMENTS, TRACKING_EVENTS
from monitor.store.types import to_micros

ORDER_FIELDS = (
    "platform",
    "shop",
    "warehouse",
    "carrier",
    "tracking_number",
    "province",
    "city",
    "address",
    "amount",
    "paid_at",
    "shipped_at",
    "phone",
)
TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)
TRACKING_FIELDS = ("picked_up_at", "delivered_at", "last_event_at", "status", "sub_reason")


@dataclass
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: WriteCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged


def insert_ignoring_duplicates(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def event_key(
    shipment_id: int, occurred_at: datetime, status: str, raw_code: str | None, raw_text: str
) -> str:
    """The same scan from any source (import, poll, push) gets the same key."""
    text = f"{shipment_id}|{to_micros(occurred_at)}|{status}|{raw_code or ''}|{raw_text}"
    return hashlib.sha1(text.encode()).hexdigest()


def history_events(shipment_id: int, record: ShipmentRecord, now: datetime) -> list[dict[str, Any]]:
    events: list[tuple[datetime, str, str, str | None]] = []
    if record.picked_up_at:
        events.append((record.picked_up_at, ParcelStatus.PICKED_UP.value, "揽收（导入）", None))
    if record.delivered_at:
        events.append((record.delivered_at, ParcelStatus.DELIVERED.value, "签收（导入）", None))
    if (
        record.last_event_at
        and record.status
        not in (
            ParcelStatus.AWAITING_SHIPMENT.value,
            ParcelStatus.LABEL_CREATED.value,
        )
        and record.last_event_at not in (record.picked_up_at, record.delivered_at)
    ):
        events.append((record.last_event_at, record.status, "物流更新（导入）", record.sub_reason))
    return [
        {
            "shipment_id": shipment_id,
            "occurred_at": at,
            "status": status,
            "sub_reason": reason,
            "raw_code": None,
            "raw_text": text,
            "location": None,
            "source": "import",
            "received_at": now,
            "dedup_key": event_key(shipment_id, at, status, None, text),
        }
        for at, status, text, reason in events
    ]


def _row(record: ShipmentRecord) -> dict[str, Any]:
    values = asdict(record)
    values["content_hash"] = record.order_hash()
    return values


def write_batch(engine: Engine, records: Sequence[ShipmentRecord], now: datetime) -> WriteCounts:
    """Upsert one batch in one transaction. Later records for the same order win."""
    latest: dict[str, ShipmentRecord] = {}
    for record in records:
        latest[record.order_id] = record
    counts = WriteCounts()
    with engine.begin() as conn:
        existing = {
            row.order_id: row
            for row in conn.execute(
                select(
                    SHIPMENTS.c.id,
                    SHIPMENTS.c.order_id,
                    SHIPMENTS.c.content_hash,
                    SHIPMENTS.c.last_event_at,
                    SHIPMENTS.c.carrier,
                    SHIPMENTS.c.tracking_number,
                ).where(SHIPMENTS.c.order_id.in_(list(latest)))
            )
        }
        new = [r for oid, r in latest.items() if oid not in existing]
        changed = [
            r
            for oid, r in latest.items()
            if oid in existing and existing[oid].content_hash != r.order_hash()
        ]
        counts.unchanged = len(latest) - len(new) - len(changed)
        events: list[dict[str, Any]] = []
        if new:
            rows = [
                _row(r)
                | {"created_at": now, "updated_at": now, "next_poll_at": _first_poll(r, now)}
                for r in new
            ]
            ids = (
                conn.execute(
                    insert(SHIPMENTS).returning(SHIPMENTS.c.id, sort_by_parameter_order=True), rows
                )
                .scalars()
                .all()
            )
            for shipment_id, record in zip(ids, new, strict=True):
                events.extend(history_events(shipment_id, record, now))
            counts.inserted = len(new)
        if changed:
            _update(conn, changed, existing, now, events)
            _restart_tracking(conn, changed, existing, now)
            counts.updated = len(changed)
        insert_ignoring_duplicates(conn, TRACKING_EVENTS, events)
    return counts


def _first_poll(record: ShipmentRecord, now: datetime) -> datetime | None:
    """A parcel with a tracking number is polled (or subscribed) on the next poll tick."""
    if record.tracking_number and record.status not in TERMINAL:
        return now
    return None


def _restart_tracking(
    conn: Connection, changed: Iterable[ShipmentRecord], existing: dict[str, Any], now: datetime
) -> None:
    """A new or corrected tracking number (or carrier) starts tracking afresh."""
    restarted = [
        {"b_id": existing[r.order_id].id, "b_next": _first_poll(r, now)}
        for r in changed
        if (r.tracking_number, r.carrier)
        != (existing[r.order_id].tracking_number, existing[r.order_id].carrier)
    ]
    if restarted:
        conn.execute(
            update(SHIPMENTS)
            .where(SHIPMENTS.c.id == bindparam("b_id"))
            .values(
                next_poll_at=bindparam("b_next"),
                subscribed_at=None,
                tracking_stopped_at=None,
                poll_failures=0,
            ),
            restarted,
        )


def _update(
    conn: Connection,
    changed: Iterable[ShipmentRecord],
    existing: dict[str, Any],
    now: datetime,
    events: list[dict[str, Any]],
) -> None:
    order_only: list[dict[str, Any]] = []
    with_tracking: list[dict[str, Any]] = []
    for record in changed:
        current = existing[record.order_id]
        values = _row(record)
        params = {f"b_{k}": values[k] for k in (*ORDER_FIELDS, "content_hash")}
        params |= {"b_id": current.id, "b_now": now}
        stored_last = current.last_event_at
        # The import is the only source until a carrier has told us something; after that
        # only an export at least as recent as the last scan may move the tracking state.
        newer = stored_last is None or (
            record.last_event_at is not None and record.last_event_at >= stored_last
        )
        if newer:
            params |= {f"b_{k}": values[k] for k in TRACKING_FIELDS}
            with_tracking.append(params)
            events.extend(history_events(current.id, record, now))
        else:
            order_only.append(params)
    base: dict[str, Any] = {k: bindparam(f"b_{k}") for k in (*ORDER_FIELDS, "content_hash")}
    base["updated_at"] = bindparam("b_now")
    where = SHIPMENTS.c.id == bindparam("b_id")
    if order_only:
        conn.execute(update(SHIPMENTS).where(where).values(**base), order_only)
    if with_tracking:
        tracking: dict[str, Any] = {k: bindparam(f"b_{k}") for k in TRACKING_FIELDS}
        conn.execute(update(SHIPMENTS).where(where).values(**base, **tracking), with_tracking)
