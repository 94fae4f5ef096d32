"""Carrier push callbacks: one route for every tracking API that takes pushes
(`/webhooks/<api>`, the table in carriers/apis.py).

The adapter verifies the signature before anything is stored (401 otherwise) and parses the
body (400 if it cannot); the body is kept as received (monitor/store/raw_answers.py), the
updates are group-committed with concurrent pushes, then acknowledged with the exact reply
the API expects. A store failure answers 500, so the
carrier sends the push again. Detection picks the change up on its own tick.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response

from carriers.apis import PUSH_NAMES
from carriers.base import SignatureError
from monitor.metrics.instruments import PUSHES_REJECTED
from monitor.store.raw_answers import RawPush
from monitor.web.context import AppContext
from monitor.web.errors import BAD_REQUEST, PUSH, TOO_LARGE

ApiName = Annotated[str, Path(description=f"The tracking API: {', '.join(PUSH_NAMES)}")]


def build_webhook_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["carriers"], responses={**BAD_REQUEST, **TOO_LARGE, **PUSH})

    @router.post("/webhooks/{api}")
    async def receive_push(api: ApiName, request: Request) -> Response:
        """A push from a tracking API (Kuaidi100, 17TRACK, AfterShip), in its own format."""
        if api not in PUSH_NAMES:
            raise HTTPException(404, f"no tracking API {api!r} takes pushes")
        adapter = ctx.push_adapters.get(api)
        if adapter is None:
            raise HTTPException(404, f"no {api} account is configured")
        body = await request.body()
        try:
            parsed = adapter.parse_push(dict(request.headers), body)
        except SignatureError as exc:
            PUSHES_REJECTED.labels(api=api, reason="signature").inc()
            raise HTTPException(401, f"bad signature: {exc}") from exc
        except ValueError as exc:
            PUSHES_REJECTED.labels(api=api, reason="malformed").inc()
            raise HTTPException(400, f"malformed push: {exc}") from exc
        allowed = ctx.push_carriers.get(api)
        updates = [replace(u, carriers_allowed=allowed) for u in parsed.updates]
        numbers = tuple(sorted({u.tracking_number for u in updates}))
        raw = RawPush(api, dict(request.headers), body, ctx.clock.now(), numbers=numbers)
        await ctx.push_writer.submit(updates, raw)
        return Response(parsed.reply_body, media_type=parsed.reply_content_type)

    return router
