"""Alert kinds, severities and states, and which manual action is allowed in which state."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITY_RANK = {Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    CLEARED = "cleared"  # the condition went away (a scan arrived, the parcel shipped ...)
    SUPERSEDED = "superseded"  # a graver kind of the same family took over (stalled -> lost)
    MANUAL = "manual"  # a person resolved it


class AlertKind(StrEnum):
    UNSHIPPED_PAST_CUTOFF = "unshipped_past_cutoff"
    SHIP_DEADLINE_AT_RISK = "ship_deadline_at_risk"
    SHIP_DEADLINE_BREACHED = "ship_deadline_breached"
    NO_PICKUP_SCAN = "no_pickup_scan"
    STALLED = "stalled"
    DELAYED = "delayed"
    LOST = "lost"
    DELIVERY_FAILED = "delivery_failed"
    RETURNED = "returned"
    REJECTED = "rejected"
    DAMAGED = "damaged"
    CARRIER_INCIDENT = "carrier_incident"
    HUB_INCIDENT = "hub_incident"
    CARRIER_API_FAILING = "carrier_api_failing"


# Within a family the later kind supersedes the earlier one for the same subject: a parcel
# whose ship deadline has passed is no longer merely "at risk"; a lost parcel is not "stalled".
FAMILIES: tuple[tuple[AlertKind, ...], ...] = (
    (AlertKind.SHIP_DEADLINE_AT_RISK, AlertKind.SHIP_DEADLINE_BREACHED),
    (AlertKind.STALLED, AlertKind.LOST),
)

SUPERSEDED_BY: dict[str, str] = {
    earlier.value: later.value
    for family in FAMILIES
    for i, earlier in enumerate(family)
    for later in family[i + 1 :]
}


class Action(StrEnum):
    ACKNOWLEDGE = "ack"
    ASSIGN = "assign"
    SNOOZE = "snooze"
    COMMENT = "comment"
    RESOLVE = "resolve"


_NOT_RESOLVED = frozenset({AlertState.OPEN, AlertState.ACKNOWLEDGED})
ALLOWED_FROM: dict[Action, frozenset[AlertState]] = {
    Action.ACKNOWLEDGE: frozenset({AlertState.OPEN}),
    Action.ASSIGN: _NOT_RESOLVED,
    Action.SNOOZE: _NOT_RESOLVED,
    Action.COMMENT: frozenset(AlertState),
    Action.RESOLVE: _NOT_RESOLVED,
}


def fingerprint(kind: str, subject: str) -> str:
    """The identity of an alert: one open alert per (kind, subject) at a time."""
    return f"{kind}:{subject}"
