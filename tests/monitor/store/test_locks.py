"""Singleton jobs (monitor/store/locks.py): one replica at a time on PostgreSQL (an advisory
lock), and simply run on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine


@pytest.mark.postgres
def test_singleton_jobs_run_on_one_replica_at_a_time(postgres_url: str) -> None:
    from sqlalchemy import create_engine

    from monitor.store.locks import run_alone

    first, second = create_engine(postgres_url), create_engine(postgres_url)
    try:
        inner = run_alone(first, "detect", lambda: run_alone(second, "detect", lambda: "ran"))
        assert inner is None  # the other replica skipped while the first held the lock
        assert run_alone(second, "detect", lambda: "ran") == "ran"  # released afterwards
    finally:
        first.dispose()
        second.dispose()


def test_singleton_jobs_just_run_on_sqlite(sqlite_engine: Engine) -> None:
    from monitor.store.locks import run_alone

    assert run_alone(sqlite_engine, "detect", lambda x: x + 1, 1) == 2
