"""Fixtures of the daemon's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from monitor.store.db import make_engine
from tests.conftest import TABLES


@pytest.fixture
def replicas(_postgres_engine: Engine, postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    """The shared store, emptied, reached by two replicas' own engines."""
    with _postgres_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    first, second = make_engine(postgres_url), make_engine(postgres_url)
    yield first, second
    first.dispose()
    second.dispose()
