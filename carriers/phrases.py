"""What a scan's own words say, for events that come without a code
(docs/statuses.md "Events without a code").

Real pushes and answers often carry no per-event code: Kuaidi100 without `resultv2=4` (older
accounts, some couriers) sends only the Chinese `status` name or nothing but `context`;
17TRACK events often have neither `stage` nor `sub_status`; AfterShip checkpoints may lack a
`tag`. Such an event is classified from its text with the phrase tables below, as data. The
tables are tried in order and the first phrase found wins, so the more specific meaning comes
first: a refusal before a return, "请您准备签收" (out for delivery) before a bare 签收, a label
notice ("has not received the package yet") before "received".

`forward_only` then keeps an inferred status from moving a parcel back to an earlier stage:
only a carrier's own code may do that (docs/statuses.md "Events without a code").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from carriers.base import CarrierEvent
from carriers.status import ParcelStatus

S = ParcelStatus

# (phrase, status, sub_reason), first match wins. Phrases Chinese couriers really print
# (seen in the recorded payloads under tests/fixtures/carriers/real/).
ZH_PHRASES: Final[tuple[tuple[str, ParcelStatus, str | None], ...]] = (
    ("拒收", S.REJECTED, "refused"),
    ("拒签", S.REJECTED, "refused"),
    ("退回签收", S.RETURNED, None),
    ("退签", S.RETURNED, None),
    ("已退回", S.RETURNED, None),
    ("退回", S.RETURNING, None),
    ("退件", S.RETURNING, None),
    ("问题件", S.DELIVERY_FAILED, None),
    ("疑难", S.DELIVERY_FAILED, None),
    ("派送失败", S.DELIVERY_FAILED, None),
    ("无法联系", S.DELIVERY_FAILED, "unreachable"),
    ("破损", S.EXCEPTION, "damaged"),
    ("丢失", S.EXCEPTION, "lost"),
    ("滞留", S.EXCEPTION, "held"),
    ("已签收", S.DELIVERED, None),
    ("签收人", S.DELIVERED, None),
    ("本人签收", S.DELIVERED, None),
    ("代签收", S.DELIVERED, None),
    ("妥投", S.DELIVERED, None),
    ("驿站", S.AVAILABLE_FOR_PICKUP, None),
    ("快递柜", S.AVAILABLE_FOR_PICKUP, None),
    ("智能柜", S.AVAILABLE_FOR_PICKUP, None),
    ("代收", S.AVAILABLE_FOR_PICKUP, None),
    ("已入柜", S.AVAILABLE_FOR_PICKUP, None),
    ("取件码", S.AVAILABLE_FOR_PICKUP, None),
    ("请及时取件", S.AVAILABLE_FOR_PICKUP, None),
    ("派件", S.OUT_FOR_DELIVERY, None),
    ("派送中", S.OUT_FOR_DELIVERY, None),
    ("正在派送", S.OUT_FOR_DELIVERY, None),
    ("派送途中", S.OUT_FOR_DELIVERY, None),
    ("签收", S.DELIVERED, None),
    ("揽收", S.PICKED_UP, None),
    ("已揽件", S.PICKED_UP, None),
    ("揽件", S.PICKED_UP, None),
    ("收件", S.PICKED_UP, None),
    ("已收取", S.PICKED_UP, None),
    ("发往", S.IN_TRANSIT, None),
    ("到达", S.IN_TRANSIT, None),
    ("中转", S.IN_TRANSIT, None),
    ("转运", S.IN_TRANSIT, None),
    ("分拨", S.IN_TRANSIT, None),
    ("分拣", S.IN_TRANSIT, None),
    ("发车", S.IN_TRANSIT, None),
    ("装车", S.IN_TRANSIT, None),
    ("卸车", S.IN_TRANSIT, None),
    ("已收入", S.IN_TRANSIT, None),
    ("运输中", S.IN_TRANSIT, None),
    ("在途", S.IN_TRANSIT, None),
    ("清关", S.IN_TRANSIT, "customs"),
)

# English stage words of 17TRACK descriptions and AfterShip checkpoint messages, lowercase.
EN_PHRASES: Final[tuple[tuple[str, ParcelStatus, str | None], ...]] = (
    ("label created", S.LABEL_CREATED, None),
    ("created a label", S.LABEL_CREATED, None),
    ("not received the package yet", S.LABEL_CREATED, None),
    ("awaiting item", S.LABEL_CREATED, None),
    ("shipment information sent", S.LABEL_CREATED, None),
    ("information received", S.LABEL_CREATED, None),
    ("refused", S.REJECTED, "refused"),
    ("returned to sender", S.RETURNED, None),
    ("return to sender", S.RETURNING, None),
    ("returning", S.RETURNING, None),
    ("delivery attempted", S.DELIVERY_FAILED, None),
    ("attempted delivery", S.DELIVERY_FAILED, None),
    ("undeliverable", S.DELIVERY_FAILED, None),
    ("damaged", S.EXCEPTION, "damaged"),
    ("out for delivery", S.OUT_FOR_DELIVERY, None),
    ("on vehicle for delivery", S.OUT_FOR_DELIVERY, None),
    ("available for pickup", S.AVAILABLE_FOR_PICKUP, None),
    ("ready for pickup", S.AVAILABLE_FOR_PICKUP, None),
    ("delivered", S.DELIVERED, None),
    ("picked up", S.PICKED_UP, None),
    ("origin scan", S.PICKED_UP, None),
    ("pickup scan", S.PICKED_UP, None),
    ("acceptance", S.PICKED_UP, None),
    ("accepted at", S.PICKED_UP, None),
    ("customs", S.IN_TRANSIT, "customs"),
    ("arrived", S.IN_TRANSIT, None),
    ("departed", S.IN_TRANSIT, None),
    ("departure scan", S.IN_TRANSIT, None),
    ("arrival scan", S.IN_TRANSIT, None),
    ("in transit", S.IN_TRANSIT, None),
    ("processed", S.IN_TRANSIT, None),
    ("left fedex", S.IN_TRANSIT, None),
    ("at local fedex facility", S.IN_TRANSIT, None),
    ("facility", S.IN_TRANSIT, None),
)

# The stages a parcel moves through in order; statuses outside (trouble, unknown) have no rank.
STAGE_RANK: Final[dict[ParcelStatus, int]] = {
    S.LABEL_CREATED: 0,
    S.PICKED_UP: 1,
    S.IN_TRANSIT: 2,
    S.OUT_FOR_DELIVERY: 3,
    S.AVAILABLE_FOR_PICKUP: 4,
    S.DELIVERED: 5,
}


def classify_text(text: str) -> tuple[ParcelStatus, str | None] | None:
    """The status a scan text implies, or None when no phrase of either table is in it."""
    if not text:
        return None
    for phrase, status, sub_reason in ZH_PHRASES:
        if phrase in text:
            return status, sub_reason
    lowered = text.casefold()
    for phrase, status, sub_reason in EN_PHRASES:
        if phrase in lowered:
            return status, sub_reason
    return None


def forward_only(events: Sequence[CarrierEvent]) -> list[CarrierEvent]:
    """Events (oldest first) where no inferred status moves the parcel back to an earlier
    stage: such an event takes the furthest stage reached before it. A status from the
    carrier's own code is kept as given, since the carrier may really move a parcel back (a
    failed delivery sent back to the depot)."""
    out: list[CarrierEvent] = []
    furthest: CarrierEvent | None = None
    for event in events:
        rank = STAGE_RANK.get(event.status)
        behind = furthest is not None and rank is not None and rank < STAGE_RANK[furthest.status]
        if event.inferred and behind and furthest is not None:
            event = replace(event, status=furthest.status, sub_reason=furthest.sub_reason)
            rank = STAGE_RANK[furthest.status]
        if rank is not None and (furthest is None or rank >= STAGE_RANK[furthest.status]):
            furthest = event
        out.append(event)
    return out
