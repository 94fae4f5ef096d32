"""Maintenance windows: a carrier's planned stop (the Spring Festival shutdown, a hub's
weekly night off), dated or recurring weekly, from `[[maintenance]]` in the config.

While a window lasts, nothing moves and nothing is scanned, so a parcel's silence then says
nothing about it: the stall and lost clocks of the matching parcels pause. A parcel whose
last scan was at 10:00 before a 24-hour window, judged at 10:00 two days later, has been
quiet 48 hours but counts 24 (docs/rules.md "Maintenance windows").

    [[maintenance]]                 # dated: zto's Spring Festival shutdown
    carrier = "zto"
    start = 2027-01-28              # a date is the start of that day, in `timezone`
    end = 2027-02-06                # ... and an end date is the end of that day
    reason = "春节停运"

    [[maintenance]]                 # recurring: every Sunday night, every carrier to 新疆
    province = "新疆"
    weekdays = ["sun"]
    from = "00:00"
    to = "06:00"
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from monitor.clock import check_timezone, parse_clock_time
from monitor.geo import check_province

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _day_or_moment(value: Any) -> Any:
    """ "2027-02-06" is a whole day (the end includes it), as TOML's bare date is; a time of
    day makes it a moment."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return value
    return value


class MaintenanceWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    carrier: str | None = None  # parcelwatch's code; unset: every carrier
    province: Annotated[str | None, BeforeValidator(check_province)] = None  # destination
    start: Annotated[datetime | date | None, BeforeValidator(_day_or_moment)] = None
    end: Annotated[datetime | date | None, BeforeValidator(_day_or_moment)] = None
    weekdays: list[Weekday] = []
    from_: Annotated[time | None, BeforeValidator(parse_clock_time)] = Field(
        default=None, alias="from"
    )
    to: Annotated[time | None, BeforeValidator(parse_clock_time)] = None
    timezone: Annotated[str, AfterValidator(check_timezone)] = "Asia/Shanghai"
    reason: str = ""
    # No stretch after this moment: a window a lead ended early (monitor/store/maintenance.py).
    until: datetime | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> MaintenanceWindow:
        dated = self.start is not None or self.end is not None
        weekly = bool(self.weekdays) or self.from_ is not None or self.to is not None
        if dated == weekly:
            raise ValueError(
                "give either start and end (a dated window) or weekdays, from and to (a weekly one)"
            )
        if dated and (
            self.start is None or self.end is None or self.bounds()[1] <= self.bounds()[0]
        ):
            raise ValueError("a dated window needs a start before its end")
        if weekly and (not self.weekdays or self.from_ is None or self.to is None):
            raise ValueError("a weekly window needs weekdays, from and to")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _moment(self, value: datetime | date, end: bool) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=self.zone)
        day = value + timedelta(days=1) if end else value  # an end date includes that day
        return datetime.combine(day, time(0), tzinfo=self.zone)

    def bounds(self) -> tuple[datetime, datetime]:
        assert self.start is not None and self.end is not None
        return self._moment(self.start, False), self._moment(self.end, True)

    def applies_to(self, carrier: object, province: object) -> bool:
        return (self.carrier is None or self.carrier == carrier) and (
            self.province is None or self.province == province
        )

    def occurrences(self, low: datetime, high: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The window's stretches that overlap [low, high], as UTC moments."""
        for start, end in self._stretches(low, high):
            if self.until is not None:
                end = min(end, self.until)
            if start < end:
                yield start, end

    def _stretches(self, low: datetime, high: datetime) -> Iterator[tuple[datetime, datetime]]:
        if self.start is not None:
            start, end = self.bounds()
            if start < high and end > low:
                yield start.astimezone(UTC), end.astimezone(UTC)
            return
        assert self.from_ is not None and self.to is not None
        days = {WEEKDAYS.index(d) for d in self.weekdays}
        day = low.astimezone(self.zone).date() - timedelta(days=1)
        last = high.astimezone(self.zone).date()
        while day <= last:
            if day.weekday() in days:
                start = datetime.combine(day, self.from_, tzinfo=self.zone)
                end_day = day if self.to > self.from_ else day + timedelta(days=1)  # past midnight
                end = datetime.combine(end_day, self.to, tzinfo=self.zone)
                if start < high and end > low:
                    yield start.astimezone(UTC), end.astimezone(UTC)
            day += timedelta(days=1)
