"""Carrier answers into the store: idempotent events, state that only moves forward, poll
planning, the poller's retries, backoff and leases, carrier health, and the web endpoints
that receive pushes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import make_config
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from support.fake_carrier import FakeAdapter, scan

from carriers.base import PermanentCarrierError, RateLimited, TransientCarrierError
from carriers.status import ParcelStatus
from monitor.alert_queue import AlertFilter, list_alerts
from monitor.clock import FixedClock
from monitor.daemon.poller import CarrierClient, Poller
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.poll_schedule import next_poll_at
from monitor.ingest.tracking import apply_updates
from monitor.store.models import Shipment, TrackingEvent
from monitor.web.app import create_app
from monitor.web.auth import hash_token
from monitor.web.context import AppContext

SH = ZoneInfo("Asia/Shanghai")
CONFIG = make_config()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def shipment(engine: Engine, order_id: str = "O1") -> Shipment:
    from sqlmodel import Session

    with Session(engine) as session:
        return session.exec(select(Shipment).where(Shipment.order_id == order_id)).scalars().one()


def events(engine: Engine) -> list[TrackingEvent]:
    from sqlmodel import Session

    with Session(engine) as session:
        rows = session.exec(select(TrackingEvent).order_by(TrackingEvent.occurred_at)).scalars()
        return list(rows)


def seed(engine: Engine, now: datetime, count: int = 1) -> None:
    rows = [
        RawRow(
            i + 1,
            {
                "order_id": f"O{i + 1}",
                "warehouse": "hz1",
                "province": "江苏",
                "paid_at": "2026-11-20 09:00",
                "carrier": "zto",
                "tracking_number": f"73{i + 1:04d}",
                "shipped_at": "2026-11-20 12:00",
            },
        )
        for i in range(count)
    ]
    assert not ingest_rows(engine, CONFIG, rows, now).rejected


JOURNEY = [
    scan(
        at("2026-11-20 15:00"),
        ParcelStatus.PICKED_UP,
        "快件已被【中通快递杭州西湖区网点】揽收",
        "103",
    ),
    scan(at("2026-11-20 22:00"), ParcelStatus.IN_TRANSIT, "快件已到达【杭州转运中心】", "1002"),
    scan(at("2026-11-21 09:00"), ParcelStatus.IN_TRANSIT, "快件已到达【南京转运中心】", "1002"),
]


def test_events_are_stored_once_and_state_only_moves_forward(engine: Engine) -> None:
    now = at("2026-11-21 10:00")
    seed(engine, now)
    fake = FakeAdapter(timelines={"730001": JOURNEY})
    apply_updates(engine, [fake.update_for("730001")], now)
    apply_updates(engine, [fake.update_for("730001", source="push")], now)  # same again
    assert len(events(engine)) == 3
    s = shipment(engine)
    assert (s.status, s.picked_up_at, s.last_event_at) == (
        "in_transit", at("2026-11-20 15:00"), at("2026-11-21 09:00"),
    )  # fmt: skip

    # An older answer arriving late adds nothing to the state.
    stale = FakeAdapter(timelines={"730001": JOURNEY[:1]})
    apply_updates(engine, [stale.update_for("730001")], now)
    assert shipment(engine).status == "in_transit"

    delivered = [
        *JOURNEY,
        scan(at("2026-11-21 16:00"), ParcelStatus.DELIVERED, "已签收，签收人：本人"),
    ]
    apply_updates(engine, [FakeAdapter(timelines={"730001": delivered}).update_for("730001")], now)
    s = shipment(engine)
    assert (s.status, s.delivered_at, s.next_poll_at) == ("delivered", at("2026-11-21 16:00"), None)
    assert events(engine)[0].raw_text == "快件已被【中通快递杭州西湖区网点】揽收"


def test_unknown_numbers_are_reported_not_stored(engine: Engine) -> None:
    result = apply_updates(engine, [FakeAdapter().update_for("nope")], at("2026-11-21 10:00"))
    assert result.unknown == ["nope"] and events(engine) == []


def test_poll_planning() -> None:
    now = at("2026-11-21 10:00")
    values = {"no_pickup_h": 24.0, "stall_in_transit_h": 48.0, "stall_picked_up_h": 24.0}
    # Just before the no-pickup threshold, not hours after it.
    before_threshold = next_poll_at(status="label_created", shipped_at=at("2026-11-21 08:00"),
                                    last_scan_at=None, now=now, subscribed=False,
                                    thresholds=values)  # fmt: skip
    assert before_threshold == at("2026-11-21 14:00")  # the pace (4 h) comes first
    near = next_poll_at(status="label_created", shipped_at=at("2026-11-20 11:00"),
                        last_scan_at=None, now=now, subscribed=False, thresholds=values)  # fmt: skip
    assert near == at("2026-11-21 10:50")  # 24 h after shipping, minus 10 min
    pushed = next_poll_at(status="in_transit", shipped_at=at("2026-11-20 11:00"),
                          last_scan_at=at("2026-11-21 09:00"), now=now, subscribed=True,
                          thresholds=values)  # fmt: skip
    assert pushed == at("2026-11-23 08:50")  # safety net capped by the stall threshold
    assert next_poll_at(status="delivered", shipped_at=None, last_scan_at=None, now=now,
                        subscribed=False) is None  # fmt: skip
    assert next_poll_at(status="in_transit", shipped_at=now - timedelta(days=41),
                        last_scan_at=None, now=now, subscribed=False) is None  # fmt: skip
    floor = next_poll_at(status="out_for_delivery", shipped_at=now, last_scan_at=now, now=now,
                         subscribed=False, thresholds={"stall_out_for_delivery_h": 0.1})  # fmt: skip
    assert floor == now + timedelta(minutes=30)  # never more often than the API allows


def test_poller_polls_due_parcels_in_batches(engine: Engine) -> None:
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now(), count=3)
    fake = FakeAdapter(timelines={"730001": JOURNEY, "730002": JOURNEY[:1]})
    poller = Poller(engine, CONFIG, [CarrierClient(fake, frozenset({"zto"}))], clock)

    async def scenario() -> None:
        stats = await poller.poll_due()
        assert stats.claimed == 3 and stats.calls == 2  # batch size 2
        # Nothing is due again right away: every parcel got a next poll in the future.
        assert (await poller.poll_due()).claimed == 0

    asyncio.run(scenario())
    assert sorted(n for call in fake.calls for n in call) == ["730001", "730002", "730003"]
    assert shipment(engine, "O1").status == "in_transit"
    assert shipment(engine, "O1").next_poll_at > clock.now()


def test_transient_errors_are_retried_then_recorded_without_losing_the_parcel(
    engine: Engine,
) -> None:
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now())
    fake = FakeAdapter(
        timelines={"730001": JOURNEY},
        script=[TransientCarrierError("502"), RateLimited("429", retry_after=0.01)],
    )
    poller = Poller(engine, CONFIG, [CarrierClient(fake, frozenset({"zto"}))], clock)

    async def scenario() -> None:
        stats = await poller.poll_due()
        assert len(fake.calls) == 3 and stats.failed_calls == 0  # two retries, then success
        assert shipment(engine).status == "in_transit"
        fake.script = [TransientCarrierError("timeout")] * 3
        clock.advance(days=3)
        assert (await poller.poll_due()).failed_calls == 1

    asyncio.run(scenario())
    s = shipment(engine)
    assert s.poll_failures == 1 and s.poll_lease_until is None
    assert s.next_poll_at == clock.now() + timedelta(minutes=5)  # backoff, place kept


def test_permanent_failure_for_30_minutes_opens_carrier_api_failing(engine: Engine) -> None:
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now())
    fake = FakeAdapter(script=[PermanentCarrierError("601 key expired")] * 10)
    poller = Poller(engine, CONFIG, [CarrierClient(fake, frozenset({"zto"}))], clock)

    async def scenario() -> None:
        await poller.poll_due()
        assert len(fake.calls) == 1  # permanent errors are not retried
        run_tick(engine, CONFIG, clock.now())
        assert list_alerts(engine, AlertFilter(kind="carrier_api_failing")) == []
        clock.advance(minutes=31)
        await poller.poll_due()
        run_tick(engine, CONFIG, clock.now())
        [alert] = list_alerts(engine, AlertFilter(kind="carrier_api_failing"))
        assert alert["carrier"] == "zto" and alert["detail"]["last_error"] == "601 key expired"
        # The carrier recovers: the alert resolves itself.
        fake.script.clear()
        fake.timelines = {"730001": JOURNEY}
        clock.advance(hours=2)
        await poller.poll_due()
        run_tick(engine, CONFIG, clock.now())

    asyncio.run(scenario())
    [alert] = list_alerts(engine, AlertFilter(kind="carrier_api_failing", state="resolved"))
    assert alert["resolution"] == "cleared"


def test_an_expired_lease_puts_parcels_back_in_the_queue(engine: Engine) -> None:
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now())
    poller = Poller(engine, CONFIG, [CarrierClient(FakeAdapter(), frozenset({"zto"}))], clock)
    claimed = poller._claim("zto", clock.now(), for_subscribe=False)  # then the process dies
    assert len(claimed) == 1
    assert poller._claim("zto", clock.now(), for_subscribe=False) == []  # leased
    assert len(poller._claim("zto", clock.now() + timedelta(minutes=6), for_subscribe=False)) == 1


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


def test_health_readiness_api_and_auth(engine: Engine) -> None:
    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now())
    token = "lead-token-123"
    config = make_config(
        auth={"tokens": [{"name": "小王", "role": "lead", "token_sha256": hash_token(token)},
                         {"name": "viewer", "role": "viewer",
                          "token_sha256": hash_token("view-only")}]},
    )  # fmt: skip
    ctx = AppContext(engine, config, clock)
    lead = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ctx)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        assert client.get("/readyz").status_code == 503  # no scheduler in this test
        ctx.scheduler_running = True
        assert client.get("/readyz").status_code == 200
        assert "parcelwatch_tracking_events_ingested_total" in client.get("/metrics").text
        assert client.get("/openapi.json").json()["info"]["title"] == "parcelwatch"

        assert client.get("/api/v1/alerts").status_code == 401  # reads are not open here
        assert client.get("/api/v1/shipments/O1", headers=lead).json()["carrier"] == "zto"
        assert client.get("/api/v1/shipments/none", headers=lead).status_code == 404

        order = {"order_id": "API1", "warehouse": "hz1", "paid_at": "2026-11-21 08:00",
                 "province": "浙江"}  # fmt: skip
        viewer = {"Authorization": "Bearer view-only"}
        assert client.post("/api/v1/shipments", json=order, headers=viewer).status_code == 403
        assert client.post("/api/v1/shipments", json=order).status_code == 401
        done = client.post("/api/v1/shipments", json=[order, {"order_id": "X"}], headers=lead)
        assert done.status_code == 200
        assert done.json()["inserted"] == 1 and done.json()["rejected"][0]["index"] == 1
        assert client.post("/api/v1/shipments", json=order, headers=lead).json()["unchanged"] == 1

        run_tick(engine, config, at("2026-11-22 12:00"))
        alerts = client.get("/api/v1/alerts", params={"kind": "no_pickup_scan"},
                            headers=viewer).json()  # fmt: skip
        [alert] = alerts["alerts"]
        assert alerts["counts"]["no_pickup_scan"] == 1
        path = f"/api/v1/alerts/{alert['id']}"
        assert client.post(f"{path}/ack", headers=viewer).status_code == 403
        assert client.post(f"{path}/ack", headers=lead).json()["state"] == "acknowledged"
        assert client.post(f"{path}/ack", headers=lead).status_code == 409
        assert (
            client.post(f"{path}/assign", json={"assignee": "小李"}, headers=lead).status_code
            == 200
        )
        assert client.post(f"{path}/fly", headers=lead).status_code == 404
        assert client.post("/api/v1/alerts/999/resolve", headers=lead).status_code == 404
        resolved = client.post(f"{path}/resolve", json={"note": "补发"}, headers=lead).json()
        assert resolved["state"] == "resolved"
        detail = client.get(path, headers=viewer).json()
        assert [h["action"] for h in detail["history"]] == [
            "opened", "acknowledged", "assigned", "resolved",
        ]  # fmt: skip
        assert detail["history"][1]["actor"] == "小王"


@pytest.mark.parametrize("count", [1, 5])
def test_event_counts_match(engine: Engine, count: int) -> None:
    now = at("2026-11-21 10:00")
    seed(engine, now, count=count)
    fake = FakeAdapter(timelines={f"73{i + 1:04d}": JOURNEY for i in range(count)})
    apply_updates(engine, [fake.update_for(f"73{i + 1:04d}") for i in range(count)], now)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(TrackingEvent)).scalar()
    assert stored == 3 * count


def test_abort_falls_back_to_polling_then_resubscribes(engine: Engine) -> None:
    from dataclasses import replace

    clock = FixedClock(at("2026-11-21 10:00"))
    seed(engine, clock.now())
    fake = FakeAdapter(timelines={"730001": JOURNEY[:1]})
    poller = Poller(engine, CONFIG, [CarrierClient(fake, frozenset({"zto"}))], clock,
                    callback_base="http://127.0.0.1:8000")  # fmt: skip

    async def scenario() -> None:
        assert await poller.subscribe_new() == 1
        aborted = replace(fake.update_for("730001", source="push"), stopped=True,
                          stop_reason="3天查询无记录", resubscribe=True)  # fmt: skip
        apply_updates(engine, [aborted], clock.now(), subscribed=True)
        s = shipment(engine)
        assert s.subscribed_at is None and s.tracking_stopped_at == clock.now()
        assert await poller.subscribe_new() == 0  # not before the API allows it
        clock.advance(minutes=31)
        assert await poller.subscribe_new() == 1

    asyncio.run(scenario())
    assert fake.subscribed == ["730001", "730001"]
