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
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from fastapi import FastAPI
from prometheus_client import Counter
from sqlalchemy import Engine, func, select

from alerts.outbox import DeliveryPolicy, deliver_due, resend_active
from alerts.sinks import build_routes
from carriers.status import ParcelStatus
from monitor.clock import Clock
from monitor.config import Config
from monitor.daemon.incremental import reconcile, run_full_tick, run_incremental_tick
from monitor.daemon.poller import CarrierClient, Poller
from monitor.daemon.tick import TickResult
from monitor.detection import BaselineCache
from monitor.metrics.collectors import register_store_collector
from monitor.metrics.instruments import (
    DETECTION_DURATION,
    EVENTS_INGESTED,
    LAST_DETECTION,
    NOTIFICATIONS,
    SCHEDULER_SKIPPED_RUNS,
    TRACKING_REQUESTS,
)
from monitor.scorecard.lanes import refresh_lane_stats
from monitor.scorecard.weekly import publish_weekly
from monitor.scorecard.weeks import report_zone
from monitor.store.counts import compact_counts
from monitor.store.db import make_engine, upgrade
from monitor.store.locks import run_alone
from monitor.store.tables import (
    ALERT_COUNTS,
    ALERTS,
    OUTBOX,
    OUTBOX_DELIVERIES,
    PARCEL_COUNTS,
)
from monitor.web.app import create_app
from monitor.web.context import AppContext

log = logging.getLogger(__name__)
STATUS_SECONDS = 60  # one status line a minute on the terminal
COMPACT_SECONDS = 60  # how often the /metrics counts are folded (monitor/store/counts.py)


def count_skipped_runs(scheduler: BaseScheduler) -> None:
    """A run skipped because the job's previous run is still going (max_instances=1) is
    counted per job in a metric, not printed (monitor/cli/common.py filters APScheduler's
    warning): a skip is the design; only a job that skips all the time needs a look."""

    def skipped(event: JobSubmissionEvent) -> None:
        SCHEDULER_SKIPPED_RUNS.labels(job_id=str(event.job_id)).inc()

    scheduler.add_listener(skipped, EVENT_JOB_MAX_INSTANCES)


def _total(counter: Counter, **labels: str) -> float:
    return sum(
        sample.value
        for metric in counter.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
        and all(sample.labels.get(k) == v for k, v in labels.items())
    )


class StatusLine:
    """The terminal's one line a minute: orders to ship, parcels on their way, open alerts,
    and the tracking calls and pushed events since the previous line. The figures are the
    kept counts /metrics reads (monitor/store/counts.py), so the line costs the same at ten
    million parcels as at ten."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.polls = _total(TRACKING_REQUESTS)
        self.pushes = _total(EVENTS_INGESTED, source="push")

    def line(self) -> str:
        waiting = PARCEL_COUNTS.c.status == ParcelStatus.AWAITING_SHIPMENT.value
        with self.engine.connect() as conn:
            to_ship = conn.execute(select(func.sum(PARCEL_COUNTS.c.n)).where(waiting)).scalar()
            moving = conn.execute(select(func.sum(PARCEL_COUNTS.c.n)).where(~waiting)).scalar()
            alerts = conn.execute(select(func.sum(ALERT_COUNTS.c.n))).scalar()
        polls, pushes = _total(TRACKING_REQUESTS), _total(EVENTS_INGESTED, source="push")
        text = (
            f"status: {int(to_ship or 0)} orders to ship, {int(moving or 0)} parcels on their "
            f"way, {int(alerts or 0)} open alerts; last minute: "
            f"{polls - self.polls:.0f} tracking calls, {pushes - self.pushes:.0f} pushed events"
        )
        self.polls, self.pushes = polls, pushes
        return text


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
        push = {c.push_name or c.adapter.name: c for c in clients if c.adapter.supports_push}
        carriers: dict[str, frozenset[str]] = {}
        for c in clients:
            if c.adapter.supports_push:
                name = c.push_name or c.adapter.name
                carriers[name] = carriers.get(name, frozenset()) | c.carriers
        self.ctx = AppContext(
            self.engine, config, clock,
            push_adapters={name: c.adapter for name, c in push.items()},
            push_carriers=carriers,
        )  # fmt: skip
        self.stopping = False  # set on SIGTERM: jobs claim nothing new
        self.grace_seconds = config.daemon.shutdown_grace_seconds
        self.poller = Poller(
            self.engine, config, clients, clock, callback_base=config.daemon.public_url,
            should_stop=lambda: self.stopping,
        )  # fmt: skip
        self.scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        )
        self.last_tick: Any = None
        self.inflight: set[asyncio.Task[Any]] = set()
        self.baselines = BaselineCache()
        self.detect_lock = threading.Lock()
        self.status = StatusLine(self.engine)
        count_skipped_runs(self.scheduler)
        # Sinks are built once: their rate-limit windows live in them.
        self.routes = (
            build_routes(config.sinks, http, public_url=config.daemon.public_url)
            if http is not None and config.sinks
            else []
        )
        # docs/architecture.md "Scale": a dead replica's claimed notifications come back then.
        self.delivery = DeliveryPolicy(lease=timedelta(seconds=config.daemon.deliver_lease_seconds))

    # -- jobs ---------------------------------------------------------------------------

    async def _guarded(self, job: str, work: Callable[[], Awaitable[Any]]) -> None:
        """One failing tick is logged and retried on the next; it never kills the job. Its
        outcome is what /readyz reports: when it last finished, and whether it failed."""
        if self.stopping:
            return  # a run the scheduler started just before shutdown: claim nothing new
        task = asyncio.current_task()
        if task is not None:
            self.inflight.add(task)
        try:
            await work()
        except asyncio.CancelledError:
            if not self.stopping:
                raise
            # Cancelled after the shutdown grace period; the job released what it claimed.
            log.warning("%s: cancelled at shutdown after %.0f s", job, self.grace_seconds)
        except Exception as exc:
            log.exception("%s tick failed", job)
            self.ctx.job_errors[job] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            self.ctx.job_errors.pop(job, None)
        finally:
            self.ctx.heartbeats[job] = self.clock.now()
            if task is not None:
                self.inflight.discard(task)

    async def poll(self) -> None:
        await self._guarded("poll", self.poller.poll_due)

    async def subscribe(self) -> None:
        await self._guarded("subscribe", self.poller.subscribe_new)

    def _detection(self, job: str) -> TickResult | None:
        """One detection at a time in this process (the incremental tick and the
        reconciliation are two jobs). Across replicas on PostgreSQL: incremental ticks share
        the due work through leased claims and take turns with the full tick themselves
        (docs/architecture.md "Detection across replicas"); one reconciliation, and one full
        tick where incremental detection is off, at a time (advisory locks)."""
        now = self.clock.now()
        with self.detect_lock:
            if job == "reconcile":
                return run_alone(self.engine, "reconcile", reconcile, self.engine, self.config,
                                 now, self.baselines)  # fmt: skip
            if self.config.daemon.incremental_detection:
                return run_incremental_tick(self.engine, self.config, now, self.baselines,
                                            should_stop=lambda: self.stopping)  # fmt: skip
            return run_alone(self.engine, "detect", run_full_tick, self.engine, self.config,
                             now, self.baselines)  # fmt: skip

    async def detect(self) -> None:
        async def work() -> None:
            with DETECTION_DURATION.time():
                self.last_tick = await asyncio.to_thread(self._detection, "detect")
            LAST_DETECTION.set_to_current_time()

        await self._guarded("detect", work)

    async def reconcile(self) -> None:
        """The full tick behind the incremental ones
        (docs/architecture.md "Incremental detection"): carrier-wide incidents, and whatever the
        incremental state missed."""

        async def work() -> None:
            await asyncio.to_thread(self._detection, "reconcile")

        await self._guarded("reconcile", work)

    async def compact_counts(self) -> None:
        """Fold the /metrics counts' appended rows (monitor/store/counts.py). Safe on every
        replica at once: each fold is one atomic statement."""

        async def work() -> None:
            await asyncio.to_thread(compact_counts, self.engine)

        await self._guarded("counts", work)

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
                policy=self.delivery,
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

    async def report_status(self) -> None:
        """Not a guarded job (no heartbeat, not in /readyz): a missed line harms nothing."""
        try:
            log.info("%s", await asyncio.to_thread(self.status.line))
        except Exception as exc:  # the store is busy or gone: the jobs report that
            log.warning("status line: %s", exc)

    def _every(self, job: str, run: Callable[[], Awaitable[None]], seconds: float,
               **options: Any) -> None:  # fmt: skip
        self.ctx.job_intervals[job] = seconds
        self.scheduler.add_job(run, "interval", seconds=seconds, id=job, **options)

    def start_scheduler(self) -> None:
        every = self.config.daemon
        self._every("poll", self.poll, every.poll_interval_seconds, next_run_time=_soon())
        if every.public_url and self.ctx.push_adapters:
            self._every("subscribe", self.subscribe, every.subscribe_interval_seconds,
                        next_run_time=_soon())  # fmt: skip
        self._every("detect", self.detect, every.detect_interval_seconds, next_run_time=_soon())
        if every.incremental_detection:
            self._every("reconcile", self.reconcile, every.reconcile_interval_seconds,
                        next_run_time=_soon())  # fmt: skip
        self._every("lanes", self.refresh_lanes, 3600, next_run_time=_soon())
        self._every("counts", self.compact_counts, COMPACT_SECONDS)
        # Monday 09:00 in the shop's zone: operations managers read it at the weekly meeting.
        self.ctx.job_intervals["scorecard"] = 7 * 24 * 3600
        self.scheduler.add_job(self.publish_scorecard, CronTrigger(
            day_of_week="mon", hour=9, minute=0, timezone=str(report_zone(self.config))
        ), id="scorecard")  # fmt: skip
        if self.routes:
            self._every("deliver", self.deliver, every.deliver_interval_seconds,
                        next_run_time=_soon())  # fmt: skip
            self._every("resend", self.resend, 60)
        self.scheduler.add_job(self.report_status, "interval", seconds=STATUS_SECONDS,
                               id="status")  # fmt: skip
        self.scheduler.start()
        self.ctx.scheduler_running = True

    async def stop_scheduler(self, grace_seconds: float | None = None) -> None:
        """SIGTERM: start nothing new and stop claiming; let the jobs in hand (a poll round,
        a detection, a delivery) finish within the grace period; then cancel what is left,
        which releases its claims (poll leases, outbox rows) instead of leaving them to lapse.
        """
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        self.stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        pending = [t for t in self.inflight if not t.done()]
        if pending:
            log.info("waiting up to %.0f s for %d running job(s)", grace, len(pending))
            _, late = await asyncio.wait(pending, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=10)
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
                # uvicorn has answered the requests in flight by now: the push writer ends
                # its batch in hand and answers anything still queued with a retry status.
                await self.ctx.push_writer.close()

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
