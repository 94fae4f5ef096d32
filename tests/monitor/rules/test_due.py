"""Due moments (monitor/rules/due.py; docs/architecture.md "Incremental detection"): a row's
outcome under the rules never changes before its due moment, and the moment is the crossing
itself where the rules say so (stall then loss, the ship promise's steps, the cutoff on the
warehouse's calendar)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.clock import QUIET
from monitor.rules import evaluate
from monitor.rules.base import RuleContext
from monitor.rules.due import must_store, order_due, parcel_due
from tests.support.config import make_config
from tests.support.parcels import at, order_frame, parcel_frame

CONFIG = make_config()
HOUR = pd.Timedelta(hours=1)
BASE = at("2026-11-24 10:00")  # a Tuesday
STATUSES = ("awaiting_shipment", "label_created", "picked_up", "in_transit", "out_for_delivery",
            "available_for_pickup", "delivery_failed", "exception", "returning", "returned",
            "delivered", "unknown")  # fmt: skip


def _due(frame: pd.DataFrame, now: pd.Timestamp, orders: bool = False) -> pd.Series:
    ctx = RuleContext(frame, now, CONFIG)
    return order_due(ctx) if orders else parcel_due(ctx)


def test_a_stall_is_due_at_its_allowance_then_the_loss() -> None:
    last = BASE
    row = {"status": "in_transit", "shipped_at": last - 5 * HOUR, "picked_up_at": last - 4 * HOUR,
           "last_event_at": last, "province": "江苏", "warehouse": "gz1",
           "expected_delivery_at": last + 240 * HOUR}  # fmt: skip
    frame = parcel_frame(row)
    assert _due(frame, last + HOUR).iloc[0] == last + 48 * HOUR  # the in-transit allowance
    assert _due(frame, last + 48 * HOUR).iloc[0] == last + 48 * HOUR  # judged once more
    assert _due(frame, last + 49 * HOUR).iloc[0] == last + 7 * 24 * HOUR  # lost by silence
    assert _due(frame, last + 8 * 24 * HOUR).iloc[0] == last + 240 * HOUR  # then late


def test_an_order_is_due_at_each_step_of_its_promise() -> None:
    frame = order_frame({"paid_at": "2026-11-24 09:00", "platform": "taobao"})
    paid = at("2026-11-24 09:00")
    steps = [_due(frame, paid + HOUR, orders=True).iloc[0]]
    while steps[-1] < pd.Timestamp(QUIET):
        steps.append(_due(frame, steps[-1] + pd.Timedelta(seconds=1), orders=True).iloc[0])
    # The cutoff (18:00 the same day, paid before 16:00), then at risk, critical, breached.
    assert steps[0] == at("2026-11-24 18:00")
    assert steps[-2] == paid + 48 * HOUR  # the promise itself
    assert len(steps) == 5 and steps[-1] == pd.Timestamp(QUIET)


def _outcome(parcels: pd.DataFrame, orders: pd.DataFrame, now: pd.Timestamp) -> set[Any]:
    found = evaluate(parcels, now, CONFIG, orders=orders, incidents=False)
    return {
        (r.kind, r.severity, r.shipment_id if pd.notna(r.shipment_id) else None,
         r.sales_order_id if pd.notna(r.sales_order_id) else None, r.since)
        for r in found.itertuples(index=False)
    }  # fmt: skip


HOURS = st.one_of(st.none(), st.integers(-400, 60).map(lambda h: BASE + h * HOUR))
PARCEL = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "shipped_at": HOURS,
        "picked_up_at": HOURS,
        "last_event_at": HOURS,
        "expected_delivery_at": HOURS,
        "sub_reason": st.sampled_from((None, "lost", "damaged", "refused")),
        "province": st.sampled_from(("江苏", "新疆", "广东")),
        "warehouse": st.sampled_from(("hz1", "gz1")),
        "platform": st.sampled_from(("taobao", "pinduoduo", "jd")),
    }
)
ORDER = st.fixed_dictionaries(
    {
        "paid_at": st.integers(-120, 60).map(lambda h: BASE + h * HOUR),
        "ship_deadline_at": HOURS,
        "shipped_at": st.sampled_from((None, BASE - 30 * HOUR)),
        "warehouse": st.sampled_from(("hz1", "gz1")),
        "platform": st.sampled_from(("taobao", "pinduoduo", "douyin")),
    }
)


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(
    parcels=st.lists(PARCEL, min_size=1, max_size=3),
    orders=st.lists(ORDER, min_size=1, max_size=2),
    start=st.integers(0, 200),
    fractions=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=1),
)
def test_nothing_changes_before_the_due_moment(
    parcels: list[dict[str, Any]], orders: list[dict[str, Any]], start: int,
    fractions: list[float],
) -> None:  # fmt: skip
    p, o = parcel_frame(*parcels), order_frame(*orders)
    now = BASE + start * HOUR
    before = _outcome(p, o, now)
    horizon = pd.Timestamp(QUIET)
    for frame, key, is_order in ((p, "shipment_id", False), (o, "sales_order_id", True)):
        for position, due in enumerate(_due(frame, now, is_order)):
            subject = int(frame[key].iloc[position])
            end = (now + 60 * 24 * HOUR) if due >= horizon else due
            moments = [now + (end - now) * f for f in fractions]
            if end > now + pd.Timedelta(milliseconds=2):
                moments.append(end - pd.Timedelta(milliseconds=2))
            for moment in moments:
                if moment < now:
                    continue
                index = 3 if is_order else 2  # the subject's place in an outcome
                keep = {r for r in before if r[index] == subject}
                later = _outcome(p, o, pd.Timestamp(moment))
                got = {r for r in later if r[index] == subject}
                assert got == keep, (key, subject, now, due, moment)


def test_a_moment_is_stored_when_missing_come_or_earlier_never_when_later() -> None:
    now = BASE
    stored = pd.Series(
        [pd.NaT, now - HOUR, now - HOUR, now, now + 5 * HOUR, now + 5 * HOUR, now + 5 * HOUR],
        dtype="datetime64[us, UTC]",
    )
    due = pd.Series(
        [now + HOUR, now + 2 * HOUR, now - HOUR, now, now + HOUR, now + 5 * HOUR, now + 9 * HOUR],
        dtype="datetime64[us, UTC]",
    )
    written = must_store(stored, due, now).tolist()
    # new row; came and moved; came but judged at its crossing (the same moment); at the
    # crossing exactly; earlier; unchanged; later (the earlier stored moment is kept)
    assert written == [True, True, False, False, True, False, False]
