"""The scorecard's charts as PNG bytes, drawn server-side with matplotlib's Agg canvas (no
display, no pyplot global state, safe in the daemon's threads).

Province names are Chinese, so the charts need a CJK font. Debian's fonts-noto-cjk
(scripts/install-system-deps.sh) provides Noto Sans CJK; the list below also covers the
usual fonts of other systems. With none of them installed the charts label provinces in
pinyin and a warning is logged, rather than drawing empty boxes or failing.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from carriers.registry import CARRIERS
from monitor.geo import province_info

log = logging.getLogger(__name__)

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Arial Unicode MS",
)
LATIN_FONT = "DejaVu Sans"  # ships with matplotlib
DPI = 110

# The charts' words, in the page's language (the scorecard page is in zh or en).
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "transit_axis": "揽收到签收的小时数（箱体 p25–p75，须线 p10–p90）",
        "transit_title": "各快递时效，{week}",
        "no_deliveries": "没有签收的包裹",
        "heatmap_title": "各快递到各省的准时率，{week}（斜线：样本不足）",
        "no_parcels": "没有包裹",
        "on_time": "准时率",
        "transit_p50": "时效中位数（小时）",
    },
    "en": {
        "transit_axis": "hours from pickup to delivery (box p25–p75, whiskers p10–p90)",
        "transit_title": "Transit time by carrier, {week}",
        "no_deliveries": "no deliveries",
        "heatmap_title": "On-time ratio by carrier and destination, {week} (hatched: too few)",
        "no_parcels": "no parcels",
        "on_time": "On-time ratio",
        "transit_p50": "Transit p50 (hours)",
    },
}


def carrier_label(code: str, lang: str) -> str:
    """申通快递 / STO Express; a code the registry does not know stays as it is. Chinese names
    only where a CJK font can draw them."""
    info = CARRIERS.get(code)
    if info is None:
        return code
    return info.name_zh if lang == "zh" and cjk_fonts() else info.name_en


@lru_cache(maxsize=1)
def cjk_fonts() -> tuple[str, ...]:
    """The CJK fonts from CJK_FONTS that matplotlib can find here, best first."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    found = tuple(name for name in CJK_FONTS if name in installed)
    if not found and _rescan_system_fonts():
        installed = {font.name for font in font_manager.fontManager.ttflist}
        found = tuple(name for name in CJK_FONTS if name in installed)
    if not found:
        log.warning(
            "no CJK font found (tried %s); scorecard charts label provinces in pinyin. "
            "Install Noto Sans CJK (Debian: fonts-noto-cjk) for Chinese labels.",
            ", ".join(CJK_FONTS),
        )
    return found


def _rescan_system_fonts() -> bool:
    """matplotlib caches its font list the first time it runs; fonts installed after that
    (a fonts package added once the tool was already in use) stay unseen until the cache is
    rebuilt. Add the system fonts the cached list lacks, and rewrite the cache so the next
    process sees them too. True if any was added."""
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {font.fname for font in manager.ttflist}
    added = 0
    for path in font_manager.findSystemFonts():
        if path not in known:
            try:
                manager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # a font file it cannot read
                continue
            added += 1
    if added:
        cache = (
            Path(matplotlib.get_cachedir())
            / f"fontlist-v{font_manager.FontManager.__version__}.json"
        )
        font_manager.json_dump(manager, str(cache))
    return added > 0


def province_label(name: str) -> str:
    if cjk_fonts():
        return name
    info = province_info(name)
    return info.pinyin if info else name.encode("ascii", "replace").decode()


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    fonts = [*cjk_fonts(), LATIN_FONT]
    with matplotlib.rc_context(
        {
            "font.family": "sans-serif",
            "font.sans-serif": fonts,
            "axes.unicode_minus": False,  # CJK fonts often lack U+2212
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 9,
        }
    ):
        yield


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def transit_chart(spread: pd.DataFrame, week: str, lang: str = "en") -> bytes:
    """Transit-time distribution per carrier: box p25–p75, median, whiskers p10–p90."""
    text = TEXT[lang]
    with _style():
        rows = spread.sort_values("p50", ascending=False)
        figure = _figure(7.5, 0.45 * max(len(rows), 2) + 1.2)
        axes = figure.add_subplot()
        stats = [
            {
                "label": f"{carrier_label(str(r.carrier), lang)} (n={int(r.n)})",
                "whislo": r.p10,
                "q1": r.p25,
                "med": r.p50,
                "q3": r.p75,
                "whishi": r.p90,
                "fliers": [],
            }
            for r in rows.itertuples()
        ]
        if stats:
            axes.bxp(
                stats,
                orientation="horizontal",
                showfliers=False,
                patch_artist=True,
                boxprops={"facecolor": "#cfe3f5"},
                medianprops={"color": "#1f4e79"},
            )
        else:
            axes.text(0.5, 0.5, text["no_deliveries"], ha="center", va="center")
        axes.set_xlabel(text["transit_axis"])
        axes.set_title(text["transit_title"].format(week=week))
        return _png(figure)


def on_time_heatmap(
    rows: pd.DataFrame, week: str, max_provinces: int = 31, lang: str = "en"
) -> bytes:
    """Carrier × province on-time ratio; cells too small to rank are hatched and blank."""
    text = TEXT[lang]
    cells = rows[rows["province"].notna()]
    with _style():
        volume = cells.groupby("province")["parcels"].sum().sort_values(ascending=False)
        provinces = list(volume.index[:max_provinces])
        carriers = _carriers_best_first(rows)
        figure = _figure(max(6.0, 0.42 * len(provinces) + 2), 0.42 * max(len(carriers), 2) + 1.6)
        axes = figure.add_subplot()
        if not provinces:
            axes.text(0.5, 0.5, text["no_parcels"], ha="center", va="center")
            return _png(figure)
        table = cells.pivot_table(
            index="carrier", columns="province", values="on_time_ratio", aggfunc="first"
        ).reindex(index=carriers, columns=provinces)
        ranked = cells.assign(r=cells["rank"].notna()).pivot_table(
            index="carrier", columns="province", values="r", aggfunc="first"
        )
        ranked = ranked.reindex(index=carriers, columns=provinces).fillna(False).astype(bool)
        values = table.to_numpy(dtype="float64")
        shown = np.where(ranked.to_numpy(), values, np.nan)
        image = axes.imshow(
            np.ma.masked_invalid(shown), cmap="RdYlGn", vmin=0.6, vmax=1.0, aspect="auto"
        )
        axes.set_facecolor("#eeeeee")
        for (i, j), value in np.ndenumerate(shown):
            if np.isnan(value):
                axes.add_patch(_hatch(j, i))
            else:
                axes.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=6.5)
        labels = [province_label(p) for p in provinces]
        axes.set_xticks(range(len(provinces)), labels, rotation=60, ha="right")
        axes.set_yticks(range(len(carriers)), [carrier_label(c, lang) for c in carriers])
        axes.set_title(text["heatmap_title"].format(week=week))
        figure.colorbar(image, ax=axes, shrink=0.8, format="{x:.0%}")
        return _png(figure)


def _carriers_best_first(rows: pd.DataFrame) -> list[str]:
    national = rows[rows["province"].isna()]
    rank = dict(zip(national["carrier"], national["rank"].astype("float64"), strict=True))
    carriers = sorted({str(c) for c in rows["carrier"]})
    return sorted(carriers, key=lambda c: (np.nan_to_num(rank.get(c, np.inf), nan=np.inf), c))


def _hatch(x: int, y: int) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle(
        (x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", edgecolor="#bbbbbb", linewidth=0
    )


def trend_chart(trend: pd.DataFrame, lang: str = "en") -> bytes:
    """Week over week, per carrier nationally: on-time ratio and transit p50."""
    text = TEXT[lang]
    with _style():
        figure = _figure(7.5, 3.2)
        left, right = figure.subplots(1, 2)
        weeks = sorted(trend["week"].unique())
        for carrier, rows in trend.groupby("carrier", sort=True):
            rows = rows.set_index("week").reindex(weeks)
            x = np.arange(len(weeks))
            left.plot(x, rows["on_time_ratio"], marker="o", markersize=3,
                      label=carrier_label(str(carrier), lang))  # fmt: skip
            right.plot(x, rows["transit_hours_p50"], marker="o", markersize=3)
        for axes, title in ((left, text["on_time"]), (right, text["transit_p50"])):
            axes.set_xticks(range(len(weeks)), [w[-3:] for w in weeks])
            axes.set_title(title)
            axes.grid(alpha=0.3)
        left.yaxis.set_major_formatter("{x:.0%}")
        if weeks:
            figure.legend(loc="outside right center", fontsize=7, frameon=False)
        return _png(figure)
