"""Incremental ticks give the alerts full ticks give (docs/architecture.md "Incremental
detection", "Incident cells"), as a property: random histories of imports, pushes (some of
them scanned at a hub) and clock advances are played into two stores, one ticked
incrementally and one by the full tick, on SQLite and PostgreSQL. After every tick the open
alerts (kind, subject, severity, since, and an incident's counts) are the same, carrier and
hub incidents included; at the end the reconciliation finds no difference, neither in the
alerts nor in the incident cells.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from carriers.base import CarrierEvent, TrackingUpdate
from carriers.status import ParcelStatus
from monitor.config import Config
from monitor.daemon.incremental import reconcile, run_incremental_tick
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.tracking import apply_updates
from monitor.store.db import make_engine, upgrade
from monitor.store.tables import ALERTS
from tests.conftest import TABLES
from tests.support.config import make_config

START = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Shanghai
A = ALERTS.c
WINDOW = {"carrier": "yto", "start": "2026-11-17T08:00:00", "end": "2026-11-17T20:00:00"}
PLAIN = make_config()
# Every rule within reach of a few days: short allowances, small incident bars, a window.
TIGHT = make_config(
    rules={
        "no_pickup_scan_hours": 6,
        "stalled_hours": {"in_transit": 10, "picked_up": 8},
        "lost_after_days": 2,
        "incident": {"min_parcels": 2, "min_share": 0.3},
    },
    maintenance=[WINDOW],
)
STATUSES = ("awaiting_shipment", "label_created", "picked_up", "in_transit",
            "out_for_delivery", "delivery_failed", "returned", "delivered")  # fmt: skip
PUSHED = (ParcelStatus.IN_TRANSIT, ParcelStatus.OUT_FOR_DELIVERY, ParcelStatus.DELIVERED,
          ParcelStatus.DELIVERY_FAILED, ParcelStatus.RETURNED, ParcelStatus.EXCEPTION)  # fmt: skip


@dataclass(frozen=True)
class Import:
    order: int
    status: str
    carrier: str
    paid_hours_ago: float
    scan_hours_ago: float | None
    crowd: int = 1  # this order and the next ones to its province alike (crowd_of)


@dataclass(frozen=True)
class Push:
    order: int
    status: ParcelStatus
    hours_ago: float
    hub: str | None = None
    crowd: int = 1


@dataclass(frozen=True)
class Advance:
    minutes: int


@dataclass(frozen=True)
class Tick:
    pass


ORDERS = 12
ORDER = st.integers(0, ORDERS - 1)
# Several parcels for one province at once, so that a few steps can make a carrier or a hub
# incident under the tight bars (two parcels, 30 %).
CROWD = st.integers(1, 4)
HUBS = st.sampled_from((None, "杭州转运中心", "广州白云分拨中心"))
STEP = st.one_of(
    st.builds(
        Import,
        ORDER,
        st.sampled_from(STATUSES),
        st.sampled_from(("zto", "yto")),
        st.sampled_from((0.5, 3, 20, 40, 60, 90)),
        st.one_of(st.none(), st.sampled_from((0.2, 2, 9, 30, 50))),
        CROWD,
    ),
    st.builds(Push, ORDER, st.sampled_from(PUSHED), st.sampled_from((0.1, 1, 5, 30)), HUBS, CROWD),
    st.builds(Advance, st.sampled_from((5, 30, 120, 7 * 60, 24 * 60, 4 * 24 * 60))),
    st.just(Tick()),
)
HISTORY = st.lists(STEP, min_size=4, max_size=18)


def crowd_of(order: int, crowd: int) -> list[int]:
    """`order` and the next `crowd - 1` orders bound for the same province (every fourth)."""
    return [(order + 4 * i) % ORDERS for i in range(crowd)]


def _row(now: datetime, step: Import, order: int) -> dict[str, Any]:
    paid = now - timedelta(hours=step.paid_hours_ago)
    row: dict[str, Any] = {
        "order_id": f"TB{order}",
        "platform": "taobao" if order % 2 else "pinduoduo",
        "warehouse": "hz1" if order % 3 else "gz1",
        "province": "江苏" if order % 4 else "新疆",
        "paid_at": paid.isoformat(),
        "status": step.status,
    }
    if step.status != "awaiting_shipment":
        shipped = paid + timedelta(hours=min(1, step.paid_hours_ago / 2))
        row |= {
            "carrier": step.carrier,
            "tracking_number": f"73{order:04d}",
            "shipped_at": shipped.isoformat(),
        }
        if step.scan_hours_ago is not None and step.status != "label_created":
            scan = max(shipped, now - timedelta(hours=step.scan_hours_ago))
            row |= {"picked_up_at": shipped.isoformat(), "last_event_at": scan.isoformat()}
    return row


def _import(engine: Engine, config: Config, now: datetime, step: Import) -> None:
    rows = [
        RawRow(i + 1, _row(now, step, o)) for i, o in enumerate(crowd_of(step.order, step.crowd))
    ]
    ingest_rows(engine, config, rows, now)


def _push(engine: Engine, now: datetime, step: Push) -> None:
    moment = now - timedelta(hours=step.hours_ago)
    text = f"快件已到达【{step.hub}】" if step.hub else step.status.value
    event = CarrierEvent(occurred_at=moment, status=step.status, raw_text=text)
    updates = [
        TrackingUpdate(
            tracking_number=f"73{order:04d}",
            carrier="zto",
            status=step.status,
            events=(event,),
            sub_reason="lost" if step.status == ParcelStatus.EXCEPTION else None,
            source="push",
        )
        for order in crowd_of(step.order, step.crowd)
    ]
    apply_updates(engine, updates, now)


INCIDENTS = ("carrier_incident", "hub_incident")


def open_alerts(engine: Engine) -> set[tuple[Any, ...]]:
    """The open alerts by what they are about, not by row id (the two stores number alike,
    but this does not rely on it); an incident with its detail (hub, counts, shares)."""
    query = select(A.kind, A.severity, A.order_id, A.tracking_number, A.carrier, A.province,
                   A.since, A.detail).where(A.state != "resolved")  # fmt: skip
    with engine.connect() as conn:
        return {
            (*row[:-1], json.dumps(row[-1], sort_keys=True) if row[0] in INCIDENTS else None)
            for row in conn.execute(query)
        }


def _empty(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                conn.execute(text(f"DELETE FROM {table}"))


def play(incremental: Engine, full: Engine, config: Config, history: list[Any]) -> None:
    now = START
    for step in history:
        if isinstance(step, Import):
            for engine in (incremental, full):
                _import(engine, config, now, step)
        elif isinstance(step, Push):
            for engine in (incremental, full):
                _push(engine, now, step)
        elif isinstance(step, Advance):
            now += timedelta(minutes=step.minutes)
        else:
            run_incremental_tick(incremental, config, now)
            run_tick(full, config, now)
            assert open_alerts(incremental) == open_alerts(full), now
    run_incremental_tick(incremental, config, now)
    run_tick(full, config, now)
    assert open_alerts(incremental) == open_alerts(full), now
    result = reconcile(incremental, config, now)
    assert result.differences == 0
    assert open_alerts(incremental) == open_alerts(full)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """Two migrated, empty stores on one backend: one for each way of ticking."""
    if request.param == "sqlite":
        template = make_engine(f"sqlite:///{tmp_path / 'template.db'}")
        upgrade(template)
        template.dispose()
        for name in ("incremental.db", "full.db"):
            shutil.copy(tmp_path / "template.db", tmp_path / name)
        engines = [make_engine(f"sqlite:///{tmp_path / n}") for n in ("incremental.db", "full.db")]
    else:
        url: str = request.getfixturevalue("postgres_url")
        admin = make_engine(url)
        names = [f"inc_{uuid.uuid4().hex[:8]}" for _ in range(2)]
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names:
                conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        engines = [make_engine(url.rsplit("/", 1)[0] + f"/{name}") for name in names]
        for engine in engines:
            upgrade(engine)
    yield engines[0], engines[1]
    for engine in engines:
        engine.dispose()


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=HISTORY, tight=st.booleans())
def test_incremental_ticks_give_the_alerts_full_ticks_give(
    two_stores: tuple[Engine, Engine], history: list[Any], tight: bool
) -> None:
    incremental, full = two_stores
    for engine in two_stores:
        _empty(engine)
    play(incremental, full, TIGHT if tight else PLAIN, history)
