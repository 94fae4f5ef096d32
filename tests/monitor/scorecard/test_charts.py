"""The scorecard's charts (monitor/scorecard/charts.py): pinyin labels when no CJK font is
installed."""

from __future__ import annotations

import logging
from pathlib import Path

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
        patch.setattr(font_manager, "findSystemFonts", lambda *_: [])  # none on the system
        assert charts.cjk_fonts.__wrapped__() == ()
    assert "no CJK font found" in caplog.text
    monkeypatch.setattr(charts, "cjk_fonts", lambda: ())
    assert charts.province_label("新疆") == "Xinjiang"
    shop(sqlite_engine)
    png = render.main_chart_png(scorecard(sqlite_engine))  # no glyph warning (they are errors)
    assert png.startswith(b"\x89PNG")


def test_fonts_installed_after_matplotlib_cached_its_list_are_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A font list cached before fonts-noto-cjk was installed: the CJK fonts are found by a
    rescan, and the rewritten cache (here in a scratch directory) holds them."""
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    # Every face of the CJK font files goes (one .ttc file holds several families).
    cjk_files = {font.fname for font in manager.ttflist if font.name in charts.CJK_FONTS}
    stale = [font for font in manager.ttflist if font.fname not in cjk_files]
    monkeypatch.setattr(manager, "ttflist", stale)
    monkeypatch.setattr(matplotlib, "get_cachedir", lambda: str(tmp_path))
    found = charts.cjk_fonts.__wrapped__()
    assert found and found[0] in charts.CJK_FONTS
    [cache] = list(tmp_path.glob("fontlist-*.json"))
    assert found[0] in cache.read_text(encoding="utf-8")


def test_charts_speak_the_pages_language(sqlite_engine: Engine) -> None:
    """The scorecard page in Chinese draws its charts in Chinese (titles, axes, carriers by
    name), with the CJK font scripts/install-system-deps.sh installs; English pages in
    English. A missing glyph would be a warning, and warnings are errors here."""
    assert charts.cjk_fonts(), "fonts-noto-cjk is installed by scripts/install-system-deps.sh"
    assert charts.carrier_label("sto", "zh") == "申通快递"
    assert charts.carrier_label("sto", "en") == "STO Express"
    assert charts.carrier_label("unheard-of", "zh") == "unheard-of"
    shop(sqlite_engine)
    card = scorecard(sqlite_engine)
    drawn = {
        lang: (
            render.main_chart_png(card, lang),
            charts.transit_chart(card.transit_spread, card.week, lang),
            charts.trend_chart(card.trend, lang),
        )
        for lang in ("zh", "en")
    }
    for zh, en in zip(drawn["zh"], drawn["en"], strict=True):
        assert zh.startswith(b"\x89PNG") and en.startswith(b"\x89PNG") and zh != en
