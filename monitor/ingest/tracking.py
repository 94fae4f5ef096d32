"""Apply what carriers tell us (polled answers and pushes alike) to the store.

Every event is stored once (the same scan polled twice, pushed twice, or pushed then polled
has one de-duplication key), so a timeline is the same whatever order the answers arrive
in. A parcel's current state only moves forward: an answer older than what we already know
adds its events to the timeline and leaves the state alone. All of one batch is written in
one transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from carriers.base import TrackingUpdate
from carriers.hubs import hub_of
from carriers.registry import CARRIERS
from carriers.status import ParcelStatus
from monitor.clock import EARLIEST_MOMENT, implausible_moment
from monitor.ingest.parcel_events import lifecycle_outbox_rows
from monitor.ingest.poll_schedule import PlanInput, next_poll_at
from monitor.ingest.writer import event_key, insert_ignoring_duplicates
from monitor.metrics.instruments import CARRIER_IDS_UNMAPPED, EVENTS_INGESTED, EVENTS_REJECTED
from monitor.store.tables import OUTBOX, SHIPMENTS, TRACKING_EVENTS

log = logging.getLogger(__name__)
MAX_ESTIMATE_AHEAD = timedelta(days=120)  # an estimated delivery further out is noise
NOT_A_SCAN = frozenset(
    {ParcelStatus.AWAITING_SHIPMENT, ParcelStatus.LABEL_CREATED, ParcelStatus.UNKNOWN}
)


@dataclass
class ApplyResult:
    events: int = 0  # events offered (before de-duplication)
    shipments: int = 0  # shipments whose state moved forward
    unknown: list[str] = field(default_factory=list)  # tracking numbers we do not know
    # Counted into the metrics only once the transaction committed (`record_metrics`): a
    # batch that is rolled back and tried again, or refused and sent again, counts once.
    ingested: Counter[tuple[str, str]] = field(default_factory=Counter)  # (carrier, source)
    rejected: Counter[tuple[str, str]] = field(default_factory=Counter)  # (source, reason)
    unmapped: Counter[str] = field(default_factory=Counter)  # carrier ids, by source

    def record_metrics(self) -> None:
        """Count what this committed batch brought (events ingested, scans rejected, carrier
        ids that map to no carrier)."""
        for (carrier, source), count in self.ingested.items():
            EVENTS_INGESTED.labels(carrier=carrier, source=source).inc(count)
        for (source, reason), count in self.rejected.items():
            EVENTS_REJECTED.labels(source=source, reason=reason).inc(count)
        for source, count in self.unmapped.items():
            CARRIER_IDS_UNMAPPED.labels(source=source).inc(count)


def _stored(conn: Connection, numbers: list[str]) -> dict[str, list[Any]]:
    rows: dict[str, list[Any]] = {}
    query = select(SHIPMENTS).where(SHIPMENTS.c.tracking_number.in_(numbers))
    for row in conn.execute(query):
        rows.setdefault(row.tracking_number, []).append(row)
    return rows


def plausible(
    update: TrackingUpdate, now: datetime, rejected: Counter[tuple[str, str]]
) -> TrackingUpdate:
    """The update as parcelwatch can believe it: scans dated before 2000 or days ahead are
    dropped (logged and counted; one 9999-12-31 must not poison every threshold later), an
    implausible estimate is forgotten, and NUL characters (which PostgreSQL text refuses and
    no scan text needs) are removed from the carrier's words. Dropped scans are tallied in
    `rejected`."""
    kept = []
    changed = False
    for event in update.events:
        reason = implausible_moment(event.occurred_at, now)
        if reason is not None:
            log.warning("%s %s: scan dropped, %s", update.carrier, update.tracking_number, reason)
            rejected[update.source, "implausible_time"] += 1
            changed = True
            continue
        if any("\x00" in (v or "") for v in (event.raw_text, event.raw_code, event.location)):
            changed = True
            event = replace(
                event,
                raw_text=event.raw_text.replace("\x00", ""),
                raw_code=event.raw_code.replace("\x00", "") if event.raw_code else None,
                location=event.location.replace("\x00", "") if event.location else None,
            )
        kept.append(event)
    estimate = update.expected_delivery_at
    if estimate is not None and (estimate > now + MAX_ESTIMATE_AHEAD or estimate < EARLIEST_MOMENT):
        estimate, changed = None, True
    if not changed:
        return update
    status = update.status
    if len(kept) < len(update.events):
        # The answer's overall status may come from the dropped scan: trust the last kept one.
        status = max(kept, key=lambda e: e.occurred_at).status if kept else ParcelStatus.UNKNOWN
    return replace(update, events=tuple(kept), expected_delivery_at=estimate, status=status)


def apply_updates(
    engine: Engine,
    updates: Sequence[TrackingUpdate],
    now: datetime,
    *,
    subscribed: bool = False,
    plan: PlanInput | None = None,
) -> ApplyResult:
    """Store events and move shipment state forward, in one transaction of its own.
    `subscribed` marks numbers whose tracking API pushes updates (polled rarely); `plan`
    carries the thresholds for scheduling the next poll."""
    if not updates:
        return ApplyResult()
    with engine.begin() as conn:
        result = apply_updates_in(conn, updates, now, subscribed=subscribed, plan=plan)
    result.record_metrics()
    return result


def apply_updates_in(
    conn: Connection,
    updates: Sequence[TrackingUpdate],
    now: datetime,
    *,
    subscribed: bool = False,
    plan: PlanInput | None = None,
) -> ApplyResult:
    """`apply_updates` inside the caller's transaction, so that a push's kept body and what
    it says commit together (monitor/ingest/push_writer.py). The caller records the result's
    metrics once that transaction committed."""
    result = ApplyResult()
    updates = [plausible(u, now, result.rejected) for u in updates]
    if not updates:
        return result
    known = _stored(conn, sorted({u.tracking_number for u in updates}))
    events: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []  # parcel shipped / delivered, for customer care
    current: dict[int, _Changed] = {}  # parcels an earlier update of this batch changed
    for upd in updates:
        rows = known.get(upd.tracking_number)
        if not rows:
            result.unknown.append(upd.tracking_number)
            continue
        result.events += len(upd.events)
        result.ingested[rows[0].carrier or "", upd.source] += len(upd.events)
        if upd.carriers_allowed is not None:
            foreign = [r for r in rows if r.carrier not in upd.carriers_allowed]
            if foreign:
                log.warning(
                    "%s update for %s ignored for %d parcel(s) of carriers tracked by "
                    "another account", upd.source, upd.tracking_number, len(foreign),
                )  # fmt: skip
                result.rejected[upd.source, "foreign_account"] += len(upd.events) * len(foreign)
                rows = [r for r in rows if r.carrier in upd.carriers_allowed]
        for stored in rows:  # one parcel can carry several orders
            # A batch may hold several answers about one parcel (two pushes of one burst):
            # each is judged against the state the earlier ones left, not the stored row,
            # so that an older answer after a newer one cannot move the parcel back.
            row = current.get(stored.id, stored)
            events.extend(_event_rows(row.id, upd, now))
            carrier = corrected_carrier(row.carrier, upd, result.unmapped)
            if carrier != row.carrier:
                events.append(_correction_event(row, upd, carrier, now))
            same = replace(upd, carrier=carrier or "")
            change = _state_change(row, same, now, subscribed, plan)
            if change:
                changes.append(change)
                outbox.extend(lifecycle_outbox_rows(row._mapping, change, now))
                current[row.id] = _Changed(row._mapping, change)
    insert_ignoring_duplicates(conn, TRACKING_EVENTS, events)
    insert_ignoring_duplicates(conn, OUTBOX, outbox)  # one per order and event
    if changes:
        _write_changes(conn, changes)
    result.shipments = len(changes)
    return result


class _Changed:
    """A parcel's row as an earlier update of the same batch left it (the stored row, with
    that update's values), read like the stored row."""

    def __init__(self, stored: Mapping[str, Any], change: Mapping[str, Any]) -> None:
        self._mapping = {**stored, **{k: v for k, v in change.items() if k != "b_id"}}

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


def corrected_carrier(
    stored: str | None, upd: TrackingUpdate, unmapped: Counter[str]
) -> str | None:
    """The carrier to store: parcelwatch's own codes only. An aggregator may report a corrected
    courier (Kuaidi100's auto-detection, an AfterShip slug change) and that is believed when
    it names one of our carriers; an identifier of its own (a 17TRACK numeric key, a slug, an
    unmapped company code) is logged and tallied in `unmapped` by source, never stored
    (docs/tracking-apis.md "Carrier identity"). The tally reaches the metric only once the
    batch committed (`ApplyResult.record_metrics`)."""
    given = upd.carrier
    if not given or given == stored:
        return stored
    if given in CARRIERS:
        return given
    log.warning("%s: carrier id %r for %s maps to no carrier; kept %s", upd.source, given,
                upd.tracking_number, stored)  # fmt: skip
    unmapped[upd.source] += 1
    return stored


def _correction_event(
    row: Any, upd: TrackingUpdate, carrier: str | None, now: datetime
) -> dict[str, Any]:
    """The parcel's history says when and by whom its carrier was corrected."""
    text = f"carrier corrected: {row.carrier} → {carrier}"
    return {
        "shipment_id": row.id,
        "occurred_at": now,
        "status": ParcelStatus.UNKNOWN.value,
        "sub_reason": None,
        "raw_code": "carrier_corrected",
        "raw_text": text,
        "inferred": False,
        "location": None,
        "source": upd.source,
        "received_at": now,
        "dedup_key": event_key(row.id, now, "carrier_corrected", carrier, text),
    }


def _event_rows(shipment_id: int, upd: TrackingUpdate, now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "shipment_id": shipment_id,
            "occurred_at": e.occurred_at,
            "status": e.status.value,
            "sub_reason": e.sub_reason,
            "raw_code": e.raw_code,
            "raw_text": e.raw_text,
            "inferred": e.inferred,
            "location": e.location,
            "source": upd.source,
            "received_at": now,
            "dedup_key": event_key(
                shipment_id, e.occurred_at, e.status.value, e.raw_code, e.raw_text
            ),
        }
        for e in upd.events
    ]


def _state_change(
    row: Any, upd: TrackingUpdate, now: datetime, subscribed: bool, plan: PlanInput | None
) -> dict[str, Any] | None:
    scans = [e for e in upd.events if e.status not in NOT_A_SCAN]
    newest = max((e.occurred_at for e in upd.events), default=None)
    stored_last = row.last_event_at
    moves_forward = newest is not None and (stored_last is None or newest >= stored_last)

    picked_up = row.picked_up_at
    if scans:
        first_scan = min(e.occurred_at for e in scans)
        picked_up = first_scan if picked_up is None else min(picked_up, first_scan)
    values: dict[str, Any] = {
        "b_id": row.id,
        "picked_up_at": picked_up,
        "shipped_at": row.shipped_at or picked_up,
        "status": row.status,
        "sub_reason": row.sub_reason,
        "last_event_at": stored_last,
        "delivered_at": row.delivered_at,
        "expected_delivery_at": upd.expected_delivery_at or row.expected_delivery_at,
        "carrier": upd.carrier or row.carrier,
        "tracking_stopped_at": now if upd.stopped else row.tracking_stopped_at,
        "subscribed_at": row.subscribed_at or (now if subscribed else None),
        "answered_at": now,  # the carrier said something about it (migration 0007)
        "last_hub": row.last_hub,
    }
    if values["carrier"] != row.carrier:
        # Another carrier may be served by another API account: subscribe again.
        values["subscribed_at"] = None
    if upd.stopped and upd.resubscribe:
        # The API stopped pushing but takes the number again later (Kuaidi100 `abort`, no
        # record for days: docs/tracking-apis.md "Kuaidi100 push callback"): poll at the
        # normal pace meanwhile, and let the subscribe job register it again once the API
        # allows. A final stop (`shutdown`) keeps the parcel marked subscribed: subscribing
        # again would only repeat the same answer, and the safety-net polls still watch it.
        values["subscribed_at"] = None
    if moves_forward:
        values.update(status=upd.status.value, sub_reason=upd.sub_reason, last_event_at=newest)
        # The newest scan that names a hub (events are oldest first): usually the last one.
        hub = next((h for e in reversed(upd.events) if (h := hub_of(e.raw_text, e.location))),
                   None)  # fmt: skip
        if hub:
            values["last_hub"] = hub
        if upd.status == ParcelStatus.DELIVERED:
            delivered = [e.occurred_at for e in upd.events if e.status == ParcelStatus.DELIVERED]
            values["delivered_at"] = max(delivered, default=newest)
    values["next_poll_at"] = next_poll_at(
        status=values["status"],
        shipped_at=values["shipped_at"],
        last_scan_at=values["last_event_at"] or picked_up,
        now=now,
        subscribed=values["subscribed_at"] is not None and not upd.stopped,
        thresholds=plan.for_parcel(row) if plan else None,
    )
    unchanged = row.answered_at is not None and all(
        values[k] == getattr(row, k)
        for k in values
        if k not in ("b_id", "next_poll_at", "answered_at")
    )
    if unchanged and not moves_forward:
        return None
    values["updated_at"] = now
    return values


def _write_changes(conn: Connection, changes: list[dict[str, Any]]) -> None:
    columns = [k for k in changes[0] if k != "b_id"]
    params = [{"b_id": c["b_id"], **{f"v_{k}": c[k] for k in columns}} for c in changes]
    statement = (
        update(SHIPMENTS)
        .where(SHIPMENTS.c.id == bindparam("b_id"))
        .values(**{k: bindparam(f"v_{k}") for k in columns})
    )
    conn.execute(statement, params)
