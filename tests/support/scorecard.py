"""Histories with known truth for the carrier scorecard (docs/scorecard.md "Carrier scorecard"):
lanes of parcels with log-normal transit times written straight into the store, and a shop
of five carriers over six provinces and four weeks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Engine, insert

from monitor.config import Config
from monitor.scorecard import Scorecard, Week, build_scorecard
from monitor.store.models import Alert, Shipment
from tests.support.config import make_config

SHANGHAI = ZoneInfo("Asia/Shanghai")
W47 = Week(2026, 47)  # Monday 16 – Sunday 22 November 2026
W46 = Week(2026, 46)
# Tuesday of the week after: the usual moment to read last week's scorecard.
REPORT_AT = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
LATER = datetime(2026, 12, 15, 10, 0, tzinfo=SHANGHAI)  # every parcel long since delivered
HOUR = timedelta(hours=1)


# --- a history with known truth ----------------------------------------------------------


@dataclass(frozen=True)
class Lane:
    """`parcels` parcels picked up uniformly over `week`, with log-normal transit times of
    this median. `late_share` of them take `late_hours` more (after the expected time)."""

    carrier: str
    province: str
    parcels: int
    median_hours: float
    sigma: float = 0.25
    week: Week = W47
    warehouse: str = "hz1"
    late_share: float = 0.0
    late_hours: float = 200.0


class History:
    """Shipments (and alerts) written straight into the store."""

    def __init__(self, engine: Engine, seed: int = 1) -> None:
        self.engine = engine
        self.rng = np.random.default_rng(seed)
        self.rows: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []

    def parcel(
        self,
        carrier: str,
        province: str | None,
        picked_up_at: datetime | None,
        *,
        transit_hours: float | None = None,
        shipped_at: datetime | None = None,
        status: str | None = None,
        last_event_at: datetime | None = None,
        warehouse: str = "hz1",
        **extra: Any,
    ) -> int:
        number = len(self.rows) + 1
        shipped = shipped_at or (picked_up_at - 3 * HOUR if picked_up_at else None)
        delivered = picked_up_at + transit_hours * HOUR if transit_hours is not None else None
        if status is None:
            status = "delivered" if delivered else "in_transit" if picked_up_at else "label_created"
        stamp = shipped or datetime(2026, 11, 1, tzinfo=SHANGHAI)
        self.rows.append(
            {
                "id": number,
                "order_id": f"T{number:07d}",
                "platform": "taobao",
                "warehouse": warehouse,
                "carrier": carrier,
                "tracking_number": f"{carrier.upper()}{number:09d}",
                "province": province,
                "paid_at": stamp - 5 * HOUR,
                "shipped_at": shipped,
                "picked_up_at": picked_up_at,
                "delivered_at": delivered,
                "last_event_at": last_event_at or delivered or picked_up_at,
                "expected_delivery_at": None,
                "status": status,
                "sub_reason": None,
                "content_hash": "",
                "created_at": stamp,
                "updated_at": stamp,
                **extra,
            }
        )
        return number

    def lane(self, lane: Lane) -> None:
        start = lane.week.start(SHANGHAI)
        offsets = self.rng.uniform(0, 7 * 24 - 1, lane.parcels)
        hours = self.rng.lognormal(math.log(lane.median_hours), lane.sigma, lane.parcels)
        late = self.rng.random(lane.parcels) < lane.late_share
        hours = np.where(late, hours + lane.late_hours, hours)
        for offset, transit in zip(offsets, hours, strict=True):
            self.parcel(
                lane.carrier,
                lane.province,
                start + float(offset) * HOUR,
                transit_hours=float(transit),
                warehouse=lane.warehouse,
            )

    def alert(self, shipment_id: int, kind: str, at: datetime) -> None:
        self.alerts.append(
            {
                "fingerprint": f"{kind}:{shipment_id}:{len(self.alerts)}",
                "kind": kind,
                "severity": "warning",
                "state": "resolved",
                "shipment_id": shipment_id,
                "since": at,
                "opened_at": at,
                "updated_at": at,
                "detail": {},
            }
        )

    def save(self) -> None:
        with self.engine.begin() as conn:
            if self.rows:
                conn.execute(insert(Shipment.__table__), self.rows)  # type: ignore[attr-defined]
            if self.alerts:
                conn.execute(insert(Alert.__table__), self.alerts)  # type: ignore[attr-defined]


def scorecard(
    engine: Engine, week: Week = W47, at: datetime = LATER, config: Config | None = None
) -> Scorecard:
    return build_scorecard(engine, config or make_config(), week.label, at)


def row(card: Scorecard, carrier: str, province: str | None) -> dict[str, Any]:
    rows = card.rows
    where = rows["province"].isna() if province is None else rows["province"] == province
    match = rows[(rows["carrier"] == carrier) & where]
    assert len(match) == 1, f"no single row for {carrier}/{province}"
    return dict(match.iloc[0])


def shop(engine: Engine) -> None:
    history = History(engine, seed=13)
    provinces = {"江苏": 1.0, "广东": 1.3, "四川": 1.5, "北京": 1.4, "新疆": 2.6, "上海": 0.9}
    carriers = {
        "zto": (1.0, 0.03),
        "sf": (0.75, 0.0),
        "yto": (1.05, 0.05),
        "jt": (1.1, 0.08),
        "ems": (1.15, 0.04),
    }
    for week in (W46.shift(-2), W46.shift(-1), W46, W47):
        for province, distance in provinces.items():
            for carrier, (speed, late) in carriers.items():
                count = 60 if carrier != "ems" else 6  # ems: too few to rank
                history.lane(
                    Lane(
                        carrier, province, count, 30 * distance * speed, week=week, late_share=late
                    )
                )
    history.save()
