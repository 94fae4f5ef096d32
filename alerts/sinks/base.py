"""The seam between the outbox and a notification channel: what a sink takes and raises.

A sink turns notifications into one outbound message on one channel (a webhook call, a
WeCom or DingTalk robot message, a Slack post, an Alertmanager push, an e-mail). It builds
the payload, sends it and classifies the answer; it never retries, waits for a rate limit,
filters, or touches the database: the outbox does all of that (alerts/outbox/).

Contract:
- `await sink.send(messages)` delivers the messages as ONE outbound message. Given several,
  the sink renders a digest (a chat summary, a list of Alertmanager alerts, a batch body).
  It returns when the channel accepted the message; there is no partial success.
- Every failure raises `SinkError`:
    permanent=False (timeouts, connection errors, 5xx, 429, a robot's "too often" code):
        the outbox tries again later with backoff, waiting at least `retry_after` seconds
        when the channel said how long;
    permanent=True (404, a revoked or wrong token, a bad signature, a payload the channel
        refuses): retrying the same message cannot help; it is marked failed and shown.
  Library errors (httpx, smtplib) never escape a sink: they are mapped with `raise ... from`.
- Error messages are stored and shown to people: they never contain a robot key, a token or
  a secret (sinks describe their endpoint by scheme and host only).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

# Outbox events. Alert events come from detection and the queue; parcel events from the
# tracking code (monitor/ingest/parcel_events.py), for customer-care webhooks.
ALERT_EVENTS = ("opened", "escalated", "resolved")
PARCEL_EVENTS = ("parcel_shipped", "parcel_delivered")
REPORT_EVENTS = ("scorecard_weekly",)  # the Monday carrier scorecard digest

Now = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SinkError(Exception):
    """A delivery failed. `permanent`: retrying the same message cannot succeed.
    `retry_after`: seconds the channel asked us to wait (a 429's Retry-After, a robot's
    throttle), or None."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class Notification:
    """One outbox row as a sink sees it: the event and the payload detection wrote
    (kind, severity, state, order_id, tracking_number, carrier, warehouse, province,
    platform, detail, alert_id, event, since), and the row's idempotency key."""

    event: str
    idempotency_key: str
    created_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    outbox_id: int | None = None

    def text(self, key: str) -> str | None:
        value = self.payload.get(key)
        return None if value is None or value == "" else str(value)

    @property
    def kind(self) -> str | None:
        return self.text("kind")

    @property
    def severity(self) -> str | None:
        return self.text("severity")

    @property
    def order_id(self) -> str | None:
        return self.text("order_id")

    @property
    def is_parcel_event(self) -> bool:
        return self.event in PARCEL_EVENTS

    @property
    def is_report(self) -> bool:
        return self.event in REPORT_EVENTS

    @property
    def detail(self) -> Mapping[str, Any]:
        detail = self.payload.get("detail")
        return detail if isinstance(detail, Mapping) else {}

    def since(self) -> datetime | None:
        return parse_time(self.payload.get("since"))


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time from a payload (aware; a naive one is taken as UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Sink(ABC):
    """One configured channel. Subclasses set `type` and implement `send`."""

    type: ClassVar[str]

    def __init__(self, name: str) -> None:
        self.name = name

    @abstractmethod
    async def send(self, messages: Sequence[Notification]) -> None:
        """Deliver `messages` as one outbound message, or raise `SinkError`."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
