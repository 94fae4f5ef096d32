"""The canonical parcel status that every carrier's codes are mapped onto.

Rules, metrics and the alert queue only ever see these values; the carrier's raw code and
text stay on each tracking event so nothing the carrier said is lost in translation.
"""

from __future__ import annotations

from enum import StrEnum


class ParcelStatus(StrEnum):
    AWAITING_SHIPMENT = "awaiting_shipment"  # paid, not handed to a carrier
    LABEL_CREATED = "label_created"  # tracking number issued, no carrier scan yet
    PICKED_UP = "picked_up"  # 揽收
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"  # 派件
    AVAILABLE_FOR_PICKUP = "available_for_pickup"  # 驿站 / 快递柜
    DELIVERED = "delivered"  # 签收, terminal
    DELIVERY_FAILED = "delivery_failed"  # 派送失败 / 疑难
    RETURNING = "returning"  # 退回中
    RETURNED = "returned"  # 退签, terminal
    REJECTED = "rejected"  # 拒签
    EXCEPTION = "exception"  # carrier-reported: damaged, lost, customs hold (sub-reason kept)
    UNKNOWN = "unknown"


TERMINAL_STATUSES = frozenset({ParcelStatus.DELIVERED, ParcelStatus.RETURNED})

# Statuses in which the carrier holds the parcel and is expected to scan it again soon.
MOVING_STATUSES = frozenset(
    {
        ParcelStatus.PICKED_UP,
        ParcelStatus.IN_TRANSIT,
        ParcelStatus.OUT_FOR_DELIVERY,
        ParcelStatus.AVAILABLE_FOR_PICKUP,
    }
)

# The names Chinese ERP exports and carrier portals use for each status. Every name maps to
# exactly one status (see tests/carriers/test_status_tables.py).
STATUS_NAMES_ZH: dict[ParcelStatus, tuple[str, ...]] = {
    ParcelStatus.AWAITING_SHIPMENT: ("待发货", "未发货", "已付款"),
    ParcelStatus.LABEL_CREATED: ("已发货", "待揽收", "已下单", "已打单"),
    ParcelStatus.PICKED_UP: ("已揽收", "揽收", "揽件"),
    ParcelStatus.IN_TRANSIT: ("运输中", "在途", "在途中", "转运中"),
    ParcelStatus.OUT_FOR_DELIVERY: ("派件中", "派送中", "派件"),
    ParcelStatus.AVAILABLE_FOR_PICKUP: ("待取件", "已入柜", "驿站代收", "待自提"),
    ParcelStatus.DELIVERED: ("已签收", "签收", "已妥投"),
    ParcelStatus.DELIVERY_FAILED: ("派送失败", "疑难", "疑难件", "问题件"),
    ParcelStatus.RETURNING: ("退回中", "退回", "退件中"),
    ParcelStatus.RETURNED: ("已退签", "退签", "已退回"),
    ParcelStatus.REJECTED: ("拒签", "已拒签"),
    ParcelStatus.EXCEPTION: ("异常", "物流异常", "破损", "丢失", "清关"),
    ParcelStatus.UNKNOWN: ("未知",),
}

# A Chinese status name that also tells the reason keeps it as the sub-reason.
SUB_REASON_BY_NAME: dict[str, str] = {"破损": "damaged", "丢失": "lost", "清关": "customs"}

SUB_REASONS = (
    "lost",
    "damaged",
    "refused",
    "unreachable",
    "bad_address",
    "out_of_area",
    "missorted",
    "customs",
    "held",
    "other",
)


def _build_lookup() -> dict[str, ParcelStatus]:
    lookup: dict[str, ParcelStatus] = {}
    for status in ParcelStatus:
        lookup[status.value] = status
    for status, names in STATUS_NAMES_ZH.items():
        for name in names:
            if name in lookup:
                raise AssertionError(f"status name {name!r} listed twice")
            lookup[name] = status
    return lookup


_LOOKUP = _build_lookup()


def parse_status(value: str) -> tuple[ParcelStatus, str | None] | None:
    """A canonical status or a common Chinese name, with any sub-reason the name implies;
    None when the value is not recognised (the caller reports it)."""
    key = value.strip().lower().replace(" ", "_")
    status = _LOOKUP.get(key) or _LOOKUP.get(value.strip())
    if status is None:
        return None
    return status, SUB_REASON_BY_NAME.get(value.strip())
