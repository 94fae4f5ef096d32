"""/metrics: the store collector's families from one aggregate query each, its behaviour when
the store fails, its registration on the daemon, and the exposition passing `promtool check
metrics`. `populate()` is also the "freshly populated store" of the dashboard and live tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import make_config
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import Engine, event, insert, text

from carriers.status import TERMINAL_STATUSES
from monitor.daemon.service import Daemon
from monitor.metrics import collectors
from monitor.metrics.collectors import StoreCollector, register_store_collector
from monitor.metrics.instruments import TRACKING_REQUESTS
from monitor.store.db import make_engine, upgrade
from monitor.store.models import (
    ACTIVE_PARCEL,
    Alert,
    CarrierHealth,
    LaneStats,
    OutboxMessage,
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
    base = {"platform": "taobao", "paid_at": now - timedelta(days=2), "created_at": now,
            "updated_at": now}  # fmt: skip
    parcels = [
        ("zto", "in_transit", "hz1"), ("zto", "in_transit", "gz1"), ("zto", "picked_up", "hz1"),
        ("sf", "out_for_delivery", "hz1"), (None, "awaiting_shipment", "hz1"),
        (None, "awaiting_shipment", "gz1"), ("zto", "delivered", "hz1"),
        ("sf", "returned", "gz1"), ("yto", "exception", "gz1"),
    ]  # fmt: skip
    _rows(
        Shipment.__table__,  # type: ignore[attr-defined]
        [
            base
            | {
                "id": i + 1,
                "order_id": f"M{i + 1}",
                "carrier": carrier,
                "status": status,
                "warehouse": warehouse,
                "province": "江苏",
            }
            for i, (carrier, status, warehouse) in enumerate(parcels)
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
                "shipment_id": shipment,
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


@pytest.fixture
def default_registry_collector() -> Iterator[None]:
    """Leave the process-wide /metrics as it was: no collector bound to a test's store."""
    yield
    if collectors._registered is not None:
        REGISTRY.unregister(collectors._registered)
        collectors._registered = None


def test_families_from_a_populated_store(engine: Engine) -> None:
    populate(engine)
    registry = scrape(StoreCollector(engine, carriers=["zto", "sf", "jt"]))
    value = registry.get_sample_value

    assert value("parcelwatch_parcels_active", {"carrier": "zto", "status": "in_transit"}) == 2
    assert value("parcelwatch_parcels_active", {"carrier": "", "status": "awaiting_shipment"}) == 2
    assert value("parcelwatch_parcels_active", {"carrier": "yto", "status": "exception"}) == 1
    # terminal parcels are not active; configured carriers are pre-created at 0
    assert value("parcelwatch_parcels_active", {"carrier": "zto", "status": "delivered"}) is None
    assert value("parcelwatch_parcels_active", {"carrier": "sf", "status": "returned"}) is None
    assert value("parcelwatch_parcels_active", {"carrier": "jt", "status": "in_transit"}) == 0

    def open_alerts(kind: str, severity: str, carrier: str, warehouse: str) -> float | None:
        return value("parcelwatch_alerts_open", {"kind": kind, "severity": severity,
                                                 "carrier": carrier, "warehouse": warehouse})  # fmt: skip

    assert open_alerts("stalled", "warning", "zto", "hz1") == 2  # open + acknowledged
    assert open_alerts("stalled", "warning", "sf", "hz1") is None  # resolved
    assert open_alerts("lost", "critical", "yto", "gz1") == 1
    assert open_alerts("unshipped_past_cutoff", "warning", "", "hz1") == 1
    assert open_alerts("carrier_api_failing", "critical", "sf", "") == 1
    assert open_alerts("damaged", "critical", "", "") == 0  # pre-created baseline

    by_province = "parcelwatch_alerts_open_by_province"
    assert value(by_province, {"kind": "stalled", "province": "江苏"}) == 1
    assert value(by_province, {"kind": "stalled", "province": "浙江"}) == 1
    assert value(by_province, {"kind": "lost", "province": "江苏"}) == 1
    assert value(by_province, {"kind": "carrier_api_failing", "province": ""}) == 1
    assert value("parcelwatch_parcels_stalled", {"carrier": "zto", "province": "江苏"}) == 1
    assert value("parcelwatch_parcels_stalled", {"carrier": "sf", "province": "江苏"}) is None

    assert value("parcelwatch_outbox_pending") == 2
    assert value("parcelwatch_carrier_up", {"carrier": "zto"}) == 1
    assert value("parcelwatch_carrier_up", {"carrier": "sf"}) == 0
    assert value("parcelwatch_carrier_up", {"carrier": "jt"}) == 1  # configured, no calls yet
    assert (
        value("parcelwatch_carrier_last_success_timestamp_seconds", {"carrier": "zto"})
        == (NOW - timedelta(minutes=1)).timestamp()
    )
    assert value("parcelwatch_carrier_last_success_timestamp_seconds", {"carrier": "jt"}) is None

    def lane(metric: str, carrier: str, province: str) -> float | None:
        return value(f"parcelwatch_carrier_{metric}", {"carrier": carrier, "province": province})

    assert lane("transit_p50_seconds", "zto", "") == 40 * HOUR  # the carrier nationally
    assert lane("transit_p50_seconds", "zto", "江苏") == 30 * HOUR  # newest row, any origin
    assert lane("transit_p90_seconds", "zto", "江苏") == 54 * HOUR
    assert lane("on_time_ratio", "zto", "") == 0.9
    assert lane("loss_ratio", "zto", "江苏") == 0.001
    assert lane("transit_p50_seconds", "sf", "新疆") == 80 * HOUR
    assert lane("transit_p90_seconds", "sf", "新疆") is None

    assert value("parcelwatch_scrape_errors_total", {"query": "parcels_active"}) == 0
    duration = value("parcelwatch_scrape_duration_seconds")
    assert duration is not None and 0 < duration < 5
    promtool_check_metrics(generate_latest(registry))


def test_registering_runs_no_query(sqlite_engine: Engine) -> None:
    connections: list[object] = []
    event.listen(sqlite_engine, "checkout", lambda *args: connections.append(args))
    sqlite_engine.dispose()
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StoreCollector(sqlite_engine))
    assert connections == []
    assert registry.get_sample_value("parcelwatch_outbox_pending") == 0
    assert len(connections) == 1  # one connection per scrape, for every query


def test_a_failing_query_leaves_its_family_out_and_is_counted(sqlite_engine: Engine) -> None:
    populate(sqlite_engine)
    with sqlite_engine.begin() as conn:
        conn.execute(text("DROP TABLE lane_stats"))
    registry = scrape(StoreCollector(sqlite_engine, ["zto"]))
    exposition = generate_latest(registry)
    assert b"parcelwatch_carrier_transit_p50_seconds{" not in exposition
    assert b'parcelwatch_scrape_errors_total{query="lane_stats"} 1.0' in exposition
    # get_sample_value scrapes once more
    assert (
        registry.get_sample_value("parcelwatch_scrape_errors_total", {"query": "lane_stats"}) == 2
    )
    assert (
        registry.get_sample_value("parcelwatch_scrape_errors_total", {"query": "alerts_open"}) == 0
    )
    assert registry.get_sample_value("parcelwatch_outbox_pending") == 2
    promtool_check_metrics(exposition)


def test_an_unreachable_store_still_serves_the_self_metrics(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'parcelwatch.db'}")
    registry = scrape(StoreCollector(engine, ["zto"]))
    exposition = generate_latest(registry)
    assert b"parcelwatch_parcels_active{" not in exposition
    for query in collectors.QUERIES:
        assert f'parcelwatch_scrape_errors_total{{query="{query}"}} 1.0'.encode() in exposition
    assert registry.get_sample_value("parcelwatch_scrape_duration_seconds") is not None
    promtool_check_metrics(exposition)


def test_counts_read_the_partial_covering_indexes(sqlite_engine: Engine) -> None:
    """A scrape reads small indexes in group order, never a table, and sorts nothing."""
    queries = {
        collectors.PARCELS_ACTIVE_SQL: "ix_shipment_active_carrier_status",
        collectors.PARCELS_ACTIVE_SQLITE_SQL: "ix_shipment_active_carrier_status",
        collectors.ALERTS_OPEN_SQL: "ix_alert_open_breakdown",
        collectors.ALERTS_BY_PROVINCE_SQL: "ix_alert_open_province",
        collectors.PARCELS_STALLED_SQL: "ix_alert_open_province",
    }
    with sqlite_engine.connect() as conn:
        for sql, index in queries.items():
            plan = [str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql.text}")]
            reads = [step for step in plan if re.match(r"(SCAN|SEARCH) (shipment|alert)\b", step)]
            assert reads, plan
            assert all(f"USING COVERING INDEX {index}" in step for step in reads), plan
            assert not any("TEMP B-TREE" in step for step in plan), plan
    terminal = ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES))
    assert f"status NOT IN ({terminal})" == ACTIVE_PARCEL


def test_sqlite_skip_scan_counts_like_group_by(sqlite_engine: Engine) -> None:
    populate(sqlite_engine)
    with sqlite_engine.connect() as conn:
        grouped = {tuple(row) for row in conn.execute(collectors.PARCELS_ACTIVE_SQL)}
        skipped = {tuple(row) for row in conn.execute(collectors.PARCELS_ACTIVE_SQLITE_SQL)
                   if row[2]}  # fmt: skip
    assert skipped == grouped
    assert ("zto", "in_transit", 2) in grouped and (None, "awaiting_shipment", 2) in grouped


def test_daemon_serves_store_metrics_and_registers_once(
    tmp_path: Path, default_registry_collector: None
) -> None:
    from carriers.sim.clock import ManualClock

    first = make_config(f"sqlite:///{tmp_path / 'a.db'}", carriers={"zto": {}})
    Daemon(first, ManualClock(NOW))
    config = make_config(f"sqlite:///{tmp_path / 'b.db'}", carriers={"zto": {}, "sf": {}})
    daemon = Daemon(config, ManualClock(NOW))  # a second daemon: no "Duplicated timeseries"
    populate(daemon.engine)
    response = TestClient(daemon.app()).get("/metrics")  # no lifespan: the scheduler stays off
    assert response.status_code == 200
    body = response.content
    assert b'parcelwatch_parcels_active{carrier="zto",status="in_transit"} 2.0' in body
    assert b'parcelwatch_alerts_open{carrier="yto",kind="lost",severity="critical",' in body
    assert REGISTRY.get_sample_value("parcelwatch_carrier_up", {"carrier": "sf"}) == 0
    # the daemon's own per-carrier series exist before the first call
    assert (
        REGISTRY.get_sample_value(
            "parcelwatch_tracking_requests_total", {"carrier": "sf", "outcome": "transient"}
        )
        == TRACKING_REQUESTS.labels(carrier="sf", outcome="transient")._value.get()
    )
    promtool_check_metrics(body)
    daemon.engine.dispose()


def test_register_is_idempotent(sqlite_engine: Engine, default_registry_collector: None) -> None:
    one = register_store_collector(sqlite_engine, ["zto"])
    other = make_engine("sqlite://")
    upgrade(other)
    assert register_store_collector(other, ["sf"]) is one
    assert REGISTRY.get_sample_value("parcelwatch_carrier_up", {"carrier": "sf"}) == 1
    assert REGISTRY.get_sample_value("parcelwatch_carrier_up", {"carrier": "zto"}) is None


# -- shared by the rule, dashboard and live tests ------------------------------------------

PROMQL_WORDS = frozenset(
    {
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "and",
        "or",
        "unless",
        "inf",
        "nan",
    }
)


def metric_names(expr: str) -> set[str]:
    """The metric (and recorded series) names a PromQL expression reads: what is left once
    strings, label matchers, ranges, grouping clauses, functions and keywords are gone."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values, template strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)  # dashboard variables
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+\w+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        word, call = match.group(1), match.group(2)
        if call is None and word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


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


def test_metric_names_of_promql() -> None:
    expr = (
        'sum by (job, carrier) (rate(parcelwatch_tracking_requests_total{outcome!="ok"}[5m]))'
        " / on (job) group_left histogram_quantile(0.9, x_bucket[$__rate_interval]) offset 1h"
        ' > 2 * job:recorded:ratio or vector(0) and time() - y{a="b c(d)"}'
    )
    assert metric_names(expr) == {
        "parcelwatch_tracking_requests_total", "x_bucket", "job:recorded:ratio", "y"
    }  # fmt: skip


def test_every_design_metric_is_exported() -> None:
    """DESIGN.md "Metrics" lists the contract's names; all of them are served."""
    design = {
        "parcelwatch_parcels_active", "parcelwatch_alerts_open", "parcelwatch_alerts_opened_total",
        "parcelwatch_tracking_requests_total", "parcelwatch_tracking_request_duration_seconds_bucket",
        "parcelwatch_tracking_events_ingested_total", "parcelwatch_carrier_up",
        "parcelwatch_carrier_last_success_timestamp_seconds",
        "parcelwatch_detection_duration_seconds_bucket",
        "parcelwatch_last_detection_timestamp_seconds", "parcelwatch_notifications_total",
        "parcelwatch_outbox_pending", "parcelwatch_carrier_transit_p50_seconds",
        "parcelwatch_carrier_transit_p90_seconds", "parcelwatch_carrier_on_time_ratio",
        "parcelwatch_carrier_loss_ratio", "parcelwatch_build_info",
    }  # fmt: skip
    assert design <= exported_metric_names()
