"""ISO weeks in the shop's time zone: the scorecard's cohorts.

A cohort is the parcels picked up between Monday 00:00 and the next Monday 00:00 in the
shop's zone (docs/scorecard.md "Carrier scorecard"), so week boundaries are computed as aware
instants in that zone and compared with the store's UTC times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config import Config

DEFAULT_TIMEZONE = "Asia/Shanghai"


class WeekError(ValueError):
    """A week the user asked for that cannot be reported: malformed, or not started."""


_LABEL = re.compile(r"^(\d{4})-?W(\d{2})$", re.IGNORECASE)


def report_zone(config: Config) -> ZoneInfo:
    """`[scorecard] timezone`, else the first warehouse's zone, else Asia/Shanghai."""
    if config.scorecard.timezone:
        return ZoneInfo(config.scorecard.timezone)
    if config.warehouses:
        return ZoneInfo(config.warehouses[0].timezone)
    return ZoneInfo(DEFAULT_TIMEZONE)


@dataclass(frozen=True, order=True)
class Week:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """'2026-W47' (or '2026W47'); WeekError with the expected form otherwise."""
        match = _LABEL.match(text.strip())
        if match is None:
            raise WeekError(f"not an ISO week: {text!r}; expected the form 2026-W47")
        year, number = int(match.group(1)), int(match.group(2))
        if not 2000 <= year <= 9000:  # week boundaries in the shop's zone need real years
            raise WeekError(f"{text.strip()!r}: no scorecard before 2000 or after 9000")
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise WeekError(f"{year} has no ISO week {number}") from None
        return cls(year, number)

    @classmethod
    def containing(cls, moment: datetime, zone: ZoneInfo) -> Week:
        year, number, _ = moment.astimezone(zone).isocalendar()
        return cls(year, number)

    @classmethod
    def last_complete(cls, now: datetime, zone: ZoneInfo) -> Week:
        """The week before the one `now` falls in: the default report."""
        return cls.containing(now, zone).shift(-1)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    def shift(self, weeks: int) -> Week:
        year, number, _ = (self.monday + timedelta(weeks=weeks)).isocalendar()
        return Week(year, number)

    def start(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.monday, time(0), tzinfo=zone)

    def end(self, zone: ZoneInfo) -> datetime:
        return self.shift(1).start(zone)

    def __str__(self) -> str:
        return self.label
