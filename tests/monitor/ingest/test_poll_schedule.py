"""When a parcel is polled next (monitor/ingest/poll_schedule.py): the pace by status, the
thresholds checked with the carrier before they are reported, and the API's floor."""

from __future__ import annotations

from datetime import timedelta

from monitor.ingest.poll_schedule import next_poll_at
from tests.support.tracking import at


def test_poll_planning() -> None:
    now = at("2026-11-21 10:00")
    values = {"no_pickup_h": 24.0, "stall_in_transit_h": 48.0, "stall_picked_up_h": 24.0}
    # Just before the no-pickup threshold, not hours after it.
    before_threshold = next_poll_at(status="label_created", shipped_at=at("2026-11-21 08:00"),
                                    last_scan_at=None, now=now, subscribed=False,
                                    thresholds=values)  # fmt: skip
    assert before_threshold == at("2026-11-21 14:00")  # the pace (4 h) comes first
    near = next_poll_at(status="label_created", shipped_at=at("2026-11-20 11:00"),
                        last_scan_at=None, now=now, subscribed=False, thresholds=values)  # fmt: skip
    assert near == at("2026-11-21 10:50")  # 24 h after shipping, minus 10 min
    pushed = next_poll_at(status="in_transit", shipped_at=at("2026-11-20 11:00"),
                          last_scan_at=at("2026-11-21 09:00"), now=now, subscribed=True,
                          thresholds=values)  # fmt: skip
    assert pushed == at("2026-11-23 08:50")  # safety net capped by the stall threshold
    assert next_poll_at(status="delivered", shipped_at=None, last_scan_at=None, now=now,
                        subscribed=False) is None  # fmt: skip
    assert next_poll_at(status="in_transit", shipped_at=now - timedelta(days=41),
                        last_scan_at=None, now=now, subscribed=False) is None  # fmt: skip
    floor = next_poll_at(status="out_for_delivery", shipped_at=now, last_scan_at=now, now=now,
                         subscribed=False, thresholds={"stall_out_for_delivery_h": 0.1})  # fmt: skip
    assert floor == now + timedelta(minutes=30)  # never more often than the API allows
