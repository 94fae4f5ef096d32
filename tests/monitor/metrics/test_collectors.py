"""The store collector behind /metrics (monitor/metrics/collectors.py): its families from one
aggregate query each, its behaviour when the store fails, its registration, and the
exposition passing `promtool check metrics`."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import Engine, event, text

from carriers.status import TERMINAL_STATUSES
from monitor.metrics import collectors
from monitor.metrics.collectors import StoreCollector, register_store_collector
from monitor.store.db import make_engine, upgrade
from monitor.store.models import (
    ACTIVE_PARCEL,
)
from tests.support.metrics import HOUR, NOW, populate, promtool_check_metrics, scrape


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


def test_register_is_idempotent(sqlite_engine: Engine, default_registry_collector: None) -> None:
    one = register_store_collector(sqlite_engine, ["zto"])
    other = make_engine("sqlite://")
    upgrade(other)
    assert register_store_collector(other, ["sf"]) is one
    assert REGISTRY.get_sample_value("parcelwatch_carrier_up", {"carrier": "sf"}) == 1
    assert REGISTRY.get_sample_value("parcelwatch_carrier_up", {"carrier": "zto"}) is None
