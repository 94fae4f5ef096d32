"""Benchmark: one /metrics scrape of the store collector at a million active parcels.

    python bench/metrics.py [--parcels 1000000] [--alerts 0.03] [--history 0] [--keep DIR]
    python bench/metrics.py --parcels 10000000 --keep DIR      # ten million (builds ~15 min)
    python bench/metrics.py --parcels 10000000 --keep DIR --reuse   # again, on the kept store

Builds a SQLite store (the schema from the migrations, rows written with the stdlib driver's
executemany: times are integer microseconds, see monitor/store/types.py) holding `--parcels`
active parcels across the carriers and statuses of a real shop, about 3 % of them with an
open alert, some outbox rows, carrier health and lane figures; `--history` adds delivered
parcels and resolved alerts that a scrape must not pay for. Then times what /metrics serves
(`monitor.metrics.exposition.generate`) on a registry holding only the store collector, median
of `--repeat`: the first scrape (every family built and rendered), scrapes with nothing changed
in between, and scrapes after a write that moves every count family in between (the daemon's
steady state under load); and where a scrape's time goes (each query, building the families,
their text). It compares them with older ways measured in the same run: prometheus-client's
own `generate_latest` (every sample formatted on every scrape), a GROUP BY count over the book
(what the collector did before the counts were kept by triggers, migration 0016) and an ORM
loop over every parcel counting in Python (on a 20,000-parcel sample, scaled to the book).
The bulk load goes through the count triggers as a big import would; what it leaves in the
count tables beyond one row per label set (appended rows, until the daemon's fold job runs on
PostgreSQL; none on SQLite since migration 0022) is printed with the first scrape.
Target: <= 20 ms per scrape at 1 M and at 10 M active parcels.
"""

from __future__ import annotations

import argparse
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from book import insert_orders  # bench/book.py, beside this script
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, select, text
from sqlmodel import Session

from alerts.model import AlertKind
from carriers.status import TERMINAL_STATUSES
from monitor import geo
from monitor.metrics import collectors
from monitor.metrics.collectors import StoreCollector
from monitor.metrics.exposition import generate, render
from monitor.store.counts import COUNTS, compact_counts
from monitor.store.db import make_engine, upgrade
from monitor.store.models import ACTIVE_PARCEL, Shipment
from monitor.store.types import to_micros

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
SEED = 20261124
CHUNK = 50_000
# Market shares of the big Chinese couriers (docs/scorecard.md "Simulator calibration", rounded).
CARRIERS = {"zto": 20, "yto": 17, "yunda": 16, "jt": 13, "sto": 11, "sf": 8, "ems": 5,
            "youzheng": 5, "jd": 3, "debang": 1, "best": 0.5, "danniao": 0.5}  # fmt: skip
# Where a book of parcels on their way sits, by status (awaiting shipment has no carrier).
STATUSES = {"awaiting_shipment": 8, "label_created": 5, "picked_up": 12, "in_transit": 50,
            "out_for_delivery": 12, "available_for_pickup": 8, "delivery_failed": 2,
            "returning": 1.5, "rejected": 0.5, "exception": 0.7, "unknown": 0.3}  # fmt: skip
# Mainland provinces (Hong Kong, Macau and Taiwan ship by other routes).
PROVINCES = tuple(p.name for p in geo.PROVINCES if p.name not in ("香港", "澳门", "台湾"))
WAREHOUSES = ("hz1", "gz1", "cd1")
KINDS = [k.value for k in AlertKind if k is not AlertKind.CARRIER_API_FAILING]
CRITICAL = {"ship_deadline_breached", "no_pickup_scan", "lost", "damaged", "rejected",
            "carrier_incident"}  # fmt: skip

# The generator's row shape: an order and its parcel (bench/book.py writes both).
ROW_COLUMNS = (
    "id", "order_id", "platform", "warehouse", "carrier", "tracking_number", "province",
    "paid_at", "shipped_at", "picked_up_at", "last_event_at", "status", "content_hash",
    "poll_failures", "next_poll_at", "created_at", "updated_at",
)  # fmt: skip
ALERT_SQL = (
    "INSERT INTO alert (fingerprint, kind, severity, state, shipment_id, order_id, carrier,"
    " warehouse, province, platform, since, opened_at, updated_at, detail)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'{}')"
)


def shipments(
    rng: random.Random, first: int, count: int, delivered: bool
) -> Iterator[tuple[Any, ...]]:
    now = to_micros(NOW)
    hour = 3_600_000_000
    carriers = rng.choices(list(CARRIERS), weights=list(CARRIERS.values()), k=count)
    statuses = (
        ["delivered"] * count
        if delivered
        else rng.choices(list(STATUSES), weights=list(STATUSES.values()), k=count)
    )
    for offset in range(count):
        i = first + offset
        status = statuses[offset]
        shipped = status != "awaiting_shipment"
        paid = now - rng.randrange(2, 200) * hour
        yield (
            i, f"B{i}", "taobao", WAREHOUSES[i % 3], carriers[offset] if shipped else None,
            f"7{i:011d}" if shipped else None, PROVINCES[i % len(PROVINCES)], paid,
            paid + 6 * hour if shipped else None, paid + 20 * hour if shipped else None,
            paid + 30 * hour if shipped else None, status, "", 0,
            None if delivered else now + rng.randrange(0, 4) * hour, now, now,
        )  # fmt: skip


def alerts(
    rng: random.Random, db: sqlite3.Connection, first: int, count: int, share: float, state: str
) -> Iterator[tuple[Any, ...]]:
    now = to_micros(NOW)
    rows = db.execute(
        "SELECT id, order_id, carrier, warehouse, province FROM shipment WHERE id >= ? AND id < ?",
        (first, first + count),
    )
    for shipment_id, order_id, carrier, warehouse, province in rows:
        if rng.random() >= share:
            continue
        kind = rng.choice(KINDS)
        severity = "critical" if kind in CRITICAL else "warning"
        yield (
            f"{kind}:{shipment_id}:{state}", kind, severity,
            state if state == "resolved" else rng.choice(("open", "open", "acknowledged")),
            shipment_id, order_id, carrier, warehouse, province, "taobao", now - 3_600_000_000,
            now - 1_800_000_000, now,
        )  # fmt: skip


def build(path: Path, parcels: int, alert_share: float, history: int) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    rng = random.Random(SEED)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    batches = [(1, parcels, False, alert_share, "open")]
    if history:
        batches.append((parcels + 1, history, True, 0.05, "resolved"))
    for first, count, delivered, share, state in batches:
        for start in range(first, first + count, CHUNK):
            size = min(CHUNK, first + count - start)
            insert_orders(db, ROW_COLUMNS, list(shipments(rng, start, size, delivered)))
            db.executemany(ALERT_SQL, list(alerts(rng, db, start, size, share, state)))
            db.commit()
    now = to_micros(NOW)
    db.executemany(
        "INSERT INTO outbox (event, payload, idempotency_key, created_at, available_at,"
        " attempts, delivered_at) VALUES ('opened', '{}', ?, ?, ?, 0, ?)",
        [(f"k{i}", now, now, None if i % 10 == 0 else now) for i in range(5000)],
    )
    db.executemany(
        "INSERT INTO carrier_health (carrier, last_success_at, failing_since,"
        " consecutive_failures, updated_at) VALUES (?, ?, ?, 0, ?)",
        [(c, now - 60_000_000, None, now) for c in CARRIERS],
    )
    db.executemany(
        "INSERT INTO lane_stats (carrier, origin, province, deliveries, picked_up,"
        " transit_p50_hours, transit_p90_hours, on_time_ratio, loss_ratio, window_days,"
        " computed_at) VALUES (?, ?, ?, 500, 520, 44.0, 80.0, 0.93, 0.001, 28, ?)",
        [
            (c, origin, p, now)
            for c in CARRIERS
            for origin in (None, "浙江", "广东", "四川")
            for p in (None, *PROVINCES)
        ],
    )
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def store_registry(engine: Engine) -> CollectorRegistry:
    """A registry holding only the store collector, with the bench's carriers configured."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(engine, CARRIERS))
    return registry


def time_scrapes(
    registry: CollectorRegistry,
    repeat: int,
    exposition: Callable[[CollectorRegistry], bytes] = generate,
    between: Callable[[], None] | None = None,
) -> tuple[list[float], bytes]:
    """`repeat` scrapes; `between` runs before each one, outside the timing."""
    times, body = [], b""
    for _ in range(repeat):
        if between is not None:
            between()
        started = time.perf_counter()
        body = exposition(registry)
        times.append(time.perf_counter() - started)
    return times, body


def move_every_count(engine: Engine) -> Callable[[], None]:
    """A write between scrapes that changes a sample of every count family: a parcel changes
    status (parcels_active) and a stalled alert its severity (alerts_open), then its
    province (alerts_open_by_province, parcels_stalled), alternately back and forth."""
    with engine.connect() as conn:
        parcel = conn.exec_driver_sql(
            "SELECT id FROM shipment WHERE status = 'in_transit' LIMIT 1"
        ).scalar_one()
        alert = conn.exec_driver_sql(
            "SELECT id, province FROM alert WHERE kind = 'stalled' AND state != 'resolved' LIMIT 1"
        ).one()
    flip = [False]

    def write() -> None:
        flip[0] = not flip[0]
        status, severity, province = (
            ("out_for_delivery", "critical", "西藏")
            if flip[0]
            else ("in_transit", "warning", alert[1])
        )
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE shipment SET status = ? WHERE id = ?", (status, parcel))
            conn.exec_driver_sql(
                "UPDATE alert SET severity = ?, province = ? WHERE id = ?",
                (severity, province, alert[0]),
            )

    return write


def appended_rows(engine: Engine) -> int:
    """Rows in the count tables beyond one per label set: what a scrape sums in excess."""
    extra = 0
    with engine.connect() as conn:
        for table, labels in COUNTS:
            columns = ", ".join(labels)
            rows = conn.exec_driver_sql(f"SELECT count(*) FROM {table.name}").scalar_one()
            sets = conn.exec_driver_sql(
                f"SELECT count(*) FROM (SELECT DISTINCT {columns} FROM {table.name}) d"
            ).scalar_one()
            extra += int(rows) - int(sets)
    return extra


# The parcel counts as the collector read them before migration 0016: over the book, through
# the partial covering index of active parcels.
BOOK_COUNT = text(
    f"SELECT carrier, status, count(*) FROM shipment WHERE {ACTIVE_PARCEL} GROUP BY carrier, status"
)


def time_queries(engine: Engine, repeat: int) -> dict[str, float]:
    """Each aggregate alone (median, through the ORM's connection), to show where a
    scrape's time goes."""
    statements = {
        "parcels_active": collectors.PARCELS_ACTIVE_SQL,
        "(a count over the book)": BOOK_COUNT,
        "alerts_open": collectors.ALERTS_OPEN_SQL,
        "alerts_by_province": collectors.ALERTS_BY_PROVINCE_SQL,
        "parcels_stalled": collectors.PARCELS_STALLED_SQL,
        "outbox_pending": collectors.OUTBOX_PENDING_SQL,
    }
    spent = {}
    with engine.connect() as conn:
        for name, statement in statements.items():
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                conn.execute(statement).all()
                times.append(time.perf_counter() - started)
            spent[name] = statistics.median(times)
    return spent


def time_parts(engine: Engine, repeat: int) -> dict[str, tuple[float, float, int]]:
    """Per query: (the query and its families built from scratch, text included; the same
    families formatted by generate_latest instead; samples), medians over `repeat` fresh
    collectors: what a query costs a scrape when its rows changed."""
    spent: dict[str, tuple[list[float], list[float]]] = {}
    samples: dict[str, int] = {}
    for _ in range(repeat):
        with engine.connect() as conn:
            for name, read in StoreCollector(engine, CARRIERS).readers():
                started = time.perf_counter()
                families = read(conn)
                built = time.perf_counter()
                render(families)
                spent.setdefault(name, ([], []))[0].append(built - started)
                spent[name][1].append(time.perf_counter() - built)
                samples[name] = sum(len(f.samples) for f in families)
    return {
        name: (statistics.median(build), statistics.median(rendering), samples[name])
        for name, (build, rendering) in spent.items()
    }


def naive_loop(engine: Engine, sample: int) -> float:
    """What the collector replaces: load each active parcel as an ORM object and count."""
    terminal = [s.value for s in TERMINAL_STATUSES]
    counts: Counter[tuple[str | None, str]] = Counter()
    started = time.perf_counter()
    with Session(engine) as session:
        query = select(Shipment).where(Shipment.status.not_in(terminal)).limit(sample)  # type: ignore[attr-defined]
        for parcel in session.scalars(query):
            counts[parcel.carrier, parcel.status] += 1
    took = time.perf_counter() - started
    assert sum(counts.values()) == sample, "the store has fewer active parcels than the sample"
    return took


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def spread(times: list[float]) -> str:
    return (f"median {ms(statistics.median(times))} of {len(times)} "
            f"(min {ms(min(times))}, max {ms(max(times))})")  # fmt: skip


def prepare(args: argparse.Namespace, path: Path) -> None:
    """Build the store, or with --reuse take the kept one (brought to the current schema)."""
    if args.reuse and path.exists():
        started = time.perf_counter()
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        engine.dispose()
        print(f"store reused from {path.name}; upgraded in {time.perf_counter() - started:.1f} s")
        return
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    build(path, args.parcels, args.alerts, args.history)
    print(f"store built in {time.perf_counter() - started:.1f} s")


def report_scrapes(engine: Engine, repeat: int) -> float:
    """The first, unchanged and moved scrapes; returns the steady (moved) median."""
    registry = store_registry(engine)
    extra = appended_rows(engine)
    first, _ = time_scrapes(registry, 1)
    print(f"first scrape (every family built and rendered; {extra:,} count rows beyond one "
          f"per label set): {ms(first[0])}")  # fmt: skip
    started = time.perf_counter()
    folded_rows = compact_counts(engine)
    print(f"the fold job: {time.perf_counter() - started:.2f} s ({folded_rows:,} rows dropped)")
    unchanged, body = time_scrapes(registry, repeat)
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(f"scrape, nothing written between ({series} series, {len(body):,} bytes): "
          f"{spread(unchanged)}")  # fmt: skip
    moved, _ = time_scrapes(registry, repeat, between=move_every_count(engine))
    print(f"scrape, every count family moved between: {spread(moved)}; target <= 20 ms")
    library, _ = time_scrapes(registry, repeat, exposition=generate_latest)
    ratio = statistics.median(library) / statistics.median(moved)
    print(f"  the same registry through generate_latest (every sample formatted): "
          f"{spread(library)}: {ratio:.1f}x")  # fmt: skip
    return statistics.median(moved)


def report_parts(engine: Engine, repeat: int) -> None:
    print("where a scrape goes when every family changed: query + families built with their "
          "text | the text by generate_latest instead")  # fmt: skip
    for name, (build, rendering, samples) in time_parts(engine, repeat).items():
        print(f"  {name:<20} {ms(build):>9} | {ms(rendering):>8}  ({samples} samples)")
    queries = time_queries(engine, repeat)
    print("each query alone (through the ORM):")
    for name, took in queries.items():
        print(f"  {name:<24} {took * 1000:7.1f} ms")
    book = queries["(a count over the book)"]
    print(f"count over the book / kept counts (parcels_active): "
          f"{book / queries['parcels_active']:,.0f}x")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=1_000_000, help="active parcels")
    parser.add_argument("--alerts", type=float, default=0.03, help="share with an open alert")
    parser.add_argument("--history", type=int, default=0, help="delivered parcels besides")
    parser.add_argument("--sample", type=int, default=20_000, help="parcels in the naive loop")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--keep", type=Path, help="build the store in this directory, keep it")
    parser.add_argument("--reuse", action="store_true", help="with --keep: reuse its store")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="parcelwatch-bench-") as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "metrics-bench.db"
        print("parcelwatch /metrics benchmark (SQLite, store collector)")
        prepare(args, path)
        rss_build = peak_rss_mib()
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            active, open_alerts = conn.exec_driver_sql(
                "SELECT (SELECT CAST(sum(n) AS BIGINT) FROM parcel_count),"
                " (SELECT count(*) FROM alert WHERE state != 'resolved')"
            ).one()
        print(f"store: {active:,} active parcels and unshipped orders, {open_alerts:,} open "
              f"alerts, {args.history:,} delivered parcels of history asked for; "
              f"{path.stat().st_size / 2**20:,.0f} MiB")  # fmt: skip

        scrape = report_scrapes(engine, args.repeat)
        rss_scrape = peak_rss_mib()
        report_parts(engine, args.repeat)

        naive = naive_loop(engine, args.sample)
        scaled = naive * active / args.sample
        print(f"naive ORM loop over {args.sample:,} parcels: {naive * 1000:.0f} ms, "
              f"{scaled:.1f} s scaled to {active:,}: "
              f"{scaled / scrape:,.0f}x the collector's scrape")  # fmt: skip
        print(f"peak RSS, this process: {rss_build:.0f} MiB after the build, "
              f"{rss_scrape:.0f} MiB after the scrapes, {peak_rss_mib():.0f} MiB after the "
              "naive loop")  # fmt: skip
        engine.dispose()
        if args.keep:
            print(f"store kept: {path}")


if __name__ == "__main__":
    main()
