"""Request limits, enforced before anything parses a request: body size, and NUL characters.

A carrier push is a few kilobytes; without a limit the whole body of any size is read into
memory before its signature can be checked (eight concurrent 20 MB bodies took the daemon
from 300 to 473 MB). This ASGI middleware refuses a body over the limit with 413: at once
when `Content-Length` says so, else as soon as the bytes read pass it, holding at most the
limit in memory. Pushes (`/webhooks/...`) have their own, smaller limit.

A NUL character cannot be stored in PostgreSQL text and has no place in an order id, a
filter or a note: a query string or (outside pushes, whose scan texts are cleaned when they
are stored) a body holding one is refused with 400 before it reaches a handler.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    def __init__(self, app: ASGIApp, *, push_bytes: int, other_bytes: int) -> None:
        self.app = app
        self.push_bytes = push_bytes
        self.other_bytes = other_bytes

    def limit_for(self, path: str) -> int:
        return self.push_bytes if path.startswith("/webhooks/") else self.other_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if has_nul(scope.get("query_string", b"")) or "\x00" in scope.get("path", ""):
            await _refuse(send, 400, "NUL characters are not allowed in a URL")
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        push = scope.get("path", "").startswith("/webhooks/")
        body = await read_within(scope, receive, send, self.limit_for(scope.get("path", "")))
        if body is None:
            return
        if not push and (has_nul(body) or b"\\u0000" in body):
            await _refuse(send, 400, "NUL characters are not allowed in a request body")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def read_within(scope: Scope, receive: Receive, send: Send, limit: int) -> bytes | None:
    """The whole request body, held to `limit` bytes: None once the request was refused with
    413 (at once when `Content-Length` says so) or the client went away."""
    declared = _content_length(scope)
    if declared is not None and declared > limit:
        await _too_large(send, limit)
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _too_large(send, limit)
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def has_nul(data: bytes) -> bool:
    return b"\x00" in data or b"%00" in data


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, f"request body over {limit} bytes")


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
