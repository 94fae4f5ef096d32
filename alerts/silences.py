"""Silences: "known, being handled, do not notify". A silence has matchers on an alert's
subject (kind, carrier, province, warehouse, platform, shop; all given must be equal), a start, an
end, a reason and who made it.

A silenced alert still opens and is recorded (the queue shows it, its history says which
silence held it); only its notifications are held back. When the silence ends, the alerts
it held that are still open are announced once, together (the outbox sends many at once to
a chat sink as one digest), rather than as the flood the silence prevented. Alertmanager has
the same idea for its own alerts; this one works for every sink.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MATCH_FIELDS = ("kind", "carrier", "province", "warehouse", "platform", "shop")


class SilenceError(ValueError):
    """A silence that cannot be made: `field` names what is wrong."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    reason: str = ""
    created_by: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, alert: Mapping[str, Any]) -> bool:
        return all(alert.get(name) == value for name, value in self.matchers.items())


LIKE_FIELDS = ("kind", "carrier", "province")


def matchers_like(alert: Mapping[str, Any]) -> dict[str, str]:
    """ "Silence alerts like this one": its kind, carrier and province, where it has them."""
    return {k: str(alert[k]) for k in LIKE_FIELDS if alert.get(k)}


def check_matchers(matchers: Mapping[str, Any]) -> dict[str, str]:
    """At least one known field, each a non-empty text: a silence without matchers would hold
    back every notification, which is an outage, not a silence."""
    unknown = sorted(set(matchers) - set(MATCH_FIELDS))
    if unknown:
        raise SilenceError(unknown[0], f"not a field to match; use {', '.join(MATCH_FIELDS)}")
    cleaned = {k: str(v).strip() for k, v in matchers.items() if v is not None and str(v).strip()}
    if not cleaned:
        raise SilenceError("matchers", f"give at least one of {', '.join(MATCH_FIELDS)}")
    return cleaned


def silencing(
    silences: Iterable[Silence], alert: Mapping[str, Any], now: datetime
) -> Silence | None:
    """The silence that holds this alert's notifications at `now` (the oldest, if several)."""
    for silence in sorted(silences, key=lambda s: s.id):
        if silence.active(now) and silence.matches(alert):
            return silence
    return None
