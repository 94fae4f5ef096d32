"""Notification channels behind one interface (alerts/sinks/base.py): a generic signed
webhook, WeCom and DingTalk robots, Slack, Alertmanager API v2 and SMTP e-mail. Each module
only builds its channel's payload and classifies the answer; alerts/sinks/http.py owns
timeouts and error mapping; the outbox (alerts/outbox/) owns filtering, rate limits,
digests and retries."""

from __future__ import annotations

from alerts.sinks.base import ALERT_EVENTS, PARCEL_EVENTS, Notification, Sink, SinkError
from alerts.sinks.routing import Route, SinkSetupError, build_routes, build_sink

__all__ = [
    "ALERT_EVENTS",
    "PARCEL_EVENTS",
    "Notification",
    "Route",
    "Sink",
    "SinkError",
    "SinkSetupError",
    "build_routes",
    "build_sink",
]
