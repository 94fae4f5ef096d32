"""What an appeal rests on, read for one order: its paid time and the platform's deadline with
the rule and the numbers that gave it, each parcel's upload time and the carrier's pickup scan
against the pickup window, every scan as stored, and each carrier body as received
(docs/evidence-and-penalties.md "What a pack holds").

The deadline and the pickup window are the ones detection uses (the threshold hierarchy of
monitor/rules/thresholds.py), so a pack never argues from a rule the alerts did not apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from carriers.status import ParcelStatus
from monitor.config import Config
from monitor.rules.thresholds import effective
from monitor.rules.transit import NOT_YET_PICKED_UP
from monitor.store.orders import Ambiguous, OrderView, find_order
from monitor.store.raw_answers import RawAnswer, answers_about

# Statuses that mean the carrier had the parcel in hand (not before pickup, as the rules read
# it, and not a carrier-reported exception, which may come before): the first is the pickup.
IN_CARRIER_HANDS = frozenset(ParcelStatus) - {*NOT_YET_PICKED_UP, ParcelStatus.EXCEPTION}


@dataclass(frozen=True)
class Deadline:
    """When the order had to ship, and why: `rule` is `platform_export` (the platform's own
    最晚发货时间 from its export) or `promise` (paid time + the promise hours)."""

    at: datetime
    rule: str
    promise_hours: float


@dataclass(frozen=True)
class ParcelFacts:
    id: int
    carrier: str | None
    tracking_number: str | None
    uploaded_at: datetime | None  # the tracking number's upload (shipment.shipped_at)
    pickup_at: datetime | None  # the carrier's first scan with the parcel in hand
    pickup_event: dict[str, Any] | None
    pickup_window_hours: float
    events: list[dict[str, Any]]  # oldest first, as stored
    answers: list[RawAnswer]  # the bodies the carrier sent about it, as received
    orders: list[str]  # every order this parcel carries (a merged parcel has several)

    @property
    def pickup_due_at(self) -> datetime | None:
        if self.uploaded_at is None:
            return None
        return self.uploaded_at + timedelta(hours=self.pickup_window_hours)


@dataclass(frozen=True)
class OrderFacts:
    order: dict[str, Any]
    deadline: Deadline
    parcels: list[ParcelFacts] = field(default_factory=list)

    @property
    def shipped_at(self) -> datetime | None:
        """The first tracking number's upload: when the platform saw the order shipped."""
        value = self.order.get("shipped_at")
        return value if isinstance(value, datetime) else None

    @property
    def warehouse(self) -> str:
        return str(self.order["warehouse"])


def order_facts(
    engine: Engine, config: Config, order_id: str, platform: str | None = None
) -> OrderFacts | Ambiguous | None:
    view = find_order(engine, order_id, platform)
    if view is None or isinstance(view, Ambiguous):
        return view
    return facts_of(engine, config, view)


def facts_of(engine: Engine, config: Config, view: OrderView) -> OrderFacts:
    order = view.order
    scope = {"warehouse": order["warehouse"], "platform": order["platform"]}
    if order.get("province"):
        scope["province"] = order["province"]
    promise = effective(config, **scope)["ship_promise_h"]
    if order.get("ship_deadline_at") is not None:
        deadline = Deadline(order["ship_deadline_at"], "platform_export", promise)
    else:
        deadline = Deadline(order["paid_at"] + timedelta(hours=promise), "promise", promise)
    numbers = [str(p["tracking_number"]) for p in view.parcels if p.get("tracking_number")]
    answers = answers_about(engine, numbers)
    parcels = []
    for p in view.parcels:
        window = effective(config, **scope, **({"carrier": p["carrier"]} if p["carrier"] else {}))
        events = p["events"]
        pickup = next((e for e in events if e["status"] in IN_CARRIER_HANDS), None)
        pickup_at = p.get("picked_up_at") or (pickup["occurred_at"] if pickup else None)
        number = p.get("tracking_number")
        parcels.append(
            ParcelFacts(
                id=int(p["id"]),
                carrier=p.get("carrier"),
                tracking_number=number,
                uploaded_at=p.get("shipped_at"),
                pickup_at=pickup_at,
                pickup_event=pickup,
                pickup_window_hours=window["no_pickup_h"],
                events=events,
                answers=answers.get(str(number), []) if number else [],
                orders=list(p.get("orders", [])),
            )
        )
    return OrderFacts(order, deadline, parcels)
