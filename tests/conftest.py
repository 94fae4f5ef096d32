"""Shared fixtures: a migrated SQLite store per test, one real PostgreSQL server per run for
the tests that run against both backends, and the process-wide /metrics left as it was.

Helpers that tests import live in tests/support/ (imported as `tests.support.…`); fixtures
live here or in the conftest.py of the directory that needs them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text

from monitor.metrics import collectors
from monitor.store.db import make_engine, upgrade
from tests.support.postgres import running_postgres

TABLES = (
    "outbox",
    "alert_event",
    "alert",
    "tracking_event",
    "order_parcel",
    "shipment",
    "sales_order",
    "carrier_health",
    "lane_stats",
    "scorecard_report",
    "web_session",
    "login_throttle",
    "carrier_answer",
    "silence",
    "maintenance_window",
    "parcel_count",
    "alert_count",
    "alert_province_count",
    "stalled_count",
    "carrier_answer_number",
    "penalty",
    "detect_dirty",
    "detect_state",
    "incident_member",
    "incident_cell",
)


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


@pytest.fixture
def default_registry_collector() -> Iterator[None]:
    """Leave the process-wide /metrics as it was: no collector bound to a test's store."""
    yield
    if collectors._registered is not None:
        REGISTRY.unregister(collectors._registered)
        collectors._registered = None
