"""The scorecard's outputs (monitor/scorecard/render.py): JSON of the contract's shape
(docs/contract.md "Scorecard JSON"), markdown, CSV and an HTML report with charts (kept under
test-artifacts/), escaping what came from data."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from monitor.scorecard import render
from tests.support.paths import ARTIFACTS
from tests.support.scorecard import (
    History,
    Lane,
    scorecard,
    shop,
)


def test_json_has_the_contract_shape(sqlite_engine: Engine) -> None:
    shop(sqlite_engine)
    data = json.loads(render.to_json(scorecard(sqlite_engine)))
    assert set(data) == {"week", "rows", "recommendations", "penalties"}
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
    shop(sqlite_engine)
    card = scorecard(sqlite_engine)
    markdown = render.to_markdown(card)
    assert markdown.startswith("# Carrier scorecard 2026-W47")
    assert "## National" in markdown and "## 新疆" in markdown
    assert "insufficient data (n < 10)" in markdown
    lines = render.to_csv(card).splitlines()
    assert lines[0].startswith("week,carrier,province,parcels,delivered")
    assert len(lines) == len(card.rows) + 1


def test_html_report_with_charts_is_written_to_test_artifacts(sqlite_engine: Engine) -> None:
    shop(sqlite_engine)
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


def test_an_empty_week_renders(sqlite_engine: Engine) -> None:
    card = scorecard(sqlite_engine)
    assert card.rows.empty and card.recommendations == []
    assert json.loads(render.to_json(card)) == {
        "week": "2026-W47",
        "rows": [],
        "recommendations": [],
        "penalties": [],
    }
    assert "No province" in render.to_markdown(card)
    assert render.to_html(card).count("data:image/png") == 3
