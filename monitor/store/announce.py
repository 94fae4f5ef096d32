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


def announcement(
    alert: dict[str, Any],
    event: str,
    now: datetime,
    key: str,
    *,
    extra: dict[str, Any] | None = None,
    action: str | None = None,
    note: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The outbox row and, with `action`, the history row of one notification. `key` makes
    the idempotency key `alert-<id>-<key>`: one per alert and occasion."""
    outbox = {
        "alert_id": alert["id"], "event": event,
        "payload": alert_payload(alert, event) | (extra or {}),
        "idempotency_key": f"alert-{alert['id']}-{key}", "created_at": now, "available_at": now,
        "attempts": 0,
    }  # fmt: skip
    history = None
    if action is not None:
        history = {"alert_id": alert["id"], "at": now, "actor": SYSTEM, "action": action,
                   "severity": alert["severity"], "note": note}  # fmt: skip
    return outbox, history


def announce_all(
    conn: Connection, notifications: list[tuple[dict[str, Any], dict[str, Any] | None]]
) -> None:
    """Write these notifications (from `announcement`): one batched insert per table, so that
    releasing the two thousand members of an ended incident is two statements, not four
    thousand."""
    outbox = [row for row, _ in notifications]
    history = [row for _, row in notifications if row is not None]
    if outbox:
        conn.execute(insert(OUTBOX), outbox)
    if history:
        conn.execute(insert(ALERT_HISTORY), history)


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
    """One notification, written at once."""
    announce_all(
        conn, [announcement(alert, event, now, key, extra=extra, action=action, note=note)]
    )
