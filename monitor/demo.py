"""`parcelwatch demo`: a realistic shop from zero to an alert queue in one command.

Until the daemon and the carrier simulator land, the demo generates a seeded ERP export,
imports it through the real import path, runs one real detection tick (opening alerts with
their history and outbox rows) and prints what a warehouse lead would see.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from monitor.cli import parse_moment, print_exceptions
from monitor.config import Config, parse_config
from monitor.detection import detect, run_tick
from monitor.ingest import import_file
from monitor.queue import AlertFilter, count_alerts
from monitor.sample import DEMO_WAREHOUSES, generate_shop, write_csv
from monitor.store.db import make_engine, upgrade

DEMO_DIR = Path("demo")


def demo_config(db_url: str) -> Config:
    warehouses: list[dict[str, Any]] = [
        {k: v for k, v in w.items() if k != "city"} for w in DEMO_WAREHOUSES
    ]
    return parse_config({"database": {"url": db_url}, "warehouses": warehouses}, "<demo config>")


def run_demo(out: Console, *, db_url: str | None, at: str | None, orders: int, seed: int) -> None:
    DEMO_DIR.mkdir(exist_ok=True)
    if db_url is None:
        database = DEMO_DIR / "parcelwatch-demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)  # a fresh shop every run
        db_url = f"sqlite:///{database}"
    config = demo_config(db_url)
    now = parse_moment(at, config)
    engine = make_engine(db_url)
    upgrade(engine)

    export = DEMO_DIR / "sample-orders.csv"
    write_csv(generate_shop(seed=seed, orders=orders, now=now), export)
    report = import_file(engine, config, export, now)
    c = report.counts
    out.print(
        f"imported {export}: {c.inserted} new, {c.updated} updated, "
        f"{len(report.rejected)} rejected",
        highlight=False,
    )

    tick = run_tick(engine, config, now)
    out.print(
        f"detection at {now.isoformat()}: {tick.exceptions} exceptions, "
        f"{tick.opened} alerts opened in "
        f"{sum(tick.timings.values()) * 1000:.0f} ms",
        highlight=False,
    )
    counts = count_alerts(engine, AlertFilter(state="active"))
    for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        out.print(f"  {kind:<24} {n}", highlight=False)
    print_exceptions(detect(engine, config, now), config, "open exceptions", limit=25)
    out.print(
        "\nnext:\n"
        f"  parcelwatch alerts list  (with PARCELWATCH_DATABASE_URL={db_url})\n"
        f"  parcelwatch detect --at 2026-11-24T18:00 --format json\n"
        "  parcelwatch init && parcelwatch check-config",
        highlight=False,
    )
