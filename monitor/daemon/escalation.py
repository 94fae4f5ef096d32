"""Escalation: what happens to an alert nobody acknowledges (`[escalation]` in the config).

Runs at the end of every detection tick, in one transaction. For each alert still open (not
acknowledged, not resolved, not held by a silence) at or above `min_severity`:

- each step whose `after_minutes` since the alert opened have passed, and that was not paged
  yet, pages its sink group (an outbox event `paged` that only that group's sinks take);
- if `repeat_minutes` is set, the alert is re-announced to the first audience (`reminder`)
  that long after it opened, then at doubling intervals up to `repeat_max_minutes`.

Acknowledging stops both (so does resolving); a snoozed alert waits for its snooze to end.
Every page and reminder is in the alert's history. The counters on the alert (`pages_sent`,
`reminders_sent`, `next_reminder_at`) move in the same transaction as the outbox rows, whose
idempotency keys name the step and the reminder: a crash mid-way sends nothing twice, and the
next tick sends what is due.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update

from alerts.model import SEVERITY_RANK, AlertState, Severity
from monitor.config import Config
from monitor.store.announce import announce
from monitor.store.tables import ALERTS

A = ALERTS.c


def reminder_gap(config: Config, sent: int) -> timedelta:
    """The wait before reminder number `sent + 1`: repeat, 2 x repeat, 4 x ... capped."""
    policy = config.escalation
    minutes = min(policy.repeat_minutes * 2**sent, policy.repeat_max_minutes)
    return timedelta(minutes=minutes)


def escalate(engine: Engine, config: Config, now: datetime) -> int:
    """Page and remind what is due at `now`; returns the number of notifications queued."""
    policy = config.escalation
    if not policy.steps and not policy.repeat_minutes:
        return 0
    severities = [s.value for s, rank in SEVERITY_RANK.items()
                  if rank >= SEVERITY_RANK[Severity(policy.min_severity)]]  # fmt: skip
    earliest = min([s.after_minutes for s in policy.steps] + [policy.repeat_minutes or 1e9])
    due = []  # only alerts with something due: the book's other open alerts are not read
    if policy.steps:
        due.append(A.pages_sent < len(policy.steps))
    if policy.repeat_minutes:
        due += [A.next_reminder_at.is_(None), A.next_reminder_at <= now]
    query = select(ALERTS).where(
        A.state == AlertState.OPEN.value,
        A.severity.in_(severities),
        A.silenced_by.is_(None),
        A.inhibited_by.is_(None),
        or_(A.snoozed_until.is_(None), A.snoozed_until <= now),  # a snooze holds pages too
        A.opened_at <= now - timedelta(minutes=earliest),
        or_(*due),
    )
    queued = 0
    with engine.begin() as conn:
        for alert in [dict(r._mapping) for r in conn.execute(query)]:
            age = now - alert["opened_at"]
            values: dict[str, Any] = {}
            for index in range(alert["pages_sent"], len(policy.steps)):
                step = policy.steps[index]
                if age < timedelta(minutes=step.after_minutes):
                    break
                note = f"paged {step.to} ({step.after_minutes:g} min unacknowledged)"
                announce(conn, alert, "paged", now, f"paged-{index + 1}",
                         extra={"group": step.to, "step": index + 1}, action="paged",
                         note=note)  # fmt: skip
                values["pages_sent"] = index + 1
                queued += 1
            if policy.repeat_minutes:
                due = alert["next_reminder_at"] or alert["opened_at"] + reminder_gap(config, 0)
                if due <= now:
                    sent = alert["reminders_sent"] + 1
                    announce(conn, alert, "reminder", now, f"reminder-{sent}",
                             extra={"reminder": sent}, action="reminder",
                             note=f"reminder {sent}: still open")  # fmt: skip
                    values.update(reminders_sent=sent,
                                  next_reminder_at=now + reminder_gap(config, sent))  # fmt: skip
                    queued += 1
                elif alert["next_reminder_at"] is None:
                    values["next_reminder_at"] = due
            if values:
                conn.execute(update(ALERTS).where(A.id == alert["id"]).values(**values))
    return queued
