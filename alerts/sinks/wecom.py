"""WeCom (企业微信) group robot: one markdown message per send.

`POST .../cgi-bin/webhook/send?key=KEY` with {"msgtype": "markdown", "markdown": {"content"}}.
The content is at most 4096 bytes of UTF-8 (docs/observability.md "Chat robots"), so it is cut on
a character boundary, never mid-character. A robot takes 20 messages a minute (docs/observability.md
"Chat robots"): the outbox's limiter keeps under that, and errcode 45009 (too often) is transient.
Errors come back in a 200 body as `errcode`; the robot's other codes mean a wrong or deleted key or
a payload it refuses, which sending again cannot fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import httpx
from pydantic import Field

from alerts.sinks.base import Notification, SinkError
from alerts.sinks.http import HttpSink
from alerts.sinks.render import WECOM, truncate_utf8
from alerts.sinks.settings import SinkParts, SinkType, _RobotUrl

# bytes, "markdown内容，最长不超过4096个字节" (docs/observability.md "WeCom group robot")
MARKDOWN_LIMIT = 4096
TOO_OFTEN = 45009
TRANSIENT_CODES = frozenset({-1, TOO_OFTEN})  # -1: system busy


class WeComSink(HttpSink):
    type = "wecom"

    def content(self, messages: Sequence[Notification]) -> str:
        if len(messages) == 1:
            return truncate_utf8(self.renderer.message(messages[0], WECOM), MARKDOWN_LIMIT)
        return self.renderer.digest(messages, WECOM, MARKDOWN_LIMIT)

    async def send(self, messages: Sequence[Notification]) -> None:
        payload = {"msgtype": "markdown", "markdown": {"content": self.content(messages)}}
        response = await self.post(json=payload)
        self.check_errcode(response)

    def check_errcode(self, response: httpx.Response) -> None:
        body = self.json_body(response)
        code = body.get("errcode", 0)
        if code == 0:
            return
        message = f"{self.where}: errcode {code}: {body.get('errmsg', '')}"
        if code == TOO_OFTEN:
            raise SinkError(message + " (robot limit: 20 messages a minute)", retry_after=60)
        if code in TRANSIENT_CODES:
            raise SinkError(message)
        raise SinkError(message + " (check the robot key)", permanent=True)


class WeComSinkConfig(_RobotUrl):
    type: Literal["wecom"]
    # per robot (docs/observability.md "Chat robots")
    rate_per_minute: Annotated[float, Field(gt=0)] | None = 20
    digest_after: Annotated[int, Field(ge=1)] | None = 10


def build(settings: WeComSinkConfig, parts: SinkParts) -> WeComSink:
    return WeComSink(parts.name, parts.url(), parts.client, timeout=parts.timeout,
                     renderer=parts.renderer, now=parts.now)  # fmt: skip


SINK = SinkType("wecom", WeComSinkConfig, build)
