"""The push endpoints (monitor/web/webhooks.py): a subscription, then the carrier's pushes over
HTTP, signed or refused, stored once; a push's body and its events in one transaction, so that
a crash or a locked store keeps neither and the carrier's retry stores both once."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError

from monitor.clock import FixedClock
from monitor.daemon.poller import CarrierClient, Poller
from monitor.store.db import make_engine, upgrade
from monitor.store.raw_answers import count_raw
from monitor.web import context, webhooks
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
from prometheus_client import REGISTRY
from monitor.clock import FixedClock
from monitor.store.db import make_engine
from monitor.web import context, webhooks
from monitor.store.db import make_engine, upgrade
from monitor.store.raw_answers import count_raw
from monitor.web import context, webhooks
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


async def push_together(app: Any, fake: FakeAdapter, numbers: list[str]) -> list[httpx.Response]:
    """Send pushes for `numbers` at once, as a carrier's burst: they reach the writer in the
    same turns of the event loop and share its transaction."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://daemon") as client:
        signed = {"x-sign": fake.secret}
        sent = [client.post("/webhooks/kuaidi100", content=fake.push_body(n), headers=signed)
                for n in numbers]  # fmt: skip
        return list(await asyncio.gather(*sent))


def ingested_by_push() -> float:
    return (
        REGISTRY.get_sample_value(
            "parcelwatch_tracking_events_ingested_total", {"carrier": "zto", "source": "push"}
        )
        or 0.0
    )


def journeys(count: int) -> FakeAdapter:
    return FakeAdapter(timelines={f"73{i + 1:04d}": JOURNEY for i in range(count)})


def test_a_burst_with_repeated_pushes_stores_each_once(engine: Engine) -> None:
    """A carrier sending the same push again while the first is still being stored: both in
    one batch, both answered with the success reply, events and bodies stored once."""
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now(), count=3)
    fake = journeys(3)
    app = create_app(AppContext(engine, CONFIG, clock, push_adapters={"kuaidi100": fake}))
    numbers = ["730001", "730002", "730001", "730003", "730002"]
    answers = asyncio.run(push_together(app, fake, numbers))
    assert [a.status_code for a in answers] == [200] * 5
    assert all(a.json()["returnCode"] == "200" for a in answers)
    assert count_raw(engine) == 3 and len(events(engine)) == 3 * 3


def test_a_push_that_cannot_be_stored_fails_alone_in_its_burst(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One push of a burst whose data the store refuses: that carrier alone hears 500 (and
    sends it again later); the others of its transaction are answered 200 and stored once,
    and counted once in the metrics although their transaction was tried several times; the
    push sent again once the store takes it is stored once too."""
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now(), count=4)
    fake = journeys(4)
    real = context.apply_updates_in
    refused = {"730003"}

    def store_refusing(conn: Any, updates: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(conn, updates, *args, **kwargs)  # written, then the transaction fails
        if refused & {u.tracking_number for u in updates}:
            raise IntegrityError("INSERT ...", {}, Exception("a row the store refuses"))
        return result

    monkeypatch.setattr(context, "apply_updates_in", store_refusing)
    app = create_app(AppContext(engine, CONFIG, clock, push_adapters={"kuaidi100": fake}))
    numbers = ["730001", "730002", "730003", "730004"]
    before = ingested_by_push()
    answers = asyncio.run(push_together(app, fake, numbers))
    assert [a.status_code for a in answers] == [200, 200, 500, 200]
    assert "nothing of it was kept" in answers[2].json()["error"]
    assert count_raw(engine) == 3 and len(events(engine)) == 3 * 3
    assert ingested_by_push() - before == 3 * 3

    refused.clear()  # the carrier's retry, once the store takes it
    again = asyncio.run(push_together(app, fake, ["730003", "730001"]))
    assert [a.status_code for a in again] == [200, 200]
    assert count_raw(engine) == 4 and len(events(engine)) == 4 * 3


def test_pushes_are_answered_ahead_of_the_routing_with_the_usual_headers(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path answers a configured API's pushes itself, with the security headers every response carries and no session cookie; an
    API without an account still gets the route's 404, and the route stays documented."""
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(sqlite_engine, clock.now())
    fake = journeys(1)
    app = create_app(AppContext(sqlite_engine, CONFIG, clock, push_adapters={"kuaidi100": fake}))
    answered: list[int] = []  # the statuses the fast path sent
    real = webhooks._send

    async def spy(send: Any, answer: webhooks.PushAnswer) -> None:
        answered.append(answer.status)
        await real(send, answer)

    monkeypatch.setattr(webhooks, "_send", spy)
    with TestClient(app) as client:
        sent = client.post("/webhooks/kuaidi100", content=fake.push_body("730001"),
                           headers={"x-sign": fake.secret})  # fmt: skip
        assert sent.status_code == 200 and sent.json()["returnCode"] == "200"
        assert sent.headers["x-frame-options"] == "DENY"
        assert sent.headers["content-type"] == "application/json"
        assert "set-cookie" not in sent.headers
        assert answered == [200]
        missing = client.post("/webhooks/17track", content=b"{}")
        assert missing.status_code == 404 and "17track" in missing.json()["error"]
        assert answered == [200]  # the route answered that one
        assert "/webhooks/{api}" in client.get("/openapi.json").json()["paths"]
    assert len(events(sqlite_engine)) == 3
