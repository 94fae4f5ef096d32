"""Browser-facing protections for every response: no framing (clickjacking), a content
security policy that allows only this site's own resources (the scorecard's charts are
inline images, its styles inline), no MIME sniffing, no referrer to other sites; and the
`Secure` flag on cookies when the page was served over https.

Behind a TLS-terminating proxy the request arrives as plain http; its `X-Forwarded-Proto`
is believed only with `auth.trust_proxy_headers = true`, since any client can send it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.requests import Request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]  # fmt: skip

POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def served_over_https(scope: Scope, trust_proxy: bool) -> bool:
    if scope.get("scheme") == "https":
        return True
    forwarded = _header(scope, b"x-forwarded-proto") if trust_proxy else None
    return forwarded is not None and forwarded.split(",")[0].strip().lower() == "https"


def client_address(request: Request, trust_proxy: bool) -> str:
    """The client's address for throttling: the proxy's X-Forwarded-For first hop only when
    the proxy is trusted."""
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, trust_proxy: bool) -> None:
        self.app = app
        self.trust_proxy = trust_proxy

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = served_over_https(scope, self.trust_proxy)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v + b"; Secure")
                    if secure and k == b"set-cookie" and b"secure" not in v.lower()
                    else (k, v)
                    for k, v in message.get("headers", [])
                ]
                present = {k for k, _ in headers}
                headers.extend(h for h in HEADERS if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
