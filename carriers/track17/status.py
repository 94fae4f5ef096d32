"""17TRACK main status / sub_status → canonical status, as data
(docs/tracking-apis.md "17TRACK status taxonomy").

Every main status and every sub-status appears exactly once (`InfoReceived` is both, one
row). The finest code wins: an update's `sub_status` when known, else its main `status`.
Events carry a `sub_status` (newer answers) or only a milestone `stage` (docs/tracking-apis.md
"17TRACK track_info"), which has its own small table below.

Judgement calls (kept consistent with the Kuaidi100 and AfterShip tables):
- NotFound* → label_created: 17TRACK has no scan for the number yet, which is exactly what
  the `no_pickup_scan` rule watches; NotFound_InvalidCode too (a mistyped or fake number
  shows up as "no pickup scan", the alert a lead acts on; the raw code is kept).
- Customs processing/released → in_transit with sub_reason "customs" (normal clearance is
  not an exception); CustomsRequiringInformation → exception/customs (someone must act).
- Expired → exception/other: 17TRACK gave up (no update for a long time); the `lost` rule
  decides whether the parcel is lost.
- DeliveryFailure_NoBody and Exception_NoBody → delivery_failed/unreachable; *_Rejected →
  rejected/refused; DeliveryFailure_InvalidAddress → delivery_failed/bad_address;
  DeliveryFailure_Security → delivery_failed/other.
- Exception_Security (security hold) and Exception_Delayed → exception/held.
- Exception_Destroyed → exception/damaged: the goods will not arrive and must be
  reshipped, the same follow-up as damage.
- Exception_Cancel → exception/other (as Kuaidi100 210 销单).
- Legacy numeric v1/web codes (0, 10, 20 ...) are not part of the v2.x API and not listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from carriers.status import ParcelStatus

S = ParcelStatus

# code, status, sub_reason
ROWS: Final[tuple[tuple[str, ParcelStatus, str | None], ...]] = (
    ("NotFound", S.LABEL_CREATED, None),
    ("NotFound_Other", S.LABEL_CREATED, None),
    ("NotFound_InvalidCode", S.LABEL_CREATED, None),
    ("InfoReceived", S.LABEL_CREATED, None),  # main status and its only sub-status
    ("InTransit", S.IN_TRANSIT, None),
    ("InTransit_PickedUp", S.PICKED_UP, None),
    ("InTransit_Departure", S.IN_TRANSIT, None),
    ("InTransit_Arrival", S.IN_TRANSIT, None),
    ("InTransit_CustomsProcessing", S.IN_TRANSIT, "customs"),
    ("InTransit_CustomsReleased", S.IN_TRANSIT, "customs"),
    ("InTransit_CustomsRequiringInformation", S.EXCEPTION, "customs"),
    ("InTransit_Other", S.IN_TRANSIT, None),
    ("Expired", S.EXCEPTION, "other"),
    ("Expired_Other", S.EXCEPTION, "other"),
    ("AvailableForPickup", S.AVAILABLE_FOR_PICKUP, None),
    ("AvailableForPickup_Other", S.AVAILABLE_FOR_PICKUP, None),
    ("OutForDelivery", S.OUT_FOR_DELIVERY, None),
    ("OutForDelivery_Other", S.OUT_FOR_DELIVERY, None),
    ("DeliveryFailure", S.DELIVERY_FAILED, None),
    ("DeliveryFailure_NoBody", S.DELIVERY_FAILED, "unreachable"),
    ("DeliveryFailure_Security", S.DELIVERY_FAILED, "other"),
    ("DeliveryFailure_Rejected", S.REJECTED, "refused"),
    ("DeliveryFailure_InvalidAddress", S.DELIVERY_FAILED, "bad_address"),
    ("DeliveryFailure_Other", S.DELIVERY_FAILED, None),
    ("Delivered", S.DELIVERED, None),
    ("Delivered_Other", S.DELIVERED, None),
    ("Exception", S.EXCEPTION, "other"),
    ("Exception_Returning", S.RETURNING, None),
    ("Exception_Returned", S.RETURNED, None),
    ("Exception_NoBody", S.DELIVERY_FAILED, "unreachable"),
    ("Exception_Security", S.EXCEPTION, "held"),
    ("Exception_Damage", S.EXCEPTION, "damaged"),
    ("Exception_Rejected", S.REJECTED, "refused"),
    ("Exception_Delayed", S.EXCEPTION, "held"),
    ("Exception_Lost", S.EXCEPTION, "lost"),
    ("Exception_Destroyed", S.EXCEPTION, "damaged"),
    ("Exception_Cancel", S.EXCEPTION, "other"),
    ("Exception_Other", S.EXCEPTION, "other"),
)

# Milestone `key_stage` values an event's `stage` can hold
# (docs/tracking-apis.md "17TRACK track_info").
STAGE_ROWS: Final[tuple[tuple[str, ParcelStatus], ...]] = (
    ("InfoReceived", S.LABEL_CREATED),
    ("PickedUp", S.PICKED_UP),
    ("Departure", S.IN_TRANSIT),
    ("Arrival", S.IN_TRANSIT),
    ("AvailableForPickup", S.AVAILABLE_FOR_PICKUP),
    ("OutForDelivery", S.OUT_FOR_DELIVERY),
    ("Delivered", S.DELIVERED),
    ("Returning", S.RETURNING),
    ("Returned", S.RETURNED),
)


def _build() -> dict[str, tuple[ParcelStatus, str | None]]:
    table: dict[str, tuple[ParcelStatus, str | None]] = {}
    for code, status, sub_reason in ROWS:
        if code in table:
            raise AssertionError(f"17TRACK code {code} listed twice")
        table[code] = (status, sub_reason)
    return table


STATUS_TABLE: Final[Mapping[str, tuple[ParcelStatus, str | None]]] = _build()
STAGE_TABLE: Final[Mapping[str, ParcelStatus]] = dict(STAGE_ROWS)
if len(STAGE_TABLE) != len(STAGE_ROWS):
    raise AssertionError("17TRACK stage listed twice")


def map_code(code: str) -> tuple[ParcelStatus, str | None, bool]:
    """(status, sub_reason, known) for a main status or sub_status; unknown → UNKNOWN."""
    found = STATUS_TABLE.get(code.strip())
    if found is None:
        return ParcelStatus.UNKNOWN, None, False
    return found[0], found[1], True


def map_stage(stage: str) -> tuple[ParcelStatus, bool]:
    found = STAGE_TABLE.get(stage.strip())
    return (ParcelStatus.UNKNOWN, False) if found is None else (found, True)
