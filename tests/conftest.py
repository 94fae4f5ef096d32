"""Shared fixtures: a migrated SQLite store per test, and one real PostgreSQL server per run
for the tests that run against both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from support.postgres import running_postgres

from monitor.config import Config, parse_config
from monitor.store.db import make_engine, upgrade

TABLES = (
    "outbox",
    "alert_event",
    "alert",
    "tracking_event",
    "shipment",
    "carrier_health",
    "lane_stats",
    "scorecard_report",
)


def make_config(url: str = "sqlite://", **overrides: Any) -> Config:
    data: dict[str, Any] = {
        "database": {"url": url},
        "warehouses": [
            {"id": "hz1", "province": "浙江", "timezone": "Asia/Shanghai", "calendar": "cn"},
            {"id": "gz1", "province": "广东", "timezone": "Asia/Shanghai", "calendar": "every-day"},
        ],
    }
    data.update(overrides)
    return parse_config(data, "<test>")


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'parcelwatch.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with running_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def _postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty store on each backend."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_engine")
        return
    pg: Engine = request.getfixturevalue("_postgres_engine")
    with pg.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    yield pg
