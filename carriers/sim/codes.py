"""The status vocabularies the simulator speaks (docs/tracking-apis.md "Kuaidi100 state codes" +
"17TRACK status taxonomy"), and the scan kinds of the model with the codes each one carries in both
APIs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

# Kuaidi100 `state` / `statusCode` -> the Chinese name `resultv2` puts in `data[].status`.
KUAIDI100_NAMES: Final[Mapping[str, str]] = {
    "1": "揽收", "101": "已下单", "102": "待揽收", "103": "已揽收",
    "0": "在途", "1001": "到达派件城市", "1002": "干线", "1003": "转递",
    "5": "派件", "501": "投柜或驿站",
    "3": "签收", "301": "本人签收", "302": "派件异常后签收", "303": "代签", "304": "投柜或站签收",
    "6": "退回", "4": "退签", "401": "已销单", "14": "拒签", "7": "转投",
    "2": "疑难", "201": "超时未签收", "202": "超时未更新", "203": "拒收", "204": "派件异常",
    "205": "柜或驿站超时未取", "206": "无法联系", "207": "超区", "208": "滞留", "209": "破损",
    "210": "销单",
    "8": "清关", "10": "待清关", "11": "清关中", "12": "已清关", "13": "清关异常",
}  # fmt: skip
KUAIDI100_BASE_CODES: Final = frozenset({"0", "1", "2", "3", "4", "5", "6", "7", "8", "14"})


def kuaidi100_base(code: str) -> str:
    """The base `state` of an advanced code: 103 -> 1, 1002 -> 0, 304 -> 3; 14 stays 14."""
    if len(code) == 4:
        return "0"
    if len(code) == 3:
        return code[0]
    if code in {"10", "11", "12", "13"}:
        return "8"
    return code


TRACK17_STATUSES: Final[Mapping[str, tuple[str, ...]]] = {
    "NotFound": ("NotFound_Other", "NotFound_InvalidCode"),
    "InfoReceived": ("InfoReceived",),
    "InTransit": (
        "InTransit_PickedUp", "InTransit_Departure", "InTransit_Arrival",
        "InTransit_CustomsProcessing", "InTransit_CustomsReleased",
        "InTransit_CustomsRequiringInformation", "InTransit_Other",
    ),
    "Expired": ("Expired_Other",),
    "AvailableForPickup": ("AvailableForPickup_Other",),
    "OutForDelivery": ("OutForDelivery_Other",),
    "DeliveryFailure": (
        "DeliveryFailure_NoBody", "DeliveryFailure_Security", "DeliveryFailure_Rejected",
        "DeliveryFailure_InvalidAddress", "DeliveryFailure_Other",
    ),
    "Delivered": ("Delivered_Other",),
    "Exception": (
        "Exception_Returning", "Exception_Returned", "Exception_NoBody", "Exception_Security",
        "Exception_Damage", "Exception_Rejected", "Exception_Delayed", "Exception_Lost",
        "Exception_Destroyed", "Exception_Cancel", "Exception_Other",
    ),
}  # fmt: skip
TRACK17_MILESTONES: Final = (
    "InfoReceived", "PickedUp", "Departure", "Arrival", "AvailableForPickup",
    "OutForDelivery", "Delivered", "Returning", "Returned",
)  # fmt: skip


@dataclass(frozen=True)
class ScanKind:
    kuaidi100: str  # advanced code
    status: str  # 17TRACK main status
    sub_status: str
    stage: str | None  # 17TRACK milestone key stage, if the scan is one


def _k(code: str, status: str, sub: str, stage: str | None = None) -> ScanKind:
    return ScanKind(code, status, f"{status}_{sub}" if sub else status, stage)


SCAN_KINDS: Final[Mapping[str, ScanKind]] = {
    "picked_up": _k("103", "InTransit", "PickedUp", "PickedUp"),
    "departed_outlet": _k("0", "InTransit", "Departure", "Departure"),
    "arrived_hub": _k("1002", "InTransit", "Arrival", "Arrival"),
    "departed_hub": _k("1002", "InTransit", "Departure", "Departure"),
    "arrived_city": _k("1001", "InTransit", "Arrival", "Arrival"),
    "arrived_outlet": _k("0", "InTransit", "Arrival", "Arrival"),
    "in_transit": _k("1002", "InTransit", "Other"),
    "misrouted": _k("1003", "InTransit", "Other"),
    "stall_notice": _k("208", "Exception", "Delayed"),
    "damaged": _k("209", "Exception", "Damage"),
    "lost": _k("2", "Exception", "Lost"),
    "out_for_delivery": _k("5", "OutForDelivery", "Other", "OutForDelivery"),
    "in_locker": _k("501", "AvailableForPickup", "Other", "AvailableForPickup"),
    "signed_self": _k("301", "Delivered", "Other", "Delivered"),
    "signed_after_exception": _k("302", "Delivered", "Other", "Delivered"),
    "signed_proxy": _k("303", "Delivered", "Other", "Delivered"),
    "signed_locker": _k("304", "Delivered", "Other", "Delivered"),
    "failed_address": _k("204", "DeliveryFailure", "InvalidAddress"),
    "failed_unreachable": _k("206", "DeliveryFailure", "NoBody"),
    "failed_out_of_area": _k("207", "DeliveryFailure", "Other"),
    "refused": _k("203", "DeliveryFailure", "Rejected"),
    "rejected": _k("14", "Exception", "Rejected"),
    "returning": _k("6", "Exception", "Returning", "Returning"),
    "returned": _k("4", "Exception", "Returned", "Returned"),
}
FAILED_KINDS: Final = ("failed_address", "failed_unreachable", "failed_out_of_area")
SIGNED_KINDS: Final = frozenset(
    {"signed_self", "signed_after_exception", "signed_proxy", "signed_locker"}
)
# After these the carrier stops tracking: Kuaidi100 pushes `shutdown`, 17TRACK stops.
TERMINAL_KINDS: Final = SIGNED_KINDS | {"returned", "rejected"}
