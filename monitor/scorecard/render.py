"""The scorecard as JSON, CSV, Markdown or a self-contained HTML page.

JSON is the contract (docs/contract.md "Scorecard JSON"): `{"week": "2026-W47", "rows": [...],
"recommendations": [...]}`, a row per carrier × province and per carrier nationally (province null),
with `rank` null where the cell is too small to rank. The HTML page embeds its charts as base64
PNG, so it works offline, as a mail attachment or from the web app alike. Every string that
came from data (carrier codes, province names) is escaped.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from datetime import timedelta
from html import escape
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from monitor.scorecard import charts
from monitor.scorecard.weeks import Week

if TYPE_CHECKING:
    from monitor.scorecard import Scorecard

FORMATS = ("md", "csv", "html", "json")

# Row fields in the order JSON and CSV give them.
ROW_FIELDS = (
    "carrier",
    "province",
    "parcels",
    "delivered",
    "open",
    "lost",
    "damaged",
    "stalled",
    "shipped",
    "picked_up_24h",
    "transit_hours_p50",
    "transit_hours_p90",
    "transit_hours_mean",
    "transit_hours_p50_shrunk",
    "on_time",
    "late",
    "on_time_ratio",
    "on_time_ratio_low",
    "on_time_ratio_high",
    "loss_ratio",
    "loss_ratio_low",
    "loss_ratio_high",
    "loss_ratio_shrunk",
    "damage_ratio",
    "damage_ratio_low",
    "damage_ratio_high",
    "damage_ratio_shrunk",
    "stall_ratio",
    "stall_ratio_low",
    "stall_ratio_high",
    "stall_ratio_shrunk",
    "pickup_ratio",
    "pickup_ratio_low",
    "pickup_ratio_high",
    "score_on_time",
    "score_speed",
    "score_stall",
    "score_loss",
    "score_damage",
    "score_pickup",
    "score",
    "rank",
    "insufficient_data",
    "small_sample",
    "parcels_previous",
    "on_time_ratio_change",
    "transit_hours_p50_change",
    "loss_ratio_change",
    "stall_ratio_change",
    "score_change",
    "penalty_lines",
    "penalty_yuan",
)


def _plain(value: Any) -> Any:
    """numpy/pandas scalars to JSON-able Python; NaN and NA to None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def row_records(scorecard: Scorecard) -> list[dict[str, Any]]:
    rows = scorecard.rows
    fields = [f for f in ROW_FIELDS if f in rows.columns]
    return [
        {field: _plain(value) for field, value in zip(fields, values, strict=True)}
        for values in rows[fields].itertuples(index=False, name=None)
    ]


def as_dict(scorecard: Scorecard) -> dict[str, Any]:
    return {
        "week": scorecard.week,
        "rows": row_records(scorecard),
        "recommendations": [r.as_dict() for r in scorecard.recommendations],
        "penalties": penalty_records(scorecard),
    }


def penalty_records(scorecard: Scorecard) -> list[dict[str, Any]]:
    """Charges for the carrier's lateness: per carrier (province null), then per lane."""
    frame = scorecard.penalties
    if frame.empty:
        return []
    return [
        {"carrier": c, "province": p if isinstance(p, str) else None, "lines": int(n),
         "yuan": round(float(y), 2)}
        for c, p, n, y in frame[["carrier", "province", "penalty_lines", "penalty_yuan"]]
        .itertuples(index=False, name=None)
    ]  # fmt: skip


def to_json(scorecard: Scorecard) -> str:
    return json.dumps(as_dict(scorecard), ensure_ascii=False, indent=2) + "\n"


def to_csv(scorecard: Scorecard) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["week", *ROW_FIELDS])
    for record in row_records(scorecard):
        writer.writerow(
            [scorecard.week, *("" if record.get(f) is None else record[f] for f in ROW_FIELDS)]
        )
    return buffer.getvalue()


# --- shared cell formatting -------------------------------------------------------------


def _pct(value: Any, digits: int = 1) -> str:
    return "—" if value is None or pd.isna(value) else f"{100 * float(value):.{digits}f} %"


def _hours(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{float(value):.1f}"


def _per_10k(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{10_000 * float(value):.1f}"


def _change(value: Any, scale: float = 100, unit: str = " pt") -> str:
    if value is None or pd.isna(value):
        return ""
    if value == 0:
        return "±0"
    return f"{scale * float(value):+.1f}{unit}"


def _interval(row: pd.Series, name: str) -> str:
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    if low is None or pd.isna(low):
        return ""
    return f"{100 * low:.1f}–{100 * high:.1f}"


TABLE_HEADERS = (
    "rank", "carrier", "parcels", "delivered", "open", "lost", "p50 h", "p90 h", "mean h",
    "on-time", "95 % CI", "Δ on-time", "loss /10k", "damage", "stall", "pickup ≤24 h",
    "score", "Δ score",
)  # fmt: skip


def _cells(row: pd.Series, min_parcels: int) -> list[str]:
    insufficient = bool(row["insufficient_data"])
    rank = "—" if pd.isna(row["rank"]) else str(int(row["rank"]))
    score = f"insufficient data (n < {min_parcels})" if insufficient else f"{row['score']:.1f}"
    return [
        rank,
        str(row["carrier"]) + (" *" if row.get("small_sample") else ""),
        str(int(row["parcels"])),
        str(int(row["delivered"])),
        str(int(row["open"])),
        str(int(row["lost"])),
        _hours(row["transit_hours_p50"]),
        _hours(row["transit_hours_p90"]),
        _hours(row["transit_hours_mean"]),
        _pct(row["on_time_ratio"]),
        _interval(row, "on_time_ratio"),
        _change(row.get("on_time_ratio_change")),
        _per_10k(row["loss_ratio"]),
        _pct(row["damage_ratio"], 2),
        _pct(row["stall_ratio"]),
        _pct(row["pickup_ratio"]),
        score,
        "" if insufficient else _change(row.get("score_change"), 1, ""),
    ]


def _groups(scorecard: Scorecard) -> list[tuple[str | None, pd.DataFrame]]:
    rows = scorecard.rows
    national = rows[rows["province"].isna()]
    groups: list[tuple[str | None, pd.DataFrame]] = [(None, national)] if len(national) else []
    provinces = rows.loc[rows["province"].notna(), "province"].drop_duplicates()
    groups += [(str(p), rows[rows["province"] == p]) for p in provinces]
    return groups


def _period(scorecard: Scorecard) -> str:
    week = Week.parse(scorecard.week)
    zone = ZoneInfo(scorecard.timezone)
    first, last = week.monday, week.monday + timedelta(days=6)
    generated = scorecard.generated_at.astimezone(zone)
    return (
        f"Parcels picked up {first:%Y-%m-%d} to {last:%Y-%m-%d} ({scorecard.timezone}), "
        f"judged as of {generated:%Y-%m-%d %H:%M}; compared with {scorecard.previous_week}."
    )


NOTES = (
    "On-time = delivered by the expected time ÷ (delivered + not delivered past it): the "
    "carrier's estimate, else the lane's learned p90, else the distance-band default. "
    "Ranks use the 95 % Wilson lower bound for on-time and pickup, empirical-Bayes rates for "
    "stall, loss and damage, and transit p50 shrunk toward the carrier's national figure. "
    "* fewer than 30 parcels. A switch is suggested only after two weeks behind."
)


# --- Markdown ---------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(headers: tuple[str, ...] | list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_escape(c) for c in cells) + " |" for cells in body]
    return lines


def _recommendation_cells(scorecard: Scorecard) -> list[list[str]]:
    body = []
    for r in scorecard.recommendations:
        body.append(
            [
                r.province,
                r.carrier,
                r.current_carrier,
                "yes" if r.switch else "no",
                "" if r.hours_saved is None else f"{r.hours_saved:.1f}",
                "" if r.losses_avoided_per_10k is None else f"{r.losses_avoided_per_10k:.2f}",
                r.reason,
            ]
        )
    return body


RECOMMENDATION_HEADERS = (
    "province", "use", "current", "switch", "hours saved", "losses avoided /10k", "why",
)  # fmt: skip


PENALTY_HEADERS = ("Carrier", "Province", "Charges", "Yuan")
PENALTY_NOTE = (
    "Platform charges judged fair and the carrier's: the tracking number was uploaded in time "
    "and the pickup scan came late (docs/evidence-and-penalties.md)."
)


def _penalty_cells(scorecard: Scorecard) -> list[list[str]]:
    return [
        [r["carrier"], r["province"] or "National", str(r["lines"]), f"{r['yuan']:.2f}"]
        for r in penalty_records(scorecard)
    ]


def to_markdown(scorecard: Scorecard) -> str:
    lines = [f"# Carrier scorecard {scorecard.week}", "", _period(scorecard), ""]
    lines += ["## Recommendations", ""]
    if scorecard.recommendations:
        lines += _md_table(RECOMMENDATION_HEADERS, _recommendation_cells(scorecard))
    else:
        lines.append("No province has a carrier with enough parcels to rank.")
    if not scorecard.penalties.empty:
        lines += ["", "## Penalties charged for the carrier's lateness", "", PENALTY_NOTE, ""]
        lines += _md_table(PENALTY_HEADERS, _penalty_cells(scorecard))
    for province, rows in _groups(scorecard):
        lines += ["", f"## {province or 'National'}", ""]
        lines += _md_table(
            TABLE_HEADERS, [_cells(row, scorecard.min_parcels) for _, row in rows.iterrows()]
        )
    lines += ["", NOTES, ""]
    return "\n".join(lines)


# --- HTML -------------------------------------------------------------------------------

STYLE = """
body { font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f3f5f7; }
td.text, th.text { text-align: left; }
tr.unranked td { color: #888; }
tr.switch td { background: #fff4e5; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
p.note { color: #555; font-size: 12px; max-width: 60em; }
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _html_table(
    headers: tuple[str, ...], body: list[list[str]], text_columns: set[int], classes: list[str]
) -> str:
    head = "".join(
        f'<th class="text">{escape(h)}</th>' if i in text_columns else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    rows = []
    for cells, css in zip(body, classes, strict=True):
        tds = "".join(
            f'<td class="text">{escape(c)}</td>' if i in text_columns else f"<td>{escape(c)}</td>"
            for i, c in enumerate(cells)
        )
        rows.append(f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def main_chart_png(scorecard: Scorecard, lang: str = "en") -> bytes:
    """The carrier × province on-time heat-map: the chart an operations manager reads first."""
    return charts.on_time_heatmap(scorecard.rows, scorecard.week, lang=lang)


def to_html(scorecard: Scorecard) -> str:
    title = f"Carrier scorecard {scorecard.week}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(_period(scorecard))}</p>",
        "<h2>Recommendations</h2>",
    ]
    if scorecard.recommendations:
        parts.append(
            _html_table(
                RECOMMENDATION_HEADERS,
                _recommendation_cells(scorecard),
                {0, 1, 2, 3, 6},
                ["switch" if r.switch else "" for r in scorecard.recommendations],
            )
        )
    else:
        parts.append("<p>No province has a carrier with enough parcels to rank.</p>")
    if not scorecard.penalties.empty:
        parts.append("<h2>Penalties charged for the carrier's lateness</h2>")
        parts.append(f'<p class="note">{escape(PENALTY_NOTE)}</p>')
        cells = _penalty_cells(scorecard)
        parts.append(_html_table(PENALTY_HEADERS, cells, {0, 1}, [""] * len(cells)))
    parts += [
        "<h2>Charts</h2>",
        _img(main_chart_png(scorecard), "On-time ratio by carrier and province"),
        _img(charts.transit_chart(scorecard.transit_spread, scorecard.week), "Transit time"),
        _img(charts.trend_chart(scorecard.trend), "Week-over-week trend"),
    ]
    for province, rows in _groups(scorecard):
        parts.append(f"<h2>{escape(province or 'National')}</h2>")
        parts.append(
            _html_table(
                TABLE_HEADERS,
                [_cells(row, scorecard.min_parcels) for _, row in rows.iterrows()],
                {1},
                ["unranked" if row["insufficient_data"] else "" for _, row in rows.iterrows()],
            )
        )
    parts += [f'<p class="note">{escape(NOTES)}</p>', "</body></html>", ""]
    return "\n".join(parts)


def render(scorecard: Scorecard, fmt: str) -> str:
    if fmt == "json":
        return to_json(scorecard)
    if fmt == "csv":
        return to_csv(scorecard)
    if fmt == "html":
        return to_html(scorecard)
    if fmt == "md":
        return to_markdown(scorecard)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
