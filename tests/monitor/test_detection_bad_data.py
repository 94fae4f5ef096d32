"""A store written before the edge checks may hold impossible times: detection skips those
parcels (logged, counted) and evaluates the rest, instead of failing every tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine

from monitor.daemon.tick import run_tick
from monitor.detection import detect
from tests.support.config import make_config
from tests.support.store import add_shipment

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
CONFIG = make_config()


def skipped() -> float:
    return REGISTRY.get_sample_value("parcelwatch_detection_skipped_parcels_total") or 0.0


@pytest.mark.parametrize(
    "poison",
    [
        {"paid_at": datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)},
        {"paid_at": datetime(1, 1, 2, tzinfo=UTC)},
        {
            "shipped_at": datetime(9999, 1, 1, tzinfo=UTC),
            "carrier": "zto",
            "tracking_number": "73",
            "status": "label_created",
        },
    ],
)
def test_one_impossible_parcel_does_not_stop_detection(
    engine: Engine, poison: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    add_shipment(engine, "POISON", **({"paid_at": NOW - timedelta(days=2)} | poison))
    add_shipment(engine, "LATE", paid_at=NOW - timedelta(days=3))  # never shipped: overdue
    before = skipped()
    exceptions = detect(engine, CONFIG, NOW)
    assert set(exceptions["order_id"]) == {"LATE"}
    assert skipped() - before == 1
    assert "impossible times" in caplog.text
    result = run_tick(engine, CONFIG, NOW)  # the write side too
    assert result.opened >= 1
