"""A detection tick: read the active parcels, run the rules, and apply the alert plan.

The store read is one query into a pandas frame (monitor/store/frames.py); the rules are
vectorised; the alert changes are written with a handful of batched statements in one
transaction, together with their history and outbox rows, so a crash at any line leaves
either the whole tick or none of it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, bindparam, func, insert, literal, or_, select, update

from alerts.lifecycle import Plan, plan
from alerts.model import AlertState, Resolution, fingerprint
from alerts.outbox import ALERT_FIELDS
from carriers.status import TERMINAL_STATUSES, ParcelStatus
from monitor.config import Config
from monitor.metrics import ALERTS_OPENED
from monitor.rules import BASELINE_COLUMNS, TIME_COLUMNS, evaluate
from monitor.rules.incidents import TROUBLE_KINDS
from monitor.scorecard.lanes import load_lane_expectations
from monitor.store.frames import read_frame
from monitor.store.health import load_health
from monitor.store.models import Alert, AlertEvent, OutboxMessage, Shipment

SYSTEM = "system"
SHIPMENTS = Shipment.__table__  # type: ignore[attr-defined]
ALERTS = Alert.__table__  # type: ignore[attr-defined]
HISTORY = AlertEvent.__table__  # type: ignore[attr-defined]
OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
S = SHIPMENTS.c
A = ALERTS.c
TERMINAL = sorted(s.value for s in TERMINAL_STATUSES)
RECENTLY_RETURNED = timedelta(days=7)


def active_parcels_query(now: datetime) -> Any:
    """Parcels still on their way; finished ones that still have an open alert (so the alert
    can see its condition clear, or stay open for a returned parcel); and parcels returned
    within the last RECENTLY_RETURNED (one that went straight to "returned" between two
    ticks, or arrived that way in an import, still deserves its `returned` alert)."""
    with_open_alert = select(A.shipment_id).where(
        A.state != AlertState.RESOLVED.value, A.shipment_id.is_not(None)
    )
    return select(
        S.id.label("shipment_id"),
        S.order_id,
        S.platform,
        S.warehouse,
        S.carrier,
        S.tracking_number,
        S.province,
        S.amount,
        S.paid_at,
        S.shipped_at,
        S.picked_up_at,
        S.delivered_at,
        S.last_event_at,
        S.expected_delivery_at,
        S.status,
        S.sub_reason,
        S.last_polled_at,
        S.subscribed_at,
    ).where(
        or_(
            S.status.not_in(TERMINAL),
            S.id.in_(with_open_alert),
            and_(
                S.status == ParcelStatus.RETURNED.value,
                S.last_event_at >= now - RECENTLY_RETURNED,
                S.last_event_at <= now,
            ),
        )
    )


CATEGORY_COLUMNS = ("platform", "warehouse", "carrier", "province", "status", "sub_reason")


def load_parcels(engine: Engine, now: datetime) -> pd.DataFrame:
    return read_frame(engine, active_parcels_query(now), TIME_COLUMNS, CATEGORY_COLUMNS)


class BaselineCache:
    """The daemon keeps one: a 28-day rate does not move in five minutes, so it is computed
    once per hour rather than on every tick."""

    def __init__(self) -> None:
        self.key: tuple[int, datetime] | None = None
        self.frame: pd.DataFrame | None = None

    def get(self, engine: Engine, now: datetime, days: int) -> pd.DataFrame:
        key = (days, now.replace(minute=0, second=0, microsecond=0))
        if self.key != key or self.frame is None:
            self.frame = incident_baseline(engine, now, days)
            self.key = key
        return self.frame


def incident_baseline(engine: Engine, now: datetime, days: int) -> pd.DataFrame:
    """Per carrier and province: parcels picked up in the last `days` that have since
    finished (delivered or returned), and how many of them had a stalled or delayed alert.

    Finished parcels only, so that the episode being judged (parcels still in the carrier's
    hands) does not raise its own baseline and silence itself. One grouped query: GROUP BY in
    the subquery lets SQLite index it, where a DISTINCT subquery is rescanned for every
    shipment (683 s instead of about 1 s at a million parcels)."""
    troubled = (
        select(A.shipment_id)
        .where(A.kind.in_(TROUBLE_KINDS), A.shipment_id.is_not(None))
        .group_by(A.shipment_id)
        .subquery()
    )
    query = (
        select(
            S.carrier,
            S.province,
            func.count().label("picked_up"),
            func.count(troubled.c.shipment_id).label("affected"),
        )
        .select_from(SHIPMENTS.outerjoin(troubled, troubled.c.shipment_id == S.id))
        .where(
            S.picked_up_at >= now - timedelta(days=days),
            S.picked_up_at < now,
            S.status.in_(TERMINAL),
        )
        .group_by(S.carrier, S.province)
    )
    frame = read_frame(engine, query)
    return frame[list(BASELINE_COLUMNS)] if not frame.empty else frame


def with_fingerprints(exceptions: pd.DataFrame) -> pd.DataFrame:
    """Parcel alerts are about an order; carrier alerts about a carrier (and province)."""

    def subject(order_id: object, carrier: object, province: object) -> str:
        if isinstance(order_id, str):
            return order_id
        return f"{carrier}:{province}" if isinstance(province, str) else str(carrier)

    fingerprints = [
        fingerprint(kind, subject(o, c, p))
        for kind, o, c, p in zip(
            exceptions["kind"], exceptions["order_id"], exceptions["carrier"],
            exceptions["province"], strict=True,
        )
    ]  # fmt: skip
    return exceptions.assign(
        fingerprint=pd.Series(fingerprints, index=exceptions.index, dtype=object)
    )


def detect(
    engine: Engine,
    config: Config,
    now: datetime,
    parcels: pd.DataFrame | None = None,
    baselines: BaselineCache | None = None,
) -> pd.DataFrame:
    """Every exception true at `now`, read-only."""
    if parcels is None:
        parcels = load_parcels(engine, now)
    days = config.rules.incident.baseline_days
    baseline = (
        baselines.get(engine, now, days) if baselines else incident_baseline(engine, now, days)
    )
    lanes = load_lane_expectations(engine)  # learned lane p90s for `delayed`: one small query
    return evaluate(parcels, now, config, baseline, load_health(engine), lane_expectations=lanes)


@dataclass
class TickResult:
    exceptions: int = 0
    opened: int = 0
    escalated: int = 0
    deescalated: int = 0
    resolved: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def _current_alerts(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    open_alerts = read_frame(
        engine,
        select(A.id, A.fingerprint, A.kind, A.severity, A.since).where(
            A.state != AlertState.RESOLVED.value
        ),
        ["since"],
    )
    manual = read_frame(
        engine,
        select(A.fingerprint, A.since).where(A.resolution == Resolution.MANUAL.value),
        ["since"],
    ).drop_duplicates()
    return open_alerts, manual


def run_tick(
    engine: Engine, config: Config, now: datetime, baselines: BaselineCache | None = None
) -> TickResult:
    """Detect at `now` and bring the alert queue in line with what is true."""
    result = TickResult()
    started = time.perf_counter()
    parcels = load_parcels(engine, now)
    result.timings["read"] = time.perf_counter() - started
    mark = time.perf_counter()
    exceptions = with_fingerprints(detect(engine, config, now, parcels, baselines))
    result.exceptions = len(exceptions)
    result.timings["rules"] = time.perf_counter() - mark
    mark = time.perf_counter()
    open_alerts, manual = _current_alerts(engine)
    changes = plan(exceptions, open_alerts, manual)
    result.timings["plan"] = time.perf_counter() - mark
    mark = time.perf_counter()
    apply_plan(engine, changes, now)
    result.timings["write"] = time.perf_counter() - mark
    result.opened = len(changes.open)
    if result.opened:
        opened = changes.open.groupby(
            [changes.open["kind"], changes.open["carrier"].astype(object).fillna("")], sort=False
        ).size()
        for (kind, carrier), count in opened.items():
            ALERTS_OPENED.labels(kind=kind, carrier=carrier).inc(int(count))
    result.escalated = len(changes.escalate)
    result.deescalated = len(changes.deescalate)
    result.resolved = len(changes.resolve)
    return result


def _py_times(values: pd.Series) -> list[datetime]:
    return [v.to_pydatetime() for v in values]


def outbox_payload(alert: dict[str, Any], event: str) -> dict[str, Any]:
    """What sinks receive about an alert (the fields alerts/outbox.py re-sends as well)."""
    payload = {k: alert.get(k) for k in ALERT_FIELDS}
    since = alert.get("since")
    payload.update(
        alert_id=alert["id"],
        event=event,
        since=since.isoformat() if isinstance(since, datetime) else since,
    )
    return payload


def apply_plan(engine: Engine, changes: Plan, now: datetime) -> None:
    stamp = int(now.timestamp() * 1_000_000)
    history: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []

    def announce(alert: dict[str, Any], event: str) -> None:
        outbox.append(
            {
                "alert_id": alert["id"],
                "event": event,
                "payload": outbox_payload(alert, event),
                "idempotency_key": f"alert-{alert['id']}-{event}-{stamp}",
                "created_at": now,
                "available_at": now,
                "attempts": 0,
            }
        )

    with engine.begin() as conn:
        if not changes.open.empty:
            rows = _alert_rows(changes.open, now)
            # RETURNING without sort_by_parameter_order lets SQLAlchemy batch the insert
            # (with it, SQLite gets one INSERT per row); fingerprints of open alerts are
            # unique, so they match the ids back.
            returned = conn.execute(insert(ALERTS).returning(A.id, A.fingerprint), rows)
            ids = {fp: alert_id for alert_id, fp in returned}
            for row in rows:
                alert_id = ids[row["fingerprint"]]
                row["id"] = alert_id
                history.append(_event(alert_id, now, "opened", None, "open", row["severity"]))
                announce(row, "opened")

        for frame, action in ((changes.escalate, "escalated"), (changes.deescalate, "deescalated")):
            if frame.empty:
                continue
            params = [
                {"b_id": int(i), "b_severity": sev, "b_since": since, "b_now": now}
                for i, sev, since in zip(
                    frame["id"], frame["severity"], _py_times(frame["since"]), strict=True
                )
            ]
            conn.execute(
                update(ALERTS)
                .where(A.id == bindparam("b_id"))
                .values(
                    severity=bindparam("b_severity"),
                    since=bindparam("b_since"),
                    updated_at=bindparam("b_now"),
                ),
                params,
            )
            for i, sev, old in zip(
                frame["id"], frame["severity"], frame["old_severity"], strict=True
            ):
                history.append(_event(int(i), now, action, None, None, sev, f"{old} -> {sev}"))
            if action == "escalated":
                for alert in _alerts_by_id(conn, [int(i) for i in frame["id"]]):
                    announce(alert, "escalated")

        if not changes.moved.empty:
            conn.execute(
                update(ALERTS).where(A.id == bindparam("b_id")).values(since=bindparam("b_since")),
                [
                    {"b_id": int(i), "b_since": s}
                    for i, s in zip(
                        changes.moved["id"], _py_times(changes.moved["since"]), strict=True
                    )
                ],
            )

        if not changes.resolve.empty:
            frame = changes.resolve
            conn.execute(
                update(ALERTS)
                .where(A.id == bindparam("b_id"), A.state != AlertState.RESOLVED.value)
                .values(
                    state=AlertState.RESOLVED.value,
                    resolved_at=literal(now, A.resolved_at.type),
                    resolution=bindparam("b_resolution"),
                    updated_at=literal(now, A.updated_at.type),
                ),
                [
                    {"b_id": int(i), "b_resolution": r}
                    for i, r in zip(frame["id"], frame["resolution"], strict=True)
                ],
            )
            for alert in _alerts_by_id(conn, [int(i) for i in frame["id"]]):
                history.append(
                    _event(
                        alert["id"],
                        now,
                        "resolved",
                        None,
                        "resolved",
                        alert["severity"],
                        alert["resolution"],
                    )
                )
                announce(alert, "resolved")

        if history:
            conn.execute(insert(HISTORY), history)
        if outbox:
            conn.execute(insert(OUTBOX), outbox)


def _alert_rows(new: pd.DataFrame, now: datetime) -> list[dict[str, Any]]:
    subject = ["order_id", "tracking_number", "carrier", "warehouse", "province", "platform"]
    frame = new[["fingerprint", "kind", "severity", "shipment_id", *subject]].astype(object)
    rows: list[dict[str, Any]] = frame.where(frame.notna(), None).to_dict("records")
    for row, since, detail in zip(rows, _py_times(new["since"]), new["detail"], strict=True):
        sid = row["shipment_id"]
        row.update(
            shipment_id=None if sid is None else int(sid),
            state=AlertState.OPEN.value,
            since=since,
            opened_at=now,
            updated_at=now,
            detail=detail,
        )
    return rows


def _event(
    alert_id: int,
    at: datetime,
    action: str,
    from_state: str | None,
    to_state: str | None,
    severity: str | None,
    note: str | None = None,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "at": at,
        "actor": SYSTEM,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "severity": severity,
        "note": note,
    }


def _alerts_by_id(conn: Any, ids: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        result = conn.execute(select(ALERTS).where(A.id.in_(chunk)))
        rows.extend(dict(r._mapping) for r in result)
    return rows
