"""Carrier and hub incidents on every incremental tick, from the incident cells
(docs/architecture.md "Incident cells"): an incident opens at the tick its parcels cross, not
at the next reconciliation, with the `since` and counts the full tick gives it; it resolves
when they are delivered; the cells follow what the judged parcels count for; a cell that
drifted is found, counted and repaired by the reconciliation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, update

from carriers.base import CarrierEvent, TrackingUpdate
from carriers.status import ParcelStatus
from monitor.daemon.incremental import reconcile, run_incremental_tick
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.tracking import apply_updates
from monitor.store.db import make_engine, upgrade
from monitor.store.incident_cells import INCIDENT_CELLS, read_cells, read_members
from tests.support.lifecycle import CONFIG, alerts, at

NOW = at("2026-11-19 12:00")
STALLED_SCAN, FRESH_SCAN = "2026-11-17 06:00", "2026-11-19 11:00"


def parcel(i: int, last_scan: str, status: str = "in_transit", **extra: Any) -> dict[str, Any]:
    return {
        "order_id": f"TB{i}", "platform": "taobao", "warehouse": "hz1", "province": "江苏",
        "paid_at": "2026-11-16 09:00", "carrier": "zto", "tracking_number": f"73{i:05d}",
        "shipped_at": "2026-11-16 12:00", "picked_up_at": "2026-11-16 15:00",
        "status": status, "last_event_at": last_scan, **extra,
    }  # fmt: skip


def scan(i: int, moment: Any, hub: str) -> TrackingUpdate:
    """A pushed scan at a hub, as a carrier words it."""
    event = CarrierEvent(occurred_at=moment, status=ParcelStatus.IN_TRANSIT,
                         raw_text=f"快件已到达【{hub}】")  # fmt: skip
    return TrackingUpdate(tracking_number=f"73{i:05d}", carrier="zto",
                          status=ParcelStatus.IN_TRANSIT, events=(event,), source="push")  # fmt: skip


def load(engine: Engine, rows: list[dict[str, Any]], now: Any = NOW) -> None:
    report = ingest_rows(engine, CONFIG, [RawRow(i + 1, r) for i, r in enumerate(rows)], now)
    assert not report.rejected, report.rejected[:3]


def incidents(engine: Engine) -> list[dict[str, Any]]:
    return [a for a in alerts(engine, state="active") if a["kind"] == "carrier_incident"]


def cell(engine: Engine) -> dict[str, Any]:
    [only] = read_cells(engine).to_dict("records")
    return only


def test_an_incident_opens_at_the_tick_its_parcels_stall(engine: Engine, tmp_path: Any) -> None:
    """30 parcels in zto's hands for 江苏, 10 of them stalled: a third, above 3 % of 20."""
    load(engine, [parcel(i, STALLED_SCAN if i < 10 else FRESH_SCAN) for i in range(30)])
    result = run_incremental_tick(engine, CONFIG, NOW)
    assert result.incremental
    [incident] = incidents(engine)
    assert cell(engine) == {"scope": "province", "carrier": "zto", "place": "江苏",
                            "parcels": 30, "stalled": 10, "delayed": 0, "affected": 10}  # fmt: skip
    assert incident["detail"]["parcels"] == 30 and incident["detail"]["affected"] == 10
    # the same incident, since and counts, as the full tick finds over the whole book
    full = make_engine(f"sqlite:///{tmp_path / 'full.db'}")
    upgrade(full)
    load(full, [parcel(i, STALLED_SCAN if i < 10 else FRESH_SCAN) for i in range(30)])
    run_tick(full, CONFIG, NOW)
    [truth] = incidents(full)
    assert (incident["since"], incident["detail"]) == (truth["since"], truth["detail"])
    full.dispose()
    assert reconcile(engine, CONFIG, NOW + timedelta(minutes=5)).differences == 0


def test_the_incident_resolves_when_its_parcels_are_delivered(engine: Engine) -> None:
    load(engine, [parcel(i, STALLED_SCAN if i < 10 else FRESH_SCAN) for i in range(30)])
    run_incremental_tick(engine, CONFIG, NOW)
    assert len(incidents(engine)) == 1
    later = NOW + timedelta(hours=1)
    delivered = [parcel(i, "2026-11-19 12:30", "delivered", delivered_at="2026-11-19 12:30")
                 for i in range(10)]  # fmt: skip
    load(engine, delivered, later)
    result = run_incremental_tick(engine, CONFIG, later)
    assert result.parcels == 10  # only the delivered ones are judged, not the book
    assert incidents(engine) == []
    assert cell(engine)["affected"] == 0 and cell(engine)["parcels"] == 20
    assert len(read_members(engine)) == 20  # a delivered parcel counts for nothing
    assert reconcile(engine, CONFIG, later + timedelta(minutes=5)).differences == 0


def test_a_quiet_tick_leaves_the_cells_and_the_incident_as_they_are(engine: Engine) -> None:
    load(engine, [parcel(i, STALLED_SCAN if i < 10 else FRESH_SCAN) for i in range(30)])
    run_incremental_tick(engine, CONFIG, NOW)
    before = cell(engine)
    quiet = run_incremental_tick(engine, CONFIG, NOW + timedelta(minutes=5))
    assert quiet.parcels == 0 and quiet.opened == 0 and quiet.resolved == 0
    assert cell(engine) == before and len(incidents(engine)) == 1


def test_the_reconciliation_repairs_a_cell_that_drifted(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    load(engine, [parcel(i, STALLED_SCAN if i < 10 else FRESH_SCAN) for i in range(30)])
    run_incremental_tick(engine, CONFIG, NOW)
    with engine.begin() as conn:  # a lost write: the cell says 3 in trouble, not 10
        conn.execute(update(INCIDENT_CELLS).values(stalled=3, affected=3))
    name = "parcelwatch_reconciliation_differences_total"
    counted = REGISTRY.get_sample_value(name) or 0.0
    later = NOW + timedelta(minutes=5)
    result = reconcile(engine, CONFIG, later)
    # the incremental tick before it saw 3 of 30 (10 %): still an incident, but with the
    # drifted counts the cell is reported and rewritten
    assert result.differences == 1
    assert REGISTRY.get_sample_value(name) == counted + 1
    assert "repaired 1 incident cell(s)" in caplog.text and "province zto 江苏" in caplog.text
    assert cell(engine)["affected"] == 10
    assert reconcile(engine, CONFIG, later + timedelta(minutes=5)).differences == 0


def test_a_hub_holding_parcels_opens_a_hub_incident_on_the_tick(engine: Engine) -> None:
    """Parcels last scanned at one hub stall there, those at the carrier's other hub move."""
    load(engine, [parcel(i, "2026-11-16 15:00") for i in range(50)])  # picked up, no scan since
    scans = [
        scan(i, at(STALLED_SCAN), "杭州转运中心") if i < 25
        else scan(i, at(FRESH_SCAN), "广州白云分拨中心")
        for i in range(50)
    ]  # fmt: skip
    apply_updates(engine, scans, NOW)
    run_incremental_tick(engine, CONFIG, NOW)
    [hub] = [a for a in alerts(engine, state="active") if a["kind"] == "hub_incident"]
    assert hub["detail"]["hub"] == "杭州转运中心" and hub["detail"]["stalled"] == 25
    hubs = read_cells(engine).query("scope == 'hub'").set_index("place")["stalled"].to_dict()
    assert hubs == {"杭州转运中心": 25, "广州白云分拨中心": 0}
    assert reconcile(engine, CONFIG, NOW + timedelta(minutes=5)).differences == 0
