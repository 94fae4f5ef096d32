"""The scorecard's charts (monitor/scorecard/charts.py): pinyin labels when no CJK font is
installed."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine

from monitor.scorecard import charts, render
from tests.support.scorecard import (
    scorecard,
    shop,
)


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
    shop(sqlite_engine)
    png = render.main_chart_png(scorecard(sqlite_engine))  # no glyph warning (they are errors)
    assert png.startswith(b"\x89PNG")
