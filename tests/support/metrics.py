"""A small store in which every family of the store collector has samples, and the series
names the daemon's /metrics serves. `populate()` is the "freshly populated store" of the
/metrics tests, the dashboard checks and the live Prometheus test."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy import Engine, insert

from monitor.metrics.collectors import StoreCollector
from monitor.store.db import make_engine, upgrade
from monitor.store.models import (
    Alert,
    CarrierHealth,
    LaneStats,
    OutboxMessage,
    SalesOrder,
    Shipment,
)

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
HOUR = 3600.0


def _rows(table: Any, rows: list[dict[str, Any]], engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(table), rows)


def populate(engine: Engine, now: datetime = NOW) -> None:
    """A small store in which every family of the collector has samples: parcels in every
    kind of status (terminal ones too), open, acknowledged and resolved alerts, delivered and
    pending outbox rows, a healthy and a failing carrier, and lane figures with and without
    a province (plus an origin row and an older duplicate that must not show)."""
    base = {"platform": "taobao", "created_at": now, "updated_at": now}
    parcels = [
        ("zto", "in_transit", "hz1"), ("zto", "in_transit", "gz1"), ("zto", "picked_up", "hz1"),
        ("sf", "out_for_delivery", "hz1"), (None, "awaiting_shipment", "hz1"),
        (None, "awaiting_shipment", "gz1"), ("zto", "delivered", "hz1"),
        ("sf", "returned", "gz1"), ("yto", "exception", "gz1"),
    ]  # fmt: skip
    # Every row is an order; those handed to a carrier are also its one parcel, with the
    # same id (an unshipped order has none: it counts as awaiting_shipment).
    _rows(
        SalesOrder.__table__,  # type: ignore[attr-defined]
        [
            base
            | {
                "id": i + 1,
                "order_id": f"M{i + 1}",
                "warehouse": warehouse,
                "province": "江苏",
                "paid_at": now - timedelta(days=2),
                "shipped_at": None if carrier is None else now - timedelta(days=1),
            }
            for i, (carrier, _, warehouse) in enumerate(parcels)
        ],
        engine,
    )
    _rows(
        Shipment.__table__,  # type: ignore[attr-defined]
        [
            base
            | {
                "id": i + 1,
                "order_id": f"M{i + 1}",
                "carrier": carrier,
                "tracking_number": f"7{i + 1:011d}",
                "status": status,
                "warehouse": warehouse,
                "province": "江苏",
            }
            for i, (carrier, status, warehouse) in enumerate(parcels)
            if carrier is not None
        ],
        engine,
    )
    alert = {"since": now - timedelta(hours=30), "opened_at": now - timedelta(hours=6),
             "updated_at": now, "detail": {}}  # fmt: skip
    alerts = [
        ("stalled", "warning", "open", "zto", "hz1", "江苏", 1),
        ("stalled", "warning", "acknowledged", "zto", "hz1", "浙江", 2),
        ("lost", "critical", "open", "yto", "gz1", "江苏", 9),
        ("unshipped_past_cutoff", "warning", "open", None, "hz1", "江苏", 5),
        ("stalled", "warning", "resolved", "sf", "hz1", "江苏", 4),
        ("carrier_api_failing", "critical", "open", "sf", None, None, None),
    ]
    _rows(
        Alert.__table__,  # type: ignore[attr-defined]
        [
            alert
            | {
                "fingerprint": f"f{i}",
                "kind": kind,
                "severity": severity,
                "state": state,
                "carrier": carrier,
                "warehouse": warehouse,
                "province": province,
                "shipment_id": shipment if kind != "unshipped_past_cutoff" else None,
                "sales_order_id": shipment if kind == "unshipped_past_cutoff" else None,
            }
            for i, (kind, severity, state, carrier, warehouse, province, shipment) in enumerate(
                alerts
            )
        ],
        engine,
    )
    _rows(
        OutboxMessage.__table__,  # type: ignore[attr-defined]
        [
            {
                "event": "opened",
                "payload": {},
                "idempotency_key": f"k{i}",
                "created_at": now,
                "available_at": now,
                "delivered_at": now if i == 0 else None,
            }
            for i in range(3)
        ],
        engine,
    )
    _rows(
        CarrierHealth.__table__,  # type: ignore[attr-defined]
        [
            {
                "carrier": "zto",
                "last_success_at": now - timedelta(minutes=1),
                "failing_since": None,
                "consecutive_failures": 0,
                "updated_at": now,
            },
            {
                "carrier": "sf",
                "last_success_at": now - timedelta(hours=2),
                "failing_since": now - timedelta(hours=1),
                "consecutive_failures": 40,
                "updated_at": now,
            },
        ],
        engine,
    )
    lane = {"deliveries": 100, "picked_up": 110, "window_days": 28, "computed_at": now,
            "origin": None, "transit_p50_hours": None, "transit_p90_hours": None,
            "on_time_ratio": None, "loss_ratio": None}  # fmt: skip
    _rows(
        LaneStats.__table__,  # type: ignore[attr-defined]
        [
            lane
            | {
                "carrier": "zto",
                "province": None,
                "transit_p50_hours": 40.0,
                "transit_p90_hours": 72.0,
                "on_time_ratio": 0.9,
                "loss_ratio": 0.002,
            },
            lane
            | {
                "carrier": "zto",
                "province": "江苏",
                "transit_p50_hours": 30.0,
                "transit_p90_hours": 54.0,
                "on_time_ratio": 0.95,
                "loss_ratio": 0.001,
            },
            # an older refresh of the same lane, and a per-origin row: neither is exported
            lane
            | {
                "carrier": "zto",
                "province": "江苏",
                "transit_p50_hours": 99.0,
                "computed_at": now - timedelta(days=1),
            },
            lane
            | {"carrier": "zto", "origin": "浙江", "province": "江苏", "transit_p50_hours": 11.0},
            # too few deliveries for a p90 yet: that figure is left out, not exported as 0
            lane
            | {
                "carrier": "sf",
                "province": "新疆",
                "transit_p50_hours": 80.0,
                "on_time_ratio": 0.7,
            },
        ],
        engine,
    )


def scrape(collector: StoreCollector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def promtool_check_metrics(exposition: bytes) -> None:
    """Fails (never skips) without promtool: scripts/install-system-deps.sh installs it."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run scripts/install-system-deps.sh"
    done = subprocess.run([promtool, "check", "metrics"], input=exposition,
                          capture_output=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


def exported_metric_names() -> set[str]:
    """Every series name the daemon's /metrics can serve: its own metrics (the default
    registry) and the store collector's families, from a freshly populated store."""
    engine = make_engine("sqlite://")
    upgrade(engine)
    populate(engine)
    names = set()
    for registry in (REGISTRY, scrape(StoreCollector(engine, ["zto"]))):
        for family in registry.collect():
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    engine.dispose()
    return names
