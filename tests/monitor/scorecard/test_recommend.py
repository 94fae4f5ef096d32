"""Carrier recommendations (monitor/scorecard/recommend.py; docs/scorecard.md "Recommendations"):
a switch after two weeks behind, a watch after one."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from monitor.scorecard import Scorecard
from tests.support.scorecard import (
    W46,
    W47,
    History,
    Lane,
    row,
    scorecard,
)


def _two_weeks(engine: Engine, behind_last_week: bool) -> Scorecard:
    history = History(engine, seed=11)
    for week in (W46, W47):
        challenger_fast = week == W47 or behind_last_week
        history.lane(Lane("yunda", "广东", 300, 50.0, week=week, late_share=0.08))
        history.lane(
            Lane(
                "jd",
                "广东",
                120,
                30.0 if challenger_fast else 60.0,
                week=week,
                late_share=0.0 if challenger_fast else 0.2,
            )
        )
    history.save()
    return scorecard(engine)


def test_a_switch_is_suggested_after_two_weeks_behind(sqlite_engine: Engine) -> None:
    card = _two_weeks(sqlite_engine, behind_last_week=True)
    [advice] = card.recommendations
    assert advice.province == "广东"
    assert (advice.current_carrier, advice.best_carrier, advice.carrier) == ("yunda", "jd", "jd")
    assert advice.switch and advice.weeks_behind == 2
    assert advice.hours_saved == pytest.approx(20, abs=4)
    assert advice.losses_avoided_per_10k is not None
    assert "yunda → jd" in advice.reason


def test_one_bad_week_is_a_watch_not_a_switch(sqlite_engine: Engine) -> None:
    card = _two_weeks(sqlite_engine, behind_last_week=False)
    [advice] = card.recommendations
    assert (advice.current_carrier, advice.best_carrier, advice.carrier) == ("yunda", "jd", "yunda")
    assert not advice.switch and advice.weeks_behind == 1
    assert "this week only" in advice.reason
    changes = row(card, "jd", "广东")
    assert changes["parcels_previous"] == 120
    assert changes["transit_hours_p50_change"] == pytest.approx(-30, abs=5)
