"""The store collector behind /metrics (monitor/metrics/collectors.py): its families from one
aggregate query each, its behaviour when the store fails, its registration, and the
exposition passing `promtool check metrics`."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import IntegrityError

from carriers.status import TERMINAL_STATUSES
from monitor.metrics import collectors
from monitor.metrics.collectors import StoreCollector, register_store_collector
from monitor.store import counts
from monitor.store.counts import COUNTS, compact_counts
from monitor.store.db import make_engine, upgrade
from monitor.store.models import ACTIVE_PARCEL
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


BOOK_PARCELS = text(
    f"SELECT carrier, status, count(*) FROM shipment WHERE {ACTIVE_PARCEL} GROUP BY carrier, status"
    " UNION ALL SELECT NULL, 'awaiting_shipment', count(*) FROM sales_order"
    " WHERE shipped_at IS NULL"
)
BOOK_ALERTS = text(
    "SELECT kind, severity, carrier, warehouse, count(*) FROM alert"
    " WHERE state != 'resolved' GROUP BY kind, severity, carrier, warehouse"
)
BOOK_BY_PROVINCE = text(
    "SELECT kind, province, count(*) FROM alert WHERE state != 'resolved' GROUP BY kind, province"
)
BOOK_STALLED = text(
    "SELECT carrier, province, count(*) FROM alert WHERE state != 'resolved'"
    " AND kind = 'stalled' GROUP BY carrier, province"
)


def _nonzero(rows: Any) -> dict[tuple[Any, ...], int]:
    """Label values as /metrics writes them (NULL as "") and their nonzero counts."""
    counts: dict[tuple[Any, ...], int] = {}
    for *labels, count in rows:
        key = tuple("" if v is None else v for v in labels)
        counts[key] = counts.get(key, 0) + int(count)
    return {key: count for key, count in counts.items() if count}


FAMILIES = (
    ("parcelwatch_parcels_active", ("carrier", "status"), collectors.PARCELS_ACTIVE_SQL,
     BOOK_PARCELS),
    ("parcelwatch_alerts_open", ("kind", "severity", "carrier", "warehouse"),
     collectors.ALERTS_OPEN_SQL, BOOK_ALERTS),
    ("parcelwatch_alerts_open_by_province", ("kind", "province"),
     collectors.ALERTS_BY_PROVINCE_SQL, BOOK_BY_PROVINCE),
    ("parcelwatch_parcels_stalled", ("carrier", "province"), collectors.PARCELS_STALLED_SQL,
     BOOK_STALLED),
)  # fmt: skip


def _scraped(registry: CollectorRegistry, name: str, labels: tuple[str, ...]) -> dict[Any, int]:
    """One family's nonzero samples in a scrape."""
    samples = {}
    for family in registry.collect():
        if family.name == name:
            samples = {tuple(s.labels[k] for k in labels): int(s.value) for s in family.samples}
    return {key: count for key, count in samples.items() if count}


def _agree(engine: Engine, registry: CollectorRegistry | None = None) -> None:
    """The kept counts equal a count over the book; so does a scrape, when given one (its
    collector's families built again only when their rows changed)."""
    with engine.connect() as conn:
        for name, labels, kept, book in FAMILIES:
            expected = _nonzero(conn.execute(book))
            assert _nonzero(conn.execute(kept)) == expected, name
            if registry is not None:
                assert _scraped(registry, name, labels) == expected, name


def test_the_kept_counts_follow_every_write_and_survive_compaction(engine: Engine) -> None:
    """Random status, carrier, shipping and alert changes, inserts and deletes: the counts
    the triggers keep (migration 0016) always equal a count over the book, before and after
    folding (monitor/store/counts.py)."""
    terminal = ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES))
    assert f"status NOT IN ({terminal})" == ACTIVE_PARCEL  # what migration 0016 froze
    populate(engine)
    registry = scrape(StoreCollector(engine, ["zto", "sf"]))
    _agree(engine, registry)
    rng = random.Random(16)
    statuses = ["in_transit", "picked_up", "out_for_delivery", "delivered", "returned",
                "exception", "label_created"]  # fmt: skip
    with engine.begin() as conn:
        parcels = [r[0] for r in conn.execute(text("SELECT id FROM shipment"))]
        alerts = [r[0] for r in conn.execute(text("SELECT id FROM alert"))]
        orders = [r[0] for r in conn.execute(text("SELECT id FROM sales_order"))]
    for step in range(120):
        with engine.begin() as conn:
            pick = rng.random()
            if pick < 0.35:
                conn.execute(text("UPDATE shipment SET status = :s WHERE id = :i"),
                             {"s": rng.choice(statuses), "i": rng.choice(parcels)})  # fmt: skip
            elif pick < 0.45:
                conn.execute(text("UPDATE shipment SET carrier = :c WHERE id = :i"),
                             {"c": rng.choice(["zto", "sf", None]), "i": rng.choice(parcels)})  # fmt: skip
            elif pick < 0.55:
                shipped = None if rng.random() < 0.5 else NOW
                conn.execute(text("UPDATE sales_order SET shipped_at = :t WHERE id = :i"),
                             {"t": shipped, "i": rng.choice(orders)})  # fmt: skip
            elif pick < 0.8:
                column, value = rng.choice([("state", "resolved"), ("state", "open"),
                                            ("severity", "critical"), ("province", "广东"),
                                            ("kind", "stalled"), ("kind", "lost")])  # fmt: skip
                conn.execute(text(f"UPDATE alert SET {column} = :v WHERE id = :i"),
                             {"v": value, "i": rng.choice(alerts)})  # fmt: skip
            elif pick < 0.9:
                conn.execute(text("UPDATE shipment SET status = 'in_transit', carrier = 'jt'"))
            elif len(alerts) > 2:
                victim = rng.choice(alerts)
                conn.execute(text("DELETE FROM alert_event WHERE alert_id = :i"), {"i": victim})
                conn.execute(text("DELETE FROM outbox_delivery WHERE outbox_id IN "
                                  "(SELECT id FROM outbox WHERE alert_id = :i)"), {"i": victim})  # fmt: skip
                conn.execute(text("DELETE FROM outbox WHERE alert_id = :i"), {"i": victim})
                conn.execute(text("DELETE FROM alert WHERE id = :i"), {"i": victim})
                alerts.remove(victim)
        if step % 40 == 39:
            folded = compact_counts(engine)
            # PostgreSQL folds the appended rows; SQLite only drops label sets back at zero
            assert folded > 0 if engine.dialect.name == "postgresql" else folded >= 0
        if engine.dialect.name == "sqlite":
            _one_row_per_label_set(engine)
        _agree(engine, registry)
    compact_counts(engine)
    _agree(engine, registry)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM parcel_count")).scalar_one()
        sets = conn.execute(text("SELECT count(*) FROM (SELECT DISTINCT carrier, status "
                                 "FROM parcel_count) d")).scalar_one()  # fmt: skip
    assert rows == sets  # folded: one row per label set
    assert compact_counts(engine) == 0  # nothing left to fold


def _one_row_per_label_set(engine: Engine) -> None:
    """SQLite keeps its counts in place (migration 0022): never a second row per label set."""
    with engine.connect() as conn:
        for table, labels in COUNTS:
            keys = ", ".join(f"coalesce({c}, '')" for c in labels)
            rows = conn.execute(text(f"SELECT count(*) FROM {table.name}")).scalar_one()
            sets = conn.execute(
                text(f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM {table.name}) d")
            ).scalar_one()
            assert rows == sets, table.name


def test_a_scrape_builds_again_only_the_families_whose_rows_changed(engine: Engine) -> None:
    populate(engine)
    collector = StoreCollector(engine, ["zto"])
    first = {family.name: family for family in collector.collect()}
    second = {family.name: family for family in collector.collect()}
    kept = [name for name in first if first[name] is second[name]]
    assert (
        "parcelwatch_parcels_active" in kept and "parcelwatch_carrier_transit_p50_seconds" in kept
    )
    assert "parcelwatch_scrape_duration_seconds" not in kept  # new every scrape
    with engine.begin() as conn:
        conn.execute(text("UPDATE shipment SET status = 'out_for_delivery' WHERE id = 1"))
    third = {family.name: family for family in collector.collect()}
    assert third["parcelwatch_parcels_active"] is not second["parcelwatch_parcels_active"]
    assert third["parcelwatch_alerts_open"] is second["parcelwatch_alerts_open"]
    registry = scrape(collector)
    value = registry.get_sample_value
    assert value("parcelwatch_parcels_active", {"carrier": "zto", "status": "in_transit"}) == 1
    assert (
        value("parcelwatch_parcels_active", {"carrier": "zto", "status": "out_for_delivery"}) == 1
    )


def test_register_is_idempotent(sqlite_engine: Engine, default_registry_collector: None) -> None:
    one = register_store_collector(sqlite_engine, ["zto"])
    other = make_engine("sqlite://")
    upgrade(other)
    assert register_store_collector(other, ["sf"]) is one
    assert REGISTRY.get_sample_value("parcelwatch_carrier_up", {"carrier": "sf"}) == 1
    assert REGISTRY.get_sample_value("parcelwatch_carrier_up", {"carrier": "zto"}) is None


def test_a_write_that_fails_moves_no_count(engine: Engine) -> None:
    """A writer's transaction that breaks off half way leaves the kept counts (in place on
    SQLite, appended on PostgreSQL) as they were: nothing lost or counted twice."""
    populate(engine)
    registry = scrape(StoreCollector(engine, ["zto"]))
    _agree(engine, registry)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE shipment SET status = 'delivered' WHERE carrier = 'zto'"))
        conn.execute(text("UPDATE alert SET state = 'resolved'"))
        conn.execute(text("INSERT INTO shipment (id) VALUES (1)"))  # breaks: no such parcel
    _agree(engine, registry)
    value = registry.get_sample_value
    assert value("parcelwatch_parcels_active", {"carrier": "zto", "status": "in_transit"}) == 2


def test_a_scrape_far_behind_the_fold_starts_one(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL appends count rows; a scrape that finds more than FOLD_BACKLOG_ROWS of them
    starts a fold in the background (and the fold a vacuum), and its counts stay right.
    SQLite keeps its counts in place and never needs one."""
    monkeypatch.setattr(collectors, "FOLD_BACKLOG_ROWS", 30)
    monkeypatch.setattr(counts, "VACUUM_AFTER_ROWS", 0)
    populate(engine)
    with engine.begin() as conn:
        for _ in range(20):  # +1/-1 pairs, as status changes there and back append them
            conn.execute(text("UPDATE shipment SET status = 'exception' WHERE id = 1"))
            conn.execute(text("UPDATE shipment SET status = 'in_transit' WHERE id = 1"))
    collector = StoreCollector(engine, ["zto"])
    registry = scrape(collector)
    _agree(engine, registry)
    if engine.dialect.name == "sqlite":
        assert collector.fold is None
        return
    assert collector.fold is not None
    collector.fold.join(timeout=30)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM parcel_count")).scalar_one()
        sets = conn.execute(text("SELECT count(*) FROM (SELECT DISTINCT carrier, status "
                                 "FROM parcel_count) d")).scalar_one()  # fmt: skip
    assert rows == sets  # folded
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # vacuumed too
    _agree(engine, registry)
