"""One replica at a time for the singleton jobs (the full detection tick, lane figures, the
weekly scorecard): a PostgreSQL session advisory lock, tried, never waited for, so a replica
that finds the lock taken just skips that tick. Incremental detection is shared: replicas
hold the lock in shared mode while they work on their claims, and the full tick takes it
exclusively (docs/architecture.md "Detection across replicas"). SQLite is one process by
construction.

Session locks, not transaction ones: a replica that dies drops its connection, and
PostgreSQL releases what that session held."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

T = TypeVar("T")


def lock_key(name: str) -> int:
    return zlib.crc32(f"parcelwatch:{name}".encode())


@contextmanager
def _holding(conn: Connection, key: int, held: bool, unlock: str) -> Iterator[bool]:
    """Yield whether the lock is held, and release it afterwards if it is."""
    try:
        yield held
    finally:
        if held:
            conn.execute(text(f"SELECT {unlock}(:k)"), {"k": key})
            conn.commit()


@contextmanager
def _tried(engine: Engine, name: str, shared: bool) -> Iterator[bool]:
    if engine.dialect.name != "postgresql":
        yield True
        return
    mode = "_shared" if shared else ""
    with engine.connect() as conn:
        key = lock_key(name)
        try_lock = f"SELECT pg_try_advisory_lock{mode}(:k)"
        held = bool(conn.execute(text(try_lock), {"k": key}).scalar())
        conn.commit()
        with _holding(conn, key, held, f"pg_advisory_unlock{mode}") as mine:
            yield mine


def first_turn(engine: Engine, name: str) -> AbstractContextManager[bool]:
    """Whether this replica has the job `name` now: an exclusive advisory lock, tried."""
    return _tried(engine, name, shared=False)


def run_alone(engine: Engine, name: str, work: Callable[..., T], *args: Any) -> T | None:
    """`work(*args)` if no other replica is running the job `name`, else None."""
    with first_turn(engine, name) as mine:
        return work(*args) if mine else None


def shared_turn(engine: Engine, name: str) -> AbstractContextManager[bool]:
    """Whether this replica may take part in the job `name` alongside others: a shared
    advisory lock, tried. It fails while one replica holds (or waits for) `sole_turn` on the
    same name, so that the full tick never runs beside an incremental one."""
    return _tried(engine, name, shared=True)


@contextmanager
def sole_turn(engine: Engine, name: str, wait_seconds: float) -> Iterator[bool]:
    """Whether this replica has the job `name` to itself: an exclusive advisory lock, waited
    for up to `wait_seconds` (the replicas holding `shared_turn` finish their batch; a request
    waiting here makes new shared tries fail, so it is not starved)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        key = lock_key(name)
        conn.execute(text("SELECT set_config('lock_timeout', :t, false)"),
                     {"t": f"{max(int(wait_seconds * 1000), 1)}ms"})  # fmt: skip
        try:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            held = True
        except OperationalError:  # lock_timeout: the others are still at it
            held = False
        conn.rollback()
        conn.execute(text("SELECT set_config('lock_timeout', '0', false)"))
        conn.commit()
        with _holding(conn, key, held, "pg_advisory_unlock") as mine:
            yield mine
