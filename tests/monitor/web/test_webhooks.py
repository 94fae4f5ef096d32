"""The push endpoints (monitor/web/webhooks.py): a subscription, then the carrier's pushes over
HTTP, signed or refused, stored once; a push's body and its events in one transaction, so that
a crash or a locked store keeps neither and the carrier's retry stores both once."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from monitor.clock import FixedClock
from monitor.daemon.poller import CarrierClient, Poller
from monitor.store.db import make_engine, upgrade
from monitor.store.raw_answers import count_raw
from monitor.web.app import create_app
from monitor.web.context import AppContext
from tests.support.fake_carrier import FakeAdapter
from tests.support.tracking import CONFIG, JOURNEY, at, events, seed, shipment

ROOT = Path(__file__).resolve().parents[3]


def test_subscription_then_push_over_http(engine: Engine) -> None:
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now())
    fake = FakeAdapter(timelines={"730001": JOURNEY})
    poller = Poller(engine, CONFIG, [CarrierClient(fake, frozenset({"zto"}))], clock,
                    callback_base="http://127.0.0.1:8000")  # fmt: skip
    assert asyncio.run(poller.subscribe_new()) == 1
    assert fake.subscribed == ["730001"]
    s = shipment(engine)
    assert s.subscribed_at == clock.now()
    # Pushes make polls rare, but the no-pickup threshold (24 h after shipping) is still
    # checked with the carrier ten minutes before it is reported.
    assert s.next_poll_at == at("2026-11-21 11:50")

    app = create_app(AppContext(engine, CONFIG, clock, push_adapters={"kuaidi100": fake}))
    with TestClient(app) as client:
        bad = client.post("/webhooks/kuaidi100", content=fake.push_body("730001"),
                          headers={"x-sign": "forged"})  # fmt: skip
        assert bad.status_code == 401 and events(engine) == []
        good = client.post("/webhooks/kuaidi100", content=fake.push_body("730001"),
                           headers={"x-sign": fake.secret})  # fmt: skip
        assert good.status_code == 200 and good.json()["returnCode"] == "200"
        again = client.post("/webhooks/kuaidi100", content=fake.push_body("730001"),
                            headers={"x-sign": fake.secret})  # fmt: skip
        assert again.status_code == 200
        assert client.post("/webhooks/17track", content=b"{}").status_code == 404
    assert len(events(engine)) == 3 and {e.source for e in events(engine)} == {"push"}
    assert shipment(engine).status == "in_transit"


# A push whose body is kept and whose updates are not: the process dies between the two
# statements of the writer's one transaction (monitor/web/context.py).
CRASH_BETWEEN_BODY_AND_UPDATES = """
import os, sys
from fastapi.testclient import TestClient
from monitor.clock import FixedClock
from monitor.store.db import make_engine
from monitor.web import context
from monitor.store.db import make_engine, upgrade
from monitor.store.raw_answers import count_raw
from monitor.web.app import create_app
from monitor.web.context import AppContext
from tests.support.fake_carrier import FakeAdapter
from tests.support.tracking import CONFIG, JOURNEY, at

def die(*args, **kwargs):
    os._exit(9)  # the body's INSERT ran in this transaction; nothing was committed

context.apply_updates_in = die
fake = FakeAdapter(timelines={"730001": JOURNEY})
engine = make_engine(sys.argv[1])
app = create_app(AppContext(engine, CONFIG, FixedClock(at("2026-11-21 10:00")),
                            push_adapters={"kuaidi100": fake}))
with TestClient(app) as client:
    client.post("/webhooks/kuaidi100", content=fake.push_body("730001"),
                headers={"x-sign": fake.secret})
sys.exit(0)  # not reached
"""


def test_a_crash_between_the_body_and_its_updates_keeps_neither(
    sqlite_engine: Engine,
) -> None:
    """The body as received and the events it brings commit in one transaction: a crash
    between the two keeps neither (the carrier, never answered, sends it again), and the
    push sent again, and again, is stored once."""
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(sqlite_engine, clock.now())
    done = subprocess.run(
        [sys.executable, "-c", CRASH_BETWEEN_BODY_AND_UPDATES, str(sqlite_engine.url)],
        cwd=ROOT, capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 9, done.stderr.decode()
    assert count_raw(sqlite_engine) == 0 and events(sqlite_engine) == []

    fake = FakeAdapter(timelines={"730001": JOURNEY})
    app = create_app(AppContext(sqlite_engine, CONFIG, clock, push_adapters={"kuaidi100": fake}))
    with TestClient(app) as client:
        for _ in range(2):  # the carrier's retry, then a duplicate of it
            sent = client.post("/webhooks/kuaidi100", content=fake.push_body("730001"),
                               headers={"x-sign": fake.secret})  # fmt: skip
            assert sent.status_code == 200
    assert count_raw(sqlite_engine) == 1 and len(events(sqlite_engine)) == 3


def test_a_locked_store_answers_503_and_keeps_nothing(tmp_path: Path) -> None:
    """While another writer holds the store, a push is refused with 503 and Retry-After
    (the carrier's cue to send it again), nothing of it kept; once the lock is gone the same
    push is stored."""
    path = tmp_path / "parcelwatch.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA busy_timeout=200"))
    engine.dispose()
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now())
    fake = FakeAdapter(timelines={"730001": JOURNEY})
    app = create_app(AppContext(engine, CONFIG, clock, push_adapters={"kuaidi100": fake}))
    other = sqlite3.connect(path, isolation_level=None)
    with TestClient(app) as client:
        other.execute("BEGIN IMMEDIATE")  # another process writing
        refused = client.post("/webhooks/kuaidi100", content=fake.push_body("730001"),
                              headers={"x-sign": fake.secret})  # fmt: skip
        other.execute("ROLLBACK")
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "60"
        assert "send it again" in refused.json()["error"]
        assert count_raw(engine) == 0 and events(engine) == []
        again = client.post("/webhooks/kuaidi100", content=fake.push_body("730001"),
                            headers={"x-sign": fake.secret})  # fmt: skip
        assert again.status_code == 200
    other.close()
    assert count_raw(engine) == 1 and len(events(engine)) == 3
    engine.dispose()
