"""The weekly carrier scorecard (DESIGN.md "Carrier scorecard"): KPIs, ranks and
recommendations on generated histories whose truth is known, the output formats and the
`parcelwatch scorecard` command."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import make_config
from sqlalchemy import Engine, insert

from monitor.cli import main
from monitor.config import Config
from monitor.scorecard import Scorecard, Week, WeekError, build_scorecard, charts, render
from monitor.scorecard.kpis import wilson
from monitor.store.models import Alert, Shipment

SHANGHAI = ZoneInfo("Asia/Shanghai")
W47 = Week(2026, 47)  # Monday 16 – Sunday 22 November 2026
W46 = Week(2026, 46)
# Tuesday of the week after: the usual moment to read last week's scorecard.
REPORT_AT = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
LATER = datetime(2026, 12, 15, 10, 0, tzinfo=SHANGHAI)  # every parcel long since delivered
HOUR = timedelta(hours=1)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


# --- a history with known truth ---------------------------------------------------------


@dataclass(frozen=True)
class Lane:
    """`parcels` parcels picked up uniformly over `week`, with log-normal transit times of
    this median. `late_share` of them take `late_hours` more (after the expected time)."""

    carrier: str
    province: str
    parcels: int
    median_hours: float
    sigma: float = 0.25
    week: Week = W47
    warehouse: str = "hz1"
    late_share: float = 0.0
    late_hours: float = 200.0


class History:
    """Shipments (and alerts) written straight into the store."""

    def __init__(self, engine: Engine, seed: int = 1) -> None:
        self.engine = engine
        self.rng = np.random.default_rng(seed)
        self.rows: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []

    def parcel(
        self,
        carrier: str,
        province: str | None,
        picked_up_at: datetime | None,
        *,
        transit_hours: float | None = None,
        shipped_at: datetime | None = None,
        status: str | None = None,
        last_event_at: datetime | None = None,
        warehouse: str = "hz1",
        **extra: Any,
    ) -> int:
        number = len(self.rows) + 1
        shipped = shipped_at or (picked_up_at - 3 * HOUR if picked_up_at else None)
        delivered = picked_up_at + transit_hours * HOUR if transit_hours is not None else None
        if status is None:
            status = "delivered" if delivered else "in_transit" if picked_up_at else "label_created"
        stamp = shipped or datetime(2026, 11, 1, tzinfo=SHANGHAI)
        self.rows.append(
            {
                "id": number,
                "order_id": f"T{number:07d}",
                "platform": "taobao",
                "warehouse": warehouse,
                "carrier": carrier,
                "tracking_number": f"{carrier.upper()}{number:09d}",
                "province": province,
                "paid_at": stamp - 5 * HOUR,
                "shipped_at": shipped,
                "picked_up_at": picked_up_at,
                "delivered_at": delivered,
                "last_event_at": last_event_at or delivered or picked_up_at,
                "expected_delivery_at": None,
                "status": status,
                "sub_reason": None,
                "content_hash": "",
                "created_at": stamp,
                "updated_at": stamp,
                **extra,
            }
        )
        return number

    def lane(self, lane: Lane) -> None:
        start = lane.week.start(SHANGHAI)
        offsets = self.rng.uniform(0, 7 * 24 - 1, lane.parcels)
        hours = self.rng.lognormal(math.log(lane.median_hours), lane.sigma, lane.parcels)
        late = self.rng.random(lane.parcels) < lane.late_share
        hours = np.where(late, hours + lane.late_hours, hours)
        for offset, transit in zip(offsets, hours, strict=True):
            self.parcel(
                lane.carrier,
                lane.province,
                start + float(offset) * HOUR,
                transit_hours=float(transit),
                warehouse=lane.warehouse,
            )

    def alert(self, shipment_id: int, kind: str, at: datetime) -> None:
        self.alerts.append(
            {
                "fingerprint": f"{kind}:{shipment_id}:{len(self.alerts)}",
                "kind": kind,
                "severity": "warning",
                "state": "resolved",
                "shipment_id": shipment_id,
                "since": at,
                "opened_at": at,
                "updated_at": at,
                "detail": {},
            }
        )

    def save(self) -> None:
        with self.engine.begin() as conn:
            if self.rows:
                conn.execute(insert(Shipment.__table__), self.rows)  # type: ignore[attr-defined]
            if self.alerts:
                conn.execute(insert(Alert.__table__), self.alerts)  # type: ignore[attr-defined]


def scorecard(
    engine: Engine, week: Week = W47, at: datetime = LATER, config: Config | None = None
) -> Scorecard:
    return build_scorecard(engine, config or make_config(), week.label, at)


def row(card: Scorecard, carrier: str, province: str | None) -> dict[str, Any]:
    rows = card.rows
    where = rows["province"].isna() if province is None else rows["province"] == province
    match = rows[(rows["carrier"] == carrier) & where]
    assert len(match) == 1, f"no single row for {carrier}/{province}"
    return dict(match.iloc[0])


# --- statistics --------------------------------------------------------------------------


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson(np.array([5, 0, 10]), np.array([10, 10, 10]))
    assert low[0] == pytest.approx(0.2366, abs=1e-4)
    assert high[0] == pytest.approx(0.7634, abs=1e-4)
    assert (low[1], high[1]) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert (low[2], high[2]) == (pytest.approx(0.7225, abs=1e-4), 1.0)
    nothing = wilson(np.array([0]), np.array([0]))
    assert (nothing[0][0], nothing[1][0]) == (0.0, 1.0)


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


# --- KPIs ---------------------------------------------------------------------------------


def test_lane_medians_are_recovered(sqlite_engine: Engine) -> None:
    truth = {
        ("zto", "江苏"): 40.0,
        ("zto", "广东"): 60.0,
        ("sf", "江苏"): 28.0,
        ("sf", "广东"): 45.0,
        ("yto", "新疆"): 110.0,
    }
    history = History(sqlite_engine)
    for (carrier, province), median in truth.items():
        history.lane(Lane(carrier, province, 400, median, sigma=0.3))
    history.save()
    card = scorecard(sqlite_engine)
    for (carrier, province), median in truth.items():
        cell = row(card, carrier, province)
        assert cell["parcels"] == cell["delivered"] == 400
        assert cell["transit_hours_p50"] == pytest.approx(median, rel=0.06)
        # log-normal p90 = median * exp(1.2816 sigma)
        assert cell["transit_hours_p90"] == pytest.approx(median * math.exp(1.2816 * 0.3), rel=0.1)
    assert row(card, "zto", None)["parcels"] == 800


def test_open_and_overdue_parcels_count_against_the_carrier(sqlite_engine: Engine) -> None:
    # 浙江 -> 江苏 is an adjacent lane: expected within 72 h of pickup (no lane history yet).
    history = History(sqlite_engine)
    monday = W47.start(SHANGHAI) + 10 * HOUR
    for i in range(10):
        history.parcel("zto", "江苏", monday + i * HOUR, transit_hours=30)  # on time
    for i in range(2):
        history.parcel("zto", "江苏", monday + i * HOUR, transit_hours=90)  # delivered late
    recent_scan = REPORT_AT - 2 * HOUR  # still scanning: open, not lost
    overdue = [
        history.parcel("zto", "江苏", monday + i * HOUR, last_event_at=recent_scan)
        for i in range(5)
    ]
    sunday = datetime(2026, 11, 22, 20, 0, tzinfo=SHANGHAI)  # picked up Sunday night: not due
    for i in range(3):
        history.parcel("zto", "江苏", sunday + i * HOUR, last_event_at=recent_scan)
    history.save()
    cell = row(scorecard(sqlite_engine, at=REPORT_AT), "zto", "江苏")
    assert len(overdue) == 5
    assert cell["parcels"] == 20
    assert cell["delivered"] == 12
    assert cell["open"] == 8  # never dropped
    assert (cell["on_time"], cell["late"]) == (10, 7)
    assert cell["on_time_ratio"] == pytest.approx(10 / 17)
    low, high = wilson(np.array([10]), np.array([17]))
    assert cell["on_time_ratio_low"] == pytest.approx(low[0])
    assert cell["on_time_ratio_high"] == pytest.approx(high[0])


def test_a_lost_parcel_is_counted_once(sqlite_engine: Engine) -> None:
    history = History(sqlite_engine)
    monday = W47.start(SHANGHAI) + 9 * HOUR
    for i in range(20):
        history.parcel("yto", "广东", monday + i * HOUR, transit_hours=40)
    # Declared lost by the carrier, with a `lost` alert, and silent for weeks: one loss.
    everything = history.parcel(
        "yto", "广东", monday, status="exception", sub_reason="lost", last_event_at=monday
    )
    history.alert(everything, "lost", monday + 7 * 24 * HOUR)
    history.alert(everything, "stalled", monday + 48 * HOUR)
    history.alert(everything, "stalled", monday + 100 * HOUR)  # twice: still one parcel
    silent = history.parcel("yto", "广东", monday, last_event_at=monday + 5 * HOUR)
    # A `lost` alert that was wrong: the parcel turned up and was delivered.
    found = history.parcel("yto", "广东", monday, transit_hours=300)
    history.alert(found, "lost", monday + 200 * HOUR)
    history.save()
    card = scorecard(sqlite_engine)
    for province in ("广东", None):
        cell = row(card, "yto", province)
        assert cell["parcels"] == 23
        assert cell["lost"] == 2, silent
        assert cell["stalled"] == 1
        assert cell["open"] == 0
        assert cell["loss_ratio"] == pytest.approx(2 / 23)


def test_pickup_timeliness_counts_parcels_never_scanned(sqlite_engine: Engine) -> None:
    history = History(sqlite_engine)
    tuesday = datetime(2026, 11, 17, 15, 0, tzinfo=SHANGHAI)
    for i in range(8):
        history.parcel(
            "jt", "江苏", tuesday + 3 * HOUR + i * HOUR, shipped_at=tuesday, transit_hours=30
        )
    history.parcel("jt", "江苏", tuesday + 30 * HOUR, shipped_at=tuesday, transit_hours=30)
    history.parcel("jt", "江苏", None, shipped_at=tuesday)  # tracking uploaded, never collected
    history.save()
    cell = row(scorecard(sqlite_engine), "jt", "江苏")
    assert cell["parcels"] == 9  # the pickup cohort
    assert (cell["picked_up_24h"], cell["shipped"]) == (8, 10)
    assert cell["pickup_ratio"] == pytest.approx(0.8)


def test_a_parcel_without_a_province_counts_only_nationally(sqlite_engine: Engine) -> None:
    history = History(sqlite_engine)
    monday = W47.start(SHANGHAI) + 9 * HOUR
    for i in range(12):
        history.parcel("sto", "江苏", monday + i * HOUR, transit_hours=30)
    history.parcel("sto", None, monday, transit_hours=30)
    history.save()
    card = scorecard(sqlite_engine)
    assert row(card, "sto", None)["parcels"] == 13
    assert row(card, "sto", "江苏")["parcels"] == 12
    assert len(card.rows) == 2


# --- ranking ------------------------------------------------------------------------------


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


# --- recommendations ----------------------------------------------------------------------


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


# --- outputs ------------------------------------------------------------------------------


def _shop(engine: Engine) -> None:
    history = History(engine, seed=13)
    provinces = {"江苏": 1.0, "广东": 1.3, "四川": 1.5, "北京": 1.4, "新疆": 2.6, "上海": 0.9}
    carriers = {
        "zto": (1.0, 0.03),
        "sf": (0.75, 0.0),
        "yto": (1.05, 0.05),
        "jt": (1.1, 0.08),
        "ems": (1.15, 0.04),
    }
    for week in (W46.shift(-2), W46.shift(-1), W46, W47):
        for province, distance in provinces.items():
            for carrier, (speed, late) in carriers.items():
                count = 60 if carrier != "ems" else 6  # ems: too few to rank
                history.lane(
                    Lane(
                        carrier, province, count, 30 * distance * speed, week=week, late_share=late
                    )
                )
    history.save()


def test_json_has_the_contract_shape(sqlite_engine: Engine) -> None:
    _shop(sqlite_engine)
    data = json.loads(render.to_json(scorecard(sqlite_engine)))
    assert set(data) == {"week", "rows", "recommendations"}
    assert data["week"] == "2026-W47"
    required = {
        "carrier",
        "province",
        "parcels",
        "delivered",
        "lost",
        "transit_hours_p50",
        "transit_hours_p90",
        "on_time_ratio",
        "loss_ratio",
        "score",
        "rank",
    }
    assert all(required <= set(r) for r in data["rows"])
    national = [r for r in data["rows"] if r["province"] is None]
    assert {r["carrier"] for r in national} == {"zto", "sf", "yto", "jt", "ems"}
    ems = [r for r in data["rows"] if r["carrier"] == "ems" and r["province"] is not None]
    assert ems and all(r["rank"] is None and r["insufficient_data"] for r in ems)
    assert all(isinstance(r["rank"], int) for r in data["rows"] if r["carrier"] != "ems")
    assert all({"province", "carrier"} <= set(r) for r in data["recommendations"])
    assert {r["province"] for r in data["recommendations"]} == {
        "江苏",
        "广东",
        "四川",
        "北京",
        "新疆",
        "上海",
    }


def test_markdown_and_csv(sqlite_engine: Engine) -> None:
    _shop(sqlite_engine)
    card = scorecard(sqlite_engine)
    markdown = render.to_markdown(card)
    assert markdown.startswith("# Carrier scorecard 2026-W47")
    assert "## National" in markdown and "## 新疆" in markdown
    assert "insufficient data (n < 10)" in markdown
    lines = render.to_csv(card).splitlines()
    assert lines[0].startswith("week,carrier,province,parcels,delivered")
    assert len(lines) == len(card.rows) + 1


def test_html_report_with_charts_is_written_to_test_artifacts(sqlite_engine: Engine) -> None:
    _shop(sqlite_engine)
    card = scorecard(sqlite_engine)
    page = render.to_html(card)
    assert page.count('src="data:image/png;base64,') == 3
    assert "新疆" in page and "<script" not in page
    png = render.main_chart_png(card)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "scorecard-example.html").write_text(page, encoding="utf-8")
    (ARTIFACTS / "scorecard-heatmap.png").write_bytes(png)
    (ARTIFACTS / "scorecard-example.md").write_text(render.to_markdown(card), encoding="utf-8")


def test_html_escapes_what_came_from_data(sqlite_engine: Engine) -> None:
    history = History(sqlite_engine)
    history.lane(Lane("<b>x</b>", "江苏", 20, 30.0))
    history.save()
    page = render.to_html(scorecard(sqlite_engine))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_charts_fall_back_to_pinyin_without_a_cjk_font(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from matplotlib import font_manager

    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, charts.log.name):
        patch.setattr(font_manager.fontManager, "ttflist", [])
        assert charts.cjk_fonts.__wrapped__() == ()
    assert "no CJK font found" in caplog.text
    monkeypatch.setattr(charts, "cjk_fonts", lambda: ())
    assert charts.province_label("新疆") == "Xinjiang"
    _shop(sqlite_engine)
    png = render.main_chart_png(scorecard(sqlite_engine))  # no glyph warning (they are errors)
    assert png.startswith(b"\x89PNG")


def test_an_empty_week_renders(sqlite_engine: Engine) -> None:
    card = scorecard(sqlite_engine)
    assert card.rows.empty and card.recommendations == []
    assert json.loads(render.to_json(card)) == {
        "week": "2026-W47",
        "rows": [],
        "recommendations": [],
    }
    assert "No province" in render.to_markdown(card)
    assert render.to_html(card).count("data:image/png") == 3


# --- the command --------------------------------------------------------------------------


@pytest.fixture
def shop_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from monitor.store.db import make_engine, upgrade

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARCELWATCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("PARCELWATCH_CONFIG", raising=False)
    (tmp_path / "parcelwatch.toml").write_text(
        '[database]\nurl = "sqlite:///pw.db"\n\n[[warehouses]]\nid = "hz1"\nprovince = "浙江"\n'
        "\n[scorecard]\nmin_parcels = 10\nweights = { on_time = 40, speed = 20, stall = 10,"
        " loss = 15, damage = 10, pickup = 5 }\n",
        encoding="utf-8",
    )
    engine = make_engine("sqlite:///pw.db")
    upgrade(engine)
    _shop(engine)
    engine.dispose()
    return tmp_path


def test_cli_prints_json(shop_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["scorecard", "--week", "2026-W47", "--format", "json", "--at", "2026-12-15T10:00"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["week", "rows", "recommendations"]
    assert data["week"] == "2026-W47" and data["rows"] and data["recommendations"]


def test_cli_writes_a_file_in_the_format_of_its_suffix(shop_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["scorecard", "--week", "2026-W47", "--out", "report.html", "--at", "2026-12-15"]
    )
    assert result.exit_code == 0, result.output
    assert (shop_dir / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2026-47", "2026-W47"),
        ("2025-W53", "no ISO week"),
        ("2027-W10", "not started"),
    ],
)
def test_cli_rejects_a_bad_week_with_exit_2(shop_dir: Path, week: str, message: str) -> None:
    result = CliRunner().invoke(main, ["scorecard", "--week", week, "--at", "2026-12-15"])
    assert result.exit_code == 2
    assert message in result.output
