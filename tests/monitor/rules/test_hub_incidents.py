"""Hub incidents: stalled parcels grouped by the hub of their last scan; one alert when a
hub's stalled share stands out from the carrier's other hubs; its members are held while it
is open; the hub is read from the carriers' scans as they are stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, select

from carriers.base import CarrierEvent, TrackingUpdate
from carriers.status import ParcelStatus
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.tracking import apply_updates
from monitor.rules import evaluate
from monitor.store.tables import ALERTS, OUTBOX, SHIPMENTS
from tests.support.config import make_config
from tests.support.parcels import at, of_kind, parcel_frame

HOUR = pd.Timedelta(hours=1)
NOW = at("2026-11-24 12:00")
CONFIG = make_config()


def parcels(hub: str, count: int, quiet_hours: float, start: int = 0) -> list[dict[str, object]]:
    last = NOW - quiet_hours * HOUR
    return [{"shipment_id": start + i, "order_id": f"{hub[:2]}{start + i}", "carrier": "zto",
             "status": "in_transit", "province": "四川", "shipped_at": last - 10 * HOUR,
             "picked_up_at": last - 8 * HOUR, "last_event_at": last, "last_hub": hub}
            for i in range(1, count + 1)]  # fmt: skip


def test_a_hub_holding_parcels_opens_one_incident() -> None:
    frame = parcel_frame(
        *parcels("杭州转运中心", 40, quiet_hours=60),  # all stalled there
        *parcels("广州白云分拨中心", 200, quiet_hours=5, start=100),  # flowing elsewhere
    )
    exceptions = evaluate(frame, NOW, CONFIG)
    [incident] = of_kind(exceptions, "hub_incident")
    assert incident["carrier"] == "zto" and incident["province"] is None
    assert incident["detail"] == {"hub": "杭州转运中心", "parcels": 40, "stalled": 40,
                                  "share": 1.0, "usual_share": 0.0}  # fmt: skip
    stalled = of_kind(exceptions, "stalled")
    assert {s["detail"]["last_hub"] for s in stalled} == {"杭州转运中心"}


def test_a_carrier_stalled_everywhere_has_no_hub_standing_out() -> None:
    frame = parcel_frame(
        *parcels("杭州转运中心", 40, 60), *parcels("广州白云分拨中心", 40, 60, 100)
    )
    assert of_kind(evaluate(frame, NOW, CONFIG), "hub_incident") == []


def test_too_few_parcels_at_a_hub_is_no_incident() -> None:
    frame = parcel_frame(*parcels("杭州转运中心", 5, 60), *parcels("广州白云分拨中心", 200, 5, 100))
    assert of_kind(evaluate(frame, NOW, CONFIG), "hub_incident") == []


def test_the_last_hub_comes_from_the_scans_and_members_are_held(engine: Engine) -> None:
    now = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    # Bound for five provinces, five each: no province has enough for a carrier incident.
    west = ("四川", "重庆", "云南", "贵州", "陕西")
    rows = [RawRow(i, {"order_id": f"H{i}", "warehouse": "hz1", "paid_at": "2026-11-20 09:00",
                       "carrier": "zto", "tracking_number": f"73{i:03d}", "province": west[i % 5],
                       "shipped_at": "2026-11-20 12:00"}) for i in range(25)]  # fmt: skip
    rows += [RawRow(100 + i, {"order_id": f"G{i}", "warehouse": "hz1",
                              "paid_at": "2026-11-23 09:00", "carrier": "zto",
                              "tracking_number": f"74{i:03d}", "province": "广东",
                              "shipped_at": "2026-11-23 12:00"}) for i in range(50)]  # fmt: skip
    assert not ingest_rows(engine, CONFIG, rows, now - timedelta(days=1)).rejected

    def update(number: str, at_: datetime, text: str) -> TrackingUpdate:
        scan = CarrierEvent(occurred_at=at_, status=ParcelStatus.IN_TRANSIT, raw_text=text)
        return TrackingUpdate(number, "zto", ParcelStatus.IN_TRANSIT, (scan,), source="push")

    stuck = [update(f"73{i:03d}", now - timedelta(hours=70), "快件已到达【杭州转运中心】")
             for i in range(25)]  # fmt: skip
    moving = [update(f"74{i:03d}", now - timedelta(hours=2), "快件离开【广州白云分拨中心】")
              for i in range(50)]  # fmt: skip
    apply_updates(engine, stuck + moving, now)
    with engine.connect() as conn:
        hubs = dict(conn.execute(select(SHIPMENTS.c.order_id, SHIPMENTS.c.last_hub)).all())
    assert hubs["H0"] == "杭州转运中心" and hubs["G0"] == "广州白云分拨中心"

    run_tick(engine, CONFIG, now)
    with engine.connect() as conn:
        alerts = [dict(r._mapping) for r in conn.execute(select(ALERTS))]
        notified = [r.payload.get("kind") for r in conn.execute(select(OUTBOX.c.payload))]
    (incident,) = [a for a in alerts if a["kind"] == "hub_incident"]
    members = [a for a in alerts if a["kind"] == "stalled"]
    assert len(members) == 25 and all(m["inhibited_by"] == incident["id"] for m in members)
    assert "stalled" not in notified and "hub_incident" in notified
