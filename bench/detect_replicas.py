"""Benchmark: incremental detection on PostgreSQL shared by one and by two replicas.

    python bench/detect_replicas.py --url postgresql+psycopg://user@host:port/db
                                    [--parcels 10000000] [--database pw_bench_replicas]

Builds, on the server `--url` names, a fresh database (`--database`, dropped first) holding
the active book of bench/detect.py's generator (the same seeded shop, `--parcels` parcels;
loaded with COPY and the triggers off, so the count tables are not kept: this bench times
detection only). Then, each tick run in its own worker process as a replica runs it
(`monitor.daemon.incremental.run_incremental_tick`, the daemon's batch size and lease):

1. the first tick, every row due once (it computes every due moment), by two replicas;
2. the steady tick five minutes later, after 1 % of the parcels had a new scan (the
   writers' triggers mark them) and whatever came due meanwhile, by one replica; then the
   same again (another 1 %, five minutes on) by two replicas at once: the speed-up;
3. the full reconciliation (`reconcile`: an incremental tick, then the full tick, which
   must find no difference), by one replica; the full tick is also the naive baseline, the
   singleton that judged the whole book every tick, and its ratio to the steady tick is
   printed.

Peak RSS is reported per worker process and run (Linux VmHWM, reset before each run).
docs/architecture.md "Detection across replicas" keeps the figures.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import contextlib
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from detect import (  # bench/detect.py, beside this script
    CHUNK,
    NOW,
    ROW_COLUMNS,
    SEED,
    WAREHOUSES,
    Tables,
    generate,
)
from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor.config import Config, parse_config
from monitor.store.db import make_engine, upgrade
from monitor.store.frames import high_water_mib

TIME_COLUMNS = {"paid_at", "shipped_at", "picked_up_at", "delivered_at", "last_event_at",
                "expected_delivery_at", "created_at", "updated_at"}  # fmt: skip
ORDER_COLUMNS = ("id", "platform", "order_id", "shop", "warehouse", "province", "city",
                 "address", "amount", "paid_at", "shipped_at", "created_at",
                 "updated_at")  # fmt: skip
PARCEL_COLUMNS = tuple(c for c in ROW_COLUMNS if c not in ("amount", "paid_at"))
STEP = timedelta(minutes=5)
CHANGED_SHARE = 0.01


def bench_config(url: str) -> Config:
    return parse_config({"database": {"url": url}, "warehouses": list(WAREHOUSES)}, "<bench>")


# --- the book ----------------------------------------------------------------------------


def fresh_database(url: str, name: str) -> str:
    admin = make_engine(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _select(columns: tuple[str, ...]) -> str:
    return ", ".join(f"to_timestamp({c} / 1e6)" if c in TIME_COLUMNS else c for c in columns)


def load(url: str, parcels: int) -> float:
    """The generator's rows through an unlogged staging table (times as integer
    microseconds, as the generator makes them), converted to the store's tables in SQL."""
    import psycopg

    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    rng, tables = np.random.default_rng(SEED), Tables.build()
    types = ", ".join(
        f"{c} bigint" if c in TIME_COLUMNS or c == "id" else
        f"{c} double precision" if c == "amount" else f"{c} text"
        for c in ROW_COLUMNS
    )  # fmt: skip
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no triggers, no FK checks
        conn.execute(f"CREATE UNLOGGED TABLE stage ({types})")
        for start in range(0, parcels, CHUNK):
            rows = generate(rng, tables, start + 1, min(CHUNK, parcels - start))
            with conn.cursor().copy(f"COPY stage ({', '.join(ROW_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            with conn.transaction():
                conn.execute(
                    f"INSERT INTO sales_order ({', '.join(ORDER_COLUMNS)}, content_hash) "
                    f"SELECT {_select(ORDER_COLUMNS)}, '' FROM stage"
                )
                conn.execute(
                    f"INSERT INTO shipment ({', '.join(PARCEL_COLUMNS)}, order_count) "
                    f"SELECT {_select(PARCEL_COLUMNS)}, 1 FROM stage "
                    "WHERE tracking_number IS NOT NULL"
                )
                conn.execute(
                    "INSERT INTO order_parcel (sales_order_id, shipment_id, linked_at) "
                    "SELECT id, id, to_timestamp(created_at / 1e6) FROM stage "
                    "WHERE tracking_number IS NOT NULL"
                )
                conn.execute("TRUNCATE stage")
            if (start // CHUNK) % 20 == 19:
                print(f"  loaded {start + CHUNK:,} ({time.perf_counter() - started:.0f} s)")
        conn.execute("DROP TABLE stage")
        for table in ("sales_order", "shipment"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"(SELECT max(id) FROM {table}))")  # fmt: skip
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def new_scans(url: str, share: float, offset: int, at: datetime) -> int:
    """`share` of the parcels on their way get a scan at `at` (through the store's triggers,
    as a poll or push writes one): they are marked for the next tick."""
    import psycopg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    modulus = round(1 / share)
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "UPDATE shipment SET last_event_at = %s, updated_at = %s "
            "WHERE id %% %s = %s AND status IN ('picked_up', 'in_transit', 'out_for_delivery')",
            (at, at, modulus, offset),
        ).rowcount


# --- the replicas ------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    parcels: int
    orders: int
    opened: int
    resolved: int
    differences: int | None
    rss_mib: float


def _tick(url: str, moment: str, start_at: float, full: bool) -> Run:
    from monitor.daemon.incremental import reconcile, run_incremental_tick

    engine = make_engine(url)
    config = bench_config(url)
    with contextlib.suppress(OSError):  # Linux: the high-water mark from here on
        Path("/proc/self/clear_refs").write_text("5")
    while time.time() < start_at:  # replicas start together
        time.sleep(0.001)
    started = time.perf_counter()
    now = datetime.fromisoformat(moment)
    result = (reconcile if full else run_incremental_tick)(engine, config, now)
    seconds = time.perf_counter() - started
    engine.dispose()
    assert result is not None
    return Run(seconds, result.parcels, result.orders, result.opened, result.resolved,
               result.differences if full else None,
               high_water_mib(os.getpid()) or 0.0)  # fmt: skip


def replicas(pool: Any, url: str, at: datetime, count: int, full: bool = False) -> list[Run]:
    start_at = time.time() + 10  # after the workers have started and imported
    jobs = [pool.submit(_tick, url, at.isoformat(), start_at, full) for _ in range(count)]
    return [job.result() for job in jobs]


def show(label: str, runs: list[Run]) -> float:
    wall = max(r.seconds for r in runs)
    rows = sum(r.parcels + r.orders for r in runs)
    split = " + ".join(f"{r.parcels + r.orders:,}" for r in runs)
    print(f"{label}: {wall:7.2f} s  rows judged {rows:,} ({split})  "
          f"opened {sum(r.opened for r in runs):,}  resolved {sum(r.resolved for r in runs):,}  "
          f"peak RSS {' / '.join(f'{r.rss_mib:.0f}' for r in runs)} MiB")  # fmt: skip
    return wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="a PostgreSQL server (any database)")
    parser.add_argument("--parcels", type=int, default=10_000_000)
    parser.add_argument("--database", default="pw_bench_replicas")
    args = parser.parse_args(argv)
    url = fresh_database(args.url, args.database)
    print(f"parcelwatch detection on PostgreSQL, {args.parcels:,} parcels; "
          f"{os.cpu_count()} CPUs shared by the replicas and the server")  # fmt: skip
    print(f"build: {load(url, args.parcels):.0f} s (not part of any target)")
    context = multiprocessing.get_context("spawn")
    # Two worker processes for the whole run, as two daemons run for days: the first tick
    # warms them (imports, calendars, connections), so the steady ticks are timed warm.
    with futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        show("first tick, every row due, 2 replicas", replicas(pool, url, NOW, 2))
        at = NOW + STEP
        changed = new_scans(url, CHANGED_SHARE, 7, at)
        single = show(f"steady tick, {changed:,} new scans, 1 replica ", replicas(pool, url, at, 1))
        at += STEP
        changed = new_scans(url, CHANGED_SHARE, 8, at)
        double = show(f"steady tick, {changed:,} new scans, 2 replicas", replicas(pool, url, at, 2))
        at += STEP
        [full] = replicas(pool, url, at, 1, full=True)
    print(f"speed-up of the second replica: {single / double:.2f}x")
    show("full reconciliation (an incremental tick, then the full tick), 1 replica", [full])
    print(f"  differences found: {full.differences} (must be 0)")
    print(f"naive baseline: the full tick every tick is {full.seconds / single:.1f}x the steady "
          "incremental tick (1 replica)")  # fmt: skip


if __name__ == "__main__":
    main()
