"""Alertmanager keeps only what is re-sent: every active alert goes out again on a timer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, select

from alerts.payload import alert_payload
from alerts.sinks.base import Notification, SinkError
from alerts.sinks.routing import Route

log = logging.getLogger(__name__)


async def resend_active(
    engine: Engine, sinks: Sequence[Route], now: datetime, *, alerts: Table
) -> int:
    """Re-send every active (open or acknowledged) alert to the sinks that need it
    (Alertmanager: an alert not refreshed within its `endsAt` resolves by itself,
    docs/observability.md "Resending and endsAt"). Run it every `resend_seconds` (default 60). Best
    effort: a failure is logged and the next run sends again. Returns the number of alerts sent."""
    routes = [r for r in sinks if getattr(r.sink, "resends_active", False)]
    if not routes:
        return 0
    rows = await asyncio.to_thread(_active_alerts, engine, alerts)
    sent = 0
    for route in routes:
        batch = [
            n
            for row in rows
            if (n := _active_notification(row, now))
            and route.settings.accepts("opened", n.kind, n.severity)
        ]
        for start in range(0, len(batch), 500):
            chunk = batch[start : start + 500]
            try:
                await route.sink.send(chunk)
            except SinkError as exc:
                log.warning("re-sending active alerts to %s: %s", route.name, exc.message)
                break
            sent += len(chunk)
    return sent


def _active_alerts(engine: Engine, alerts: Table) -> list[Any]:
    a = alerts.c
    query = select(alerts).where(a.state != "resolved").order_by(a.id)
    with engine.connect() as conn:
        return list(conn.execute(query))


def _active_notification(row: Any, now: datetime) -> Notification:
    return Notification(
        event="active",
        idempotency_key=f"alert-{row.id}-active",
        created_at=now,
        payload=alert_payload(row._mapping, "active"),
    )
