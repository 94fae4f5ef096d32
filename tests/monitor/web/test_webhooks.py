"""The push endpoints (monitor/web/webhooks.py): a subscription, then the carrier's pushes over
HTTP, signed or refused, stored once."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from monitor.clock import FixedClock
from monitor.daemon.poller import CarrierClient, Poller
from monitor.web.app import create_app
from monitor.web.context import AppContext
from tests.support.fake_carrier import FakeAdapter
from tests.support.tracking import CONFIG, JOURNEY, at, events, seed, shipment


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
