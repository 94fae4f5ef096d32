"""Benchmark: the weekly carrier scorecard over a large parcel history in SQLite.

Builds (once, then reuses) a seeded history of `--parcels` parcels picked up over the last
`--weeks` weeks before a fixed `now`, shaped by the sample shop's model (monitor/demo/sample.py:
carrier shares and speeds, lane bands, stall/loss/damage tails, with `stalled`, `lost` and
`damaged` alerts for the parcels that had them). Times are INTEGER microseconds, as the
store keeps them (monitor/store/types.py). Then, in a fresh process so that the build does
not count, it times:

- `refresh_lane_stats` (the lane job: the last 28 days);
- `build_scorecard` for the last complete week (the report: one query over six weeks of
  pickups, KPIs, ranks, recommendations);
- rendering it as JSON and as HTML with its three charts;

and prints the peak RSS of that process and of its SQLite reader helper.

    python bench/scorecard.py [--parcels 10000000] [--weeks 26] [--db PATH] [--rebuild]

Target: the report (build + JSON) within 30 s and 4 GB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from book import insert_orders  # bench/book.py, beside this script

from monitor.config import DelayedHours, parse_config
from monitor.demo.sample import (
    CARRIERS,
    DEMO_WAREHOUSES,
    DESTINATIONS,
    LANE_BANDS,
    WAREHOUSE_SHARES,
)
from monitor.geo import distance_band
from monitor.store.db import make_engine, upgrade
from monitor.store.types import to_micros

SEED = 20261124
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # Tuesday of W48
NOW_US = to_micros(NOW)
HOUR_US = 3_600_000_000
CHUNK = 250_000
TARGET_SECONDS = 30.0
TARGET_MIB = 4096
MIB = 1024 * 1024

# Shares of the picked-up parcels that go wrong (docs/scorecard.md "Carrier profiles" order of
# magnitude, scaled per carrier by its stall / loss / damage figures).
SLOW_SHARE = 0.02
RETURNED_SHARE = 0.015
FORGOTTEN_SHARE = 0.01  # uploaded, never scanned
LOSS_SCALE = 5.0  # the model's losses per 10,000, times this (so weeks have a few)
ESTIMATING = ("sf", "jd")  # carriers that give their own delivery estimate
SCRAMBLE = 982_451_653
ROADS = ("人民路", "解放路", "中山路", "建设路", "文化路", "新华路", "长江路", "滨江大道")

SHIPMENT_COLUMNS = (
    "id", "order_id", "platform", "shop", "warehouse", "carrier", "tracking_number", "province",
    "city", "address", "amount", "paid_at", "shipped_at", "picked_up_at", "delivered_at",
    "last_event_at", "expected_delivery_at", "status", "sub_reason", "content_hash",
    "created_at", "updated_at",
)  # fmt: skip
ALERT_COLUMNS = (
    "fingerprint", "kind", "severity", "state", "shipment_id", "order_id", "carrier",
    "province", "since", "opened_at", "updated_at", "resolved_at", "resolution", "detail",
)  # fmt: skip


def bench_config(url: str) -> Any:
    warehouses = [{k: v for k, v in w.items() if k != "city"} for w in DEMO_WAREHOUSES]
    return parse_config({"database": {"url": url}, "warehouses": warehouses}, "<bench>")


# --- the data ---------------------------------------------------------------------------


class Model:
    def __init__(self) -> None:
        self.provinces = tuple(DESTINATIONS)
        weights = np.array([DESTINATIONS[p][0] for p in self.provinces], dtype=float)
        self.province_p = weights / weights.sum()
        self.cities = [DESTINATIONS[p][1][0].split(":")[0] for p in self.provinces]
        self.warehouses = [w["id"] for w in DEMO_WAREHOUSES]
        self.warehouse_p = np.array([WAREHOUSE_SHARES[w] for w in self.warehouses])
        self.warehouse_p /= self.warehouse_p.sum()
        shares = np.array([c.share for c in CARRIERS])
        self.carrier_p = shares / shares.sum()
        self.transit = np.array([c.transit for c in CARRIERS])
        self.stall = np.array([c.stall for c in CARRIERS])
        self.loss = np.array([c.loss_per_10k for c in CARRIERS]) / 10_000 * LOSS_SCALE
        self.damage = np.array([c.damage_per_10k for c in CARRIERS]) / 10_000
        defaults = DelayedHours()
        shape = (len(self.warehouses), len(self.provinces))
        self.median = np.zeros(shape)
        self.sigma = np.zeros(shape)
        self.allowance = np.zeros(shape)
        for w, raw in enumerate(DEMO_WAREHOUSES):
            for p, province in enumerate(self.provinces):
                band = distance_band(raw["province"], province)
                self.median[w, p], self.sigma[w, p] = LANE_BANDS[band]
                self.allowance[w, p] = getattr(defaults, band)


def _micros(hours_before_now: np.ndarray) -> list[int | None]:
    missing = np.isnan(hours_before_now)
    values = NOW_US - np.rint(np.where(missing, 0, hours_before_now) * HOUR_US).astype(np.int64)
    listed: list[int | None] = values.tolist()
    if missing.any():
        for i in np.flatnonzero(missing).tolist():
            listed[i] = None
    return listed


def generate(
    rng: np.random.Generator, model: Model, first_id: int, n: int, weeks: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """`n` shipments (ids from `first_id`) and their alerts. Ages are hours before NOW."""
    ids = np.arange(first_id, first_id + n)
    car = rng.choice(len(CARRIERS), n, p=model.carrier_p)
    prov = rng.choice(len(model.provinces), n, p=model.province_p)
    wh = rng.choice(len(model.warehouses), n, p=model.warehouse_p)
    pickup_age = rng.uniform(0, weeks * 7 * 24, n)
    transit = model.median[wh, prov] * model.transit[car]
    transit = transit * np.exp(rng.normal(0, 1, n) * model.sigma[wh, prov])
    u = rng.random(n)
    slow = u < SLOW_SHARE
    transit = np.where(slow, transit + rng.uniform(24, 120, n), transit)
    stalled = rng.random(n) < model.stall[car]
    transit = np.where(stalled, transit + rng.uniform(48, 150, n), transit)
    lost = rng.random(n) < model.loss[car]
    damaged = ~lost & (rng.random(n) < model.damage[car])
    returned = ~lost & ~damaged & (rng.uniform(0, 1, n) < RETURNED_SHARE)
    forgotten = rng.random(n) < FORGOTTEN_SHARE

    delivered_age = pickup_age - transit
    delivered = ~lost & ~damaged & ~returned & ~forgotten & (delivered_age >= 0)
    ship_age = pickup_age + rng.uniform(0.25, 6, n)
    paid_age = ship_age + rng.uniform(0.5, 30, n)
    went_quiet = pickup_age - rng.uniform(0.1, 0.8, n) * transit
    last_age = np.where(delivered, delivered_age, np.maximum(went_quiet, 0))
    moving = ~delivered & ~lost & ~damaged & ~returned & ~forgotten
    last_age = np.where(moving, np.minimum(last_age, rng.uniform(0, 14, n)), last_age)
    status = np.select(
        [forgotten, delivered, lost, damaged, returned],
        ["label_created", "delivered", "exception", "exception", "returned"],
        "in_transit",
    )
    reason = np.select([lost & ~forgotten, damaged & ~forgotten], ["lost", "damaged"], "")
    estimating = np.isin(car, [i for i, c in enumerate(CARRIERS) if c.code in ESTIMATING])
    expected_age = np.where(
        estimating & ~forgotten, pickup_age - 0.95 * model.allowance[wh, prov], np.nan
    )
    pickup_age = np.where(forgotten, np.nan, pickup_age)
    shipped = _micros(ship_age)
    pickup = _micros(pickup_age)
    paid = _micros(paid_age)
    delivered_at = _micros(np.where(delivered, delivered_age, np.nan))
    last = _micros(np.where(forgotten, np.nan, last_age))
    expected = _micros(expected_age)
    id_list = ids.tolist()
    codes = [c.code for c in CARRIERS]
    car_list = car.tolist()
    prov_list = prov.tolist()
    house = rng.integers(1, 400, n).tolist()
    road = rng.integers(0, len(ROADS), n).tolist()
    amount = np.round(69 * np.exp(rng.normal(0, 0.75, n)), 2).tolist()
    statuses = status.tolist()
    reasons = [r or None for r in reason.tolist()]
    rows = [
        (
            i,
            f"TB{26000000000000 + i}",
            "taobao",
            "鹿鸣家居小铺",
            model.warehouses[w],
            codes[c],
            f"{CARRIERS[c].tracking_prefix}{(i * SCRAMBLE + 7) % 10**11:011d}",
            model.provinces[p],
            model.cities[p],
            f"{model.cities[p]}{ROADS[r]}{h}号",
            a,
            pa,
            sh,
            pu,
            de,
            la,
            ex,
            st,
            re,
            f"{(i * SCRAMBLE) % 2**64:016x}",
            pa,
            la or sh,
        )
        for i, w, c, p, r, h, a, pa, sh, pu, de, la, ex, st, re in zip(
            id_list, wh.tolist(), car_list, prov_list, road, house, amount, paid, shipped,
            pickup, delivered_at, last, expected, statuses, reasons, strict=True,
        )
    ]  # fmt: skip
    alerts: list[tuple[Any, ...]] = []
    flagged = (
        ("stalled", stalled & ~forgotten, "warning"),
        ("lost", lost & ~forgotten, "critical"),
        ("damaged", damaged & ~forgotten, "critical"),
    )
    for kind, mask, severity in flagged:
        for row in np.flatnonzero(mask).tolist():
            since = last[row] or shipped[row]
            assert since is not None
            opened = since + 48 * HOUR_US
            alerts.append(
                (
                    f"{kind}:{id_list[row]}",
                    kind,
                    severity,
                    "resolved",
                    id_list[row],
                    f"TB{26000000000000 + id_list[row]}",
                    codes[car_list[row]],
                    model.provinces[prov_list[row]],
                    since,
                    opened,
                    opened,
                    opened,
                    "cleared",
                    "{}",
                )
            )
    return rows, alerts


def build(path: Path, parcels: int, weeks: int) -> dict[str, float]:
    timings = {"generate": 0.0, "insert": 0.0, "index": 0.0}
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")  # the load only: the app's connections reset it
    conn.execute("PRAGMA cache_size=-1000000")
    # Bulk load without the secondary indexes, then build them once, sorted.
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        " AND tbl_name IN ('shipment', 'alert')"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    insert_alert = (
        f"INSERT INTO alert ({', '.join(ALERT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(ALERT_COLUMNS))})"
    )
    rng = np.random.default_rng(SEED)
    model = Model()
    for start in range(0, parcels, CHUNK):
        mark = time.perf_counter()
        rows, alerts = generate(rng, model, start + 1, min(CHUNK, parcels - start), weeks)
        timings["generate"] += time.perf_counter() - mark
        mark = time.perf_counter()
        insert_orders(conn, SHIPMENT_COLUMNS, rows)
        conn.executemany(insert_alert, alerts)
        conn.commit()
        timings["insert"] += time.perf_counter() - mark
        print(f"\r  {start + len(rows):,} / {parcels:,} parcels", end="", file=sys.stderr)
    print(file=sys.stderr)
    mark = time.perf_counter()
    for _, sql in indexes:
        conn.execute(sql)
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    timings["index"] = time.perf_counter() - mark
    return timings


# --- the measurement (in a fresh process) ------------------------------------------------


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def measure(path: Path) -> dict[str, Any]:
    from monitor.scorecard import build_scorecard, refresh_lane_stats
    from monitor.scorecard.render import to_html, to_json
    from monitor.store.frames import reader_peak_rss_mib

    config = bench_config(f"sqlite:///{path}")
    engine = make_engine(config.database.url)
    result: dict[str, Any] = {}
    mark = time.perf_counter()
    result["lane_rows"] = refresh_lane_stats(engine, config, NOW)
    result["refresh_lane_stats_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    card = build_scorecard(engine, config, None, NOW)
    result["build_scorecard_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    result["json_bytes"] = len(to_json(card))
    result["json_s"] = time.perf_counter() - mark
    result["report_s"] = result["build_scorecard_s"] + result["json_s"]
    mark = time.perf_counter()
    result["html_bytes"] = len(to_html(card))
    result["html_s"] = time.perf_counter() - mark
    national = card.rows[card.rows["province"].isna()]
    result["week"] = card.week
    result["cohort_parcels"] = int(national["parcels"].sum())
    result["rows"] = len(card.rows)
    result["switches"] = sum(r.switch for r in card.recommendations)
    result["peak_rss_mib"] = _peak_mib(resource.RUSAGE_SELF)
    result["reader_peak_mib"] = reader_peak_rss_mib()
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=10_000_000)
    parser.add_argument("--weeks", type=int, default=26, help="history length before now")
    parser.add_argument("--db", type=Path, default=None, help="database file (kept)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild an existing --db")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    path = args.db or Path(tempfile.gettempdir()) / f"scorecard-bench-{args.parcels}.db"
    if args.measure_only:
        print(json.dumps(measure(path)))
        return
    if args.rebuild or not path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(f"building {args.parcels:,} parcels over {args.weeks} weeks into {path}")
        mark = time.perf_counter()
        steps = build(path, args.parcels, args.weeks)
        total = time.perf_counter() - mark
        detail = ", ".join(f"{k} {v:.0f} s" for k, v in steps.items())
        size = path.stat().st_size / MIB
        print(f"built in {total:.0f} s ({detail}); {size:,.0f} MiB")
    else:
        print(f"reusing {path} (--rebuild to regenerate)")
    command = [sys.executable, __file__, "--measure-only", "--db", str(path)]
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"the measurement failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    report_ok = result["report_s"] <= TARGET_SECONDS
    peak = result["peak_rss_mib"] + (result["reader_peak_mib"] or 0)
    print(f"week {result['week']}: {result['cohort_parcels']:,} parcels in the cohort, "
          f"{result['rows']} rows, {result['switches']} switches suggested")  # fmt: skip
    print(f"  refresh_lane_stats  {result['refresh_lane_stats_s']:6.2f} s "
          f"({result['lane_rows']} lane rows, 28 days)")  # fmt: skip
    print(f"  build_scorecard     {result['build_scorecard_s']:6.2f} s")
    print(f"  render json         {result['json_s']:6.2f} s ({result['json_bytes']:,} bytes)")
    print(f"  render html         {result['html_s']:6.2f} s ({result['html_bytes']:,} bytes)")
    print(f"  report (build+json) {result['report_s']:6.2f} s  target {TARGET_SECONDS:.0f} s: "
          f"{'ok' if report_ok else 'MISSED'}")  # fmt: skip
    reader = result["reader_peak_mib"]
    print(f"  peak RSS {result['peak_rss_mib']:,.0f} MiB + SQLite reader "
          f"{'n/a' if reader is None else f'{reader:,.0f}'} MiB = {peak:,.0f} MiB; "
          f"target {TARGET_MIB:,} MiB: {'ok' if peak <= TARGET_MIB else 'MISSED'}")  # fmt: skip
    if not math.isfinite(peak):
        sys.exit(1)


if __name__ == "__main__":
    main()
