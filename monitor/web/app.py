"""The FastAPI app, assembled: ops endpoints, carrier webhooks, the REST API, the pages and
their static files, sessions (docs/contract.md "HTTP").

Handlers do blocking store work in FastAPI's thread pool (plain `def` handlers, or
`run_in_threadpool` where the raw body must be read first), so the event loop that also runs
the scheduler's jobs is never blocked by a database call.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from monitor import __version__
from monitor.web.api import build_api_router
from monitor.web.context import AppContext
from monitor.web.evidence_api import build_evidence_router
from monitor.web.limits import BodyLimit
from monitor.web.maintenance_api import build_maintenance_router
from monitor.web.ops import build_ops_router
from monitor.web.pages import build_router as build_page_router
from monitor.web.security import SecurityHeaders
from monitor.web.sessions import SESSION_LIFETIME, session_secret
from monitor.web.silences_api import build_silences_router
from monitor.web.webhooks import PushFastPath, build_webhook_router

STATIC = Path(__file__).with_name("static")


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(
        title="parcelwatch",
        version=__version__,
        description="Logistics exception monitoring: alert queue, shipments, carrier pushes.",
    )
    app.state.ctx = ctx

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))  # fmt: skip

    for router in (
        build_ops_router(ctx),
        build_webhook_router(ctx),
        build_api_router(ctx),
        build_evidence_router(ctx),
        build_silences_router(ctx),
        build_maintenance_router(ctx),
        build_page_router(ctx),
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_middleware(
        BodyLimit,
        push_bytes=ctx.config.daemon.max_push_bytes,
        other_bytes=ctx.config.daemon.max_request_bytes,
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(ctx.config.auth),
        session_cookie="parcelwatch_session",
        same_site="lax",
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    # Pushes are answered here, ahead of routing and sessions (monitor/web/webhooks.py).
    app.add_middleware(PushFastPath, ctx=ctx)
    # Outermost, so that it also sees the session cookie being set.
    app.add_middleware(SecurityHeaders, trust_proxy=ctx.config.auth.trust_proxy_headers)
    return app
