"""The HTTP transport every web sink shares: one POST with a timeout, and the mapping of
transport errors and status codes to `SinkError`.

Retries are not done here: a failed delivery goes back to the outbox, which tries again
with exponential backoff that survives restarts (alerts/outbox/). The `httpx.AsyncClient`
is injected (one per process, closed by its owner; tests pass one of their own).

Status codes, unless a channel knows better (`classify`):
    2xx ok · 408, 425, 429, 5xx transient (429 and 503 honour Retry-After) · other 4xx
    permanent (the request itself is wrong: a bad token, a removed endpoint, a payload the
    receiver refuses; sending it again cannot help).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from alerts.sinks.base import Now, Sink, SinkError, utc_now
from alerts.sinks.render import Renderer

TRANSIENT_STATUS = frozenset({408, 425, 429})
BODY_IN_ERROR = 200  # characters of a response body kept in an error message


def endpoint(url: str) -> str:
    """scheme://host[:port] only: paths and queries of robot URLs hold their keys."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}" if parts.netloc else "<url>"


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def body_excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:BODY_IN_ERROR] + ("…" if len(text) > BODY_IN_ERROR else "")


class HttpSink(Sink):
    """A sink that POSTs to one URL. Subclasses build the payload (`send`) and may
    refine `classify` for channels that report errors in a 200 body."""

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        timeout: float = 10.0,
        renderer: Renderer | None = None,
        now: Now = utc_now,
    ) -> None:
        super().__init__(name)
        self.url = url
        self.client = client
        self.timeout = timeout
        self.renderer = renderer or Renderer()
        self.now = now

    @property
    def where(self) -> str:
        return endpoint(self.url)

    async def post(
        self,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> httpx.Response:
        """POST and return the response if `classify` accepts it, else raise SinkError."""
        target = httpx.URL(url or self.url)
        if params:  # added to the URL's own query (a robot URL carries its key there)
            target = target.copy_merge_params(dict(params))
        try:
            response = await self.client.post(
                target, json=json, content=content, headers=dict(headers or {}),
                timeout=self.timeout,
            )  # fmt: skip
        except httpx.TimeoutException as exc:
            raise SinkError(f"{self.where}: no answer within {self.timeout:g} s") from exc
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise SinkError(f"{self.where}: not a usable URL", permanent=True) from exc
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise SinkError(f"{self.where}: cannot reach ({reason})") from exc
        self.classify(response)
        return response

    def classify(self, response: httpx.Response) -> None:
        """Raise SinkError unless the channel accepted the message."""
        status = response.status_code
        if 200 <= status < 300:
            return
        message = f"{self.where}: HTTP {status}: {body_excerpt(response)}"
        if status in TRANSIENT_STATUS or status >= 500:
            raise SinkError(message, retry_after=retry_after(response, self.now()))
        raise SinkError(message, permanent=True)

    def json_body(self, response: httpx.Response) -> dict[str, Any]:
        """A robot's JSON answer; an unreadable one is transient (a proxy's error page)."""
        try:
            body = response.json()
        except ValueError as exc:
            raise SinkError(f"{self.where}: answer is not JSON: {body_excerpt(response)}") from exc
        if not isinstance(body, dict):
            raise SinkError(f"{self.where}: unexpected answer: {body_excerpt(response)}")
        return body
