"""Ranking carriers per province (monitor/scorecard/ranking.py; docs/scorecard.md
"Small-sample ranking" and "Composite score"): the true best carrier first where the gap
beats the noise, small cells kept behind, transit shrunk toward the national figure, weights
from the config."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Engine

from tests.support.config import make_config
from tests.support.scorecard import (
    History,
    Lane,
    row,
    scorecard,
)


def test_the_true_best_carrier_ranks_first_where_the_gap_beats_the_noise(
    sqlite_engine: Engine,
) -> None:
    history = History(sqlite_engine, seed=3)
    best = {"江苏": "sf", "广东": "zto", "四川": "yto"}
    for province, winner in best.items():
        for carrier in ("sf", "zto", "yto", "jt"):
            fast = carrier == winner
            history.lane(
                Lane(carrier, province, 150, 30.0 if fast else 45.0, late_share=0 if fast else 0.08)
            )
    history.save()
    card = scorecard(sqlite_engine)
    for province, winner in best.items():
        assert row(card, winner, province)["rank"] == 1, province
    assert {r.province: r.best_carrier for r in card.recommendations} == best


def test_three_perfect_deliveries_do_not_outrank_five_hundred_very_good_ones(
    sqlite_engine: Engine,
) -> None:
    history = History(sqlite_engine, seed=5)
    history.lane(Lane("zto", "江苏", 500, 32.0, late_share=0.03))
    history.lane(Lane("sf", "江苏", 3, 20.0))
    history.lane(Lane("sf", "广东", 3, 30.0))
    history.save()
    # With the usual threshold the small cell is not ranked at all ...
    card = scorecard(sqlite_engine)
    small = row(card, "sf", "江苏")
    assert small["insufficient_data"] and pd.isna(small["rank"])
    assert row(card, "zto", "江苏")["rank"] == 1
    # ... and even with no threshold the bounds and the shrinkage keep it behind.
    loose = make_config(scorecard={"min_parcels": 1})
    card = scorecard(sqlite_engine, config=loose)
    assert row(card, "zto", "江苏")["rank"] == 1
    assert row(card, "sf", "江苏")["rank"] == 2
    assert row(card, "sf", "江苏")["on_time_ratio"] == 1.0
    assert row(card, "zto", "江苏")["on_time_ratio"] < 1.0


def test_transit_shrinks_toward_the_carriers_national_figure(sqlite_engine: Engine) -> None:
    history = History(sqlite_engine, seed=7)
    history.lane(Lane("ems", "江苏", 300, 40.0, sigma=0.05))
    history.lane(Lane("ems", "广东", 12, 80.0, sigma=0.05))
    history.save()
    card = scorecard(sqlite_engine)
    national = row(card, "ems", None)["transit_hours_p50"]
    small = row(card, "ems", "广东")
    w = 12 / (12 + 30)
    expected = w * small["transit_hours_p50"] + (1 - w) * national
    assert small["transit_hours_p50_shrunk"] == pytest.approx(expected)
    assert small["transit_hours_p50"] == pytest.approx(80, rel=0.05)


def test_weights_come_from_the_config(sqlite_engine: Engine) -> None:
    history = History(sqlite_engine, seed=9)
    history.lane(Lane("sf", "江苏", 200, 25.0, late_share=0.15))  # fast but unreliable
    history.lane(Lane("zto", "江苏", 200, 45.0))  # slow but always on time
    history.save()
    speed = make_config(
        scorecard={
            "weights": {"on_time": 0, "speed": 100, "stall": 0, "loss": 0, "damage": 0, "pickup": 0}
        }
    )
    on_time = make_config(
        scorecard={
            "weights": {"on_time": 100, "speed": 0, "stall": 0, "loss": 0, "damage": 0, "pickup": 0}
        }
    )
    assert row(scorecard(sqlite_engine, config=speed), "sf", "江苏")["rank"] == 1
    assert row(scorecard(sqlite_engine, config=on_time), "zto", "江苏")["rank"] == 1
