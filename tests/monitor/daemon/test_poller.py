"""The poller (monitor/daemon/poller.py): due parcels polled in batches, retries and backoff,
leases, carrier health and `carrier_api_failing`, and subscriptions that fall back to polling."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import Engine

from carriers.base import PermanentCarrierError, RateLimited, TransientCarrierError
from monitor.alert_queue import AlertFilter, list_alerts
from monitor.clock import FixedClock
from monitor.daemon.poller import CarrierClient, Poller
from monitor.daemon.tick import run_tick
from monitor.ingest.tracking import apply_updates
from monitor.store.raw_answers import answers_about, raw_answers
from tests.support.fake_carrier import FakeAdapter
from tests.support.tracking import CONFIG, JOURNEY, at, seed, shipment


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
    # Each answer is kept as received, beside the pushes, for evidence; replay skips them.
    kept = list(raw_answers(engine, clock.now() - timedelta(days=1)))
    assert {a.source for a in kept} == {"poll"} and len(kept) == 2
    assert sorted(n for a in kept for n in json.loads(a.body)["numbers"]) == [
        "730001", "730002", "730003",
    ]  # fmt: skip
    assert list(raw_answers(engine, clock.now() - timedelta(days=1), source="push")) == []
    # ... and linked to the numbers it was asked about, for their orders' evidence packs.
    linked = answers_about(engine, ["730001", "730002", "730003"])
    assert all(len(bodies) == 1 for bodies in linked.values())
    assert linked["730001"][0].sha256 != linked["730003"][0].sha256  # two batches


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
