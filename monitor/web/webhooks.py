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

Pushes are the daemon's hottest path, so `PushFastPath` answers them at the ASGI level, ahead
of the framework's routing, sessions and request objects, which cost as much CPU as parsing
and storing a push (docs/architecture.md "Push ingest"). The FastAPI route below gives the
same answers through the same `answer_push`; it documents the endpoint in the OpenAPI schema
and answers whatever the fast path leaves to it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from carriers.apis import PUSH_NAMES
from carriers.base import SignatureError, TrackingAdapter
from monitor.ingest.push_writer import Accepted, PushNotStored, StoreUnavailable
from monitor.metrics.instruments import PUSHES_REJECTED
from monitor.store.raw_answers import RawPush
from monitor.web.context import AppContext
from monitor.web.errors import BAD_REQUEST, PUSH, TOO_LARGE
from monitor.web.limits import ASGIApp, Receive, Scope, Send, has_nul, read_within

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 60
PREFIX = "/webhooks/"

ApiName = Annotated[str, Path(description=f"The tracking API: {', '.join(PUSH_NAMES)}")]


@dataclass(frozen=True)
class PushAnswer:
    """What a carrier is told about its push: status, body and any extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> PushAnswer:
    """An error in the app's one error shape, `{"error": ...}` (monitor/web/errors.py)."""
    body = json.dumps({"error": message}, ensure_ascii=False, separators=(",", ":")).encode()
    return PushAnswer(status, body, headers=headers or {})


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


async def answer_push(
    ctx: AppContext, api: str, headers: Mapping[str, str], body: bytes
) -> PushAnswer:
    """Verify, parse and store one push (with the concurrent ones) and say how it went: the
    API's own success reply only once the push is committed."""
    if api not in PUSH_NAMES:
        return _error(404, f"no tracking API {api!r} takes pushes")
    adapter = ctx.push_adapters.get(api)
    if adapter is None:
        return _error(404, f"no {api} account is configured")
    prepare = partial(accept, adapter, api, headers, body, ctx.clock.now(),
                      ctx.push_carriers.get(api))  # fmt: skip
    try:
        accepted = await ctx.push_writer.submit(prepare)
    except SignatureError as exc:
        PUSHES_REJECTED.labels(api=api, reason="signature").inc()
        return _error(401, f"bad signature: {exc}")
    except ValueError as exc:
        PUSHES_REJECTED.labels(api=api, reason="malformed").inc()
        return _error(400, f"malformed push: {exc}")
    except StoreUnavailable as exc:
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return _error(503, f"the store cannot take pushes now, nothing was kept; send it again: "
                      f"{exc}", retry)  # fmt: skip
    except PushNotStored:  # logged by the writer, with the storing error
        return _error(500, "this push could not be stored; nothing of it was kept")
    result = accepted.result
    return PushAnswer(200, result.reply_body, result.reply_content_type)


def build_webhook_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["carriers"], responses={**BAD_REQUEST, **TOO_LARGE, **PUSH})

    @router.post("/webhooks/{api}")
    async def receive_push(api: ApiName, request: Request) -> Response:
        """A push from a tracking API (Kuaidi100, 17TRACK, AfterShip), in its own format."""
        answer = await answer_push(ctx, api, dict(request.headers), await request.body())
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type,
                        headers=dict(answer.headers))  # fmt: skip

    return router


class PushFastPath:
    """ASGI middleware: a POST to `/webhooks/<api>` of a configured API is answered here, its
    body read within the push size limit (413 beyond it); everything else goes on to the
    app. It sits inside SecurityHeaders, so its answers carry the same headers as any."""

    def __init__(self, app: ASGIApp, *, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = self._push_api(scope)
        if api is None:
            await self.app(scope, receive, send)
            return
        body = await read_within(scope, receive, send, self.ctx.config.daemon.max_push_bytes)
        if body is None:  # refused as too large, or the carrier went away
            return
        answer = await answer_push(self.ctx, api, _headers(scope), body)
        await _send(send, answer)

    def _push_api(self, scope: Scope) -> str | None:
        """The API a request pushes to, when this path may answer it."""
        if scope["type"] != "http" or scope.get("method") != "POST":
            return None
        path: str = scope.get("path", "")
        api = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        if api not in self.ctx.push_adapters or api not in PUSH_NAMES:
            return None
        if has_nul(scope.get("query_string", b"")):
            return None  # the app refuses it (monitor/web/limits.py)
        return api


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name, the first of a repeated one winning, as the
    framework's request object gives them."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


async def _send(send: Send, answer: PushAnswer) -> None:
    headers = [
        (b"content-type", answer.content_type.encode("latin-1")),
        (b"content-length", str(len(answer.body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()),
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
