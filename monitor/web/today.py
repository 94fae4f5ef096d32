"""`/today`: one warehouse's day at a glance, for the lead's morning and the hour before the
carriers' pickup. What must still leave today (paid before today's cutoff, not shipped, with
the time left to `ship_by`), orders closest to the platform's ship deadline, parcels the
carrier has not scanned yet (by carrier), open alerts by kind against this time yesterday, and
active carrier incidents as a banner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, or_, select

from monitor.config import Config, WarehouseConfig
from monitor.store.tables import ALERTS, ORDERS, SHIPMENTS

A, S, ORD = ALERTS.c, SHIPMENTS.c, ORDERS.c
LIST_SIZE = 20


INCIDENT_KINDS = ["carrier_incident", "hub_incident", "carrier_api_failing"]


@dataclass(frozen=True)
class Today:
    warehouse: WarehouseConfig
    zone: ZoneInfo
    now: datetime
    cutoff_at: datetime
    ship_by_at: datetime
    to_ship: list[dict[str, Any]]  # paid before today's cutoff, not shipped, oldest first
    to_ship_count: int
    at_risk: list[dict[str, Any]]  # open ship-deadline alerts, closest deadline first
    no_pickup: list[tuple[str, int]]  # (carrier, parcels shipped but not scanned)
    by_kind: list[tuple[str, int, int]]  # (kind, open now, open this time yesterday)
    incidents: list[dict[str, Any]]  # open carrier_incident and carrier_api_failing alerts
    days: list[date]  # the last TREND_DAYS local days, oldest first, today last
    trend: list[tuple[str, list[int]]]  # (kind, alerts opened on each of `days`)


TREND_DAYS = 7
SPARKS = "▁▂▃▄▅▆▇█"


def spark(counts: list[int]) -> str:
    """A week at a glance: one block per day, scaled to the week's busiest day."""
    top = max(counts, default=0)
    if not top:
        return SPARKS[0] * len(counts)
    return "".join(SPARKS[round(n / top * (len(SPARKS) - 1))] for n in counts)


def _trend(
    conn: Any, mine: Any, zone: ZoneInfo, day: date
) -> tuple[list[date], list[tuple[str, list[int]]]]:
    """Alerts opened per local day and kind over the last TREND_DAYS days, one indexed range
    count per day (alert.opened_at, migration 0016)."""
    days = [day - timedelta(days=TREND_DAYS - 1 - i) for i in range(TREND_DAYS)]
    per_kind: dict[str, list[int]] = {}
    for i, d in enumerate(days):
        start = datetime.combine(d, time(0), tzinfo=zone)
        end = datetime.combine(d + timedelta(days=1), time(0), tzinfo=zone)
        for kind, n in conn.execute(
            select(A.kind, func.count())
            .where(A.opened_at >= start, A.opened_at < end, mine)
            .group_by(A.kind)
        ):
            per_kind.setdefault(str(kind), [0] * TREND_DAYS)[i] = int(n)
    ranked = sorted(per_kind.items(), key=lambda kv: (-sum(kv[1]), kv[0]))
    return days, ranked


def _open_at(moment: datetime) -> Any:
    return (A.opened_at <= moment) & or_(A.resolved_at.is_(None), A.resolved_at > moment)


def today_view(
    engine: Engine, config: Config, warehouse_id: str | None, now: datetime
) -> Today | None:
    """The day of `warehouse_id` (default: the first configured); None when there is none."""
    if warehouse_id is None and config.warehouses:
        warehouse_id = config.warehouses[0].id
    warehouse = config.warehouse(warehouse_id) if warehouse_id else None
    if warehouse is None:
        return None
    zone = ZoneInfo(warehouse.timezone)
    day = now.astimezone(zone).date()
    cutoff_at = datetime.combine(day, warehouse.cutoff, tzinfo=zone)
    ship_by_at = datetime.combine(day, warehouse.ship_by, tzinfo=zone)
    unshipped = (
        (ORD.warehouse == warehouse.id) & ORD.shipped_at.is_(None) & (ORD.paid_at < cutoff_at)
    )
    with engine.connect() as conn:
        to_ship_count = conn.execute(select(func.count()).where(unshipped)).scalar() or 0
        to_ship = [dict(r._mapping) for r in conn.execute(
            select(ORD.order_id, ORD.platform, ORD.paid_at, ORD.amount, ORD.province)
            .where(unshipped).order_by(ORD.paid_at).limit(LIST_SIZE)
        )]  # fmt: skip
        active = A.state != "resolved"
        at_risk = [dict(r._mapping) for r in conn.execute(
            select(ALERTS).where(active, A.warehouse == warehouse.id,
                                 A.kind.in_(["ship_deadline_at_risk", "ship_deadline_breached"]))
            .order_by(A.since).limit(LIST_SIZE)
        )]  # fmt: skip
        no_pickup = [(str(c), int(n)) for c, n in conn.execute(
            select(S.carrier, func.count()).where(
                S.warehouse == warehouse.id, S.shipped_at.is_not(None), S.picked_up_at.is_(None),
                S.status.in_(["awaiting_shipment", "label_created", "unknown"]),
                S.carrier.is_not(None),
            ).group_by(S.carrier).order_by(func.count().desc())
        )]  # fmt: skip
        mine = or_(A.warehouse == warehouse.id, A.warehouse.is_(None))
        now_counts: dict[str, int] = dict(conn.execute(
            select(A.kind, func.count()).where(active, mine).group_by(A.kind)).all())  # fmt: skip
        then_counts: dict[str, int] = dict(conn.execute(
            select(A.kind, func.count()).where(_open_at(now - timedelta(days=1)), mine)
            .group_by(A.kind)).all())  # fmt: skip
        incidents = [dict(r._mapping) for r in conn.execute(
            select(ALERTS).where(active, A.kind.in_(INCIDENT_KINDS))
            .order_by(A.since)
        )]  # fmt: skip
        days, trend = _trend(conn, mine, zone, day)
    kinds = sorted(set(now_counts) | set(then_counts), key=lambda k: -now_counts.get(k, 0))
    return Today(
        warehouse=warehouse, zone=zone, now=now, cutoff_at=cutoff_at, ship_by_at=ship_by_at,
        to_ship=to_ship, to_ship_count=int(to_ship_count), at_risk=at_risk, no_pickup=no_pickup,
        by_kind=[(k, int(now_counts.get(k, 0)), int(then_counts.get(k, 0))) for k in kinds],
        incidents=incidents, days=days, trend=trend,
    )  # fmt: skip
