"""How hard, how long and how fast the outbox tries (`DeliveryPolicy`), what a run did
(`DeliveryStats`), and the in-memory state of one (row, sink) delivery."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.sinks.base import Notification

# Outcomes per notification, as `parcelwatch_notifications_total{sink,outcome}` counts them.
OK, TRANSIENT, PERMANENT = "ok", "transient", "permanent"
OutcomeHook = Callable[[str, str, int], None]  # (sink, outcome, notifications)


@dataclass(frozen=True)
class DeliveryPolicy:
    batch_size: int = 200
    lease: timedelta = timedelta(minutes=5)
    max_attempts: int = 12  # per (row, sink); with the backoff below, about 5 h of trying
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(hours=1)
    max_claims: int = 50  # per row: the job died on it this often -> give up
    max_rate_wait: float = 5.0  # seconds a run may wait for a sink's rate limit
    max_age: timedelta | None = timedelta(days=1)  # a day-old alert is news no more

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        step = self.backoff_base * (2 ** max(attempts - 1, 0))
        wait = min(step, self.backoff_max)
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        return wait


@dataclass
class DeliveryStats:
    claimed: int = 0  # rows taken this run
    settled: int = 0  # rows finished: every target delivered or failed for good
    sends: int = 0  # outbound messages tried (a digest is one)
    delivered: int = 0  # notifications delivered (a digest counts each)
    transient: int = 0  # notifications that failed and will be retried
    permanent: int = 0  # notifications failed for good (incl. given up, expired)
    deferred: int = 0  # notifications left for a later run (rate limit, sink backing off)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)


@dataclass
class Target:
    """One (row, sink) delivery."""

    outbox_id: int
    sink: str
    attempts: int = 0
    delivered_at: datetime | None = None
    permanent: bool = False
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    deferred_until: datetime | None = None  # in memory only: left for a later run

    @property
    def settled(self) -> bool:
        return self.delivered_at is not None or self.permanent

    def due(self, now: datetime) -> bool:
        return not self.settled and (self.next_attempt_at is None or self.next_attempt_at <= now)

    def wake_at(self) -> datetime | None:
        times = [t for t in (self.deferred_until, self.next_attempt_at) if t is not None]
        return max(times) if times else None


@dataclass
class Item:
    row_id: int
    alert_id: int | None
    created_at: datetime
    claims: int
    notification: Notification
    targets: dict[str, Target]


Pair = tuple[Item, Target]
Waiting = dict[int, tuple[int, datetime]]  # alert id -> (oldest pending row id, until when)
