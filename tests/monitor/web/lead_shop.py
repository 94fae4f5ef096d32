"""A demo-like shop for the lead's page tests: the demo's own config (user `lead` with the
password the demo would print), its seeded sample export imported through the real import
path, a few carrier scans with places, and one detection tick, so that the queue holds alerts
of many kinds. No carrier simulator: the parcels' history comes from the export itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from carriers.base import CarrierEvent, TrackingUpdate
from carriers.status import ParcelStatus
from monitor.config import Config
from monitor.daemon.tick import run_tick
from monitor.demo.run import demo_config
from monitor.demo.sample import generate_shop, write_csv
from monitor.ingest import import_file
from monitor.ingest.tracking import apply_updates
from monitor.store.tables import SHIPMENTS

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 17, 30, tzinfo=SH)  # a Tuesday, after the 16:00 cutoff
PASSWORD = "demo-lead-pass"  # what `parcelwatch demo` would print for `lead`
PLACES = ("成都转运中心", "杭州萧山分拨中心", "广州白云集散中心", "乌鲁木齐转运中心")


def lead_config(db_url: str) -> Config:
    """The demo's config; its carriers are the simulator's, which is not running here, so
    they are left out (the rules then judge parcels on what the export and scans say)."""
    config = demo_config(db_url, sim_url="http://127.0.0.1:9", public_url="http://127.0.0.1:8000",
                         token="test-token", password=PASSWORD)  # fmt: skip
    return config.model_copy(update={"carriers": {}})


def seed(engine: Engine, config: Config, export: Path, orders: int = 600) -> None:
    write_csv(generate_shop(seed=7, orders=orders, now=NOW), export)
    assert import_file(engine, config, export, NOW).counts.inserted >= orders  # + merged ones
    with engine.connect() as conn:
        moving = list(conn.execute(
            select(SHIPMENTS.c.tracking_number, SHIPMENTS.c.carrier, SHIPMENTS.c.last_event_at)
            .where(SHIPMENTS.c.status == "in_transit", SHIPMENTS.c.last_event_at.is_not(None))
            .order_by(SHIPMENTS.c.id).limit(40)
        ))  # fmt: skip
    updates = []
    for i, (number, carrier, last) in enumerate(moving):
        at = last.astimezone(SH) - timedelta(minutes=5)
        place = PLACES[i % len(PLACES)]
        scan = CarrierEvent(at, ParcelStatus.IN_TRANSIT, f"快件已到达【{place}】", "1002",
                            location=place)  # fmt: skip
        updates.append(TrackingUpdate(number, carrier, ParcelStatus.IN_TRANSIT, (scan,)))
    apply_updates(engine, updates, NOW)
    run_tick(engine, config, NOW)
