"""unshipped_past_cutoff and the ship promise (monitor/rules/shipping.py; docs/rules.md
"Alert kinds and defaults").

Dates in the 2026 cases come from chinese_calendar's 2026 table: Mid-Autumn 09-25..27 off,
National Day 10-01..07 off, Sunday 09-20 and Saturday 10-10 make-up working days (调休).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pandas as pd
import pytest

from monitor import calendar as calendar_module
from monitor.calendar import ShippingCalendar
from monitor.config import parse_config
from monitor.rules import evaluate
from tests.support.parcels import at, of_kind, order_frame, parcel_frame

MINUTE = pd.Timedelta(minutes=1)
HOUR = pd.Timedelta(hours=1)
SHIPPING_KINDS = ("unshipped_past_cutoff", "ship_deadline_at_risk", "ship_deadline_breached")


def warehouse(
    id: str, timezone: str = "Asia/Shanghai", calendar: str = "cn", **extra: Any
) -> dict[str, Any]:
    fields = {"province": "浙江"} if timezone == "Asia/Shanghai" else {}
    return {
        "id": id,
        **fields,
        "timezone": timezone,
        "cutoff": "16:00",
        "ship_by": "18:00",
        "calendar": calendar,
        "closed": [],
        "open": [],
        **extra,
    }


WAREHOUSES = [
    warehouse("hz1"),
    warehouse("wd1", calendar="weekdays"),
    warehouse("xtra", closed=["2026-11-24"], open=["2026-11-28", "2026-10-03"]),
    warehouse("ber1", "Europe/Berlin", "weekdays"),
    warehouse("ber7", "Europe/Berlin", "every-day"),
    warehouse("la1", "America/Los_Angeles", "weekdays"),
    warehouse("la7", "America/Los_Angeles", "every-day"),
]
ZONES = {w["id"]: w["timezone"] for w in WAREHOUSES}
CONFIG = parse_config({"warehouses": WAREHOUSES}, "<test>")
PDD_24 = parse_config(
    {"warehouses": WAREHOUSES, "platforms": {"pinduoduo": {"ship_promise_hours": 24}}}, "<test>"
)


def judge(orders: pd.DataFrame, now: pd.Timestamp, config: Any = CONFIG) -> pd.DataFrame:
    """The order rules over `orders` (no parcels)."""
    return evaluate(parcel_frame(), now, config, orders=orders)


def alerts(frame: pd.DataFrame, now: pd.Timestamp, kind: str, config: Any = CONFIG) -> list[Any]:
    return of_kind(judge(frame, now, config), kind)


# (warehouse, paid at, due: ship_by on the due day), both in the warehouse's own zone.
DUE = [
    pytest.param("hz1", "2026-11-24 10:00", "2026-11-24 18:00", id="before-cutoff"),
    pytest.param("hz1", "2026-11-24 15:59", "2026-11-24 18:00", id="a-minute-before-cutoff"),
    pytest.param("hz1", "2026-11-24 16:00", "2026-11-25 18:00", id="at-cutoff"),
    pytest.param("hz1", "2026-11-24 17:00", "2026-11-25 18:00", id="after-cutoff"),
    pytest.param("hz1", "2026-11-28 10:00", "2026-11-30 18:00", id="saturday"),
    pytest.param("hz1", "2026-09-18 17:00", "2026-09-20 18:00", id="cn-make-up-sunday"),
    pytest.param("wd1", "2026-09-18 17:00", "2026-09-21 18:00", id="weekdays-friday-evening"),
    pytest.param("hz1", "2026-09-24 17:00", "2026-09-28 18:00", id="cn-mid-autumn"),
    pytest.param("hz1", "2026-09-30 17:00", "2026-10-08 18:00", id="cn-national-day"),
    pytest.param("hz1", "2026-10-03 10:00", "2026-10-08 18:00", id="cn-paid-on-a-holiday"),
    pytest.param("hz1", "2026-10-09 17:00", "2026-10-10 18:00", id="cn-make-up-saturday"),
    pytest.param("wd1", "2026-09-30 17:00", "2026-10-01 18:00", id="weekdays-ignore-holidays"),
    pytest.param("xtra", "2026-11-24 10:00", "2026-11-25 18:00", id="extra-closed-day"),
    pytest.param("xtra", "2026-11-28 10:00", "2026-11-28 18:00", id="extra-open-saturday"),
    pytest.param("xtra", "2026-10-02 17:00", "2026-10-03 18:00", id="extra-open-holiday"),
    # 15:00 in Berlin is 22:00 in Shanghai: past a Shanghai cutoff, not past Berlin's.
    pytest.param("ber1", "2026-11-24 15:00", "2026-11-24 18:00", id="berlin-before-cutoff"),
    pytest.param("ber1", "2026-11-24 16:30", "2026-11-25 18:00", id="berlin-after-cutoff"),
    # Friday 17:00 in Los Angeles is Saturday 09:00 in Shanghai.
    pytest.param("la1", "2026-11-27 17:00", "2026-11-30 18:00", id="los-angeles-friday"),
    # The cutoff is wall-clock time, also on the days the clocks change.
    pytest.param("ber7", "2026-03-29 16:30", "2026-03-30 18:00", id="berlin-spring-forward"),
    pytest.param("ber7", "2026-03-29 15:30", "2026-03-29 18:00", id="berlin-spring-forward-am"),
    pytest.param("ber7", "2026-10-25 15:30", "2026-10-25 18:00", id="berlin-fall-back"),
    pytest.param("la7", "2026-03-08 16:30", "2026-03-09 18:00", id="los-angeles-spring-forward"),
    pytest.param("la7", "2026-11-01 15:30", "2026-11-01 18:00", id="los-angeles-fall-back"),
]


@pytest.mark.parametrize(("warehouse_id", "paid", "due"), DUE)
def test_unshipped_past_cutoff_fires_at_ship_by_on_the_due_day(
    warehouse_id: str, paid: str, due: str
) -> None:
    zone = ZONES[warehouse_id]
    frame = order_frame({"warehouse": warehouse_id, "paid_at": at(paid, zone)})
    deadline = at(due, zone)
    assert alerts(frame, deadline - MINUTE, "unshipped_past_cutoff") == []
    [alert] = alerts(frame, deadline, "unshipped_past_cutoff")
    assert alert["severity"] == "warning"
    assert alert["since"] == deadline
    assert alert["detail"] == {
        "due_date": due[:10],
        "ship_by": deadline.tz_convert("UTC").isoformat(),
    }
    assert (alert["order_id"], alert["warehouse"]) == ("O1", warehouse_id)


def test_since_stays_at_the_deadline_while_the_order_waits() -> None:
    frame = order_frame({"paid_at": "2026-11-24 10:00"})
    [alert] = alerts(frame, at("2026-11-26 09:00"), "unshipped_past_cutoff")
    assert alert["since"] == at("2026-11-24 18:00")


def test_a_year_without_holiday_data_falls_back_to_weekends(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chinese_calendar has no 2027 table; the warning is once per year per process.
    monkeypatch.setattr(calendar_module, "_warned_years", set())
    caplog.set_level(logging.WARNING)
    frame = order_frame(
        {"paid_at": "2027-01-09 10:00"},  # Saturday
        {"paid_at": "2027-01-11 10:00"},  # Monday
        {"paid_at": "2027-01-12 17:00"},  # Tuesday, after the cutoff
    )
    first = alerts(frame, at("2027-01-13 18:00"), "unshipped_past_cutoff")
    again = alerts(frame, at("2027-01-14 09:00"), "unshipped_past_cutoff")
    expected = {
        ("O1", at("2027-01-11 18:00")),
        ("O2", at("2027-01-11 18:00")),
        ("O3", at("2027-01-13 18:00")),
    }
    assert {(a["order_id"], a["since"]) for a in first} == expected
    assert {(a["order_id"], a["since"]) for a in again} == expected
    calendar = ShippingCalendar("cn")
    assert not calendar.is_shipping_day(date(2027, 1, 9))
    assert calendar.is_shipping_day(date(2027, 1, 11))
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == "monitor.calendar"
    assert "2027" in warnings[0].getMessage()


# --- the platform's ship promise ------------------------------------------------------

PAID = "2026-11-24 10:00"


@pytest.mark.parametrize(
    ("waited", "kind", "severity", "since_hours"),
    [
        (36 * HOUR - MINUTE, None, None, None),
        (36 * HOUR, "ship_deadline_at_risk", "warning", 36),
        (46 * HOUR - MINUTE, "ship_deadline_at_risk", "warning", 36),
        (46 * HOUR, "ship_deadline_at_risk", "critical", 36),
        (48 * HOUR - MINUTE, "ship_deadline_at_risk", "critical", 36),
        (48 * HOUR, "ship_deadline_breached", "critical", 48),
        (100 * HOUR, "ship_deadline_breached", "critical", 48),
    ],
)
def test_ship_deadline_escalates_then_breaches(
    waited: pd.Timedelta, kind: str | None, severity: str | None, since_hours: int | None
) -> None:
    frame = order_frame({"paid_at": PAID, "amount": 200.0})
    result = judge(frame, at(PAID) + waited, CONFIG)
    found = result[result["kind"].str.startswith("ship_deadline")].to_dict("records")
    if kind is None:
        assert found == []
        return
    [alert] = found  # at_risk gives way to breached, never both
    assert (alert["kind"], alert["severity"]) == (kind, severity)
    assert alert["since"] == at(PAID) + since_hours * HOUR
    assert alert["detail"]["deadline"] == (at(PAID) + 48 * HOUR).tz_convert("UTC").isoformat()
    assert alert["detail"]["ship_promise_hours"] == 48


@pytest.mark.parametrize(
    ("platform", "amount", "penalty"),
    [
        ("taobao", 200.0, 10.0),  # 5 %
        ("taobao", 50.0, 5.0),  # 2.50, raised to the 5 ¥ floor
        ("taobao", 1000.0, 30.0),  # 50, capped at 30 ¥
        ("taobao", None, 5.0),  # no price: the floor
        ("tmall", 300.0, 15.0),
        ("pinduoduo", 1000.0, 3.0),  # flat 3 ¥
        ("jd", 200.0, None),  # no published rule
    ],
)
def test_breach_detail_estimates_the_penalty(
    platform: str, amount: float | None, penalty: float | None
) -> None:
    frame = order_frame({"platform": platform, "paid_at": PAID, "amount": amount})
    [alert] = alerts(frame, at(PAID) + 48 * HOUR, "ship_deadline_breached")
    assert alert["detail"]["penalty_estimate_yuan"] == penalty


def test_a_platform_promise_from_the_config_moves_the_breach() -> None:
    frame = order_frame(
        {"platform": "pinduoduo", "paid_at": PAID}, {"platform": "taobao", "paid_at": PAID}
    )
    before = judge(frame, at(PAID) + 24 * HOUR - MINUTE, PDD_24)
    assert not before["kind"].str.startswith("ship_deadline").any()
    [alert] = alerts(frame, at(PAID) + 24 * HOUR, "ship_deadline_breached", PDD_24)
    assert (alert["order_id"], alert["platform"]) == ("O1", "pinduoduo")
    assert alert["since"] == at(PAID) + 24 * HOUR
    assert alert["detail"]["ship_promise_hours"] == 24
    assert alerts(frame, at(PAID) + 24 * HOUR, "ship_deadline_at_risk", PDD_24) == []


def test_setting_a_platform_promise_keeps_its_penalty() -> None:
    frame = order_frame({"platform": "pinduoduo", "paid_at": PAID})
    [alert] = alerts(frame, at(PAID) + 24 * HOUR, "ship_deadline_breached", PDD_24)
    assert alert["detail"]["penalty_estimate_yuan"] == 3.0
    assert PDD_24.platforms.pinduoduo.fake_ship_penalty == 20


@pytest.mark.parametrize("uploaded", ["2026-11-24 11:00", "2026-11-24 09:30"])
def test_a_shipped_order_never_fires_a_shipping_rule(uploaded: str) -> None:
    """Shipped is the tracking number's upload, whatever the carrier has scanned since
    (docs/orders-and-parcels.md "When an order counts as shipped")."""
    frame = order_frame({"paid_at": PAID, "shipped_at": uploaded})
    for waited in (8 * HOUR, 36 * HOUR, 46 * HOUR, 100 * HOUR):
        result = judge(frame, at(PAID) + waited, CONFIG)
        assert not result["kind"].isin(SHIPPING_KINDS).any()


def test_the_platforms_own_deadline_wins_over_the_promise() -> None:
    """An export's 最晚发货时间 is the deadline; the warnings come as long before it as they
    would before a computed one (ship_risk 36 h of a 48 h promise: 12 h before)."""
    deadline = at(PAID) + 30 * HOUR
    frame = order_frame({"paid_at": PAID, "ship_deadline_at": deadline})
    assert alerts(frame, deadline - 12 * HOUR - MINUTE, "ship_deadline_at_risk") == []
    [risk] = alerts(frame, deadline - 12 * HOUR, "ship_deadline_at_risk")
    assert risk["since"] == deadline - 12 * HOUR
    [breach] = alerts(frame, deadline, "ship_deadline_breached")
    assert breach["since"] == deadline and breach["order_id"] == "O1"


def test_order_alerts_name_the_order_not_a_parcel() -> None:
    [alert] = alerts(order_frame({"paid_at": PAID}), at(PAID) + 48 * HOUR,
                     "ship_deadline_breached")  # fmt: skip
    assert alert["sales_order_id"] == 1 and pd.isna(alert["shipment_id"])
