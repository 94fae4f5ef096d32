"""The outbox delivery job (alerts/outbox/delivery.py) against real receivers on loopback and a
real store: fan-out by filters, rate limits, digests, retries with backoff, permanent
failures, crashes (in process, and a delivery process killed with SIGKILL between send and
mark) and per-alert order."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

import alerts.outbox.delivery
from alerts.outbox import DeliveryStats
from alerts.sinks import Notification, Route, Sink
from alerts.sinks.settings import SinkSettings
from tests.support.outbox import (
    OK_WECOM,
    OUTBOX,
    add,
    add_alert,
    deliver,
    deliveries,
    outbox_rows,
    routes,
    webhook,
    wecom,
)
from tests.support.sinks import NOW, Receiver, Reply, Seen, run

# -- fan-out and filters ---------------------------------------------------------------------


def test_each_row_goes_to_the_sinks_whose_filters_match(engine: Engine) -> None:
    add(engine, kind="lost", severity="critical")
    add(engine, kind="stalled", severity="warning", order_id="S1")
    add(engine, event="resolved", kind="lost", order_id="R1")
    with Receiver(OK_WECOM) as robot, Receiver() as crm:

        async def scenario(client: httpx.AsyncClient) -> DeliveryStats:
            sinks = routes(client, [wecom(robot, min_severity="critical"), webhook(crm)])
            stats = await deliver(engine, sinks, NOW)
            again = await deliver(engine, sinks, NOW + timedelta(minutes=10))
            assert again.claimed == 0  # settled rows are never taken again
            return stats

        stats = run(scenario)
    assert (stats.claimed, stats.settled, stats.delivered, stats.sends) == (3, 3, 4, 4)
    assert stats.outcomes == {("wecom", "ok"): 1, ("crm", "ok"): 3}
    assert len(robot.seen) == 1 and "疑似丢件 lost" in robot.seen[0].json()["markdown"]["content"]
    assert [s.json()["data"]["order_id"] for s in crm.seen] == ["O0", "S1", "R1"]
    assert all(r.delivered_at == NOW and r.last_error is None for r in outbox_rows(engine))
    done = deliveries(engine)
    assert len(done) == 4 and all(d.attempts == 1 and not d.permanent for d in done.values())


def test_rows_no_sink_wants_are_settled_without_sending(engine: Engine) -> None:
    add(engine, 3, kind="stalled", severity="warning")
    with Receiver(OK_WECOM) as robot:
        stats = run(lambda c: deliver(engine, routes(c, [wecom(robot, kinds=["lost"])]), NOW))
    assert (stats.claimed, stats.settled, robot.seen) == (3, 3, [])
    assert deliveries(engine) == {}


# -- rate limits and digests -----------------------------------------------------------------


def test_the_21st_message_in_a_minute_waits_for_the_next_run(engine: Engine) -> None:
    add(engine, 21)
    clock = [1000.0]
    with Receiver(OK_WECOM) as robot:

        async def scenario(client: httpx.AsyncClient) -> None:
            # No digest, so each alert is its own message: the limit alone decides.
            sinks = routes(client, [wecom(robot, digest_after=None)], clock=lambda: clock[0])
            first = await deliver(engine, sinks, NOW, max_rate_wait=0)
            assert (first.delivered, first.deferred, first.settled) == (20, 1, 20)
            assert len(robot.seen) == 20
            waiting = outbox_rows(engine)[-1]
            assert waiting.delivered_at is None
            assert waiting.available_at == NOW + timedelta(seconds=60)
            clock[0] += 30
            assert (await deliver(engine, sinks, NOW + timedelta(seconds=30))).claimed == 0
            clock[0] += 31
            later = await deliver(engine, sinks, NOW + timedelta(seconds=61), max_rate_wait=0)
            assert later.delivered == 1

        run(scenario)
    assert len(robot.seen) == 21
    assert all(r.delivered_at is not None for r in outbox_rows(engine))


def test_a_short_wait_for_the_limit_happens_within_the_run(engine: Engine) -> None:
    add(engine, 21)
    clock, slept = [0.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    with Receiver(OK_WECOM) as robot:

        async def scenario(client: httpx.AsyncClient) -> DeliveryStats:
            sinks = routes(client, [wecom(robot, digest_after=None)], clock=lambda: clock[0],
                           sleep=sleep)  # fmt: skip
            return await deliver(engine, sinks, NOW, max_rate_wait=120)

        stats = run(scenario)
    assert stats.delivered == 21 and len(robot.seen) == 21
    assert slept == [60.0]  # the 21st waited for the first to leave the window


def test_a_burst_becomes_one_digest(engine: Engine) -> None:
    add(engine, 30, kind="stalled", severity="warning")
    add(engine, 2, kind="lost", severity="critical", order_id="L")
    with Receiver(OK_WECOM) as robot:
        stats = run(lambda c: deliver(engine, routes(c, [wecom(robot, digest_after=10)]), NOW))
    assert (stats.sends, stats.delivered, stats.settled) == (1, 32, 32)
    (seen,) = robot.seen
    content = seen.json()["markdown"]["content"]
    assert "parcelwatch：32 条告警" in content and "物流停滞 30 · 疑似丢件 2" in content
    assert len(content.encode()) <= 4096
    assert all(d.delivered_at == NOW for d in deliveries(engine).values())


def test_at_or_under_the_digest_threshold_each_alert_is_its_own_message(engine: Engine) -> None:
    add(engine, 10)
    with Receiver(OK_WECOM) as robot:
        stats = run(lambda c: deliver(engine, routes(c, [wecom(robot, digest_after=10)]), NOW))
    assert stats.sends == 10 and len(robot.seen) == 10


# -- failures --------------------------------------------------------------------------------


def test_transient_failures_back_off_exponentially_then_succeed(engine: Engine) -> None:
    add(engine)
    answers = iter([(500, "busy", {}), (503, "busy", {}), (200, {}, {})])
    with Receiver(lambda seen: next(answers)) as crm:

        async def scenario(client: httpx.AsyncClient) -> None:
            sinks = routes(client, [webhook(crm)])
            first = await deliver(engine, sinks, NOW)
            assert (first.transient, first.settled) == (1, 0)
            (row,) = outbox_rows(engine)
            assert row.available_at == NOW + timedelta(seconds=30) and "HTTP 500" in row.last_error
            assert (await deliver(engine, sinks, NOW + timedelta(seconds=29))).claimed == 0
            await deliver(engine, sinks, NOW + timedelta(seconds=30))
            (row,) = outbox_rows(engine)
            assert row.available_at == NOW + timedelta(seconds=90)  # 30 s later + 60 s
            done = await deliver(engine, sinks, NOW + timedelta(seconds=90))
            assert (done.delivered, done.settled) == (1, 1)

        run(scenario)
    assert len(crm.seen) == 3
    assert len({s.headers["Idempotency-Key"] for s in crm.seen}) == 1  # the same message
    ((_, delivery),) = deliveries(engine).items()
    assert delivery.attempts == 3 and delivery.delivered_at is not None
    assert outbox_rows(engine)[0].last_error is None


def test_retry_after_is_honoured(engine: Engine) -> None:
    add(engine)
    with Receiver(lambda seen: (429, "slow down", {"Retry-After": "300"})) as crm:
        run(lambda c: deliver(engine, routes(c, [webhook(crm)]), NOW))
    assert outbox_rows(engine)[0].available_at == NOW + timedelta(seconds=300)


def test_permanent_failures_are_marked_shown_and_not_retried(engine: Engine) -> None:
    add(engine, 2)
    with Receiver(lambda seen: (404, "no_service", {})) as slack:
        slack_sink = {"type": "slack", "url_env": "SLACK_URL", "url_value": slack.url + "/T/B/X"}

        async def scenario(client: httpx.AsyncClient) -> DeliveryStats:
            sinks = routes(client, [slack_sink])
            stats = await deliver(engine, sinks, NOW)
            assert (await deliver(engine, sinks, NOW + timedelta(hours=2))).claimed == 0
            return stats

        stats = run(scenario)
    assert (stats.permanent, stats.settled, len(slack.seen)) == (2, 2, 2)
    assert stats.outcomes == {("slack", "permanent"): 2}
    for row in outbox_rows(engine):
        assert row.delivered_at == NOW  # settled: no longer pending
        assert row.last_error.startswith("slack: ") and "404" in row.last_error
    for delivery in deliveries(engine).values():
        assert (
            delivery.permanent
            and delivery.delivered_at is None
            and "no_service" in (delivery.last_error)
        )


def test_attempts_run_out(engine: Engine) -> None:
    add(engine)
    with Receiver(lambda seen: (500, "down", {})) as crm:

        async def scenario(client: httpx.AsyncClient) -> None:
            sinks = routes(client, [webhook(crm)])
            at = NOW
            for _ in range(3):
                await deliver(engine, sinks, at, max_attempts=3)
                at += timedelta(hours=1)
            assert (await deliver(engine, sinks, at, max_attempts=3)).claimed == 0

        run(scenario)
    assert len(crm.seen) == 3
    ((_, delivery),) = deliveries(engine).items()
    assert delivery.permanent and delivery.last_error.startswith("gave up after 3 attempts")


def test_a_failing_sink_does_not_make_others_send_twice(engine: Engine) -> None:
    add(engine)
    answers = iter([(500, "down", {}), (200, "ok", {})])
    with Receiver() as crm, Receiver(lambda seen: next(answers)) as slack:
        slack_sink = {"type": "slack", "url_env": "SLACK_URL", "url_value": slack.url}

        async def scenario(client: httpx.AsyncClient) -> None:
            sinks = routes(client, [webhook(crm), slack_sink])
            await deliver(engine, sinks, NOW)
            await deliver(engine, sinks, NOW + timedelta(minutes=1))

        run(scenario)
    assert (len(crm.seen), len(slack.seen)) == (1, 2)
    assert outbox_rows(engine)[0].delivered_at == NOW + timedelta(minutes=1)


def test_a_down_channel_holds_its_queue_instead_of_timing_out_on_each(engine: Engine) -> None:
    add(engine, 5)
    with Receiver(lambda seen: (503, "maintenance", {})) as crm:
        stats = run(lambda c: deliver(engine, routes(c, [webhook(crm)]), NOW))
    assert (len(crm.seen), stats.transient, stats.deferred) == (1, 1, 4)
    assert {r.available_at for r in outbox_rows(engine)} == {NOW + timedelta(seconds=30)}


class Choking(Sink):
    """A sink with a bug: it crashes on one order."""

    type = "test"

    def __init__(self) -> None:
        super().__init__("choking")
        self.got: list[str] = []

    async def send(self, messages: Sequence[Notification]) -> None:
        for n in messages:
            if n.order_id == "O1":
                raise TypeError("cannot render this")
            self.got.append(str(n.order_id))


def test_a_crashing_item_pushes_its_own_next_attempt_and_spares_the_others(
    engine: Engine,
) -> None:
    add(engine, 3)
    sink = Choking()
    route = Route(sink, SinkSettings(type="test", name="choking"))

    async def scenario() -> None:
        first = await deliver(engine, [route], NOW, max_attempts=2)
        assert (first.delivered, first.transient, first.settled) == (2, 1, 2)
        crashed = outbox_rows(engine)[1]
        assert crashed.available_at == NOW + timedelta(seconds=30)
        assert "crashed: TypeError: cannot render this" in crashed.last_error
        second = await deliver(engine, [route], NOW + timedelta(minutes=1), max_attempts=2)
        assert (second.permanent, second.settled) == (1, 1)

    asyncio.run(scenario())
    assert sink.got == ["O0", "O2"]
    delivery = deliveries(engine)[(outbox_rows(engine)[1].id, "choking")]
    assert delivery.permanent and "gave up after 2 attempts" in delivery.last_error


def test_a_row_the_job_keeps_dying_on_is_given_up(engine: Engine) -> None:
    (row_id,) = add(engine)
    with engine.begin() as conn:  # claimed 50 times already, never finished
        conn.execute(OUTBOX.update().values(attempts=50))
    with Receiver() as crm:
        stats = run(lambda c: deliver(engine, routes(c, [webhook(crm)]), NOW))
    assert (stats.permanent, stats.settled, crm.seen) == (1, 1, [])
    assert deliveries(engine)[(row_id, "crm")].last_error.startswith("gave up: claimed 51 times")


def test_old_rows_expire_instead_of_flooding_a_new_sink(engine: Engine) -> None:
    add(engine, 2, at=NOW - timedelta(days=3))
    add(engine, 1, order_id="fresh")
    with Receiver() as crm:
        stats = run(lambda c: deliver(engine, routes(c, [webhook(crm)]), NOW))
    assert [s.json()["data"]["order_id"] for s in crm.seen] == ["fresh"]
    assert stats.permanent == 2
    assert all(r.delivered_at == NOW for r in outbox_rows(engine))
    assert "expired" in outbox_rows(engine)[0].last_error


# -- crashes between send and mark: at least once --------------------------------------------


def test_a_crash_after_sending_resends_once_and_loses_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(engine, 3)
    real_save = alerts.outbox.delivery.save_deliveries
    calls = [0]

    def dies_once(*args: Any) -> None:
        calls[0] += 1
        if calls[0] == 1:  # the receiver has the first message; we die before marking it
            raise RuntimeError("killed between send and mark")
        real_save(*args)

    monkeypatch.setattr(alerts.outbox.delivery, "save_deliveries", dies_once)
    with Receiver() as crm:

        async def scenario(client: httpx.AsyncClient) -> None:
            sinks = routes(client, [webhook(crm)])
            with pytest.raises(RuntimeError, match="killed"):
                await deliver(engine, sinks, NOW)
            assert len(crm.seen) == 1 and deliveries(engine) == {}
            # The rows are leased: a run right after the crash does not take them ...
            assert (await deliver(engine, sinks, NOW + timedelta(minutes=1))).claimed == 0
            # ... and once the lease lapses, every committed row is delivered.
            later = await deliver(engine, sinks, NOW + timedelta(minutes=5))
            assert (later.claimed, later.delivered, later.settled) == (3, 3, 3)
            assert (await deliver(engine, sinks, NOW + timedelta(hours=1))).claimed == 0

        run(scenario)
    keys = [s.headers["Idempotency-Key"] for s in crm.seen]
    assert len(keys) == 4 and keys[0] == keys[1]  # the first message twice, the others once
    assert len(set(keys)) == 3
    assert all(r.delivered_at is not None for r in outbox_rows(engine))


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import datetime

    import httpx

    from alerts.outbox import deliver_due
    from alerts.sinks import build_routes
    from monitor.config import parse_config
    from monitor.store.db import make_engine
    from monitor.store.models import OutboxDelivery, OutboxMessage

    url, hook, now = sys.argv[1:4]

    async def main():
        engine = make_engine(url)
        config = parse_config({"sinks": [{"type": "webhook", "url": hook,
                                          "secret_env": "CRM_SECRET"}]})
        async with httpx.AsyncClient() as client:
            sinks = build_routes(config.sinks, client, env={"CRM_SECRET": "k"})
            await deliver_due(engine, sinks, datetime.fromisoformat(now),
                              outbox=OutboxMessage.__table__,
                              deliveries=OutboxDelivery.__table__)

    asyncio.run(main())
    """
)


@pytest.mark.slow
def test_a_delivery_process_killed_after_sending_resends_once(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    engine = sqlite_engine
    add(engine, 2)
    child: list[subprocess.Popen[bytes]] = []

    def kill_the_sender(seen: Seen) -> Reply:
        if len(child) == 1 and child[0].poll() is None:
            os.kill(child[0].pid, signal.SIGKILL)  # it sent; it will never mark
            child[0].wait(10)
        return 200, {}, {}

    script = tmp_path / "deliver.py"
    script.write_text(CHILD, encoding="utf-8")
    with Receiver(kill_the_sender) as crm:
        child.append(
            subprocess.Popen(
                [sys.executable, str(script), str(engine.url), crm.url + "/hook", NOW.isoformat()],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        assert child[0].wait(60) == -signal.SIGKILL
        assert len(crm.seen) == 1 and deliveries(engine) == {}
        first = outbox_rows(engine)[0]
        assert first.delivered_at is None and first.available_at == NOW + timedelta(minutes=5)

        async def scenario(client: httpx.AsyncClient) -> DeliveryStats:
            sinks = routes(client, [webhook(crm)])
            return await deliver(engine, sinks, NOW + timedelta(minutes=5))

        stats = run(scenario)
    assert (stats.claimed, stats.delivered) == (2, 2)
    keys = [s.headers["Idempotency-Key"] for s in crm.seen]
    assert keys == [keys[0], keys[0], keys[2]]  # the interrupted message twice, the other once
    assert all(r.delivered_at is not None for r in outbox_rows(engine))


# -- order per alert -------------------------------------------------------------------------


def test_a_resolve_waits_for_the_open_of_the_same_alert(engine: Engine) -> None:
    alert_id = add_alert(engine, kind="lost", order_id="O9")
    add(engine, alert_id=alert_id, order_id="O9")
    answers = iter([(500, "down", {}), (200, {}, {}), (200, {}, {})])
    with Receiver(lambda seen: next(answers)) as crm:

        async def scenario(client: httpx.AsyncClient) -> None:
            sinks = routes(client, [webhook(crm)])
            await deliver(engine, sinks, NOW)  # "opened" fails: retry in 30 s
            add(engine, event="resolved", at=NOW + timedelta(seconds=10), alert_id=alert_id,
                order_id="O9")  # fmt: skip
            held = await deliver(engine, sinks, NOW + timedelta(seconds=10))
            assert (held.claimed, held.deferred, held.sends) == (1, 1, 0)
            await deliver(engine, sinks, NOW + timedelta(seconds=30))

        run(scenario)
    assert [s.json()["event"] for s in crm.seen] == ["opened", "opened", "resolved"]
