"""An injectable clock, so that every rule can be evaluated at a chosen "now"; and the check
that a configured time zone exists (cutoffs are in the warehouse's zone)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The moments parcelwatch believes: nothing of e-commerce logistics happened before 2000, and
# nothing a carrier or an ERP reports lies more than two days ahead (clock skew, a zone read
# wrong). Values outside are refused where they enter (a row error, a 4xx, a dropped scan),
# so that one 9999-12-31 cannot make every threshold computation overflow.
EARLIEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_ALLOWANCE = timedelta(days=2)
# Due moments that are not moments (docs/architecture.md "Incremental detection"): NEVER for
# a row no rule judges again until its data changes (a finished parcel without an open
# alert), QUIET for a row still judged whose clocks have all run out.
NEVER = datetime(9999, 1, 1, tzinfo=UTC)
QUIET = datetime(9000, 1, 1, tzinfo=UTC)


def implausible_moment(value: datetime, now: datetime) -> str | None:
    """Why `value` cannot be a real moment of an order or a scan, or None if it can."""
    if value < EARLIEST_MOMENT:
        return f"{value.isoformat()} is before {EARLIEST_MOMENT.year}"
    if value > now + FUTURE_ALLOWANCE:
        return f"{value.isoformat()} is in the future"
    return None


def parse_clock_time(value: Any) -> Any:
    """ "16:00" as a time of day, for pydantic's BeforeValidator (other values pass)."""
    if isinstance(value, str):
        try:
            hours, minutes = value.strip().split(":")
            return time(int(hours), int(minutes))
        except ValueError:
            raise ValueError("expected a time of day as HH:MM (24-hour)") from None
    return value


def check_timezone(value: str) -> str:
    """An IANA zone name, for pydantic's AfterValidator."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Asia/Shanghai'"
        ) from None
    return value


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stays where it is put; tests and `detect --at` move it by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = ensure_utc(at)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.at = self.at + timedelta(**delta)


def ensure_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)
