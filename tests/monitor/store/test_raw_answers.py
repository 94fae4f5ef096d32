"""Pruning the carrier bodies kept as received: it is due while a body is more than an hour
past the retention, as the table itself says, so a write whose transaction rolls back leaves
the pruning due for the next write instead of skipping it for an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from monitor.store.raw_answers import RawPush, answers_about, keep_raw, keep_raw_in, raw_answers
from monitor.store.tables import CARRIER_ANSWERS

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
RETENTION = timedelta(days=180)


def body(text: str, received_at: datetime, *numbers: str) -> RawPush:
    return RawPush("kuaidi100", {}, text.encode(), received_at, numbers=numbers)


def kept(engine: Engine) -> list[bytes]:
    return [r.body for r in raw_answers(engine, NOW - timedelta(days=3650))]


def test_a_rolled_back_write_leaves_the_pruning_due(engine: Engine) -> None:
    old = NOW - timedelta(days=200)
    keep_raw(engine, [body("old", old, "731")], old, RETENTION)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        keep_raw_in(conn, [body("lost", NOW, "732")], NOW, RETENTION)
        seen = conn.execute(select(func.count()).select_from(CARRIER_ANSWERS)).scalar_one()
        assert seen == 1  # pruned inside the transaction: only the new body
        raise RuntimeError("the rest of the batch failed")
    assert kept(engine) == [b"old"]  # neither the new body nor the pruning committed
    soon = NOW + timedelta(minutes=1)  # well within the hour
    keep_raw(engine, [body("next", soon, "733")], soon, RETENTION)
    assert kept(engine) == [b"next"]
    assert answers_about(engine, ["731"]) == {"731": []}  # its link went with it


def test_pruning_waits_until_a_body_is_an_hour_past_the_retention(engine: Engine) -> None:
    nearly = NOW - RETENTION - timedelta(minutes=30)
    barely = NOW - RETENTION + timedelta(minutes=10)
    keep_raw(engine, [body("nearly", nearly), body("barely", barely)], nearly, RETENTION)
    keep_raw(engine, [body("a", NOW)], NOW, RETENTION)
    assert kept(engine) == [b"nearly", b"barely", b"a"]  # half an hour past: not yet
    later = NOW + timedelta(minutes=45)  # "nearly" is an hour and a quarter past it now
    keep_raw(engine, [body("b", later)], later, RETENTION)
    assert kept(engine) == [b"a", b"b"]  # everything past the retention goes at once
