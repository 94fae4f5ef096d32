"""Kuaidi100 `state` / `statusCode` → canonical status, as data
(docs/tracking-apis.md "Kuaidi100 state codes").

Every documented code appears exactly once; `map_code` is the only lookup. With
`resultv2=4` the top-level `state` and each event's `statusCode` can be an advanced code
(101, 1002, 304 ...), so base and advanced codes live in one table.

Judgement calls (kept consistent with the 17TRACK and AfterShip tables):
- 2 疑难 and 204 派件异常 → delivery_failed without a reason: the carrier says delivery has a
  problem but not which; the raw code and text stay on the event.
- 201 超时未签收 / 202 超时未更新 → in_transit. They are Kuaidi100's own staleness flags,
  not a carrier scan; our `stalled` and `lost` rules already measure silence with thresholds
  the warehouse configures, and mapping them to `exception` would raise a second,
  duplicate alert. parse.py goes further for the top-level state: a parcel flagged 201/202
  keeps the status of its newest real scan (an out-for-delivery parcel stays one).
- 8 清关 and 10 待清关 / 11 清关中 / 12 已清关 → in_transit with sub_reason "customs": normal
  customs processing is not an exception; only 13 清关异常 is one.
- 203 拒收 and 14 拒签 → rejected/refused (the reference groups 14 under 退签, but the
  product's `rejected` alert is the one a lead acts on).
- 205 柜或驿站超时未取 → available_for_pickup: the parcel is still waiting at the locker;
  the 72 h `stalled` threshold for that status raises the alert.
- 206 无法联系 → delivery_failed/unreachable; 207 超区 → delivery_failed/out_of_area.
- 208 滞留 → exception/held; 209 破损 → exception/damaged; 210 销单 → exception/other.
- 4 退签 and 401 已销单 → returned (the reference lists 401 under 退签); 6 退回 → returning.
- 7 转投 (handed to another carrier) → in_transit: the parcel still moves toward the buyer.
- 101 已下单 / 102 待揽收 → label_created: no carrier scan yet, which is what the
  `no_pickup_scan` rule watches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from carriers.status import ParcelStatus

S = ParcelStatus

# code, Chinese name as Kuaidi100 sends it in `data[].status`, status, sub_reason
ROWS: Final[tuple[tuple[str, str, ParcelStatus, str | None], ...]] = (
    # 1 揽收 and its advanced codes
    ("1", "揽收", S.PICKED_UP, None),
    ("101", "已下单", S.LABEL_CREATED, None),
    ("102", "待揽收", S.LABEL_CREATED, None),
    ("103", "已揽收", S.PICKED_UP, None),
    # 0 在途
    ("0", "在途", S.IN_TRANSIT, None),
    ("1001", "到达派件城市", S.IN_TRANSIT, None),
    ("1002", "干线", S.IN_TRANSIT, None),
    ("1003", "转递", S.IN_TRANSIT, None),
    # 5 派件
    ("5", "派件", S.OUT_FOR_DELIVERY, None),
    ("501", "投柜或驿站", S.AVAILABLE_FOR_PICKUP, None),
    # 3 签收
    ("3", "签收", S.DELIVERED, None),
    ("301", "本人签收", S.DELIVERED, None),
    ("302", "派件异常后签收", S.DELIVERED, None),
    ("303", "代签", S.DELIVERED, None),
    ("304", "投柜或站签收", S.DELIVERED, None),
    # 6 退回, 4 退签, 14 拒签
    ("6", "退回", S.RETURNING, None),
    ("4", "退签", S.RETURNED, None),
    ("401", "已销单", S.RETURNED, None),
    ("14", "拒签", S.REJECTED, "refused"),
    # 7 转投
    ("7", "转投", S.IN_TRANSIT, None),
    # 2 疑难 and its advanced codes
    ("2", "疑难", S.DELIVERY_FAILED, None),
    ("201", "超时未签收", S.IN_TRANSIT, None),  # staleness flag, see module docstring
    ("202", "超时未更新", S.IN_TRANSIT, None),  # staleness flag, see module docstring
    ("203", "拒收", S.REJECTED, "refused"),
    ("204", "派件异常", S.DELIVERY_FAILED, None),
    ("205", "柜或驿站超时未取", S.AVAILABLE_FOR_PICKUP, None),
    ("206", "无法联系", S.DELIVERY_FAILED, "unreachable"),
    ("207", "超区", S.DELIVERY_FAILED, "out_of_area"),
    ("208", "滞留", S.EXCEPTION, "held"),
    ("209", "破损", S.EXCEPTION, "damaged"),
    ("210", "销单", S.EXCEPTION, "other"),
    # 8 清关 and the customs codes 10–13
    ("8", "清关", S.IN_TRANSIT, "customs"),
    ("10", "待清关", S.IN_TRANSIT, "customs"),
    ("11", "清关中", S.IN_TRANSIT, "customs"),
    ("12", "已清关", S.IN_TRANSIT, "customs"),
    ("13", "清关异常", S.EXCEPTION, "customs"),
)

# Kuaidi100's own staleness flags: not a scan, so the update keeps its newest scan's status.
STALENESS_CODES: Final = frozenset({"201", "202"})


def _build() -> tuple[dict[str, tuple[ParcelStatus, str | None]], dict[str, str]]:
    table: dict[str, tuple[ParcelStatus, str | None]] = {}
    by_name: dict[str, str] = {}
    for code, name, status, sub_reason in ROWS:
        if code in table or name in by_name:
            raise AssertionError(f"Kuaidi100 code {code} ({name}) listed twice")
        table[code] = (status, sub_reason)
        by_name[name] = code
    return table, by_name


_TABLE, _CODE_BY_NAME = _build()
STATUS_TABLE: Final[Mapping[str, tuple[ParcelStatus, str | None]]] = _TABLE
CODE_BY_NAME: Final[Mapping[str, str]] = _CODE_BY_NAME


def map_code(code: str) -> tuple[ParcelStatus, str | None, bool]:
    """(status, sub_reason, known); an unknown code is (UNKNOWN, None, False)."""
    found = _TABLE.get(code.strip())
    if found is None:
        return ParcelStatus.UNKNOWN, None, False
    return found[0], found[1], True


def code_for_name(name: str) -> str | None:
    """The code of an event that carries only the Chinese status name (older answers)."""
    return _CODE_BY_NAME.get(name.strip())
