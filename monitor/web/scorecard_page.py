"""The weekly carrier scorecard as a page of the site, in the reader's language: carriers by
their names, figures as percentages and hours, provinces as groups, the recommendations
first. The figures and charts are the scorecard's own (monitor/scorecard); the `html` format
of `parcelwatch scorecard` stays the self-contained English report."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pandas as pd

from monitor.scorecard import Scorecard, charts
from monitor.scorecard.recommend import Recommendation
from monitor.scorecard.render import main_chart_png, penalty_records
from monitor.scorecard.weeks import Week
from monitor.web.i18n import Labels

COLUMNS = (
    # (key in a row, zh, en, how to show it)
    ("rank", "排名", "Rank", "rank"),
    ("carrier", "快递", "Carrier", "carrier"),
    ("parcels", "包裹", "Parcels", "int"),
    ("delivered", "已签收", "Delivered", "int"),
    ("lost", "丢件", "Lost", "int"),
    ("transit_hours_p50", "时效中位 (小时)", "Transit p50 (h)", "hours"),
    ("transit_hours_p90", "时效 90% (小时)", "Transit p90 (h)", "hours"),
    ("on_time_ratio", "准时率", "On time", "pct"),
    ("on_time_ratio_change", "准时率变化", "Δ on time", "points"),
    ("stall_ratio", "停滞率", "Stalled", "pct"),
    ("pickup_ratio", "24 小时揽收率", "Picked up ≤ 24 h", "pct"),
    ("score", "得分", "Score", "score"),
)  # fmt: skip


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _cell(kind: str, value: Any, names: Labels, row: Any) -> str:
    if kind == "carrier":
        return names.carrier(str(value))
    if _missing(value):
        return "—"
    if kind == "rank":
        return str(int(value))
    if kind == "int":
        return f"{int(value):,}"
    if kind == "hours":
        return f"{float(value):.0f}"
    if kind == "pct":
        return f"{float(value) * 100:.1f}%"
    if kind == "points":
        return f"{float(value) * 100:+.1f}"
    if kind == "score":
        if bool(row.get("insufficient_data")):
            return "数据不足" if names.lang == "zh" else "too few parcels"
        return f"{float(value):.1f}"
    return str(value)


def _reason(r: Recommendation, names: Labels) -> str:
    """Why, in the reader's language, from the recommendation's own figures."""
    current, best, use = (names.carrier(c) for c in (r.current_carrier, r.best_carrier, r.carrier))
    weeks = r.weeks_behind
    if names.lang == "zh":
        if r.switch:
            return f"{current}已连续 {weeks} 周落后于{best}，建议改用{use}"
        if weeks:
            return f"{current}落后于{best} {weeks} 周；连续两周落后才建议更换"
        return f"{current}本周表现最好，继续使用"
    if r.switch:
        return f"{current} trailed {best} for {weeks} weeks in a row: switch to {use}"
    if weeks:
        return f"{current} trailed {best} for {weeks} week; a switch is suggested after two"
    return f"{current} did best this week: keep it"


def _png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def scorecard_values(card: Scorecard, lang: str) -> dict[str, Any]:
    """What templates/scorecards.html shows."""
    names = Labels(lang)
    week = Week.parse(card.week)
    first, last = week.monday, week.monday + timedelta(days=6)
    groups = []
    rows = card.rows
    for province in [None, *rows.loc[rows["province"].notna(), "province"].drop_duplicates()]:
        part = (
            rows[rows["province"].isna()]
            if province is None
            else rows[rows["province"] == province]
        )
        if part.empty:
            continue
        body = [
            [_cell(kind, row.get(key), names, row) for key, _, _, kind in COLUMNS]
            for _, row in part.iterrows()
        ]
        groups.append({"province": province, "rows": body})
    recommendations = [
        {
            "province": r.province,
            "use": names.carrier(r.carrier),
            "current": names.carrier(r.current_carrier),
            "switch": r.switch,
            "hours_saved": None if r.hours_saved is None else f"{r.hours_saved:.1f}",
            "reason": _reason(r, names),
        }
        for r in card.recommendations
    ]
    return {
        "week": card.week,
        "previous_week": card.previous_week,
        "period": (
            f"{first:%m-%d} – {last:%m-%d}"
            if lang == "zh"
            else f"{first.day} {first:%b} – {last.day} {last:%b}"
        ),
        "headers": [zh if lang == "zh" else en for _, zh, en, _ in COLUMNS],
        "groups": groups,
        "recommendations": recommendations,
        "charts": [
            _png(main_chart_png(card, lang)),
            _png(charts.transit_chart(card.transit_spread, card.week, lang)),
            _png(charts.trend_chart(card.trend, lang)),
        ],
        "next_week": str(week.shift(1)),
        "penalties": [
            r | {"carrier": names.carrier(r["carrier"]), "yuan": f"{r['yuan']:.2f}"}
            for r in penalty_records(card)
        ],
    }
