"""Inhibition: while a carrier incident is open, its member parcels' notifications are held.

An incident (`carrier_incident`, per carrier and destination province; `hub_incident`, per
carrier and the hub the parcels were last scanned at) already tells the lead that a carrier
is in trouble there; the hundreds of stalled and delayed parcels behind
it would each notify too. They still open and stay in the queue, linked to the incident
(`alert.inhibited_by`) and with a history entry; they notify nothing while it is open. When
the incident resolves, those of them still open are announced once, together (a chat sink
receives them as one digest), at the next tick, with one idempotency key per (alert,
incident).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from alerts.model import AlertKind, AlertState
from monitor.rules.incidents import TROUBLE_KINDS
from monitor.store.announce import announce_all, announcement
from monitor.store.tables import ALERTS

A = ALERTS.c
INCIDENT = AlertKind.CARRIER_INCIDENT.value
HUB_INCIDENT = AlertKind.HUB_INCIDENT.value
# (carrier, province) or ("hub", carrier, hub) -> the open incident's alert id
Incidents = dict[tuple[Any, ...], int]


def _key(kind: str, carrier: Any, province: Any, detail: Any) -> tuple[Any, ...]:
    if kind == HUB_INCIDENT:
        return ("hub", carrier, (detail or {}).get("hub"))
    return (carrier, province)


def open_incidents(conn: Connection) -> Incidents:
    """Incidents open in the store now."""
    query = select(A.id, A.kind, A.carrier, A.province, A.detail).where(
        A.kind.in_([INCIDENT, HUB_INCIDENT]), A.state != AlertState.RESOLVED.value
    )
    return {_key(r.kind, r.carrier, r.province, r.detail): r.id for r in conn.execute(query)}


def with_new_incidents(incidents: Incidents, rows: list[dict[str, Any]]) -> Incidents:
    """`incidents` and those among the alert rows a tick has just inserted (with their ids)."""
    found = dict(incidents)
    for row in rows:
        if row["kind"] in (INCIDENT, HUB_INCIDENT):
            found.setdefault(_key(row["kind"], row["carrier"], row["province"], row["detail"]),
                             row["id"])  # fmt: skip
    return found


def incident_holding(incidents: Incidents, alert: dict[str, Any]) -> int | None:
    """The open incident this parcel alert belongs to, if any."""
    if alert.get("kind") not in TROUBLE_KINDS:
        return None
    held = incidents.get((alert.get("carrier"), alert.get("province")))
    hub = (alert.get("detail") or {}).get("last_hub")
    if held is None and hub:
        held = incidents.get(("hub", alert.get("carrier"), hub))
    return held


ID_CHUNK = 10_000  # ids per IN list, below SQLite's limit of bound parameters


def release_inhibited(engine: Engine, now: datetime) -> int:
    """Announce, once, what incidents that have resolved held; returns how many."""
    incident = ALERTS.alias("incident")
    with engine.begin() as conn:
        held = conn.execute(
            select(ALERTS)
            .join(incident, incident.c.id == A.inhibited_by)
            .where(A.inhibited_by.is_not(None), incident.c.state == AlertState.RESOLVED.value)
        )
        alerts = [dict(r._mapping) for r in held]
        ids = [a["id"] for a in alerts]
        for start in range(0, len(ids), ID_CHUNK):  # exactly the ones read, in bounded lists
            chunk = ids[start : start + ID_CHUNK]
            conn.execute(update(ALERTS).where(A.id.in_(chunk)).values(inhibited_by=None))
        released = []
        for alert in alerts:
            if alert["state"] == AlertState.RESOLVED.value or alert.get("silenced_by"):
                continue  # gone, or a silence holds it now (it announces when that ends)
            source = alert["inhibited_by"]
            released.append(announcement(
                alert, "opened", now, f"uninhibited-{source}",
                extra={"released_from_incident": source}, action="uninhibited", note=f"#{source}",
            ))  # fmt: skip
        announce_all(conn, released)
    return len(released)
