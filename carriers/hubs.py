"""The hub or outlet a scan happened at, from the carrier's structured location where it is
one, else from the scan text, where Chinese couriers name it in brackets:
"快件已到达【杭州转运中心】", "【成都锦江区网点】已揽收", "快件离开【广州白云分拨中心】".

Hubs (转运中心, 分拨中心 ...) are where parcels pile up when a carrier is overloaded (压货),
so stalled parcels are grouped by the last hub they were scanned at (docs/rules.md
"hub_incident"). A bracketed name without such a word is a city or a person and is not taken.
"""

from __future__ import annotations

import re

# What a hub or outlet is called, longest first so that 分拨中心 wins over 中心.
HUB_WORDS = (
    "转运中心", "分拨中心", "集散中心", "处理中心", "分拣中心", "转运场", "中转场", "分拨场",
    "中转站", "营业部", "营业点", "营业厅", "服务站", "网点", "分部", "驿站", "公司",
)  # fmt: skip
_BRACKETED = re.compile(r"[【\[]([^【】\[\]]{2,40})[】\]]")
_BARE = re.compile(r"([\u4e00-\u9fff]{2,14}(?:" + "|".join(HUB_WORDS[:9]) + "))")


def _is_hub(name: str) -> bool:
    return name.endswith(HUB_WORDS)


def hub_of(text: str | None, location: str | None = None) -> str | None:
    """The hub's name as the carrier writes it, or None when the scan names none."""
    if location and _is_hub(location.strip()):
        return location.strip()
    if not text:
        return None
    for name in _BRACKETED.findall(text):
        if _is_hub(name.strip()):
            return name.strip()
    bare = _BARE.search(text)
    return bare.group(1) if bare else None
