"""Maintenance windows: while a carrier stands still (Spring Festival, a weekly night off) the
stall and lost clocks of its parcels pause; other carriers' and provinces' parcels are judged
as before; a bad window in the config is an error naming the key."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from monitor.config import ConfigError
from monitor.rules import evaluate
from tests.support.config import make_config
from tests.support.parcels import at, of_kind, parcel_frame

HOUR = pd.Timedelta(hours=1)
LAST = "2026-01-27 10:00"  # the last scan, the day before the shutdown (Shanghai)
SPRING = {"carrier": "zto", "start": "2026-01-28T00:00:00", "end": "2026-01-29T00:00:00",
          "reason": "春节停运"}  # fmt: skip


def in_transit(carrier: str = "zto", province: str = "四川") -> pd.DataFrame:
    return parcel_frame({"status": "in_transit", "carrier": carrier, "province": province,
                         "shipped_at": "2026-01-26 09:00", "picked_up_at": "2026-01-26 10:00",
                         "last_event_at": LAST})  # fmt: skip


def kinds(frame: pd.DataFrame, now: pd.Timestamp, **config: Any) -> dict[str, list[Any]]:
    exceptions = evaluate(frame, now, make_config(**config))
    return {kind: of_kind(exceptions, kind) for kind in ("stalled", "lost")}


def test_a_dated_window_pauses_the_stall_clock_of_its_carrier() -> None:
    frame = in_transit()
    # 48 h after the last scan: stalled without a window; with one 24 h window in between,
    # it has been quiet 24 h of working time and is not stalled yet.
    when = at(LAST) + 48 * HOUR + HOUR
    assert kinds(frame, when)["stalled"]
    assert not kinds(frame, when, maintenance=[SPRING])["stalled"]
    [alert] = kinds(frame, at(LAST) + 72 * HOUR + HOUR, maintenance=[SPRING])["stalled"]
    assert alert["since"] == at(LAST) + 72 * HOUR  # 48 h allowance + 24 h paused
    assert alert["detail"]["paused_hours"] == 24.0


def test_other_carriers_and_provinces_are_judged_as_before() -> None:
    when = at(LAST) + 49 * HOUR
    assert kinds(in_transit("sto"), when, maintenance=[SPRING])["stalled"]
    only_guangdong = SPRING | {"province": "广东"}
    assert kinds(in_transit("zto", "四川"), when, maintenance=[only_guangdong])["stalled"]
    assert not kinds(in_transit("zto", "广东"), when, maintenance=[only_guangdong])["stalled"]


def test_the_lost_clock_pauses_too() -> None:
    long_stop = SPRING | {"start": "2026-01-28", "end": "2026-02-06"}  # ten whole days
    when = at(LAST) + 8 * 24 * HOUR
    assert kinds(in_transit(), when)["lost"]
    assert not kinds(in_transit(), when, maintenance=[long_stop])["lost"]
    [alert] = kinds(in_transit(), at(LAST) + 18 * 24 * HOUR, maintenance=[long_stop])["lost"]
    assert alert["since"] == at(LAST) + (7 + 10) * 24 * HOUR


def test_a_weekly_window_counts_each_night() -> None:
    nights = {"carrier": "zto", "weekdays": ["tue", "wed", "thu"], "from": "22:00", "to": "06:00"}
    # From Tuesday 27 Jan 10:00 to Thursday 29 Jan 12:00 (50 h): the nights of Tue and Wed
    # (22:00-06:00, 8 h each) fall in between: 34 h of working time, not yet 48.
    when = at(LAST) + 50 * HOUR
    assert kinds(in_transit(), when)["stalled"]
    assert not kinds(in_transit(), when, maintenance=[nights])["stalled"]


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"carrier": "zto"}, "either start and end"),
        ({"start": "2026-02-06", "end": "2026-01-28"}, "start before its end"),
        ({"weekdays": ["sun"], "from": "00:00"}, "weekdays, from and to"),
        ({"weekdays": ["someday"], "from": "00:00", "to": "06:00"}, "maintenance"),
        ({"province": "Atlantis", "start": "2026-01-28", "end": "2026-01-29"}, "province"),
    ],
)
def test_a_bad_window_names_its_key(window: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(maintenance=[window])
