"""Which days a warehouse ships on, and when an order paid at a given moment is due out.

`cn` follows China's official working days, make-up working weekends (调休) included, from
the `chinese-calendar` package. Its data stops at the last year the State Council has
published (a new year's notice arrives around November); for a later year we fall back to
plain weekends and log one warning, so a new year never crashes detection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

log = logging.getLogger(__name__)

_warned_years: set[int] = set()


def _cn_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning(
                "the chinese-calendar package has no holiday data for %d; treating weekends as "
                "closed and weekdays as shipping days (add holidays to the warehouse's `closed` "
                "list, or upgrade chinesecalendar)",
                day.year,
            )
        return day.weekday() < 5


class ShippingCalendar:
    """Shipping days of one warehouse: a base calendar plus extra closed and open dates."""

    def __init__(
        self, kind: str = "cn", closed: Iterable[date] = (), open: Iterable[date] = ()
    ) -> None:
        if kind not in ("cn", "every-day", "weekdays"):
            raise ValueError(f"unknown calendar {kind!r}; expected cn, every-day or weekdays")
        self.kind = kind
        self.closed = frozenset(closed)
        self.open = frozenset(open)
        self.is_shipping_day = lru_cache(maxsize=4096)(self._is_shipping_day)

    def _is_shipping_day(self, day: date) -> bool:
        if day in self.closed:
            return False
        if day in self.open:
            return True
        if self.kind == "every-day":
            return True
        if self.kind == "weekdays":
            return day.weekday() < 5
        return _cn_workday(day)

    def next_shipping_day(self, day: date) -> date:
        """The first shipping day strictly after `day` (a year of closed days is an error)."""
        for offset in range(1, 367):
            candidate = day + timedelta(days=offset)
            if self.is_shipping_day(candidate):
                return candidate
        raise ValueError(f"no shipping day within a year after {day}")

    def due_date(self, paid_day: date, paid_before_cutoff: bool) -> date:
        """The local date an order must leave on: the day it was paid if that is a shipping day
        and it was paid before the cutoff, else the next shipping day."""
        if paid_before_cutoff and self.is_shipping_day(paid_day):
            return paid_day
        return self.next_shipping_day(paid_day)
