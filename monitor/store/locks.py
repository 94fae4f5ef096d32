"""One replica at a time for the singleton jobs (detection, lane figures, the weekly
scorecard): a PostgreSQL session advisory lock, tried, never waited for, so a replica that
finds the lock taken just skips that tick. SQLite is one process by construction."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, text

T = TypeVar("T")


def lock_key(name: str) -> int:
    return zlib.crc32(f"parcelwatch:{name}".encode())


def run_alone(engine: Engine, name: str, work: Callable[..., T], *args: Any) -> T | None:
    """`work(*args)` if no other replica is running the job `name`, else None."""
    if engine.dialect.name != "postgresql":
        return work(*args)
    with engine.connect() as conn:
        key = lock_key(name)
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.rollback()
            return None
        try:
            return work(*args)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
