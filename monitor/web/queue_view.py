"""What the queue pages show for each alert beyond its row: the sentence in the reader's
language, the place of the parcel's last scan, and the "assigned to me" filter.

Kept apart from the routes (monitor/web/pages.py) so the pages stay short and this can be
read on its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from monitor.alert_queue import AlertFilter
from monitor.store.tables import ALERTS, TRACKING_EVENTS
from monitor.web.sentences import Facts, sentence

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class QueueFilter(AlertFilter):
    """The queue's filters plus the one only the pages have: whose alerts."""

    assignee: str | None = None
    incident: int | None = None  # the members an open incident holds (docs/rules.md "Inhibition")

    def where(self) -> list[Any]:
        clauses = super().where()
        if self.assignee is not None:
            clauses.append(ALERTS.c.assignee == self.assignee)
        if self.incident is not None:
            clauses.append(ALERTS.c.inhibited_by == self.incident)
        return clauses


def held_members(engine: Engine, incident_ids: Iterable[int]) -> dict[int, int]:
    """How many alerts each of these incidents holds (a partial index keeps this small)."""
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    by = ALERTS.c.inhibited_by
    query = select(by, func.count()).where(by.in_(ids)).group_by(by)
    with engine.connect() as conn:
        return {int(i): int(n) for i, n in conn.execute(query)}


def last_locations(engine: Engine, shipment_ids: Iterable[int | None]) -> dict[int, str]:
    """Where each parcel was last scanned (the newest event that names a place)."""
    ids = sorted({i for i in shipment_ids if i is not None})
    if not ids:
        return {}
    E = TRACKING_EVENTS.c
    query = (
        select(E.shipment_id, E.location)
        .where(E.shipment_id.in_(ids), E.location.is_not(None), E.location != "")
        .order_by(E.shipment_id, E.occurred_at.desc(), E.id.desc())
    )
    found: dict[int, str] = {}
    with engine.connect() as conn:
        for shipment_id, location in conn.execute(query):
            found.setdefault(int(shipment_id), str(location))
    return found


def with_sentences(
    alerts: list[dict[str, Any]],
    lang: str,
    now: datetime,
    zones: Mapping[str, ZoneInfo],
    locations: Mapping[int, str],
) -> list[dict[str, Any]]:
    """Each alert with `sentence` (in `lang`) and `zone` (its warehouse's) added."""
    for alert in alerts:
        zone = zones.get(alert.get("warehouse") or "", DEFAULT_ZONE)
        facts = Facts(
            kind=str(alert["kind"]),
            detail=alert.get("detail") or {},
            now=now,
            zone=zone,
            carrier=alert.get("carrier"),
            province=alert.get("province"),
            since=alert.get("since"),
            last_location=locations.get(alert["shipment_id"]) if alert.get("shipment_id") else None,
        )
        alert["sentence"] = sentence(facts, lang)
        alert["zone"] = zone
    return alerts
