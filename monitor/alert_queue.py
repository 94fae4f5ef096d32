"""The alert queue as warehouse leads work it: list, acknowledge, assign, snooze, comment,
resolve. Each action is a compare-and-set update (two leads clicking at once cannot both
win), recorded in the alert's history with who and when; a manual resolve is also announced
through the outbox in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, func, insert, or_, select, update

from alerts.model import ALLOWED_FROM, Action, AlertState, Resolution
from monitor.geo import normalize_province
from monitor.store.announce import announce
from monitor.store.tables import ALERT_HISTORY, ALERTS

A = ALERTS.c
FILTERS = (
    "state", "kind", "severity", "carrier", "warehouse", "province", "platform", "shipment_id",
)  # fmt: skip


class ActionError(Exception):
    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


@dataclass(frozen=True)
class AlertFilter:
    state: str | None = None
    kind: str | None = None
    severity: str | None = None
    carrier: str | None = None
    warehouse: str | None = None
    province: str | None = None
    platform: str | None = None
    shipment_id: int | None = None
    # An order's page: the alerts of the order (by its row id) and of any of its parcels.
    of_order: tuple[int, tuple[int, ...]] | None = None

    def __post_init__(self) -> None:
        # Leads type 新疆, 新疆维吾尔自治区 or Xinjiang; alerts store the canonical name.
        if self.province:
            object.__setattr__(self, "province", normalize_province(self.province) or self.province)

    def where(self) -> list[Any]:
        clauses = []
        for name in FILTERS:
            value = getattr(self, name)
            if value is None:
                continue
            if name == "state" and value == "active":  # open or acknowledged
                clauses.append(A.state != AlertState.RESOLVED.value)
            else:
                clauses.append(A[name] == value)
        if self.of_order is not None:
            order, parcels = self.of_order
            clauses.append(or_(A.sales_order_id == order, A.shipment_id.in_(parcels)))
        return clauses


SORTS = ("severity", "age", "newest")
# Ids and offsets are 64-bit in both databases; a larger number names no alert (and would
# overflow the driver), so it is "not found", not an error.
MAX_ID = 2**63 - 1


def _valid_id(alert_id: int) -> bool:
    return 1 <= alert_id <= MAX_ID


def list_alerts(
    engine: Engine,
    where: AlertFilter = AlertFilter(),
    limit: int = 100,
    offset: int = 0,
    sort: str = "severity",
) -> list[dict[str, Any]]:
    """`severity`: most severe first, then oldest condition first (the default: what to do
    next); `age`: oldest condition first; `newest`: most recently opened first."""
    severity_rank = case((A.severity == "critical", 2), (A.severity == "warning", 1), else_=0)
    order = {
        "severity": (severity_rank.desc(), A.since.asc(), A.id.asc()),
        "age": (A.since.asc(), A.id.asc()),
        "newest": (A.opened_at.desc(), A.id.desc()),
    }[sort if sort in SORTS else "severity"]
    limit, offset = max(0, min(limit, MAX_ID)), max(0, min(offset, MAX_ID))
    query = select(ALERTS).where(*where.where()).order_by(*order).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def count_alerts(engine: Engine, where: AlertFilter = AlertFilter()) -> dict[str, int]:
    """Open counts per kind for the same filter: the numbers at the top of the queue."""
    query = select(A.kind, func.count()).where(*where.where()).group_by(A.kind)
    with engine.connect() as conn:
        return {kind: int(n) for kind, n in conn.execute(query)}


def get_alert(engine: Engine, alert_id: int) -> dict[str, Any] | None:
    if not _valid_id(alert_id):
        return None
    with engine.connect() as conn:
        row = conn.execute(select(ALERTS).where(A.id == alert_id)).first()
    return dict(row._mapping) if row else None


def histories_of(engine: Engine, alert_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The histories of several alerts in one query (a page shows all of an order's)."""
    found: dict[int, list[dict[str, Any]]] = {}
    ids = [i for i in alert_ids if _valid_id(i)]
    if not ids:
        return found
    H = ALERT_HISTORY.c
    with engine.connect() as conn:
        for row in conn.execute(
            select(ALERT_HISTORY).where(H.alert_id.in_(ids)).order_by(H.alert_id, H.id)
        ):
            found.setdefault(int(row.alert_id), []).append(dict(row._mapping))
    return found


def history(engine: Engine, alert_id: int) -> list[dict[str, Any]]:
    if not _valid_id(alert_id):
        return []
    query = (
        select(ALERT_HISTORY)
        .where(ALERT_HISTORY.c.alert_id == alert_id)
        .order_by(ALERT_HISTORY.c.id)
    )
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def act(
    engine: Engine,
    alert_id: int,
    action: Action,
    actor: str,
    now: datetime,
    *,
    note: str | None = None,
    assignee: str | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Apply one manual action; returns the alert as it is afterwards."""
    if not _valid_id(alert_id):
        raise ActionError(f"no alert with id {alert_id}", not_found=True)
    allowed = [s.value for s in ALLOWED_FROM[action]]
    values: dict[str, Any] = {"updated_at": now}
    to_state: str | None = None
    if action == Action.ACKNOWLEDGE:
        values["state"] = to_state = AlertState.ACKNOWLEDGED.value
    elif action == Action.ASSIGN:
        if not assignee:
            raise ActionError("assign needs the person to assign to")
        values["assignee"] = assignee
        note = note or assignee
    elif action == Action.SNOOZE:
        if until is None or until <= now:
            raise ActionError("snooze needs a time in the future")
        values["snoozed_until"] = until
        note = note or until.isoformat()
    elif action == Action.COMMENT:
        if not note or not note.strip():
            raise ActionError("comment needs some text")
        values = {}
    elif action == Action.RESOLVE:
        values |= {
            "state": AlertState.RESOLVED.value,
            "resolution": Resolution.MANUAL.value,
            "resolved_at": now,
        }
        to_state = AlertState.RESOLVED.value

    with engine.begin() as conn:
        current = conn.execute(select(A.state).where(A.id == alert_id)).scalar()
        if current is None:
            raise ActionError(f"no alert with id {alert_id}", not_found=True)
        if values:
            changed = conn.execute(
                update(ALERTS).where(A.id == alert_id, A.state.in_(allowed)).values(**values)
            ).rowcount
        else:
            changed = 1 if current in allowed else 0
        if not changed:
            raise ActionError(f"alert {alert_id} is {current}; cannot {action.value} it")
        conn.execute(
            insert(ALERT_HISTORY).values(
                alert_id=alert_id,
                at=now,
                actor=actor,
                action=_past_tense(action),
                from_state=current,
                to_state=to_state,
                note=note,
            )
        )
        alert = dict(conn.execute(select(ALERTS).where(A.id == alert_id)).one()._mapping)
        held = alert.get("silenced_by") is not None or alert.get("inhibited_by") is not None
        if action == Action.RESOLVE and not held:
            stamp = int(now.timestamp() * 1_000_000)
            announce(conn, alert, "resolved", now, f"resolved-{stamp}",
                     extra={"actor": actor, "note": note})  # fmt: skip
    return alert


def _past_tense(action: Action) -> str:
    return {
        Action.ACKNOWLEDGE: "acknowledged",
        Action.ASSIGN: "assigned",
        Action.SNOOZE: "snoozed",
        Action.COMMENT: "commented",
        Action.RESOLVE: "resolved",
    }[action]
