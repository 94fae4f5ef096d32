"""Alertmanager API v2: `POST <base>/api/v2/alerts` with a list of alerts
(docs/observability.md "Alertmanager API v2").

Labels identify an alert (`alertname`, `kind`, `carrier`, `province`, `warehouse`,
`severity`; `order_id` and `platform` for an order's kind, whose id another platform may
repeat; `tracking_number` too for a parcel's, so that the two parcels of a split order are two
alerts);
annotations are the latest text; `startsAt` is when the condition began. Alertmanager
resolves an alert whose `endsAt` has passed, so:
- opened / escalated (and the periodic re-send of active alerts, alerts/outbox/resend.py
  `resend_active`) send `endsAt = now + 4 x resend interval`, as Prometheus does: while
  parcelwatch keeps re-sending, the alert stays firing; if parcelwatch stops, it resolves by
  itself a few minutes later instead of firing forever;
- resolved sends `endsAt` = when it was resolved (<= now), which resolves it at once.
Sending the same labels again only refreshes the alert, so re-sends are harmless.
Meant for incidents and aggregate alerts (`carrier_incident`, `carrier_api_failing`, and
the kinds configured); per-parcel exceptions live in parcelwatch's own queue (docs/observability.md
"What goes to Alertmanager"). 200 is success, 400 permanent, 5xx transient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import httpx
from pydantic import Field, field_validator

from alerts.sinks.base import Notification, Now, utc_now
from alerts.sinks.http import HttpSink
from alerts.sinks.render import PLAIN, Renderer
from alerts.sinks.settings import (
    _LABEL_NAME,
    AGGREGATE_KINDS,
    EventName,
    KindName,
    SinkParts,
    SinkType,
    _UrlInFileOrEnv,
)

PATH = "/api/v2/alerts"
LABELS = ("kind", "carrier", "province", "warehouse", "severity")
SUBJECT_LABELS = ("order_id", "platform", "tracking_number")  # an order's or a parcel's alert


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def alertname(kind: str | None) -> str:
    """carrier_incident -> ParcelwatchCarrierIncident (Prometheus' CamelCase habit)."""
    return "Parcelwatch" + "".join(part.capitalize() for part in (kind or "alert").split("_"))


class AlertmanagerSink(HttpSink):
    type = "alertmanager"
    resends_active = True

    def __init__(
        self,
        name: str,
        url: str,
        client: httpx.AsyncClient,
        *,
        resend_seconds: float = 60.0,
        labels: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        renderer: Renderer | None = None,
        now: Now = utc_now,
    ) -> None:
        base = url.rstrip("/")
        super().__init__(
            name,
            base if base.endswith(PATH) else base + PATH,
            client,
            timeout=timeout,
            renderer=renderer,
            now=now,
        )
        self.resend_seconds = resend_seconds
        self.static_labels = dict(labels or {})

    def alert(self, n: Notification, now: datetime) -> dict[str, Any]:
        labels = dict(self.static_labels) | {"alertname": alertname(n.kind)}
        for key in LABELS + (SUBJECT_LABELS if n.order_id else ()):
            if value := n.text(key):
                labels[key] = value
        body = self.renderer.message(n, PLAIN)
        alert: dict[str, Any] = {
            "labels": labels,
            "annotations": {"summary": self.renderer.short_title(n), "description": body},
        }
        if since := n.since():
            alert["startsAt"] = rfc3339(since)
        if n.event == "resolved":
            alert["endsAt"] = rfc3339(min(n.created_at, now))
        else:
            alert["endsAt"] = rfc3339(now + timedelta(seconds=4 * self.resend_seconds))
        if url := self.renderer.link(n):
            alert["generatorURL"] = url
        return alert

    async def send(self, messages: Sequence[Notification]) -> None:
        now = self.now()
        await self.post(json=[self.alert(n, now) for n in messages])


class AlertmanagerSinkConfig(_UrlInFileOrEnv):
    type: Literal["alertmanager"]
    # Incidents and aggregates; per-parcel exceptions stay in our own queue (docs/observability.md
    # "What goes to Alertmanager").
    kinds: list[KindName] | None = AGGREGATE_KINDS
    # Pydantic copies field defaults per instance, so these lists are not shared.
    events: list[EventName] = ["opened", "escalated", "resolved"]  # noqa: RUF012  (+endsAt)
    resend_seconds: Annotated[float, Field(ge=10, le=180)] = 60  # clients re-send every 30s-3m
    labels: dict[str, str] = {}  # noqa: RUF012  static labels for every alert (team, site)

    @field_validator("events")
    @classmethod
    def _alert_events_only(cls, value: list[str]) -> list[str]:
        if "scorecard" in value:
            raise ValueError("Alertmanager takes alert events; send the scorecard to a chat sink")
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(f"{name!r} is not a valid Alertmanager label name")
        return value


def build(settings: AlertmanagerSinkConfig, parts: SinkParts) -> AlertmanagerSink:
    return AlertmanagerSink(
        parts.name, parts.url(), parts.client, resend_seconds=settings.resend_seconds,
        labels=settings.labels, timeout=parts.timeout, renderer=parts.renderer, now=parts.now,
    )  # fmt: skip


SINK = SinkType("alertmanager", AlertmanagerSinkConfig, build)
