"""DingTalk (钉钉) custom robot: one markdown message per send, signed when the robot uses
加签 (docs/observability.md "Chat robots").

`POST .../robot/send?access_token=T&timestamp=MS&sign=S` with
{"msgtype": "markdown", "markdown": {"title", "text"}}, where
    S = base64(HMAC-SHA256(key=secret, msg=f"{MS}\\n{secret}")), URL-encoded in the query
(the query encoding is done once, by httpx: encoding it here too breaks the signature). MS
must be within an hour of DingTalk's clock. A robot takes 20 messages a minute and, past
that, is throttled for 10 minutes (errcode 130101): transient, retried after 10 minutes.
310000 (signature, keyword or IP allow-list mismatch) and 300001 (no such token) are
configuration errors: permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Annotated, Literal

import httpx
from pydantic import Field

from alerts.sinks.base import Notification, Now, SinkError, utc_now
from alerts.sinks.http import HttpSink
from alerts.sinks.render import MARKDOWN, Renderer, truncate_utf8
from alerts.sinks.settings import EnvName, SinkParts, SinkType, _RobotUrl

# Our reference gives no markdown size for DingTalk: keep to WeCom's 4096 bytes, which is
# also about what a lead reads on a phone.
MARKDOWN_LIMIT = 4096
TOO_OFTEN = 130101
# "over the limit, throttled 10 min" (docs/observability.md "Chat robots")
THROTTLED_SECONDS = 600.0
TRANSIENT_CODES = frozenset({-1, TOO_OFTEN})


def signature(timestamp_ms: str, secret: str) -> str:
    """The `sign` query parameter before URL encoding."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkSink(HttpSink):
    type = "dingtalk"

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        secret: str | None = None,
        timeout: float = 10.0,
        renderer: Renderer | None = None,
        now: Now = utc_now,
    ) -> None:
        super().__init__(name, url, client, timeout=timeout, renderer=renderer, now=now)
        self.secret = secret

    def markdown(self, messages: Sequence[Notification]) -> dict[str, str]:
        if len(messages) == 1:
            n = messages[0]
            text = truncate_utf8(self.renderer.message(n, MARKDOWN), MARKDOWN_LIMIT)
            return {"title": self.renderer.short_title(n), "text": text}
        return {
            "title": self.renderer.digest_title(messages),
            "text": self.renderer.digest(messages, MARKDOWN, MARKDOWN_LIMIT),
        }

    async def send(self, messages: Sequence[Notification]) -> None:
        params: dict[str, str] = {}
        if self.secret:
            timestamp = str(int(self.now().timestamp() * 1000))
            params = {"timestamp": timestamp, "sign": signature(timestamp, self.secret)}
        payload = {"msgtype": "markdown", "markdown": self.markdown(messages)}
        response = await self.post(json=payload, params=params)
        body = self.json_body(response)
        code = body.get("errcode", 0)
        if code == 0:
            return
        message = f"{self.where}: errcode {code}: {body.get('errmsg', '')}"
        if code == TOO_OFTEN:
            raise SinkError(message, retry_after=THROTTLED_SECONDS)
        if code in TRANSIENT_CODES:
            raise SinkError(message)
        raise SinkError(
            message + " (check the token, secret and security settings)", permanent=True
        )


class DingTalkSinkConfig(_RobotUrl):
    type: Literal["dingtalk"]
    secret_env: EnvName | None = None  # the robot's 加签 secret (starts with SEC)
    # per robot (docs/observability.md "Chat robots")
    rate_per_minute: Annotated[float, Field(gt=0)] | None = 20
    digest_after: Annotated[int, Field(ge=1)] | None = 10


def build(settings: DingTalkSinkConfig, parts: SinkParts) -> DingTalkSink:
    return DingTalkSink(
        parts.name, parts.url(), parts.client, secret=parts.secret("secret_env"),
        timeout=parts.timeout, renderer=parts.renderer, now=parts.now,
    )  # fmt: skip


SINK = SinkType("dingtalk", DingTalkSinkConfig, build)
