"""Migrations on both backends (monitor/store/db.py), and the schema's one-open-alert-per-
fingerprint guarantee."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert, inspect
from sqlalchemy.exc import IntegrityError

from monitor.store.db import upgrade
from tests.support.store import ALERTS, NOW


def test_migrations_are_idempotent_and_complete(engine: Engine) -> None:
    upgrade(engine)  # a second run is a no-op
    tables = set(inspect(engine).get_table_names())
    assert {"shipment", "tracking_event", "alert", "alert_event", "outbox"} <= tables


def test_one_open_alert_per_fingerprint(engine: Engine) -> None:
    alert = {
        "fingerprint": "stalled:O1",
        "kind": "stalled",
        "severity": "warning",
        "state": "open",
        "since": NOW,
        "opened_at": NOW,
        "updated_at": NOW,
        "detail": {},
    }
    with engine.begin() as conn:
        conn.execute(insert(ALERTS), alert | {"state": "resolved"})
        conn.execute(insert(ALERTS), alert | {"state": "resolved"})  # history may repeat
        conn.execute(insert(ALERTS), alert)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(ALERTS), alert | {"state": "acknowledged"})
