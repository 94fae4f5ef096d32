"""Endpoints for operators and orchestrators: /healthz (the process answers), /readyz (store
reachable, scheduler running, every job ran within its own schedule) and /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from monitor import __version__
from monitor.metrics.exposition import generate
from monitor.web.context import AppContext
from monitor.web.errors import BAD_REQUEST, UNAVAILABLE

STALE_AFTER_SECONDS = 600


def stale_after(interval_seconds: float | None) -> float:
    """How long a job may go without finishing a run before the daemon is not ready: three of
    its own intervals (two missed runs are a hiccup), and never less than ten minutes (a
    detection tick at peak may take a while). The hourly lane figures get three hours."""
    if interval_seconds is None:
        return STALE_AFTER_SECONDS
    return max(STALE_AFTER_SECONDS, 3 * interval_seconds)


def build_ops_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["ops"], responses=BAD_REQUEST)

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @router.get("/readyz", responses=UNAVAILABLE)
    def readyz() -> JSONResponse:
        problems = []
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any driver error means "not ready", with the reason
            problems.append(f"store unreachable: {type(exc).__name__}")
        if not ctx.scheduler_running:
            problems.append("scheduler not running")
        now = ctx.clock.now()
        for job, beat in ctx.heartbeats.items():
            error = ctx.job_errors.get(job)
            if error is not None:
                problems.append(f"job {job} failed on its last run: {error}")
            lag = (now - beat).total_seconds()
            if lag > stale_after(ctx.job_intervals.get(job)) * _clock_speed(ctx):
                problems.append(f"job {job} last ran {lag:.0f} s ago")
        status = 503 if problems else 200
        return JSONResponse({"ready": not problems, "problems": problems}, status_code=status)

    @router.get("/metrics")
    def metrics() -> Response:
        # What generate_latest gives, the store's unchanged families copied as rendered
        # (docs/observability.md "Store collectors").
        return Response(generate(), media_type=CONTENT_TYPE_LATEST)

    return router


def _clock_speed(ctx: AppContext) -> float:
    return float(getattr(ctx.clock, "speed", 1.0))
