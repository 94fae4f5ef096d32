"""Slack incoming webhook: {"text": <fallback>, "blocks": [<one mrkdwn section>]}.

Success is 200 with the body `ok` (docs/observability.md "Chat robots"). 404 (the webhook was
removed), 410 and 400/403 with `invalid_token`, `no_service`, `channel_not_found`, ... are
permanent, as in healthchecks' Slack transport; 429 and 5xx are transient. A section's text
holds at most 3000 characters (Block Kit), so a long message or digest is cut to fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import httpx
from pydantic import Field

from alerts.sinks.base import Notification, SinkError
from alerts.sinks.http import HttpSink, body_excerpt
from alerts.sinks.render import SLACK, truncate_utf8
from alerts.sinks.settings import SinkParts, SinkType, _RobotUrl

SECTION_LIMIT = 3000  # bytes here, which is never more than 3000 characters
HINTS = {
    "invalid_token": "the webhook's token was revoked: create a new incoming webhook",
    "no_service": "the incoming webhook was disabled or removed",
    "channel_not_found": "the webhook's channel is gone",
    "channel_is_archived": "the webhook's channel is archived",
    "action_prohibited": "an admin restricted posting to this channel",
}


class SlackSink(HttpSink):
    type = "slack"

    def blocks(self, messages: Sequence[Notification]) -> tuple[str, str]:
        """(fallback text, section mrkdwn)."""
        if len(messages) == 1:
            n = messages[0]
            text = self.renderer.message(n, SLACK)
            return self.renderer.short_title(n), truncate_utf8(text, SECTION_LIMIT)
        digest = self.renderer.digest(messages, SLACK, SECTION_LIMIT)
        return self.renderer.digest_title(messages), digest

    async def send(self, messages: Sequence[Notification]) -> None:
        fallback, text = self.blocks(messages)
        payload = {
            "text": fallback,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }
        await self.post(json=payload)

    def classify(self, response: httpx.Response) -> None:
        body = response.text.strip()
        if response.status_code == 200 and body in ("ok", ""):
            return
        hint = HINTS.get(body)
        if hint is not None or response.status_code in (404, 410):
            reason = hint or "the webhook does not exist"
            raise SinkError(
                f"{self.where}: HTTP {response.status_code} {body_excerpt(response)}: {reason}",
                permanent=True,
            )
        if response.status_code == 200:  # an answer Slack does not give: do not guess
            raise SinkError(f"{self.where}: unexpected answer: {body_excerpt(response)}")
        super().classify(response)


class SlackSinkConfig(_RobotUrl):
    type: Literal["slack"]
    # "1 per second" (docs/observability.md "Chat robots")
    rate_per_minute: Annotated[float, Field(gt=0)] | None = 60
    digest_after: Annotated[int, Field(ge=1)] | None = 10


def build(settings: SlackSinkConfig, parts: SinkParts) -> SlackSink:
    return SlackSink(parts.name, parts.url(), parts.client, timeout=parts.timeout,
                     renderer=parts.renderer, now=parts.now)  # fmt: skip


SINK = SinkType("slack", SlackSinkConfig, build)
