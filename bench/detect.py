"""Benchmark: detection over a million active parcels in SQLite, incremental and full.

Builds a seeded, realistic active book (every parcel still on its way at a fixed `now`), then
times the full tick (`monitor.daemon.tick.run_tick`) on an empty alert queue (it opens every
alert), the first incremental tick (every row is due once: it computes every due moment),
and, five minutes later, after a realistic five minutes of scans, deliveries, shipments and
poll answers (1 % of the book due or changed), the steady incremental tick
(`monitor.daemon.incremental.run_incremental_tick`, target 200 ms) and the full
reconciliation (`reconcile`, target 3 s; it must find no difference).
For scale it also times the obvious alternative, a per-parcel ORM loop (load the parcel,
run the same rules on a one-row frame, upsert its alerts one by one), over a sample in a
separate database built from the same generator, and extrapolates it to the full book.

    python bench/detect.py [--parcels 1000000] [--naive-sample 20000] [--db PATH] [--keep]

The data build is reported but is not part of the target. Peak RSS is reported for this
process and for its children: the SQLite reads run in a helper process (store/frames.py).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform as python_platform
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from book import insert_orders  # bench/book.py, beside this script
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from alerts.model import AlertState, Resolution
from alerts.payload import alert_payload
from monitor import detection, rules
from monitor.config import Config, DelayedHours, parse_config
from monitor.daemon import carrier_alerts, incremental, tick
from monitor.daemon.incremental import reconcile, run_incremental_tick
from monitor.daemon.tick import TickResult, run_tick, with_fingerprints
from monitor.demo.sample import (
    AMOUNT_MEDIAN_YUAN,
    AMOUNT_SIGMA,
    CARRIERS,
    DESTINATIONS,
    LANE_BANDS,
    LOCKER_DWELL_MEAN_HOURS,
)
from monitor.detection import BaselineCache
from monitor.geo import distance_band
from monitor.rules import (
    ORDER_COLUMNS,
    ORDER_TIME_COLUMNS,
    PARCEL_COLUMNS,
    TIME_COLUMNS,
    evaluate,
)
from monitor.rules import due as due_rules
from monitor.store import frames
from monitor.store.db import make_engine, upgrade
from monitor.store.models import Alert, AlertEvent, OutboxMessage, SalesOrder, Shipment
from monitor.store.types import to_micros

SEED = 42
TARGET_SECONDS = 3.0  # the full reconciliation
INCREMENTAL_TARGET_SECONDS = 0.2  # the incremental tick at 1 % due or changed
RSS_TARGET_MIB = 600
CHANGED_SHARE = 0.01  # of the book, due or changed between the two steady ticks
CHUNK = 50_000
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
STEADY_AFTER = timedelta(minutes=5)
NOW_US = to_micros(NOW)
HOUR_US = 3_600_000_000
MIB = 1024 * 1024

WAREHOUSES: tuple[dict[str, str], ...] = (
    {"id": "hz1", "province": "浙江", "timezone": "Asia/Shanghai", "calendar": "cn"},
    {"id": "gz1", "province": "广东", "timezone": "Asia/Shanghai", "calendar": "every-day"},
    {"id": "cd1", "province": "四川", "timezone": "Asia/Shanghai", "calendar": "every-day"},
)
WAREHOUSE_SHARES = (0.45, 0.35, 0.20)
# (code, order-id prefix, share, shop)
PLATFORM_MIX = (
    ("taobao", "TB", 0.34, "鹿鸣家居小铺"),
    ("tmall", "TM", 0.16, "鹿鸣家居旗舰店"),
    ("pinduoduo", "PDD", 0.26, "鹿鸣家居百货"),
    ("jd", "JD", 0.10, "鹿鸣家居京东旗舰店"),
    ("douyin", "DY", 0.14, "鹿鸣家居抖音小店"),
)
# An active book: nothing delivered yet, most parcels on the line-haul.
STATUS_MIX = {
    "awaiting_shipment": 0.040,
    "label_created": 0.030,
    "picked_up": 0.080,
    "in_transit": 0.700,
    "out_for_delivery": 0.070,
    "available_for_pickup": 0.075,
    "delivery_failed": 0.0020,
    "returning": 0.0015,
    "rejected": 0.0008,
    "exception": 0.0007,
}
STATUSES = tuple(STATUS_MIX)
MOVING = ("picked_up", "in_transit", "out_for_delivery", "available_for_pickup")
REPORTED = ("delivery_failed", "returning", "rejected", "exception")
SUB_REASONS = {
    "delivery_failed": (("unreachable", "refused", "bad_address", "out_of_area", "missorted"),
                        (0.40, 0.20, 0.20, 0.10, 0.10)),
    "returning": (("refused", "bad_address", "unreachable", "other"), (0.50, 0.20, 0.20, 0.10)),
    "rejected": (("refused",), (1.0,)),
    "exception": (("damaged", "lost", "customs", "held"), (0.40, 0.20, 0.20, 0.20)),
}  # fmt: skip
PAST_CUTOFF_SHARE = 0.06  # of awaiting_shipment: paid before yesterday's cutoff
NO_PICKUP_SHARE = 0.12  # of label_created: uploaded more than 24 h ago
SLOW_SHARE = 0.006  # of in_transit: scanning normally but far behind the lane's clock
STALL_SHARE = 0.012  # of moving parcels at the network-average stall rate
HOTSPOT = ("yunda", "广东", 0.10)  # one carrier's overloaded hub (爆仓): its stall rate there
ESTIMATING_CARRIERS = ("sf", "jd")  # give their own delivery estimate
ROADS = ("人民路", "解放路", "中山路", "建设路", "文化路", "新华路", "长江路", "滨江大道")
SCRAMBLE = 982_451_653  # odd and not a multiple of 5: a bijection modulo any 10**k

# The generator's row shape: an order and its parcel (bench/book.py writes both).
ROW_COLUMNS = (
    "id", "order_id", "platform", "shop", "warehouse", "carrier", "tracking_number", "province",
    "city", "address", "amount", "paid_at", "shipped_at", "picked_up_at", "delivered_at",
    "last_event_at", "expected_delivery_at", "status", "sub_reason", "content_hash",
    "created_at", "updated_at",
)  # fmt: skip


def make_bench_config(url: str) -> Config:
    return parse_config({"database": {"url": url}, "warehouses": list(WAREHOUSES)}, "<bench>")


# --- the data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tables:
    """Lookup arrays the generator indexes with per-row choices."""

    province_names: tuple[str, ...]
    province_p: np.ndarray
    cities: tuple[tuple[tuple[str, tuple[str, ...]], ...], ...]  # per province
    lane_median: np.ndarray  # [warehouse, province] hours
    lane_sigma: np.ndarray
    lane_allowance: np.ndarray  # the delayed rule's default hours for the lane's band
    carrier_p: np.ndarray
    carrier_transit: np.ndarray
    carrier_stall: np.ndarray  # relative to the network average

    @classmethod
    def build(cls) -> Tables:
        names = tuple(DESTINATIONS)
        weights = np.array([DESTINATIONS[n][0] for n in names], dtype=float)
        cities = tuple(
            tuple(
                (city, tuple(districts.split(",")))
                for city, districts in (entry.split(":", 1) for entry in DESTINATIONS[n][1])
            )
            for n in names
        )
        median = np.empty((len(WAREHOUSES), len(names)))
        sigma = np.empty_like(median)
        allowance = np.empty_like(median)
        bands = DelayedHours()
        for w, wh in enumerate(WAREHOUSES):
            for p, name in enumerate(names):
                band = distance_band(wh["province"], name)
                median[w, p], sigma[w, p] = LANE_BANDS[band]
                allowance[w, p] = getattr(bands, band)
        shares = np.array([c.share for c in CARRIERS])
        stall = np.array([c.stall for c in CARRIERS])
        return cls(
            province_names=names,
            province_p=weights / weights.sum(),
            cities=cities,
            lane_median=median,
            lane_sigma=sigma,
            lane_allowance=allowance,
            carrier_p=shares / shares.sum(),
            carrier_transit=np.array([c.transit for c in CARRIERS]),
            carrier_stall=stall / float(np.dot(stall, shares / shares.sum())),
        )


def _times(ages: np.ndarray) -> list[int | None]:
    """Hours before NOW -> integer microseconds since the epoch (None where NaN)."""
    missing = np.isnan(ages)
    values = (NOW_US - np.rint(np.where(missing, 0.0, ages) * HOUR_US)).astype(np.int64).tolist()
    if not missing.any():
        return values
    return [None if m else v for v, m in zip(values, missing.tolist(), strict=True)]


def generate(rng: np.random.Generator, tables: Tables, first_id: int, n: int) -> list[tuple]:
    """`n` shipment rows, ids from `first_id`, as the state of each order at NOW."""
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    plat = rng.choice(len(PLATFORM_MIX), n, p=[p[2] for p in PLATFORM_MIX])
    wh = rng.choice(len(WAREHOUSES), n, p=WAREHOUSE_SHARES)
    car = rng.choice(len(CARRIERS), n, p=tables.carrier_p)
    prov = rng.choice(len(tables.province_names), n, p=tables.province_p)
    status = rng.choice(len(STATUSES), n, p=list(STATUS_MIX.values()))
    amount = np.round(AMOUNT_MEDIAN_YUAN * np.exp(rng.normal(0.0, AMOUNT_SIGMA, n)), 2)
    median = tables.lane_median[wh, prov] * tables.carrier_transit[car]
    allowance = tables.lane_allowance[wh, prov]
    # Normal parcels arrive within the lane's allowance; lateness comes from the slow and
    # stalled tails below, so the exception mix is set here rather than by the lognormal tail.
    transit = np.minimum(
        median * np.exp(rng.normal(0.0, 1.0, n) * tables.lane_sigma[wh, prov]), 0.85 * allowance
    )
    u = rng.random(n)
    scan_gap = rng.uniform(0.0, 14.0, n)  # hub scans come every ~14 h
    dwell = np.minimum(rng.exponential(LOCKER_DWELL_MEAN_HOURS, n), 60.0)
    tail = rng.uniform(0.0, 48.0, n)
    is_ = {name: status == i for i, name in enumerate(STATUSES)}
    moving = np.isin(status, [STATUSES.index(s) for s in MOVING])
    reported = np.isin(status, [STATUSES.index(s) for s in REPORTED])

    pickup = np.full(n, np.nan)
    last = np.full(n, np.nan)
    line_haul = (0.15 + 0.79 * u) * transit
    cases = (
        ("picked_up", 0.15 * u * transit, 0.15 * u * transit),
        ("in_transit", line_haul, np.minimum(line_haul, scan_gap)),
        ("out_for_delivery", (0.94 + 0.06 * u) * transit, 0.06 * u * transit),
        ("available_for_pickup", transit + dwell, dwell),
    )
    for name, pickup_age, last_age in cases:
        pickup[is_[name]] = pickup_age[is_[name]]
        last[is_[name]] = last_age[is_[name]]
    pickup[reported] = (transit + tail)[reported]
    last[reported] = np.minimum(transit + tail, rng.uniform(0.0, 48.0, n))[reported]

    slow = is_["in_transit"] & (rng.random(n) < SLOW_SHARE)
    pickup[slow] += rng.uniform(24.0, 120.0, n)[slow]

    stall_p = STALL_SHARE * tables.carrier_stall[car]
    hot_carrier = [c.code for c in CARRIERS].index(HOTSPOT[0])
    hot = (car == hot_carrier) & (prov == tables.province_names.index(HOTSPOT[1]))
    stall_p[hot] = HOTSPOT[2]
    stalled = moving & (rng.random(n) < stall_p)
    gap = np.select(
        [is_["picked_up"], is_["in_transit"], is_["out_for_delivery"]],
        [rng.uniform(25.0, 90.0, n), rng.uniform(50.0, 190.0, n), rng.uniform(25.0, 100.0, n)],
        rng.uniform(73.0, 190.0, n),
    )
    last[stalled] = gap[stalled]
    pickup[stalled] = np.where(is_["picked_up"], gap, np.maximum(pickup, gap + scan_gap))[stalled]

    ship = pickup + rng.uniform(0.25, 6.0, n)
    late_upload = rng.random(n) < NO_PICKUP_SHARE
    label_age = np.where(late_upload, rng.uniform(24.5, 72.0, n), rng.uniform(0.0, 23.5, n))
    ship[is_["label_created"]] = label_age[is_["label_created"]]
    paid = ship + rng.uniform(0.5, 30.0, n)
    past_cutoff = rng.random(n) < PAST_CUTOFF_SHARE
    # NOW is 10:00; yesterday's 16:00 cutoff was 18 h ago.
    waiting = np.where(past_cutoff, rng.uniform(18.5, 60.0, n), rng.uniform(0.0, 18.0, n))
    paid[is_["awaiting_shipment"]] = waiting[is_["awaiting_shipment"]]
    estimating = np.isin(car, [[c.code for c in CARRIERS].index(e) for e in ESTIMATING_CARRIERS])
    expected = np.where(estimating & ~np.isnan(pickup), pickup - 0.95 * allowance, np.nan)
    updated = np.fmin(np.fmin(last, pickup), np.fmin(ship, paid))

    sub_reason: list[str | None] = [None] * n
    for name, (reasons, weights) in SUB_REASONS.items():
        rows = np.flatnonzero(is_[name])
        picks = rng.choice(len(reasons), len(rows), p=weights)
        for row, pick in zip(rows.tolist(), picks.tolist(), strict=True):
            sub_reason[row] = reasons[pick]

    pick_city = rng.random(n).tolist()
    pick_district = rng.random(n).tolist()
    road = rng.integers(0, len(ROADS), n).tolist()
    house = rng.integers(1, 400, n).tolist()
    unshipped = is_["awaiting_shipment"].tolist()
    id_list = ids.tolist()
    car_list = car.tolist()
    plat_list = plat.tolist()
    cities, addresses, carriers, tracking = [], [], [], []
    for i, p in enumerate(prov.tolist()):
        options = tables.cities[p]
        city, districts = options[int(pick_city[i] * len(options))]
        district = districts[int(pick_district[i] * len(districts))]
        cities.append(city)
        addresses.append(f"{district}{ROADS[road[i]]}{house[i]}号")
        if unshipped[i]:
            carriers.append(None)
            tracking.append(None)
            continue
        c = CARRIERS[car_list[i]]
        digits = c.tracking_digits
        carriers.append(c.code)
        tracking.append(f"{c.tracking_prefix}{(id_list[i] * SCRAMBLE + 7) % 10**digits:0{digits}d}")
    paid_us = _times(paid)
    order_ids = [
        f"{PLATFORM_MIX[p][1]}{26112400000000 + i}" for p, i in zip(plat_list, id_list, strict=True)
    ]
    columns = (
        id_list,
        order_ids,
        [PLATFORM_MIX[p][0] for p in plat_list],
        [PLATFORM_MIX[p][3] for p in plat_list],
        [WAREHOUSES[w]["id"] for w in wh.tolist()],
        carriers,
        tracking,
        [tables.province_names[p] for p in prov.tolist()],
        cities,
        addresses,
        amount.tolist(),
        paid_us,
        _times(np.where(is_["awaiting_shipment"], np.nan, ship)),
        _times(pickup),
        [None] * n,
        _times(last),
        _times(expected),
        [STATUSES[s] for s in status.tolist()],
        sub_reason,
        [""] * n,
        paid_us,
        _times(updated),
    )
    return list(zip(*columns, strict=True))


def build(path: Path, naive_path: Path, parcels: int, naive: int) -> dict[str, float]:
    """Create the schema with the app's migrations, then bulk-load both databases: the full
    book at `path`, and its first `naive` rows at `naive_path` (same generator, same rows)."""
    timings = {"schema": 0.0, "generate": 0.0, "insert": 0.0}
    mark = time.perf_counter()
    for target in (path, naive_path):
        engine = make_engine(f"sqlite:///{target}")
        upgrade(engine)
        engine.dispose()
    timings["schema"] = time.perf_counter() - mark
    rng = np.random.default_rng(SEED)
    tables = Tables.build()
    connections = [sqlite3.connect(path), sqlite3.connect(naive_path)]
    for conn in connections:
        conn.execute("PRAGMA synchronous=OFF")  # the load only: the app's connections reset it
    try:
        for start in range(0, parcels, CHUNK):
            mark = time.perf_counter()
            rows = generate(rng, tables, start + 1, min(CHUNK, parcels - start))
            timings["generate"] += time.perf_counter() - mark
            mark = time.perf_counter()
            insert_orders(connections[0], ROW_COLUMNS, rows)
            if start < naive:
                insert_orders(connections[1], ROW_COLUMNS, rows[: naive - start])
            timings["insert"] += time.perf_counter() - mark
        mark = time.perf_counter()
        for conn in connections:
            conn.commit()
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        timings["insert"] += time.perf_counter() - mark
    finally:
        for conn in connections:
            conn.close()
    return timings


def book_mix(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM shipment GROUP BY status UNION ALL "
            "SELECT 'awaiting_shipment', count(*) FROM sales_order WHERE shipped_at IS NULL"
        ).fetchall()
    total = sum(n for _, n in rows) or 1
    order = {s: i for i, s in enumerate(STATUSES)}
    rows.sort(key=lambda r: order.get(r[0], len(order)))
    return " · ".join(f"{s} {100 * n / total:.2f} %" for s, n in rows)


def five_minutes_of_traffic(path: Path, parcels: int, at: datetime) -> dict[str, int]:
    """What reaches the store between two ticks: hub scans (one every ~14 h per parcel), a
    few of them on stalled parcels, deliveries and new shipments. Applied with the stdlib
    driver, not timed against the target."""
    rng = np.random.default_rng(SEED + 1)
    start_us = NOW_US
    end_us = to_micros(at)

    def stamps(k: int) -> list[int]:
        return rng.integers(start_us + 1, end_us, k).tolist()

    counts: dict[str, int] = {}
    with sqlite3.connect(path) as conn:
        ids = (rng.choice(parcels, round(parcels * 0.006), replace=False) + 1).tolist()
        cur = conn.executemany(
            "UPDATE shipment SET last_event_at = ?, updated_at = ?,"
            " status = CASE status WHEN 'picked_up' THEN 'in_transit' ELSE status END"
            " WHERE id = ? AND status IN ('picked_up', 'in_transit')",
            [(t, t, i) for t, i in zip(stamps(len(ids)), ids, strict=True)],
        )
        counts["scans"] = cur.rowcount
        stalled = [
            r[0]
            for r in conn.execute(
                "SELECT shipment_id FROM alert WHERE kind = 'stalled' ORDER BY shipment_id"
            )
        ]
        ids = rng.choice(stalled, min(len(stalled), round(parcels * 0.0003)), replace=False)
        cur = conn.executemany(
            "UPDATE shipment SET last_event_at = ?, updated_at = ? WHERE id = ?",
            [(t, t, i) for t, i in zip(stamps(len(ids)), ids.tolist(), strict=True)],
        )
        counts["scans on stalled parcels"] = cur.rowcount
        ofd = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM shipment WHERE status = 'out_for_delivery' ORDER BY id"
            )
        ]
        ids = rng.choice(ofd, min(len(ofd), round(parcels * 0.001)), replace=False)
        cur = conn.executemany(
            "UPDATE shipment SET status = 'delivered', delivered_at = ?, last_event_at = ?,"
            " updated_at = ? WHERE id = ?",
            [(t, t, t, i) for t, i in zip(stamps(len(ids)), ids.tolist(), strict=True)],
        )
        counts["deliveries"] = cur.rowcount
        waiting = [
            r[0]
            for r in conn.execute("SELECT id FROM sales_order WHERE shipped_at IS NULL ORDER BY id")
        ]
        ids = rng.choice(waiting, min(len(waiting), round(parcels * 0.0002)), replace=False)
        shipped = [(t, i) for t, i in zip(stamps(len(ids)), ids.tolist(), strict=True)]
        conn.executemany("UPDATE sales_order SET shipped_at = ?, updated_at = ? WHERE id = ?",
                         [(t, t, i) for t, i in shipped])  # fmt: skip
        conn.executemany(
            "INSERT INTO shipment (id, order_id, platform, shop, warehouse, province, city,"
            " address, shipped_at, status, carrier, tracking_number, content_hash, order_count,"
            " created_at, updated_at) SELECT id, order_id, platform, shop, warehouse, province,"
            " city, address, ?, 'label_created', 'zto', ?, '', 1, ?, ? FROM sales_order"
            " WHERE id = ?",
            [(t, f"8{i * SCRAMBLE % 10**11:011d}", t, t, i) for t, i in shipped],
        )
        cur = conn.executemany(
            "INSERT INTO order_parcel (sales_order_id, shipment_id, linked_at) VALUES (?, ?, ?)",
            [(i, i, t) for t, i in shipped],
        )
        counts["shipments"] = cur.rowcount
        # Poll answers with nothing new still move last_polled_at (a watched column): enough
        # of them that the parcels due or changed come to CHANGED_SHARE of the book.
        marked = conn.execute("SELECT count(DISTINCT shipment_id) FROM detect_dirty").fetchone()
        due = conn.execute(
            "SELECT count(*) FROM shipment WHERE due_at <= ? OR due_at IS NULL", (end_us,)
        ).fetchone()
        wanted = max(0, round(parcels * CHANGED_SHARE) - int(marked[0]) - int(due[0]))
        ids = (rng.choice(parcels, min(parcels, wanted), replace=False) + 1).tolist()
        cur = conn.executemany(
            "UPDATE shipment SET last_polled_at = ? WHERE id = ?",
            [(t, i) for t, i in zip(stamps(len(ids)), ids, strict=True)],
        )
        counts["poll answers with nothing new"] = cur.rowcount
    return counts


# --- the naive baseline ------------------------------------------------------------------


def one_row_frame(shipment: Shipment | None) -> pd.DataFrame:
    """The parcel as detection's store read would hand it over, from the ORM object (no rows
    for an order without a parcel)."""
    data: dict[str, Any] = {}
    for column in PARCEL_COLUMNS:
        values = [] if shipment is None else [
            shipment.id if column == "shipment_id" else getattr(shipment, column)
        ]  # fmt: skip
        data[column] = (
            pd.Series(values, dtype="datetime64[us, UTC]") if column in TIME_COLUMNS else values
        )
    return pd.DataFrame(data)


def one_row_order_frame(order: SalesOrder) -> pd.DataFrame:
    """The unshipped order as detection's order read would hand it over."""
    data: dict[str, Any] = {}
    for column in ORDER_COLUMNS:
        value = order.id if column == "sales_order_id" else getattr(order, column)
        data[column] = (
            pd.Series([value], dtype="datetime64[us, UTC]")
            if column in ORDER_TIME_COLUMNS
            else [value]
        )
    data |= {"shipment_id": [pd.NA], "carrier": [None], "tracking_number": [None]}
    return pd.DataFrame(data)


def _plain(value: Any) -> Any:
    return None if value is None or (not isinstance(value, dict) and pd.isna(value)) else value


def naive_upsert(session: Session, row_id: int, found: pd.DataFrame, now: datetime) -> int:
    """Bring one order's and its parcel's alerts in line (both have the id `row_id` in the
    bench's book), one ORM statement at a time. Returns alerts opened."""
    stamp = to_micros(now)
    resolved = AlertState.RESOLVED.value
    opened = 0
    detected: set[str] = set()

    def record(alert: Alert, action: str, to_state: str | None, note: str | None = None) -> None:
        assert alert.id is not None
        session.add(
            AlertEvent(
                alert_id=alert.id,
                at=now,
                actor="system",
                action=action,
                to_state=to_state,
                severity=alert.severity,
                note=note,
            )
        )
        if action in ("opened", "escalated", "resolved"):
            session.add(
                OutboxMessage(
                    alert_id=alert.id,
                    event=action,
                    payload=alert_payload(alert.model_dump(), action),
                    idempotency_key=f"alert-{alert.id}-{action}-{stamp}",
                    created_at=now,
                    available_at=now,
                )
            )

    for row in found.to_dict("records"):
        fp = str(row["fingerprint"])
        detected.add(fp)
        since = pd.Timestamp(row["since"]).to_pydatetime()
        alert = session.exec(
            select(Alert).where(Alert.fingerprint == fp, Alert.state != resolved)
        ).first()
        if alert is None:
            alert = Alert(
                fingerprint=fp,
                kind=str(row["kind"]),
                severity=str(row["severity"]),
                state=AlertState.OPEN.value,
                shipment_id=_plain(row["shipment_id"]),
                sales_order_id=_plain(row["sales_order_id"]),
                order_id=_plain(row["order_id"]),
                tracking_number=_plain(row["tracking_number"]),
                carrier=_plain(row["carrier"]),
                warehouse=_plain(row["warehouse"]),
                province=_plain(row["province"]),
                platform=_plain(row["platform"]),
                since=since,
                opened_at=now,
                updated_at=now,
                detail=row["detail"],
            )
            session.add(alert)
            session.flush()
            record(alert, "opened", AlertState.OPEN.value)
            opened += 1
        elif alert.severity != row["severity"] or alert.since != since:
            old = alert.severity
            alert.severity, alert.since, alert.updated_at = str(row["severity"]), since, now
            session.add(alert)
            if old != alert.severity:
                record(alert, "escalated" if old == "warning" else "deescalated", None)
    mine = (Alert.shipment_id == row_id) | (Alert.sales_order_id == row_id)  # type: ignore[operator]
    for alert in session.exec(select(Alert).where(mine, Alert.state != resolved)).all():
        if alert.fingerprint not in detected:
            alert.state, alert.resolved_at, alert.updated_at = resolved, now, now
            alert.resolution = Resolution.CLEARED.value
            session.add(alert)
            record(alert, "resolved", resolved, alert.resolution)
    return opened


@dataclass
class NaiveResult:
    parcels: int
    seconds: float
    exceptions: int
    opened: int
    stopped_early: bool
    split: dict[str, float]


def run_naive(engine: Engine, config: Config, sample: int, budget: float) -> NaiveResult:
    """Per parcel: session.get, the rules on a one-row frame, ORM upserts; commit per 100.
    Stops at the first commit past `budget` seconds."""
    exceptions = opened = done = 0
    split = dict.fromkeys(("load", "rules", "upsert + commit"), 0.0)
    started = time.perf_counter()
    with Session(engine) as session:
        for row_id in range(1, sample + 1):
            mark = time.perf_counter()
            order = session.get(SalesOrder, row_id)
            if order is None:
                continue
            shipment = session.get(Shipment, row_id)
            frame = one_row_frame(shipment)
            orders = one_row_order_frame(order) if order.shipped_at is None else None
            split["load"] += time.perf_counter() - mark
            mark = time.perf_counter()
            found = with_fingerprints(evaluate(frame, NOW, config, orders=orders))
            split["rules"] += time.perf_counter() - mark
            mark = time.perf_counter()
            exceptions += len(found)
            opened += naive_upsert(session, row_id, found, NOW)
            done += 1
            if done % 100 == 0:
                session.commit()
            split["upsert + commit"] += time.perf_counter() - mark
            if done % 100 == 0 and time.perf_counter() - started > budget and done < sample:
                break
        mark = time.perf_counter()
        session.commit()
        split["upsert + commit"] += time.perf_counter() - mark
    seconds = time.perf_counter() - started
    return NaiveResult(done, seconds, exceptions, opened, done < sample, split)


# --- reporting ---------------------------------------------------------------------------


class Stopwatch:
    """Times the steps inside a tick by wrapping module-level functions that run_tick and
    evaluate look up at call time. Only reads the clock; `restore` puts the originals back."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self._patched: list[tuple[Any, str, Any]] = []

    def _timed(self, label: str, function: Any) -> Any:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.totals[label] = self.totals.get(label, 0.0) + time.perf_counter() - start

        return timed

    def wrap(self, module: Any, name: str, label: str) -> None:
        original = getattr(module, name, None)
        if original is not None:
            self._patched.append((module, name, original))
            setattr(module, name, self._timed(label, original))

    def install(self) -> None:
        for module, name, label in (
            (detection, "incident_baseline", "rules: incident baseline query"),
            (detection, "load_health", "rules: carrier health query"),
            (detection, "evaluate", "rules: evaluate"),
            (detection, "with_their_orders", "rules: orders of shared parcels"),
            (tick, "with_fingerprints", "rules: fingerprints"),
            (tick, "alerts_to_plan", "plan: read open alerts"),
            (tick, "plan", "plan: lifecycle.plan"),
            (tick, "_alert_rows", "write: alert rows from the frame"),
            (tick, "alert_payload", "write: outbox payloads"),
            (tick, "_alerts_by_id", "write: re-read changed alerts"),
            (incremental, "_subject_alerts", "plan: read open alerts of the judged"),
            (incremental, "plan", "plan: lifecycle.plan"),
            (incremental, "with_fingerprints", "rules: fingerprints"),
            (incremental, "load_due_parcels", "read: due or changed parcels"),
            (incremental, "load_due_orders", "read: due or changed orders"),
            (incremental, "refresh_context", "read: config and lane fingerprints"),
            (incremental, "read_marks", "read: changed-set marks"),
            (due_rules, "parcel_due", "rules: due moments"),
            (due_rules, "order_due", "rules: due moments of orders"),
            (incremental, "write_due", "write: due moments"),
            (detection, "incident_members", "rules: incident members"),
            (incremental, "cell_changes", "rules: incident cells of the judged"),
            (incremental, "write_changes", "write: incident cells"),
            (incremental, "check_cells", "plan: incident cells checked"),
            (carrier_alerts, "judged_incidents", "incidents: from the cells"),
            (carrier_alerts, "plan", "incidents: lifecycle.plan"),
        ):
            self.wrap(module, name, label)
        self.wrap(rules, "judge_cells", "rules: incidents over the book's cells")
        self.wrap(rules, "carrier_api_failing", "rules: evaluate: carrier_api_failing")
        for group in ("ORDER_RULES", "PARCEL_RULES"):
            original = getattr(rules, group)
            self._patched.append((rules, group, original))
            setattr(rules, group, tuple(
                self._timed(f"rules: evaluate: {rule.__name__}", rule) for rule in original
            ))  # fmt: skip

    def restore(self) -> None:
        for module, name, original in reversed(self._patched):
            setattr(module, name, original)
        self._patched.clear()

    def take(self) -> dict[str, float]:
        totals, self.totals = self.totals, {}
        return totals


def peak_rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # KiB on Linux


BASELINE_SCRIPT = """
import json, resource, sys, time
from datetime import datetime
from monitor.config import parse_config
from monitor.daemon.tick import run_tick
from monitor.detection import BaselineCache
from monitor.store import frames
from monitor.store.db import make_engine
url, moment, warehouses = sys.argv[1], datetime.fromisoformat(sys.argv[2]), json.loads(sys.argv[3])
config = parse_config({"database": {"url": url}, "warehouses": warehouses}, "<bench>")
engine = make_engine(url)
started = time.perf_counter()
result = run_tick(engine, config, moment, BaselineCache())
wall = time.perf_counter() - started
reader = frames.reader_peak_rss_mib()
print(json.dumps({"wall": wall, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "reader": reader, "exceptions": result.exceptions, "opened": result.opened,
                  "resolved": result.resolved}))
"""


def run_baseline(code: Path, database: Path, moment: datetime) -> dict[str, Any]:
    """The earlier checkout's full tick on this store, in a fresh process (its own imports,
    its own SQLite reader), as the daemon would run it once per tick."""
    import json
    import subprocess

    environment = {**os.environ, "PYTHONPATH": str(code.resolve())}
    answer = subprocess.run(
        [sys.executable, "-c", BASELINE_SCRIPT, f"sqlite:///{database}", moment.isoformat(),
         json.dumps(list(WAREHOUSES))],
        env=environment, capture_output=True, text=True, check=True, cwd=str(code),
    )  # fmt: skip
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


def reset_peak_rss(pid: int | None) -> bool:
    """Start a process's high-water mark afresh (Linux: 5 to /proc/PID/clear_refs), so that the
    steady ticks' peak is not the build's or the first tick's."""
    if pid is None:
        return False
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def print_tick(
    title: str, wall: float, tick: TickResult, parcels: int, steps: dict[str, float]
) -> None:
    print(f"{title}: {wall:.2f} s wall")
    for stage in ("read", "rules", "plan", "write", "incidents"):
        if stage not in tick.timings:  # the full tick judges incidents among its rules
            continue
        seconds = tick.timings[stage]
        print(f"  {stage:<9} {seconds:6.2f} s  ({100 * seconds / wall:4.1f} %)")
        inner = {k.split(": ", 1)[1]: v for k, v in steps.items() if k.startswith(stage + ": ")}
        for step, took in sorted(inner.items(), key=lambda kv: -kv[1]):
            if step.startswith("evaluate: "):
                continue
            print(f"    {step:<40} {took:6.2f} s")
            if step == "evaluate":
                parts = {
                    k.split(": ", 1)[1]: v for k, v in inner.items() if k.startswith("evaluate: ")
                }
                for rule, spent in sorted(parts.items(), key=lambda kv: -kv[1]):
                    print(f"      {rule:<38} {spent:6.2f} s")
                rest = took - sum(parts.values())
                print(f"      {'(concat, dedup, sort)':<38} {rest:6.2f} s")
    share = 100 * tick.exceptions / parcels
    print(f"  exceptions {tick.exceptions:,} ({share:.2f} % of parcels)")
    print(
        f"  alerts: opened {tick.opened:,}, escalated {tick.escalated:,}, "
        f"de-escalated {tick.deescalated:,}, resolved {tick.resolved:,}"
    )


def kinds_after_first_tick(engine: Engine) -> list[tuple[str, str, int]]:
    with Session(engine) as session:
        rows = session.exec(
            select(Alert.kind, Alert.severity, func.count())
            .group_by(Alert.kind, Alert.severity)
            .order_by(func.count().desc())
        ).all()
    return [(str(k), str(s), int(n)) for k, s, n in rows]


def alerts_for_first(engine: Engine, parcels: int) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(Alert)
                .where(Alert.shipment_id <= parcels, Alert.opened_at == NOW)
            ).one()
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=1_000_000, help="active parcels")
    parser.add_argument(
        "--naive-sample", type=int, default=20_000, help="parcels in the ORM-loop baseline"
    )
    parser.add_argument(
        "--naive-budget",
        type=float,
        default=300.0,
        help="seconds: stop the ORM loop early (and say so) when the sample would take longer",
    )
    parser.add_argument(
        "--db", type=Path, help="where to build the database (default: a new temporary folder)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--baseline-code",
        type=Path,
        help="a checkout of an earlier parcelwatch: its full tick is timed on the same store "
        "at the same moment, after the steady phase, in a process of its own",
    )
    args = parser.parse_args(argv)
    if args.parcels < 1 or args.naive_sample < 100:
        parser.error("--parcels must be at least 1 and --naive-sample at least 100")
    args.naive_sample = min(args.naive_sample, args.parcels)
    return args


def database_paths(args: argparse.Namespace) -> tuple[Path, Path, Path | None]:
    """(main database, naive-sample database, temporary folder to remove or None)."""
    if args.db is None:
        folder = Path(tempfile.mkdtemp(prefix="parcelwatch-bench-"))
        return folder / "bench.db", folder / "bench-naive.db", folder
    main = args.db.resolve()
    naive = main.with_name(main.stem + "-naive" + main.suffix)
    for path in (main, naive):
        if path.exists():
            sys.exit(f"{path} already exists: remove it or choose another --db")
    main.parent.mkdir(parents=True, exist_ok=True)
    return main, naive, None


def remove_databases(paths: tuple[Path, ...], folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for path in paths:
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            name.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_started = time.perf_counter()
    main_db, naive_db, folder = database_paths(args)
    try:
        report(args, main_db, naive_db)
    finally:
        frames._reader.close()  # the long-lived SQLite reader child, so it is reaped
        if args.keep:
            print(f"databases kept: {main_db} and {naive_db}")
        else:
            remove_databases((main_db, naive_db), folder)
    print(f"total run time: {time.perf_counter() - run_started:.1f} s")


def report(args: argparse.Namespace, main_db: Path, naive_db: Path) -> None:
    n = args.parcels
    print("parcelwatch detection benchmark")
    print(
        f"machine: {os.cpu_count()} CPUs; Python {python_platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, pandas {pd.__version__}, numpy {np.__version__}"
    )
    print(f"now: {NOW:%Y-%m-%d %H:%M} {NOW.tzinfo} ({NOW.astimezone(UTC):%H:%M} UTC); seed {SEED}")

    mark = time.perf_counter()
    built = build(main_db, naive_db, n, args.naive_sample)
    build_seconds = time.perf_counter() - mark
    size = main_db.stat().st_size / MIB
    print(
        f"data build: {n:,} parcels (+ {args.naive_sample:,} in the naive-sample database) in "
        f"{build_seconds:.1f} s: schema {built['schema']:.1f} s, generate {built['generate']:.1f} s"
        f", insert {built['insert']:.1f} s; database {size:.0f} MiB  [not part of the target]"
    )
    print(f"book: {book_mix(main_db)}")
    rss_build = peak_rss_mib(resource.RUSAGE_SELF)
    print(f"peak RSS, this process, after the build: {rss_build:.0f} MiB")

    config = make_bench_config(f"sqlite:///{main_db}")
    engine = make_engine(f"sqlite:///{main_db}")
    print()
    stopwatch = Stopwatch()
    stopwatch.install()
    mark = time.perf_counter()
    baselines = BaselineCache()  # as the daemon keeps one: the 28-day rate, hourly
    first = run_tick(engine, config, NOW, baselines)
    first_wall = time.perf_counter() - mark
    print_tick(
        "first tick (empty alert queue, starts the SQLite reader)",
        first_wall,
        first,
        n,
        stopwatch.take(),
    )
    print("exceptions by kind (first tick = alerts opened):")
    for kind, severity, count in kinds_after_first_tick(engine):
        print(f"  {kind:<24} {severity:<9} {count:>8,}  ({100 * count / n:.2f} % of parcels)")

    mark = time.perf_counter()
    primed = run_incremental_tick(engine, config, NOW, baselines)
    primed_wall = time.perf_counter() - mark
    print_tick(
        f"first incremental tick (every row due once: {primed.parcels:,} parcels and "
        f"{primed.orders:,} orders judged, their due moments written)  [not part of the target]",
        primed_wall, primed, n, stopwatch.take(),
    )  # fmt: skip

    later = NOW + STEADY_AFTER
    # The steady phase's own peaks: this process's high-water mark starts afresh, and so does
    # the SQLite reader (restarted: an allocator keeps what the first ticks' big reads took).
    frames._reader.close()
    frames.read_frame(engine, "SELECT 1 AS started")  # the daemon's reader runs already
    steady_peaks = reset_peak_rss(os.getpid())
    mark = time.perf_counter()
    traffic = five_minutes_of_traffic(main_db, n, later)
    applied = ", ".join(f"{v:,} {k}" for k, v in traffic.items())
    print(f"\nbetween the ticks: {applied} ({time.perf_counter() - mark:.2f} s, not timed)")
    mark = time.perf_counter()
    steady = run_incremental_tick(engine, config, later, baselines)
    steady_wall = time.perf_counter() - mark
    share = 100 * (steady.parcels + steady.orders) / n
    print_tick(
        f"steady incremental tick (+5 min): {steady.parcels:,} parcels and {steady.orders:,} "
        f"orders due or changed ({share:.2f} % of the book)",
        steady_wall, steady, n, stopwatch.take(),
    )  # fmt: skip
    mark = time.perf_counter()
    full = reconcile(engine, config, later, baselines)
    full_wall = time.perf_counter() - mark
    print_tick(
        "full reconciliation (+5 min: an incremental tick, then the full tick over the book)",
        full_wall, full, n, stopwatch.take(),
    )  # fmt: skip
    print(f"  differences the reconciliation repaired: {full.differences:,}")
    stopwatch.restore()
    engine.dispose()
    steady_rss = frames.high_water_mib(os.getpid()) if steady_peaks else None
    steady_reader = frames.reader_peak_rss_mib() if steady_peaks else None
    if steady_rss is not None:
        print(
            f"\npeak RSS of the steady phase (incremental tick + full reconciliation): this "
            f"process {steady_rss:.0f} MiB, the SQLite reader {steady_reader or 0:.0f} MiB"
        )
    if args.baseline_code is not None:
        old = run_baseline(args.baseline_code, main_db, later)
        print(
            f"baseline: the earlier checkout's full tick on the same store at the same moment: "
            f"{old['wall']:.2f} s wall, peak RSS {old['rss']:.0f} MiB + SQLite reader "
            f"{old['reader'] or 0:.0f} MiB; {old['exceptions']:,} exceptions, "
            f"{old['opened']:,} opened, {old['resolved']:,} resolved"
        )

    rss_ticks = peak_rss_mib(resource.RUSAGE_SELF)
    rss_reader = frames.reader_peak_rss_mib()
    frames._reader.close()  # reap the reader so RUSAGE_CHILDREN includes it
    rss_children = peak_rss_mib(resource.RUSAGE_CHILDREN)
    print()
    print(f"peak RSS, this process (RUSAGE_SELF), since the steady phase: {rss_ticks:.0f} MiB")
    print(
        f"peak RSS, children (RUSAGE_CHILDREN; the kernel counts the parent image the reader "
        f"was spawned from): {rss_children:.0f} MiB"
    )
    if rss_reader is not None:
        print(f"peak RSS, the SQLite reader process itself (its VmHWM): {rss_reader:.0f} MiB")

    naive_engine = make_engine(f"sqlite:///{naive_db}")
    naive_config = make_bench_config(f"sqlite:///{naive_db}")
    result = run_naive(naive_engine, naive_config, args.naive_sample, args.naive_budget)
    naive_engine.dispose()
    per_parcel = result.seconds / max(result.parcels, 1)
    extrapolated = per_parcel * n
    print()
    if result.stopped_early:
        print(
            f"naive ORM loop: measured {result.parcels:,} of the {args.naive_sample:,}-parcel "
            f"sample (stopped at the {args.naive_budget:.0f} s budget)"
        )
    print(
        f"naive ORM loop: {result.parcels:,} parcels in {result.seconds:.1f} s "
        f"({1000 * per_parcel:.2f} ms per parcel); {result.exceptions:,} exceptions, "
        f"{result.opened:,} alerts opened"
    )
    print(
        "  per parcel: "
        + ", ".join(
            f"{k} {1000 * v / max(result.parcels, 1):.2f} ms" for k, v in result.split.items()
        )
    )
    print(
        f"  same parcels in the vectorised first tick: {alerts_for_first(engine, result.parcels):,}"
        " parcel alerts opened (carrier incidents need the whole book)"
    )
    print(f"naive ORM loop extrapolated to {n:,} parcels: {extrapolated:,.0f} s")
    print(
        f"ratio naive (extrapolated) / vectorised full reconciliation: "
        f"{extrapolated / full_wall:,.0f}x"
    )
    print(
        f"ratio naive (extrapolated) / incremental steady tick: {extrapolated / steady_wall:,.0f}x"
    )
    print(f"ratio naive (extrapolated) / vectorised first tick: {extrapolated / first_wall:,.0f}x")
    print(
        f"peak RSS, this process, whole run incl. naive loop: "
        f"{peak_rss_mib(resource.RUSAGE_SELF):.0f} MiB"
    )

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print(
        f"target {1000 * INCREMENTAL_TARGET_SECONDS:.0f} ms: incremental tick at {share:.2f} % "
        f"due or changed {1000 * steady_wall:.0f} ms "
        f"({verdict(steady_wall <= INCREMENTAL_TARGET_SECONDS)})"
    )
    print(
        f"target {TARGET_SECONDS:.1f} s: full reconciliation {full_wall:.2f} s "
        f"({verdict(full_wall <= TARGET_SECONDS)}), {full.differences} differences "
        f"({verdict(full.differences == 0)})"
    )
    if steady_rss is not None:
        biggest = max(steady_rss, steady_reader or 0.0)
        print(
            f"target {RSS_TARGET_MIB} MiB: peak RSS of the steady phase {steady_rss:.0f} MiB, "
            f"SQLite reader {steady_reader or 0:.0f} MiB ({verdict(biggest <= RSS_TARGET_MIB)})"
        )


if __name__ == "__main__":
    main()
