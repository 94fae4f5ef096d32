"""Write ShipmentRecords to the store idempotently, in batches: orders, parcels and their links
(docs/orders-and-parcels.md "Import").

An order is identified by (platform, order id), a parcel by (tracking number, carrier). Order
fields always take the newest import. A parcel's tracking fields (status and scan times) only
move forward: a stale ERP export must not wind back what the carriers have told us since. The
history an export carries (pickup, delivery, last update) becomes tracking events with source
"import", de-duplicated like any other event, so importing the same file twice changes
nothing.

Links are only ever added: a second row or a second number for an order is a second parcel
(a split order), a number listed by a second order is one parcel carrying both (a merged
shipment). A number already on an order from an earlier import that another order now lists
is linked to both and reported, never moved silently; the same number under a corrected
carrier on the same order re-keys that parcel and tracks it afresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from carriers.status import TERMINAL_STATUSES, ParcelStatus
from monitor.ingest.records import ShipmentRecord
from monitor.store.tables import ORDER_PARCELS, ORDERS, SHIPMENTS, TRACKING_EVENTS
from monitor.store.types import to_micros

ORD, S, L = ORDERS.c, SHIPMENTS.c, ORDER_PARCELS.c
TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)
TRACKING_FIELDS = ("picked_up_at", "delivered_at", "last_event_at", "status", "sub_reason")
# What a parcel takes from the order it carries (one buyer, one warehouse).
DESTINATION_FIELDS = ("platform", "shop", "warehouse", "province", "city", "address", "phone")
CHUNK = 500  # bound parameters per IN (...) list

OrderKey = tuple[str, str]  # (platform, order id)
ParcelKey = tuple[str, str | None]  # (tracking number, carrier)


@dataclass(frozen=True)
class LinkNote:
    """A tracking number an earlier import put on other orders, now also on this one."""

    order_id: str
    tracking_number: str
    carrier: str | None
    other_orders: tuple[str, ...]

    def __str__(self) -> str:
        others = ", ".join(self.other_orders)
        return (
            f"tracking number {self.tracking_number} was on order {others}; now also on "
            f"{self.order_id} (one parcel for both: a merged shipment). If it moved, correct "
            "the export of the earlier order"
        )


@dataclass
class WriteCounts:
    inserted: int = 0  # orders
    updated: int = 0
    unchanged: int = 0
    parcels_inserted: int = 0
    parcels_updated: int = 0
    parcels_unchanged: int = 0
    links_added: int = 0
    notes: list[LinkNote] = field(default_factory=list)

    def add(self, other: WriteCounts) -> None:
        for name in ("inserted", "updated", "unchanged", "parcels_inserted", "parcels_updated",
                     "parcels_unchanged", "links_added"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.notes.extend(other.notes)


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
            "inferred": False,
            "location": None,
            "source": "import",
            "received_at": now,
            "dedup_key": event_key(shipment_id, at, status, None, text),
        }
        for at, status, text, reason in events
    ]


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + CHUNK] for i in range(0, len(values), CHUNK)]


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


@dataclass
class _Batch:
    """One batch grouped: the last row of each order wins its fields, the last row listing a
    number wins that parcel's fields; every (order, number) pair becomes a link."""

    orders: dict[OrderKey, ShipmentRecord] = field(default_factory=dict)
    shipped: dict[OrderKey, datetime | None] = field(default_factory=dict)
    parcels: dict[ParcelKey, tuple[ShipmentRecord, OrderKey]] = field(default_factory=dict)
    links: dict[tuple[OrderKey, ParcelKey], None] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Sequence[ShipmentRecord]) -> _Batch:
        batch = cls()
        for record in records:
            okey = (record.platform, record.order_id)
            batch.orders[okey] = record
            batch.shipped[okey] = _earliest(batch.shipped.get(okey), record.shipped_at)
            for number in record.tracking_numbers:
                pkey = (number, record.carrier)
                batch.parcels[pkey] = (record, okey)
                batch.links[(okey, pkey)] = None
        return batch


def write_batch(engine: Engine, records: Sequence[ShipmentRecord], now: datetime) -> WriteCounts:
    """Upsert one batch in one transaction."""
    batch = _Batch.of(records)
    counts = WriteCounts()
    with engine.begin() as conn:
        order_ids = _write_orders(conn, batch, now, counts)
        parcel_ids = _write_parcels(conn, batch, order_ids, now, counts)
        _write_links(conn, batch, order_ids, parcel_ids, now, counts)
    return counts


def _write_orders(
    conn: Connection, batch: _Batch, now: datetime, counts: WriteCounts
) -> dict[OrderKey, int]:
    wanted = set(batch.orders)
    existing: dict[OrderKey, Any] = {}
    for chunk in _chunks(sorted({oid for _, oid in wanted})):
        for row in conn.execute(
            select(ORD.id, ORD.platform, ORD.order_id, ORD.content_hash, ORD.shipped_at).where(
                ORD.order_id.in_(chunk)
            )
        ):
            if (row.platform, row.order_id) in wanted:
                existing[(row.platform, row.order_id)] = row
    ids = {key: int(row.id) for key, row in existing.items()}
    changed: list[dict[str, Any]] = []
    for key, row in existing.items():
        record = batch.orders[key]
        shipped = _earliest(row.shipped_at, batch.shipped[key])
        if row.content_hash == record.order_hash() and shipped == row.shipped_at:
            counts.unchanged += 1
            continue
        values = record.order_values() | {"content_hash": record.order_hash()}
        changed.append(
            {f"b_{k}": v for k, v in values.items()}
            | {"b_shipped_at": shipped, "b_id": row.id, "b_now": now}
        )
    if changed:
        columns = [k[2:] for k in changed[0] if k not in ("b_id", "b_now")]
        conn.execute(
            update(ORDERS)
            .where(ORD.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in columns} | {"updated_at": bindparam("b_now")}),
            changed,
        )
        counts.updated += len(changed)
    new = [k for k in batch.orders if k not in existing]
    if new:
        rows = [
            batch.orders[k].order_values()
            | {
                "content_hash": batch.orders[k].order_hash(),
                "shipped_at": batch.shipped[k],
                "created_at": now,
                "updated_at": now,
            }
            for k in new
        ]
        # A plain executemany, then the ids by their unique key: RETURNING in parameter order
        # makes SQLite run one INSERT per row (twice as slow for a whole import).
        conn.execute(insert(ORDERS), rows)
        fresh = set(new)
        for chunk in _chunks(sorted({oid for _, oid in new})):
            for made in conn.execute(
                select(ORD.id, ORD.platform, ORD.order_id).where(ORD.order_id.in_(chunk))
            ):
                if (made.platform, made.order_id) in fresh:
                    ids[(made.platform, made.order_id)] = int(made.id)
        counts.inserted += len(new)
    return ids


@dataclass(frozen=True)
class _NewId:
    """A row just inserted: only its id is known (and needed)."""

    id: int


def _id_of(value: Any) -> int:
    return int(value.id)


def _write_parcels(
    conn: Connection,
    batch: _Batch,
    order_ids: dict[OrderKey, int],
    now: datetime,
    counts: WriteCounts,
) -> dict[ParcelKey, int]:
    numbers = sorted({number for number, _ in batch.parcels})
    stored: dict[ParcelKey, Any] = {}
    for chunk in _chunks(numbers):
        for row in conn.execute(
            select(
                S.id, S.tracking_number, S.carrier, S.content_hash, S.last_event_at, S.shipped_at
            ).where(S.tracking_number.in_(chunk))
        ):
            stored[(row.tracking_number, row.carrier)] = row
    rekeyed = _carrier_corrections(conn, batch, order_ids, stored)
    events: list[dict[str, Any]] = []
    new = [k for k in batch.parcels if k not in stored]
    if new:
        rows = []
        for number, carrier in new:
            record, okey = batch.parcels[(number, carrier)]
            rows.append(
                _parcel_values(record)
                | {
                    "tracking_number": number,
                    "carrier": carrier,
                    "order_id": okey[1],
                    "order_count": 0,  # counted once its links are written
                    "shipped_at": record.shipped_at,
                    "created_at": now,
                    "updated_at": now,
                    "next_poll_at": now if record.status not in TERMINAL else None,
                }
            )
        conn.execute(insert(SHIPMENTS), rows)  # then the ids by key, as for the orders
        fresh = set(new)
        for chunk in _chunks(sorted({number for number, _ in new})):
            for made in conn.execute(
                select(S.id, S.tracking_number, S.carrier).where(S.tracking_number.in_(chunk))
            ):
                key = (made.tracking_number, made.carrier)
                if key in fresh:
                    stored[key] = _NewId(int(made.id))
                    events.extend(history_events(int(made.id), batch.parcels[key][0], now))
        counts.parcels_inserted += len(new)
    _update_parcels(conn, batch, stored, new, rekeyed, now, counts, events)
    insert_ignoring_duplicates(conn, TRACKING_EVENTS, events)
    return {key: _id_of(row) for key, row in stored.items() if key in batch.parcels}


def _parcel_values(record: ShipmentRecord) -> dict[str, Any]:
    return {
        **{k: getattr(record, k) for k in DESTINATION_FIELDS},
        **{k: getattr(record, k) for k in TRACKING_FIELDS},
        "content_hash": record.parcel_hash(),
    }


def _carrier_corrections(
    conn: Connection,
    batch: _Batch,
    order_ids: dict[OrderKey, int],
    stored: dict[ParcelKey, Any],
) -> set[ParcelKey]:
    """A number stored under another carrier for this very order is that parcel with its
    carrier corrected: re-keyed in place, so its order keeps one parcel, tracked afresh."""
    rekeyed: set[ParcelKey] = set()
    candidates = {
        (number, carrier): okey
        for (okey, (number, carrier)) in batch.links
        if (number, carrier) not in stored
    }
    for (number, carrier), okey in candidates.items():
        old = next((row for (n, c), row in stored.items() if n == number and c != carrier), None)
        if old is None or okey not in order_ids:
            continue
        linked = conn.execute(
            select(L.shipment_id).where(
                L.shipment_id == old.id, L.sales_order_id == order_ids[okey]
            )
        ).first()
        if linked is None:
            continue
        old_key = (number, old.carrier)
        conn.execute(update(SHIPMENTS).where(S.id == old.id).values(carrier=carrier))
        stored[(number, carrier)] = stored.pop(old_key)
        rekeyed.add((number, carrier))
    return rekeyed


def _update_parcels(
    conn: Connection,
    batch: _Batch,
    stored: dict[ParcelKey, Any],
    new: list[ParcelKey],
    rekeyed: set[ParcelKey],
    now: datetime,
    counts: WriteCounts,
    events: list[dict[str, Any]],
) -> None:
    order_only: list[dict[str, Any]] = []
    with_tracking: list[dict[str, Any]] = []
    fresh = set(new)
    for key, (record, _) in batch.parcels.items():
        if key in fresh:
            continue
        current = stored[key]
        if current.content_hash == record.parcel_hash() and key not in rekeyed:
            counts.parcels_unchanged += 1
            continue
        values = _parcel_values(record)
        params = {f"b_{k}": values[k] for k in (*DESTINATION_FIELDS, "content_hash")}
        params |= {
            "b_id": current.id,
            "b_now": now,
            "b_shipped_at": _earliest(current.shipped_at, record.shipped_at),
        }
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
    base: dict[str, Any] = {
        k: bindparam(f"b_{k}") for k in (*DESTINATION_FIELDS, "content_hash", "shipped_at")
    }
    base["updated_at"] = bindparam("b_now")
    where = S.id == bindparam("b_id")
    if order_only:
        conn.execute(update(SHIPMENTS).where(where).values(**base), order_only)
    if with_tracking:
        tracking: dict[str, Any] = {k: bindparam(f"b_{k}") for k in TRACKING_FIELDS}
        conn.execute(update(SHIPMENTS).where(where).values(**base, **tracking), with_tracking)
    counts.parcels_updated += len(order_only) + len(with_tracking)
    if rekeyed:
        # A corrected carrier starts tracking afresh: new API, new subscription.
        conn.execute(
            update(SHIPMENTS)
            .where(S.id.in_([stored[k].id for k in rekeyed]))
            .values(next_poll_at=now, subscribed_at=None, tracking_stopped_at=None, poll_failures=0)
        )


def _write_links(
    conn: Connection,
    batch: _Batch,
    order_ids: dict[OrderKey, int],
    parcel_ids: dict[ParcelKey, int],
    now: datetime,
    counts: WriteCounts,
) -> None:
    wanted = {(order_ids[okey], parcel_ids[pkey]): (okey, pkey) for okey, pkey in batch.links}
    if not wanted:
        return
    parcels = sorted({pid for _, pid in wanted})
    known: dict[int, list[tuple[int, datetime]]] = {}
    for chunk in _chunks(parcels):
        for order_pk, shipment_id, linked_at in conn.execute(
            select(L.sales_order_id, L.shipment_id, L.linked_at).where(L.shipment_id.in_(chunk))
        ):
            known.setdefault(int(shipment_id), []).append((int(order_pk), linked_at))
    added = [pair for pair in wanted if pair[0] not in {o for o, _ in known.get(pair[1], [])}]
    if not added:
        return
    conn.execute(
        insert(ORDER_PARCELS),
        [{"sales_order_id": o, "shipment_id": p, "linked_at": now} for o, p in added],
    )
    counts.links_added += len(added)
    earlier = sorted({o for _, p in added for o, at in known.get(p, []) if at < now})
    names: dict[int, str] = {}
    if earlier:
        names = dict(conn.execute(select(ORD.id, ORD.order_id).where(ORD.id.in_(earlier))).all())
    for order_pk, shipment_id in added:
        others = tuple(
            str(names[o]) for o, at in known.get(shipment_id, []) if at < now and o != order_pk
        )
        if others:
            okey, (number, carrier) = wanted[(order_pk, shipment_id)]
            counts.notes.append(LinkNote(okey[1], number, carrier, others))
    _refresh_link_summaries(conn, sorted({p for _, p in added}), sorted({o for o, _ in added}))


def _refresh_link_summaries(conn: Connection, parcels: list[int], orders: list[int]) -> None:
    """A parcel's first order and order count; an order's shipped time, the first upload of
    any of its parcels (docs/orders-and-parcels.md "When an order counts as shipped")."""
    first_order = (
        select(ORD.order_id)
        .select_from(ORDER_PARCELS.join(ORDERS, ORD.id == L.sales_order_id))
        .where(L.shipment_id == S.id)
        .order_by(ORD.id)
        .limit(1)
        .scalar_subquery()
    )
    order_count = (
        select(func.count()).select_from(ORDER_PARCELS).where(L.shipment_id == S.id)
    ).scalar_subquery()
    for chunk in _chunks(parcels):
        conn.execute(
            update(SHIPMENTS)
            .where(S.id.in_(chunk))
            .values(order_id=first_order, order_count=order_count)
        )
    first_upload = (
        select(func.min(S.shipped_at))
        .select_from(ORDER_PARCELS.join(SHIPMENTS, S.id == L.shipment_id))
        .where(L.sales_order_id == ORD.id)
        .scalar_subquery()
    )
    for chunk in _chunks(orders):
        conn.execute(
            update(ORDERS)
            .where(ORD.id.in_(chunk), (ORD.shipped_at.is_(None)) | (ORD.shipped_at > first_upload))
            .values(shipped_at=first_upload)
        )


__all__ = [
    "LinkNote",
    "WriteCounts",
    "event_key",
    "history_events",
    "insert_ignoring_duplicates",
    "write_batch",
]
