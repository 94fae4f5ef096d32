from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carriers.status import STATUS_NAMES_ZH
from monitor.calendar import ShippingCalendar
from monitor.config import PenaltiesConfig
from monitor.demo.penalties import penalty_sample, write_penalties
from monitor.demo.sample import (
    CARRIERS,
    DEMO_WAREHOUSES,
    HEADERS,
    PLATFORMS,
    generate_shop,
    write_csv,
)
from monitor.evidence.verdict import PenaltyKind
from monitor.geo import distance_band, normalize_province, province_from_address
from monitor.ingest.penalty_file import read_penalties

SHANGHAI = ZoneInfo("Asia/Shanghai")
TUESDAY_EVENING = datetime(2026, 11, 24, 20, 0, tzinfo=SHANGHAI)
SUNDAY_MORNING = datetime(2026, 11, 22, 9, 30, tzinfo=SHANGHAI)
TIME_COLUMNS = ("付款时间", "发货时间", "揽收时间", "签收时间", "最后更新时间")

TRACKING_FORMATS = {
    "中通快递": r"7\d{11}",
    "顺丰速运": r"SF\d{13}",
    "圆通速递": r"YT\d{13}",
    "极兔速递": r"JT\d{13}",
    "EMS": r"9\d{12}",
    "京东快递": r"JD\d{13}",
    "韵达快递": r"43\d{11}",
    "申通快递": r"77\d{10}",
    "德邦快递": r"DPK\d{12}",
}
MOVING = {"已揽收", "运输中", "派件中", "待取件", "派送失败"}
STALL_HOURS = {"已揽收": 24, "运输中": 48, "派件中": 24, "待取件": 72, "派送失败": 48}
DELAY_HOURS = {"same_province": 48, "adjacent": 72, "cross_region": 96, "remote": 168}
REPORTED = {
    "派送失败": "delivery_failed",
    "退回中": "returned",
    "已退签": "returned",
    "拒签": "rejected",
    "破损": "damaged",
}


@cache
def shop(now: datetime, seed: int = 7, orders: int = 3000) -> list[dict[str, str]]:
    return generate_shop(seed=seed, orders=orders, now=now)


def parse(value: str) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


def hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def exception_kinds(row: dict[str, str], now: datetime) -> set[str]:
    """The default rules (docs/rules.md "Alert kinds and defaults"), applied by hand to one
    exported row."""
    wh = next(w for w in DEMO_WAREHOUSES if w["id"] == row["仓库"])
    paid, shipped = parse(row["付款时间"]), parse(row["发货时间"])
    picked, last = parse(row["揽收时间"]), parse(row["最后更新时间"])
    status = row["物流状态"]
    assert paid is not None
    kinds: set[str] = set()
    if shipped is None:
        before_cutoff = paid.strftime("%H:%M") < wh["cutoff"]
        due = ShippingCalendar(wh["calendar"]).due_date(paid.date(), before_cutoff)
        ship_by = datetime.strptime(f"{due} {wh['ship_by']}", "%Y-%m-%d %H:%M")
        if ship_by.replace(tzinfo=SHANGHAI) <= now:
            kinds.add("unshipped_past_cutoff")
        return kinds
    if picked is None:
        if hours(now - shipped) >= 24:
            kinds.add("no_pickup_scan")
        return kinds
    assert last is not None
    if status in MOVING:
        quiet = hours(now - last)
        if quiet >= 7 * 24:
            kinds.add("lost")
        elif quiet >= STALL_HOURS[status]:
            kinds.add("stalled")
        band = distance_band(wh["province"], normalize_province(row["收货省份"]))
        if hours(now - picked) >= DELAY_HOURS[band]:
            kinds.add("delayed")
    if status in REPORTED:
        kinds.add(REPORTED[status])
    return kinds


def test_deterministic_for_a_seed() -> None:
    first = generate_shop(seed=11, orders=400, now=TUESDAY_EVENING)
    assert first == generate_shop(seed=11, orders=400, now=TUESDAY_EVENING)
    assert first != generate_shop(seed=12, orders=400, now=TUESDAY_EVENING)


def test_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone"):
        generate_shop(now=datetime(2026, 11, 24, 20, 0))


@pytest.mark.parametrize("now", [TUESDAY_EVENING, SUNDAY_MORNING])
def test_rows_are_well_formed(now: datetime) -> None:
    rows = shop(now)
    assert all(list(row) == HEADERS for row in rows)
    assert all(isinstance(value, str) for row in rows for value in row.values())
    # A few orders leave in two parcels (two rows, one order id), a few parcels carry a second
    # order of the same buyer (two rows, one tracking number); nothing repeats more.
    ids = Counter(row["订单编号"] for row in rows)
    numbers = Counter(row["快递单号"] for row in rows if row["快递单号"])
    split = [i for i, n in ids.items() if n > 1]
    merged = [t for t, n in numbers.items() if n > 1]
    assert max(ids.values()) == 2 and max(numbers.values()) == 2
    assert len(ids) == 3000 + len(merged)
    shipped = sum(1 for row in rows if row["快递单号"]) - len(split) - len(merged)
    assert 0.01 < len(split) / shipped < 0.06 and 0.005 < len(merged) / shipped < 0.04
    for number in merged:
        pair = [row for row in rows if row["快递单号"] == number]
        assert (
            pair[0]["收货地址"] == pair[1]["收货地址"]
            and pair[0]["订单编号"] != pair[1]["订单编号"]
        )
    prefixes = {name: prefix for name, prefix, _, _ in PLATFORMS}
    for row in rows:
        assert re.fullmatch(prefixes[row["平台"]] + r"\d{13}", row["订单编号"])
        assert row["仓库"] in {"hz1", "gz1", "cd1"}
        assert float(row["实付金额"]) > 0
        if row["快递单号"]:
            assert re.fullmatch(TRACKING_FORMATS[row["快递公司"]], row["快递单号"])


@pytest.mark.parametrize("now", [TUESDAY_EVENING, SUNDAY_MORNING])
def test_nothing_happens_after_now(now: datetime) -> None:
    start = now - timedelta(days=14)
    for row in shop(now):
        times = {column: parse(row[column]) for column in TIME_COLUMNS}
        assert all(t is None or t <= now for t in times.values()), row
        paid = times["付款时间"]
        assert paid is not None and paid > start - timedelta(seconds=1)
        chain = [times[c] for c in ("付款时间", "发货时间", "揽收时间", "最后更新时间")]
        present = [t for t in chain if t is not None]
        assert present == sorted(present), row


@pytest.mark.parametrize("now", [TUESDAY_EVENING, SUNDAY_MORNING])
def test_status_matches_timestamps(now: datetime) -> None:
    known_names = {name for names in STATUS_NAMES_ZH.values() for name in names}
    for row in shop(now):
        status = row["物流状态"]
        assert status in known_names
        shipped, picked = row["发货时间"], row["揽收时间"]
        delivered, last = row["签收时间"], row["最后更新时间"]
        if status == "待发货":
            assert not (row["快递公司"] or row["快递单号"] or shipped or picked or last), row
        elif status == "待揽收":
            assert row["快递单号"] and shipped and not (picked or delivered or last), row
        else:
            assert shipped and picked and last, row
        assert bool(delivered) == (status == "已签收"), row
        if delivered:
            assert delivered == last, row


def test_carrier_shares_follow_the_model() -> None:
    rows = generate_shop(seed=3, orders=20_000, now=TUESDAY_EVENING)
    counts = Counter(row["快递公司"] for row in rows if row["快递公司"])
    total = sum(counts.values())
    for carrier in CARRIERS:
        assert counts[carrier.name] / total == pytest.approx(carrier.share, abs=0.015)


def test_destinations_are_real_and_mostly_not_remote() -> None:
    rows = shop(TUESDAY_EVENING)
    provinces = Counter(normalize_province(row["收货省份"]) for row in rows)
    assert None not in provinces
    remote = sum(provinces[p] for p in ("新疆", "西藏", "青海", "甘肃", "宁夏", "内蒙古"))
    assert 0.01 < remote / len(rows) < 0.08
    for row in rows[:300]:
        province, city = province_from_address(row["收货地址"])
        assert province == normalize_province(row["收货省份"]), row["收货地址"]
        assert city is not None and row["收货城市"].startswith(city)


@pytest.mark.parametrize("now", [TUESDAY_EVENING, SUNDAY_MORNING])
def test_every_exception_kind_is_present(now: datetime) -> None:
    found = Counter(kind for row in shop(now) for kind in exception_kinds(row, now))
    expected = {
        "unshipped_past_cutoff",
        "no_pickup_scan",
        "stalled",
        "delayed",
        "lost",
        "delivery_failed",
        "returned",
        "rejected",
        "damaged",
    }
    assert expected <= set(found), found
    # An exception tail, not a disaster: most orders are fine.
    flagged = sum(1 for row in shop(now) if exception_kinds(row, now))
    assert flagged / 3000 < 0.12


def test_ship_clock_is_realistic() -> None:
    rows = shop(TUESDAY_EVENING)
    every_day = {w["id"] for w in DEMO_WAREHOUSES if w["calendar"] == "every-day"}
    waits = []
    for row in rows:
        paid, shipped = parse(row["付款时间"]), parse(row["发货时间"])
        if row["仓库"] in every_day and paid and shipped:
            waits.append(hours(shipped - paid))
    assert 5 < sum(waits) / len(waits) < 11  # docs/scorecard.md "Order side": mean about 8 h
    assert sum(w > 48 for w in waits) / len(waits) < 0.04


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_write_csv_round_trips(tmp_path: Path, encoding: str) -> None:
    rows = shop(TUESDAY_EVENING)[:200]
    path = tmp_path / "orders.csv"
    write_csv(rows, path, encoding=encoding)
    if encoding == "utf-8-sig":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == HEADERS
        assert list(reader) == rows


def test_the_penalty_sample_reads_back_and_charges_shipped_orders(tmp_path: Path) -> None:
    rows = shop(TUESDAY_EVENING)
    lines = penalty_sample(rows, seed=7, now=TUESDAY_EVENING)
    path = tmp_path / "penalties.csv"
    write_penalties(lines, path)
    read = read_penalties(path, PenaltiesConfig())
    assert read.errors == [] and read.unmapped_kinds == set()
    assert len(read.lines) == 41
    shipped = {r["订单编号"]: r for r in rows if r["发货时间"]}
    known = [line for line in read.lines if line.order_id in shipped]
    assert len(known) == 40  # and one order the shop does not hold
    assert {line.kind for line in read.lines} <= {PenaltyKind.LATE_SHIPMENT,
                                                  PenaltyKind.FAKE_SHIPMENT,
                                                  PenaltyKind.LATE_PICKUP}  # fmt: skip
    for line in known:
        assert line.charged_at is not None and line.charged_at < TUESDAY_EVENING
        assert line.platform != "other"
