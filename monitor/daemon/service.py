"""`parcelwatch run`: the scheduler and the web server in one process.

One APScheduler AsyncIOScheduler per process, on the same event loop as uvicorn. Every job
has an explicit `misfire_grace_time` (a late tick still runs if it is only a little late),
`coalesce` (ticks missed while the loop was busy run once, not many times) and
`max_instances=1` (a slow tick never overlaps the next). Blocking store work runs in
threads. On SIGTERM uvicorn stops accepting requests and the scheduler is shut down with
`wait=True`: the batch in hand finishes, nothing new starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from fastapi import FastAPI

from alerts.outbox import deliver_due, resend_active
from alerts.sinks import build_routes
from monitor.clock import Clock
from monitor.config import Config
from monitor.daemon.poller import CarrierClient, Poller
from monitor.daemon.tick import run_tick
from monitor.detection import BaselineCache
from monitor.metrics.collectors import register_store_collector
from monitor.metrics.instruments import DETECTION_DURATION, LAST_DETECTION, NOTIFICATIONS
from monitor.scorecard.lanes import refresh_lane_stats
from monitor.scorecard.weekly import publish_weekly
from monitor.scorecard.weeks import report_zone
from monitor.store.db import make_engine, upgrade
from monitor.store.locks import run_alone
from monitor.store.tables import ALERTS, OUTBOX, OUTBOX_DELIVERIES
from monitor.web.app import create_app
from monitor.web.context import AppContext

log = logging.getLogger(__name__)


class Daemon:
    def __init__(
        self,
        config: Config,
        clock: Clock,
        clients: Sequence[CarrierClient] = (),
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.engine = make_engine(config.database.url)
        upgrade(self.engine)
        register_store_collector(self.engine, config.carriers)
        push = {c.adapter.name: c.adapter for c in clients if c.adapter.supports_push}
        self.ctx = AppContext(self.engine, config, clock, push_adapters=push)
        self.poller = Poller(
            self.engine, config, clients, clock, callback_base=config.daemon.public_url
        )
        self.scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        self.last_tick: Any = None
        self.inflight: set[asyncio.Task[Any]] = set()
        self.baselines = BaselineCache()
        # Sinks are built once: their rate-limit windows live in them.
        self.routes = (
            build_routes(config.sinks, http, public_url=config.daemon.public_url)
            if http is not None and config.sinks
            else []
        )

    # -- jobs ---------------------------------------------------------------------------

    def _beat(self, job: str) -> None:
        self.ctx.heartbeats[job] = self.clock.now()

    async def _guarded(self, job: str, work: Callable[[], Awaitable[Any]]) -> None:
        """One failing tick is logged and retried on the next; it never kills the job."""
        task = asyncio.current_task()
        if task is not None:
            self.inflight.add(task)
        try:
            await work()
        except Exception:
            log.exception("%s tick failed", job)
        finally:
            self._beat(job)
            if task is not None:
                self.inflight.discard(task)

    async def poll(self) -> None:
        await self._guarded("poll", self.poller.poll_due)

    async def subscribe(self) -> None:
        await self._guarded("subscribe", self.poller.subscribe_new)

    async def detect(self) -> None:
        async def work() -> None:
            with DETECTION_DURATION.time():
                self.last_tick = await asyncio.to_thread(
                    run_alone, self.engine, "detect",
                    run_tick, self.engine, self.config, self.clock.now(), self.baselines,
                )  # fmt: skip
            LAST_DETECTION.set_to_current_time()

        await self._guarded("detect", work)

    async def refresh_lanes(self) -> None:
        """Learned lane figures for the `delayed` rule, the scorecard and /metrics."""

        async def work() -> None:
            await asyncio.to_thread(
                run_alone, self.engine, "lanes",
                refresh_lane_stats, self.engine, self.config, self.clock.now(),
            )  # fmt: skip

        await self._guarded("lanes", work)

    async def publish_scorecard(self) -> None:
        async def work() -> None:
            await asyncio.to_thread(
                run_alone, self.engine, "scorecard",
                publish_weekly, self.engine, self.config, self.clock.now(),
            )  # fmt: skip

        await self._guarded("scorecard", work)

    async def deliver(self) -> None:
        async def work() -> None:
            await deliver_due(
                self.engine, self.routes, self.clock.now(),
                outbox=OUTBOX,
                deliveries=OUTBOX_DELIVERIES,
                on_outcome=lambda sink, outcome, n: NOTIFICATIONS.labels(
                    sink=sink, outcome=outcome
                ).inc(n),
            )  # fmt: skip

        await self._guarded("deliver", work)

    async def resend(self) -> None:
        async def work() -> None:
            await resend_active(self.engine, self.routes, self.clock.now(),
                                alerts=ALERTS)  # fmt: skip

        await self._guarded("resend", work)

    def start_scheduler(self) -> None:
        every = self.config.daemon
        self.scheduler.add_job(self.poll, "interval", seconds=every.poll_interval_seconds,
                               id="poll", next_run_time=_soon())  # fmt: skip
        if every.public_url and self.ctx.push_adapters:
            self.scheduler.add_job(self.subscribe, "interval",
                                   seconds=every.subscribe_interval_seconds, id="subscribe",
                                   next_run_time=_soon())  # fmt: skip
        self.scheduler.add_job(self.detect, "interval", seconds=every.detect_interval_seconds,
                               id="detect", next_run_time=_soon())  # fmt: skip
        self.scheduler.add_job(self.refresh_lanes, "interval", hours=1, id="lanes",
                               next_run_time=_soon())  # fmt: skip
        # Monday 09:00 in the shop's zone: operations managers read it at the weekly meeting.
        self.scheduler.add_job(self.publish_scorecard, CronTrigger(
            day_of_week="mon", hour=9, minute=0, timezone=str(report_zone(self.config))
        ), id="scorecard")  # fmt: skip
        if self.routes:
            self.scheduler.add_job(self.deliver, "interval",
                                   seconds=every.deliver_interval_seconds, id="deliver",
                                   next_run_time=_soon())  # fmt: skip
            self.scheduler.add_job(self.resend, "interval", seconds=60, id="resend")
        self.scheduler.start()
        self.ctx.scheduler_running = True

    async def stop_scheduler(self, grace_seconds: float = 60) -> None:
        """Start nothing new; let the ticks in hand (a poll batch, a detection) finish."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        pending = [t for t in self.inflight if not t.done()]
        if pending:
            log.info("waiting for %d running job(s) to finish", len(pending))
            await asyncio.wait(pending, timeout=grace_seconds)
        self.ctx.scheduler_running = False

    # -- serving ------------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = create_app(self.ctx)

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            self.start_scheduler()
            try:
                yield
            finally:
                await self.stop_scheduler()

        app.router.lifespan_context = lifespan
        return app

    def server(self, host: str, port: int) -> uvicorn.Server:
        config = uvicorn.Config(self.app(), host=host, port=port, log_level="warning",
                                lifespan="on")  # fmt: skip
        return uvicorn.Server(config)


def _soon() -> Any:
    from datetime import datetime

    return datetime.now().astimezone()


async def serve(config: Config, host: str, port: int, clock: Clock) -> None:
    """Run until SIGTERM/SIGINT. Carrier credentials are checked before anything starts."""
    from monitor.daemon.carrier_clients import build_clients

    async with httpx.AsyncClient(timeout=httpx.Timeout(20.0)) as http:
        daemon = Daemon(config, clock, build_clients(config, http), http)
        log.info("parcelwatch serving on http://%s:%d", host, port)
        await daemon.server(host, port).serve()
