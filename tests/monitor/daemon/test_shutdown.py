"""SIGTERM as the daemon meets it: stop claiming, let the jobs in hand finish within the
grace period, cancel the rest releasing what they claimed, and say so without a traceback;
/readyz judges each job by its own schedule and reports a failed last run."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carriers.base import ParcelRef, TrackResult
from monitor.clock import FixedClock
from monitor.daemon.poller import CarrierClient
from monitor.daemon.service import Daemon
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.tables import SHIPMENTS
from monitor.web.app import create_app
from tests.support.config import make_config
from tests.support.fake_carrier import FakeAdapter

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)


class SlowAdapter(FakeAdapter):
    delay: float = 0.0

    async def track(self, parcels: list[ParcelRef]) -> TrackResult:  # type: ignore[override]
        await asyncio.sleep(self.delay)
        return await super().track(parcels)


def daemon_with(tmp_path: Path, delay: float, grace: float) -> Daemon:
    cfg = make_config(
        f"sqlite:///{tmp_path / 'pw.db'}",
        carriers={"zto": {"adapter": "kuaidi100"}},
        daemon={"shutdown_grace_seconds": grace},
    )
    adapter = SlowAdapter(batch_size=10)
    adapter.delay = delay
    daemon = Daemon(cfg, FixedClock(NOW), [CarrierClient(adapter, frozenset({"zto"}))])
    rows = [
        RawRow(i, {"order_id": f"A{i}", "warehouse": "hz1", "paid_at": "2026-11-23 09:00",
                   "carrier": "zto", "tracking_number": f"73{i}",
                   "shipped_at": "2026-11-23 12:00"})
        for i in range(1, 6)
    ]  # fmt: skip
    assert not ingest_rows(daemon.engine, cfg, rows, NOW - timedelta(hours=1)).rejected
    return daemon


def leases(daemon: Daemon) -> list[object]:
    with daemon.engine.connect() as conn:
        return list(conn.execute(select(SHIPMENTS.c.poll_lease_until, SHIPMENTS.c.last_polled_at)))


async def _stop_during_poll(daemon: Daemon) -> None:
    job = asyncio.create_task(daemon.poll())
    # Wait until the round has claimed and waits on the carrier (a loaded machine takes longer
    # than a fixed pause: the claim runs in a worker thread).
    for _ in range(200):
        if any(lease for lease, _ in leases(daemon)):
            break
        await asyncio.sleep(0.025)
    assert any(lease for lease, _ in leases(daemon))
    await daemon.stop_scheduler()
    await job


def test_a_job_that_finishes_within_the_grace_period_completes(tmp_path: Path) -> None:
    daemon = daemon_with(tmp_path, delay=0.5, grace=10)
    asyncio.run(_stop_during_poll(daemon))
    state = leases(daemon)
    assert all(lease is None and polled is not None for lease, polled in state)


def test_a_job_past_the_grace_period_is_cancelled_and_releases_its_claims(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    daemon = daemon_with(tmp_path, delay=30, grace=0.2)
    with caplog.at_level(logging.INFO):
        asyncio.run(_stop_during_poll(daemon))
    state = leases(daemon)
    assert all(lease is None and polled is None for lease, polled in state)  # free, unpolled
    assert "cancelled at shutdown" in caplog.text
    assert "Traceback" not in caplog.text and "CancelledError" not in caplog.text


def test_nothing_new_is_claimed_once_stopping(tmp_path: Path) -> None:
    daemon = daemon_with(tmp_path, delay=0, grace=1)
    daemon.stopping = True
    asyncio.run(daemon.poll())
    assert all(lease is None and polled is None for lease, polled in leases(daemon))


def test_readyz_judges_each_job_by_its_own_interval(tmp_path: Path) -> None:
    daemon = daemon_with(tmp_path, delay=0, grace=1)
    ctx = daemon.ctx
    ctx.scheduler_running = True
    ctx.job_intervals.update(lanes=3600, detect=60)
    ctx.heartbeats.update(lanes=NOW - timedelta(minutes=50), detect=NOW - timedelta(seconds=30))
    with TestClient(create_app(ctx)) as client:
        assert client.get("/readyz").status_code == 200  # hourly lanes, 50 min ago: fine
        ctx.heartbeats["detect"] = NOW - timedelta(minutes=11)
        answer = client.get("/readyz")
        assert answer.status_code == 503 and "job detect last ran" in answer.json()["problems"][0]
        ctx.heartbeats["detect"] = NOW
        ctx.job_errors["detect"] = "OverflowError: date value out of range"
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert "detect failed on its last run: OverflowError" in answer.json()["problems"][0]


def test_a_failing_job_is_recorded_then_cleared(tmp_path: Path) -> None:
    daemon = daemon_with(tmp_path, delay=0, grace=1)

    async def boom() -> None:
        raise OverflowError("date value out of range")

    async def fine() -> None:
        return None

    asyncio.run(daemon._guarded("detect", boom))
    assert daemon.ctx.job_errors["detect"].startswith("OverflowError")
    asyncio.run(daemon._guarded("detect", fine))
    assert "detect" not in daemon.ctx.job_errors


def test_shutdown_closes_the_push_writer(tmp_path: Path) -> None:
    """After the scheduler stops, the push writer's task ends with the app: a push queued
    behind it would be answered with a retry status instead of waiting for ever."""
    daemon = daemon_with(tmp_path, delay=0.0, grace=5)
    writer = daemon.ctx.push_writer

    def unreadable() -> Any:
        raise ValueError("not a push")

    async def scenario() -> None:
        app = daemon.app()
        async with app.router.lifespan_context(app):
            with pytest.raises(ValueError):
                await writer.submit(unreadable)
            assert writer.task is not None and not writer.task.done()
        assert writer.task is None

    asyncio.run(scenario())
