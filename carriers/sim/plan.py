"""What the simulator knows about one parcel: its scans (past and future) and its fate."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from carriers.sim.codes import SCAN_KINDS, SIGNED_KINDS, TERMINAL_KINDS, kuaidi100_base

OUTCOMES: Final = ("delivered", "lost", "damaged", "returned", "rejected", "delivery_failed")
MAX_SCANS: Final = 10
MIN_SCANS: Final = 4
HOUR: Final = timedelta(hours=1)


@dataclass(frozen=True)
class ScanEvent:
    """One scan as both APIs will report it."""

    time: datetime  # UTC, whole seconds
    kind: str  # a key of codes.SCAN_KINDS
    context: str  # the carrier's Chinese text
    location: str  # city, as scans print it
    province: str
    area_code: str

    @property
    def kuaidi100_code(self) -> str:
        """The advanced Kuaidi100 code (`statusCode` with resultv2=4)."""
        return SCAN_KINDS[self.kind].kuaidi100

    @property
    def kuaidi100_base(self) -> str:
        return kuaidi100_base(self.kuaidi100_code)

    @property
    def track17_status(self) -> str:
        return SCAN_KINDS[self.kind].status

    @property
    def track17_sub_status(self) -> str:
        return SCAN_KINDS[self.kind].sub_status

    @property
    def stage(self) -> str | None:
        return SCAN_KINDS[self.kind].stage

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat(),
            "kind": self.kind,
            "kuaidi100_state": self.kuaidi100_base,
            "kuaidi100_status_code": self.kuaidi100_code,
            "track17_status": self.track17_status,
            "track17_sub_status": self.track17_sub_status,
            "context": self.context,
            "location": self.location,
            "province": self.province,
        }


@dataclass(frozen=True)
class ParcelPlan:
    number: str
    carrier: str  # parcelwatch's carrier code
    origin: str  # province (chosen by the model when the caller gave none)
    destination: str
    origin_city: str
    destination_city: str
    band: str  # lane band, from the provinces the caller gave
    handed_over_at: datetime
    picked_up_at: datetime
    events: tuple[ScanEvent, ...]  # oldest first, including the future
    outcome: str  # one of OUTCOMES
    stalls: tuple[tuple[datetime, datetime], ...]  # silences: (last scan, next scan)
    misrouted: bool
    shocks: tuple[str, ...]  # names of the shocks that touched this parcel
    expected_delivery: tuple[datetime, datetime]  # the lane's p50..p90, as carriers estimate

    @property
    def delivered_at(self) -> datetime | None:
        return next((e.time for e in self.events if e.kind in SIGNED_KINDS), None)

    @property
    def transit_hours(self) -> float | None:
        """Pickup to signature, the figure the scorecard measures."""
        delivered = self.delivered_at
        return None if delivered is None else (delivered - self.picked_up_at) / HOUR

    @property
    def terminal(self) -> bool:
        return self.events[-1].kind in TERMINAL_KINDS

    def visible(self, now: datetime) -> tuple[ScanEvent, ...]:
        """The scans that have happened by `now`, oldest first."""
        times = [e.time for e in self.events]
        return self.events[: bisect.bisect_right(times, now)]

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "carrier": self.carrier,
            "origin": self.origin,
            "destination": self.destination,
            "origin_city": self.origin_city,
            "destination_city": self.destination_city,
            "band": self.band,
            "handed_over_at": self.handed_over_at.isoformat(),
            "picked_up_at": self.picked_up_at.isoformat(),
            "delivered_at": _iso(self.delivered_at),
            "transit_hours": self.transit_hours,
            "outcome": self.outcome,
            "stalls": [[a.isoformat(), b.isoformat()] for a, b in self.stalls],
            "misrouted": self.misrouted,
            "shocks": list(self.shocks),
            "expected_delivery": [t.isoformat() for t in self.expected_delivery],
            "events": [e.to_json() for e in self.events],
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
