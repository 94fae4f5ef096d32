"""What sinks receive about an alert: one payload shape, built here for the tick, the
queue's manual actions and the re-sender alike."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

ALERT_FIELDS = (
    "kind",
    "severity",
    "state",
    "order_id",
    "tracking_number",
    "carrier",
    "warehouse",
    "province",
    "platform",
    "detail",
)


def alert_payload(alert: Mapping[str, Any], event: str) -> dict[str, Any]:
    """The alert's subject and state, its id, the event and `since` as ISO 8601."""
    payload = {k: alert.get(k) for k in ALERT_FIELDS}
    since = alert.get("since")
    payload.update(
        alert_id=alert["id"],
        event=event,
        since=since.isoformat() if isinstance(since, datetime) else since,
    )
    return payload
