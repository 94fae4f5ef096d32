"""Carrier answers into the store (monitor/ingest/tracking.py): events stored once, state that
only moves forward, unknown numbers reported."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine, func, select

from carriers.status import ParcelStatus
from monitor.ingest.tracking import apply_updates
from monitor.store.models import TrackingEvent
from tests.support.fake_carrier import FakeAdapter, scan
from tests.support.tracking import JOURNEY, at, events, seed, shipment


def test_events_are_stored_once_and_state_only_moves_forward(engine: Engine) -> None:
    now = at("2026-11-21 10:00")
    seed(engine, now)
    fake = FakeAdapter(timelines={"730001": JOURNEY})
    apply_updates(engine, [fake.update_for("730001")], now)
    apply_updates(engine, [fake.update_for("730001", source="push")], now)  # same again
    assert len(events(engine)) == 3
    s = shipment(engine)
    assert (s.status, s.picked_up_at, s.last_event_at) == (
        "in_transit", at("2026-11-20 15:00"), at("2026-11-21 09:00"),
    )  # fmt: skip

    # An older answer arriving late adds nothing to the state.
    stale = FakeAdapter(timelines={"730001": JOURNEY[:1]})
    apply_updates(engine, [stale.update_for("730001")], now)
    assert shipment(engine).status == "in_transit"

    delivered = [
        *JOURNEY,
        scan(at("2026-11-21 16:00"), ParcelStatus.DELIVERED, "已签收，签收人：本人"),
    ]
    apply_updates(engine, [FakeAdapter(timelines={"730001": delivered}).update_for("730001")], now)
    s = shipment(engine)
    assert (s.status, s.delivered_at, s.next_poll_at) == ("delivered", at("2026-11-21 16:00"), None)
    assert events(engine)[0].raw_text == "快件已被【中通快递杭州西湖区网点】揽收"


def test_answers_about_one_parcel_in_one_batch_never_move_it_back(engine: Engine) -> None:
    """Two pushes of one burst about the same parcel share a transaction, the newer first:
    the older one adds no event and no state, and the delivery is announced once."""
    now = at("2026-11-21 18:00")
    seed(engine, now)
    delivered = [
        *JOURNEY,
        scan(at("2026-11-21 16:00"), ParcelStatus.DELIVERED, "已签收，签收人：本人"),
    ]
    newer = FakeAdapter(timelines={"730001": delivered}).update_for("730001", source="push")
    older = FakeAdapter(timelines={"730001": JOURNEY[:2]}).update_for("730001", source="push")
    apply_updates(engine, [newer, older], now)
    s = shipment(engine)
    assert (s.status, s.last_event_at, s.delivered_at) == (
        "delivered", at("2026-11-21 16:00"), at("2026-11-21 16:00"),
    )  # fmt: skip
    assert s.picked_up_at == at("2026-11-20 15:00")
    assert len(events(engine)) == 4


def test_unknown_numbers_are_reported_not_stored(engine: Engine) -> None:
    result = apply_updates(engine, [FakeAdapter().update_for("nope")], at("2026-11-21 10:00"))
    assert result.unknown == ["nope"] and events(engine) == []


@pytest.mark.parametrize("count", [1, 5])
def test_event_counts_match(engine: Engine, count: int) -> None:
    now = at("2026-11-21 10:00")
    seed(engine, now, count=count)
    fake = FakeAdapter(timelines={f"73{i + 1:04d}": JOURNEY for i in range(count)})
    apply_updates(engine, [fake.update_for(f"73{i + 1:04d}") for i in range(count)], now)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(TrackingEvent)).scalar()
    assert stored == 3 * count


def test_an_events_inferred_flag_is_stored_with_it(engine: Engine) -> None:
    """Whether a scan's status came from the carrier's code or from its words
    (docs/statuses.md "Events without a code") is kept on the stored event."""
    now = at("2026-11-21 10:00")
    seed(engine, now)
    coded, read = JOURNEY[0], replace(JOURNEY[1], raw_code=None, inferred=True)
    apply_updates(engine, [FakeAdapter(timelines={"730001": [coded, read]}).update_for("730001")],
                  now)  # fmt: skip
    assert [(e.raw_text, e.inferred) for e in events(engine)] == [
        (coded.raw_text, False), (read.raw_text, True),
    ]  # fmt: skip
