"""ISO weeks in the shop's time zone (monitor/scorecard/weeks.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from monitor.scorecard import Week, WeekError
from tests.support.scorecard import (
    REPORT_AT,
    SHANGHAI,
    W47,
)


def test_iso_weeks_in_the_shops_zone() -> None:
    assert Week.parse("2026-W47") == W47 == Week.parse("2026w47")
    assert W47.start(SHANGHAI) == datetime(2026, 11, 16, tzinfo=SHANGHAI)
    assert W47.end(SHANGHAI) == datetime(2026, 11, 23, tzinfo=SHANGHAI)
    assert Week(2026, 1).shift(-1) == Week(2025, 52)
    assert Week.last_complete(REPORT_AT, SHANGHAI) == W47
    # Sunday 23:30 in Shanghai is still week 47, though it is Sunday 15:30 in UTC.
    assert Week.containing(datetime(2026, 11, 22, 23, 30, tzinfo=SHANGHAI), SHANGHAI) == W47
    for bad in ("2026-47", "2026-W54", "W47"):
        with pytest.raises(WeekError):
            Week.parse(bad)
