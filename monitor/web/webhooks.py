"""Carrier push callbacks: one route for every tracking API that takes pushes
(`/webhooks/<api>`, the table in carriers/apis.py).

The route hands the body to the push writer (monitor/ingest/push_writer.py), which verifies
the signature (401 otherwise) and parses the body (400 if it cannot) in its own thread, off the
event loop, then stores the body as received (monitor/store/raw_answers.py) and its updates in
one transaction with the concurrent pushes, and only then is the push acknowledged with the
exact reply the API expects. When the store cannot take it the answer is 503 with
Retry-After (500 when this push's own data cannot be stored), so the carrier sends the push
again; nothing of it was stored. Detection picks the change up on its own tick
(docs/architecture.md "Push ingest").
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response

from carriers.apis import PUSH_NAMES
from carriers.base import SignatureError, TrackingAdapter
from monitor.ingest.push_writer import Accepted, StoreUnavailable
from monitor.metrics.instruments import PUSHES_REJECTED
from monitor.store.raw_answers import RawPush
from monitor.web.context import AppContext
from monitor.web.errors import BAD_REQUEST, PUSH, TOO_LARGE

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 60

ApiName = Annotated[str, Path(description=f"The tracking API: {', '.join(PUSH_NAMES)}")]


def accept(
    adapter: TrackingAdapter,
    api: str,
    headers: Mapping[str, str],
    body: bytes,
    received_at: datetime,
    allowed: frozenset[str] | None,
) -> Accepted:
    """Verify and parse one push (in the push writer's thread): its updates, limited to the
    carriers its account may move, and its body to keep. Raises SignatureError or
    ValueError (nothing is stored)."""
    parsed = adapter.parse_push(headers, body)
    updates = [replace(u, carriers_allowed=allowed) for u in parsed.updates]
    numbers = tuple(sorted({u.tracking_number for u in updates}))
    raw = RawPush(api, headers, body, received_at, numbers=numbers)
    return Accepted(updates, raw, parsed)


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
        prepare = partial(accept, adapter, api, dict(request.headers), body, ctx.clock.now(),
                          ctx.push_carriers.get(api))  # fmt: skip
        try:
            accepted = await ctx.push_writer.submit(prepare)
        except SignatureError as exc:
            PUSHES_REJECTED.labels(api=api, reason="signature").inc()
            raise HTTPException(401, f"bad signature: {exc}") from exc
        except ValueError as exc:
            PUSHES_REJECTED.labels(api=api, reason="malformed").inc()
            raise HTTPException(400, f"malformed push: {exc}") from exc
        except StoreUnavailable as exc:
            retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            detail = f"the store cannot take pushes now, nothing was kept; send it again: {exc}"
            raise HTTPException(503, detail, headers=retry) from exc
        except Exception as exc:  # this push's own data could not be stored (logged)
            detail = "this push could not be stored; nothing of it was kept"
            raise HTTPException(500, detail) from exc
        result = accepted.result
        return Response(result.reply_body, media_type=result.reply_content_type)

    return router
