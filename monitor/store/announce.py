"""One notification about an alert, written in the caller's transaction: an outbox row for the
sinks and, when the history should say so, an alert history row. Used wherever an alert is
announced outside the tick's batched writes (releases after a silence or an incident,
escalation pages and reminders), so the outbox row's shape is decided in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from alerts.payload import alert_payload
from monitor.store.tables import ALERT_HISTORY, OUTBOX

SYSTEM = "system"


def announce(
    conn: Connection,
    alert: dict[str, Any],
    event: str,
    now: datetime,
    key: str,
    *,
    extra: dict[str, Any] | None = None,
    action: str | None = None,
    note: str | None = None,
) -> None:
    """`key` makes the idempotency key `alert-<id>-<key>`: one per alert and occasion."""
    conn.execute(
        insert(OUTBOX).values(
            alert_id=alert["id"], event=event,
            payload=alert_payload(alert, event) | (extra or {}),
            idempotency_key=f"alert-{alert['id']}-{key}", created_at=now, available_at=now,
            attempts=0,
        )
    )  # fmt: skip
    if action is not None:
        conn.execute(
            insert(ALERT_HISTORY).values(
                alert_id=alert["id"], at=now, actor=SYSTEM, action=action,
                severity=alert["severity"], note=note,
            )
        )  # fmt: skip
