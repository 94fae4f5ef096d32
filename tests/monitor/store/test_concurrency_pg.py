"""Several replicas on one PostgreSQL: migrations take turns under an advisory lock, and
claims (outbox rows, poll leases) keep their batch size."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select, text

from alerts.outbox import DeliveryPolicy, claim_due
from monitor.clock import FixedClock
from monitor.daemon.poller import CarrierClient, Poller
from monitor.store.db import make_engine, upgrade
from monitor.store.tables import OUTBOX, SHIPMENTS
from tests.conftest import TABLES
from tests.support.config import make_config
from tests.support.fake_carrier import FakeAdapter

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


def test_replicas_started_together_on_an_empty_database_all_come_up(postgres_url: str) -> None:
    admin = make_engine(postgres_url)
    name = f"race_{uuid.uuid4().hex[:8]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def replica() -> None:
        engine = make_engine(url)
        try:
            barrier.wait()
            upgrade(engine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE {name}"))
    admin.dispose()


@pytest.fixture
def engine(_postgres_engine: Engine) -> Iterator[Engine]:
    """The shared PostgreSQL store, emptied, and steered to the plan seen in production: a
    nested-loop semi-join that runs the locking subquery again for every outer row, each run
    skipping the rows locked so far (which made one claim take every due row)."""
    engine = _postgres_engine
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))

    def steer(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            for knob in ("enable_hashjoin", "enable_mergejoin", "enable_material",
                         "enable_hashagg", "enable_sort"):  # fmt: skip
                cursor.execute(f"SET {knob} = off")

    engine.dispose()
    event.listen(engine, "connect", steer)
    yield engine
    event.remove(engine, "connect", steer)
    engine.dispose()


def test_an_outbox_claim_takes_at_most_its_batch(engine: Engine) -> None:
    rows = [
        {"alert_id": None, "event": "opened", "payload": {}, "idempotency_key": f"k{i}",
         "created_at": NOW, "available_at": NOW - timedelta(minutes=1), "attempts": 0}
        for i in range(1500)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(OUTBOX), rows)
        conn.execute(text("ANALYZE outbox"))
    claimed = claim_due(engine, OUTBOX, NOW, DeliveryPolicy(batch_size=200))
    assert len(claimed) == 200
    with engine.connect() as conn:
        leased = conn.execute(
            select(func.count()).select_from(OUTBOX).where(OUTBOX.c.available_at > NOW)
        ).scalar_one()
    assert leased == 200


def test_a_poll_claim_takes_at_most_its_batch(engine: Engine) -> None:
    rows = [
        {"order_id": f"A{i}", "warehouse": "hz1", "paid_at": NOW, "carrier": "zto",
         "tracking_number": f"73{i}", "status": "label_created", "next_poll_at": NOW,
         "created_at": NOW, "updated_at": NOW}
        for i in range(1500)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(SHIPMENTS), rows)
    cfg = make_config(carriers={"zto": {"adapter": "kuaidi100"}})
    poller = Poller(engine, cfg, [CarrierClient(FakeAdapter(), frozenset({"zto"}))],
                    FixedClock(NOW), batch_limit=400)  # fmt: skip
    claimed = poller._claim("zto", NOW, for_subscribe=False)
    assert len(claimed) == 400
    with engine.connect() as conn:
        leased = conn.execute(
            select(func.count()).select_from(SHIPMENTS).where(SHIPMENTS.c.poll_lease_until > NOW)
        ).scalar_one()
    assert leased == 400
