"""When to ask a carrier about a parcel next.

Tracking APIs charge per query and lock numbers that are asked too often (Kuaidi100: at most
48 queries a day, 30 minutes apart), so each parcel gets its own next-poll time from its
state (the limits and this reading of them: docs/tracking-apis.md "Poll schedule"):
- never again once delivered or returned, and not after 40 days (the APIs stop before that);
- rarely (a safety net every two days) while the tracking API pushes its updates to us;
- otherwise at a pace that fits the stage (a parcel out for delivery changes within hours,
  one in line-haul within a day);
- and, whatever the pace, just before the next rule threshold (the no-pickup or stall
  allowance), so that a stall is confirmed with the carrier minutes before it is reported,
  not hours after.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from carriers.status import TERMINAL_STATUSES, ParcelStatus
from monitor.config import Config
from monitor.rules import thresholds

STOP_AFTER = timedelta(days=40)
PUSH_SAFETY_NET = timedelta(hours=48)
THRESHOLD_LEAD = timedelta(minutes=10)
MIN_INTERVAL = timedelta(minutes=30)
PACE: dict[str, timedelta] = {
    ParcelStatus.LABEL_CREATED: timedelta(hours=4),
    ParcelStatus.PICKED_UP: timedelta(hours=6),
    ParcelStatus.IN_TRANSIT: timedelta(hours=8),
    ParcelStatus.OUT_FOR_DELIVERY: timedelta(hours=3),
    ParcelStatus.AVAILABLE_FOR_PICKUP: timedelta(hours=12),
    ParcelStatus.DELIVERY_FAILED: timedelta(hours=6),
    ParcelStatus.EXCEPTION: timedelta(hours=12),
    ParcelStatus.RETURNING: timedelta(hours=12),
    ParcelStatus.REJECTED: timedelta(hours=12),
}
DEFAULT_PACE = timedelta(hours=6)
STALL_COLUMN = {
    ParcelStatus.PICKED_UP: "stall_picked_up_h",
    ParcelStatus.IN_TRANSIT: "stall_in_transit_h",
    ParcelStatus.OUT_FOR_DELIVERY: "stall_out_for_delivery_h",
    ParcelStatus.AVAILABLE_FOR_PICKUP: "stall_available_for_pickup_h",
}
TERMINAL = frozenset(s.value for s in TERMINAL_STATUSES)


class PlanInput:
    """The thresholds that apply to a parcel, cached per scope (a few dozen in a shop)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._cache: dict[tuple[Any, ...], dict[str, float]] = {}

    def for_parcel(self, row: Any) -> dict[str, float]:
        key = (row.carrier, row.province, row.warehouse, row.platform)
        if key not in self._cache:
            scope = {
                k: v
                for k, v in zip(thresholds.MATCH_FIELDS, key, strict=True)
                if isinstance(v, str)
            }
            self._cache[key] = thresholds.effective(self.config, **scope)
        return self._cache[key]


def next_threshold(
    status: str, shipped_at: datetime | None, last_scan_at: datetime | None,
    values: dict[str, float],
) -> datetime | None:  # fmt: skip
    """The moment the parcel would cross its next no-pickup or stall allowance."""
    if status == ParcelStatus.LABEL_CREATED and shipped_at is not None:
        return shipped_at + timedelta(hours=values["no_pickup_h"])
    column = STALL_COLUMN.get(ParcelStatus(status)) if status in STALL_COLUMN else None
    if column and last_scan_at is not None:
        return last_scan_at + timedelta(hours=values[column])
    return None


def next_poll_at(
    *,
    status: str,
    shipped_at: datetime | None,
    last_scan_at: datetime | None,
    now: datetime,
    subscribed: bool,
    thresholds: dict[str, float] | None = None,
    min_interval: timedelta = MIN_INTERVAL,
) -> datetime | None:
    if status in TERMINAL:
        return None
    if shipped_at is not None and now - shipped_at > STOP_AFTER:
        return None
    candidate = now + (PUSH_SAFETY_NET if subscribed else PACE.get(status, DEFAULT_PACE))
    if thresholds is not None:
        crossing = next_threshold(status, shipped_at, last_scan_at, thresholds)
        if crossing is not None and crossing > now:
            candidate = min(candidate, max(crossing - THRESHOLD_LEAD, now))
    return max(candidate, now + min_interval)
