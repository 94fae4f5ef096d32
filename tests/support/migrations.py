"""A store migrated only up to an older revision, on SQLite or on a fresh PostgreSQL database,
for the tests that upgrade a store written by a previous schema."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from monitor.store.db import make_engine, upgrade


def store_at(request: pytest.FixtureRequest, tmp_path: Path, revision: str) -> Engine:
    """`request.param` names the backend ("sqlite" or "postgresql"); the caller disposes."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        url: str = request.getfixturevalue("postgres_url")
        admin = make_engine(url)
        name = f"mig_{uuid.uuid4().hex[:8]}"
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        engine = make_engine(url.rsplit("/", 1)[0] + f"/{name}")
    upgrade(engine, revision)
    return engine


def store_fixture(revision: str) -> Callable[..., Any]:
    """A fixture, on each backend, of an empty store at `revision`: `old_store =
    store_fixture("0013")` in a migration test module."""

    @pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
    def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
        engine = store_at(request, tmp_path, revision)
        yield engine
        engine.dispose()

    return old_store
