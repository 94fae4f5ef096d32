"""Generic webhook: a signed JSON POST, for a CRM, an SMS tool or any in-house service.

Body (one notification):
    {"event": "opened", "idempotency_key": "alert-17-opened-...", "created_at": "...",
     "sent_at": "...", "link": "https://.../parcels/O1", "data": {<the outbox payload>}}
Several at once (only when the sink sets `digest_after`):
    {"event": "digest", "sent_at": "...", "notifications": [<one body each, without sent_at>]}

Headers:
    X-Parcelwatch-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>
    X-Parcelwatch-Timestamp: <Unix seconds>, equal to the body's `sent_at`, so that the
        signature covers it: a receiver rejects old timestamps to stop replays.
    Idempotency-Key: the outbox row's key (a digest: a hash of its rows' keys). Delivery is at
        least once: a receiver that stores the keys it has seen drops the rare re-send.
    X-Parcelwatch-Event: the event (opened, escalated, resolved, parcel_shipped, ...).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any, Literal

import httpx

from alerts.sinks.base import Notification, Now, utc_now
from alerts.sinks.http import HttpSink
from alerts.sinks.render import Renderer
from alerts.sinks.settings import EnvName, SinkParts, SinkType, _UrlInFileOrEnv

SIGNATURE_HEADER = "X-Parcelwatch-Signature"
TIMESTAMP_HEADER = "X-Parcelwatch-Timestamp"
EVENT_HEADER = "X-Parcelwatch-Event"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(body: bytes, secret: str, header: str) -> bool:
    """For receivers (and tests): constant-time check of a signature header."""
    return hmac.compare_digest(sign(body, secret), header)


class WebhookSink(HttpSink):
    type = "webhook"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        secret: str,
        timeout: float = 10.0,
        renderer: Renderer | None = None,
        now: Now = utc_now,
    ) -> None:
        super().__init__(name, url, client, timeout=timeout, renderer=renderer, now=now)
        self.secret = secret

    def _one(self, n: Notification) -> dict[str, Any]:
        return {
            "event": n.event,
            "idempotency_key": n.idempotency_key,
            "created_at": n.created_at.isoformat(),
            "link": self.renderer.link(n),
            "data": dict(n.payload),
        }

    async def send(self, messages: Sequence[Notification]) -> None:
        sent_at = self.now().replace(microsecond=0)
        if len(messages) == 1:
            body = self._one(messages[0]) | {"sent_at": sent_at.isoformat()}
            event, key = messages[0].event, messages[0].idempotency_key
        else:
            keys = "\n".join(n.idempotency_key for n in messages)
            event = "digest"
            key = "digest-" + hashlib.sha256(keys.encode("utf-8")).hexdigest()[:32]
            body = {
                "event": event,
                "sent_at": sent_at.isoformat(),
                "notifications": [self._one(n) for n in messages],
            }
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
        data = raw.encode("utf-8")
        await self.post(
            content=data,
            headers={
                "Content-Type": "application/json; charset=utf-8",
                SIGNATURE_HEADER: sign(data, self.secret),
                TIMESTAMP_HEADER: str(int(sent_at.timestamp())),
                IDEMPOTENCY_HEADER: key,
                EVENT_HEADER: event,
            },
        )


class WebhookSinkConfig(_UrlInFileOrEnv):
    type: Literal["webhook"]
    secret_env: EnvName  # HMAC-SHA256 key for X-Parcelwatch-Signature


def build(settings: WebhookSinkConfig, parts: SinkParts) -> WebhookSink:
    key = parts.secret("secret_env")
    assert key is not None  # required by the model
    return WebhookSink(
        parts.name, parts.url(), parts.client, secret=key, timeout=parts.timeout,
        renderer=parts.renderer, now=parts.now,
    )  # fmt: skip


SINK = SinkType("webhook", WebhookSinkConfig, build)
