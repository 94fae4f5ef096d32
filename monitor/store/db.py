"""Engines, sessions and migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web server read while the scheduler writes; NORMAL sync is safe with WAL
    # (a power cut may lose the last transaction, never corrupt the file).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


MIGRATION_LOCK = zlib.crc32(b"parcelwatch:migrations")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply Alembic migrations up to `revision` on this engine's database.

    On PostgreSQL the whole upgrade runs in one transaction under an advisory transaction
    lock, so replicas started together take turns: the first migrates, the others wait for
    its commit and then find nothing to do (without the lock both create `alembic_version`
    and the second dies on a unique violation). DDL is transactional there, so a crash
    mid-migration leaves the previous schema. SQLite is one process by construction."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back when it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
