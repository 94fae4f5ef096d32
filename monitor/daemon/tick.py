"""The write side of a detection tick: detect, plan the alert changes, apply them.

The alert changes are written with a handful of batched statements in one transaction,
together with their history and outbox rows, so a crash at any line leaves either the whole
plan or none of it. Around it, each in its own transaction and each idempotent: releasing what
ended silences and resolved incidents held (before), and escalation (after).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    bindparam,
    case,
    insert,
    literal,
    or_,
    select,
    update,
)

from alerts.lifecycle import Plan, plan
from alerts.model import AlertState, Resolution, fingerprint
from alerts.payload import alert_payload
from alerts.silences import silencing
from monitor.config import Config
from monitor.daemon.escalation import escalate
from monitor.daemon.inhibition import (
    incident_holding,
    open_incidents,
    release_inhibited,
    with_new_incidents,
)
from monitor.detection import BaselineCache, detect, load_orders
from monitor.metrics.instruments import ALERTS_OPENED
from monitor.store.frames import read_frame
from monitor.store.silences import active_silences, release_ended
from monitor.store.tables import ALERT_HISTORY, ALERTS, OUTBOX

SYSTEM = "system"
A = ALERTS.c


def with_fingerprints(exceptions: pd.DataFrame) -> pd.DataFrame:
    """Order alerts are about an order, parcel alerts about a parcel (by their row ids, so two
    platforms' equal order ids stay apart); carrier alerts about a carrier (and province or
    hub)."""

    def subject(parcel: object, order: object, carrier: object, province: object,
                detail: object) -> str:  # fmt: skip
        if pd.notna(parcel):
            return f"parcel:{int(parcel)}"  # type: ignore[call-overload]
        if pd.notna(order):
            return f"order:{int(order)}"  # type: ignore[call-overload]
        if isinstance(detail, dict) and detail.get("hub"):  # a hub incident: carrier and hub
            return f"{carrier}@{detail['hub']}"
        return f"{carrier}:{province}" if isinstance(province, str) else str(carrier)

    fingerprints = [
        fingerprint(kind, subject(s, o, c, p, d))
        for kind, s, o, c, p, d in zip(
            exceptions["kind"], exceptions["shipment_id"], exceptions["sales_order_id"],
            exceptions["carrier"], exceptions["province"], exceptions["detail"], strict=True,
        )
    ]  # fmt: skip
    return exceptions.assign(
        fingerprint=pd.Series(fingerprints, index=exceptions.index, dtype=object)
    )


@dataclass
class TickResult:
    exceptions: int = 0
    opened: int = 0
    escalated: int = 0
    deescalated: int = 0
    resolved: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    # Incremental ticks (monitor/daemon/incremental.py): how many parcels and orders were
    # read as due or changed; a reconciliation: the differences it repaired.
    incremental: bool = False
    parcels: int = 0
    orders: int = 0
    differences: int = 0


def alerts_to_plan(
    engine: Engine,
    where: ColumnElement[bool] | None = None,
    keep: Callable[[pd.DataFrame], pd.Series] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What `plan` compares detections with, among the alerts `where` selects (all without):
    the open ones (id, fingerprint, kind, severity, since, shipment_id, sales_order_id) and
    the manually resolved ones' (fingerprint, since), in one read. `keep` narrows the rows
    read (a boolean Series) before they are split."""
    is_open = A.state != AlertState.RESOLVED.value
    is_manual = A.resolution == Resolution.MANUAL.value
    query = select(
        A.id, A.fingerprint, A.kind, A.severity, A.since, A.shipment_id, A.sales_order_id,
        case((is_open, 1), else_=0).label("is_open"),  # never NULL, as the bare terms are
        case((is_manual, 1), else_=0).label("is_manual"),
    ).where(or_(is_open, is_manual))  # fmt: skip
    if where is not None:
        query = query.where(where)
    alerts = read_frame(engine, query, ["since"])
    if keep is not None:
        alerts = alerts.loc[keep(alerts).to_numpy(dtype=bool)]
    open_alerts = alerts.loc[alerts["is_open"].astype(bool).to_numpy(dtype=bool)]
    manual = alerts.loc[alerts["is_manual"].astype(bool).to_numpy(dtype=bool)]
    return (
        open_alerts.drop(columns=["is_open", "is_manual"]).reset_index(drop=True),
        manual[["fingerprint", "since"]].drop_duplicates().reset_index(drop=True),
    )


def run_tick(
    engine: Engine,
    config: Config,
    now: datetime,
    baselines: BaselineCache | None = None,
    review: Callable[[Plan, pd.DataFrame], None] | None = None,
    members: Callable[[pd.DataFrame], None] | None = None,
) -> TickResult:
    """Detect at `now` and bring the alert queue in line with what is true: the full tick,
    every active parcel and open order. `review(plan, open_alerts)` sees the plan before it
    is applied (the reconciliation counts what the incremental ticks missed), `members` what
    every parcel counts for in the incidents (detection.detect)."""
    result = TickResult()
    started = time.perf_counter()
    release_ended(engine, now)  # what ended silences held is announced once, now
    release_inhibited(engine, now)  # and what resolved incidents held
    orders = load_orders(engine)  # the parcels are read piece by piece as they are judged
    result.timings["read"] = time.perf_counter() - started
    mark = time.perf_counter()
    exceptions = with_fingerprints(
        detect(engine, config, now, None, baselines, orders, members=members)
    )
    result.exceptions = len(exceptions)
    result.timings["rules"] = time.perf_counter() - mark
    mark = time.perf_counter()
    open_alerts, manual = alerts_to_plan(engine)
    changes = plan(exceptions, open_alerts, manual)
    if review is not None:
        review(changes, open_alerts)
    result.timings["plan"] = time.perf_counter() - mark
    mark = time.perf_counter()
    apply_plan(engine, changes, now)
    escalate(engine, config, now)  # what nobody acknowledged pages the next group
    result.timings["write"] = time.perf_counter() - mark
    count_changes(result, changes)
    return result


def count_changes(result: TickResult, changes: Plan) -> None:
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


def _py_times(values: pd.Series) -> list[datetime]:
    return [v.to_pydatetime() for v in values]


def apply_plan(
    engine: Engine,
    changes: Plan,
    now: datetime,
    finish: Callable[[Connection], None] | None = None,
) -> None:
    """The plan in one transaction; `finish` writes more in the same one (an incremental
    tick's due moments and the changed-set marks it judged, so that a crash leaves both or
    neither)."""
    if finish is None and not changes.changes:
        return  # nothing to write: no transaction either (the keeper's quiet ticks)
    stamp = int(now.timestamp() * 1_000_000)
    history: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []

    def announce(alert: dict[str, Any], event: str) -> None:
        """An outbox row for sinks, unless a silence or an open carrier incident holds this
        alert's notifications (then its history says so); a resolution is not announced for
        an alert whose opening never was."""
        if alert.get("silenced_by") is not None or alert.get("inhibited_by") is not None:
            return
        if event == "resolved":
            held, incident = None, None
        else:  # both holds are recorded, so that each release knows the other still holds
            held, incident = silencing(silences, alert, now), incident_holding(incidents, alert)
        if held is not None:
            silenced.append((alert["id"], held.id))
            history.append(_event(alert["id"], now, "silenced", None, None, alert["severity"],
                                  f"#{held.id} {held.reason}"))  # fmt: skip
        if incident is not None:
            inhibited.append((alert["id"], incident))
            history.append(_event(alert["id"], now, "inhibited", None, None, alert["severity"],
                                  f"#{incident}"))  # fmt: skip
        if held is not None or incident is not None:
            return
        outbox.append(
            {
                "alert_id": alert["id"],
                "event": event,
                "payload": alert_payload(alert, event),
                "idempotency_key": f"alert-{alert['id']}-{event}-{stamp}",
                "created_at": now,
                "available_at": now,
                "attempts": 0,
            }
        )

    silenced: list[tuple[int, int]] = []  # (alert id, silence id) held at this tick
    inhibited: list[tuple[int, int]] = []  # (alert id, incident alert id) held at this tick
    with engine.begin() as conn:
        silences = active_silences(conn, now)
        incidents = open_incidents(conn)
        if not changes.open.empty:
            rows = _alert_rows(changes.open, now)
            # RETURNING without sort_by_parameter_order lets SQLAlchemy batch the insert
            # (with it, SQLite gets one INSERT per row); fingerprints of open alerts are
            # unique, so they match the ids back.
            returned = conn.execute(insert(ALERTS).returning(A.id, A.fingerprint), rows)
            ids = {fp: alert_id for alert_id, fp in returned}
            for row in rows:
                row["id"] = ids[row["fingerprint"]]
            incidents = with_new_incidents(incidents, rows)  # those opening now hold members too
            for row in rows:
                history.append(_event(row["id"], now, "opened", None, "open", row["severity"]))
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

        if inhibited:
            conn.execute(
                update(ALERTS)
                .where(A.id == bindparam("b_id"))
                .values(inhibited_by=bindparam("b_i")),
                [{"b_id": alert_id, "b_i": incident} for alert_id, incident in inhibited],
            )
        if silenced:
            conn.execute(
                update(ALERTS)
                .where(A.id == bindparam("b_id"))
                .values(silenced_by=bindparam("b_s")),
                [{"b_id": alert_id, "b_s": sid} for alert_id, sid in silenced],
            )
        if history:
            conn.execute(insert(ALERT_HISTORY), history)
        if outbox:
            conn.execute(insert(OUTBOX), outbox)
        if finish is not None:
            finish(conn)


def _alert_rows(new: pd.DataFrame, now: datetime) -> list[dict[str, Any]]:
    subject = [
        "order_id", "tracking_number", "carrier", "warehouse", "province", "platform", "shop",
    ]  # fmt: skip
    keys = ["shipment_id", "sales_order_id"]
    frame = new[["fingerprint", "kind", "severity", *keys, *subject]].astype(object)
    rows: list[dict[str, Any]] = frame.where(frame.notna(), None).to_dict("records")
    for row, since, detail in zip(rows, _py_times(new["since"]), new["detail"], strict=True):
        for key in keys:
            row[key] = None if row[key] is None or pd.isna(row[key]) else int(row[key])
        row.update(
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
