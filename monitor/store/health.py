"""Carrier API health: the last success and the failures since, per carrier.

Every replica writes here, so `carrier_api_failing` sees a carrier as failing only when
every call to it, from any replica, has failed for the whole window."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor.store.frames import read_frame
from monitor.store.tables import CARRIER_HEALTH

HEALTH = CARRIER_HEALTH
H = HEALTH.c


def _ensure_row(conn: object, carrier: str, now: datetime) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite  # type: ignore[attr-defined]
    conn.execute(  # type: ignore[attr-defined]
        dialect.insert(HEALTH)
        .values(carrier=carrier, consecutive_failures=0, updated_at=now)
        .on_conflict_do_nothing()
    )


def record_success(engine: Engine, carrier: str, now: datetime) -> None:
    with engine.begin() as conn:
        _ensure_row(conn, carrier, now)
        conn.execute(
            update(HEALTH)
            .where(H.carrier == carrier)
            .values(last_success_at=now, failing_since=None, consecutive_failures=0, updated_at=now)
        )


def record_failure(engine: Engine, carrier: str, now: datetime, error: str) -> None:
    with engine.begin() as conn:
        _ensure_row(conn, carrier, now)
        row = conn.execute(select(HEALTH).where(H.carrier == carrier)).one()
        conn.execute(
            update(HEALTH)
            .where(H.carrier == carrier)
            .values(
                last_failure_at=now,
                failing_since=row.failing_since or now,
                consecutive_failures=row.consecutive_failures + 1,
                last_error=error[:500],
                updated_at=now,
            )
        )


def load_health(engine: Engine) -> pd.DataFrame:
    return read_frame(
        engine,
        select(H.carrier, H.last_success_at, H.failing_since, H.consecutive_failures, H.last_error),
        ["last_success_at", "failing_since"],
    )
