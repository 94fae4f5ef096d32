"""The simulated world: every parcel's whole journey, decided the moment it is registered.

A `ParcelPlan` is a pure function of (world seed, number, carrier, lane, handover time): the
same inputs always give the same scans, so a test, the demo and a load test can all ask
"what will happen to this parcel" (`/_sim/truth`) and compare with what the daemon saw.
How a journey is planned is in `sim.journey`; the parameters are in `sim.profiles`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from carriers.registry import normalize_carrier
from carriers.sim.geo import (
    PROVINCES,
    lane_band,
)
from carriers.sim.journey import ORIGINS, digest, plan_parcel, weighted
from carriers.sim.plan import MAX_SCANS, MIN_SCANS, OUTCOMES, ParcelPlan, ScanEvent
from carriers.sim.profiles import (
    DEFAULT_PROFILES,
    DEFAULT_SHOCKS,
    CarrierProfile,
    HubHold,
    ModelParams,
    Shock,
)

__all__ = ["MAX_SCANS", "MIN_SCANS", "OUTCOMES", "ParcelPlan", "ScanEvent", "SimWorld"]


class SimWorld:
    """All registered parcels and the parameters that generate them. Thread-safe."""

    def __init__(
        self,
        seed: int = 7,
        profiles: Mapping[str, CarrierProfile] = DEFAULT_PROFILES,
        shocks: Sequence[Shock] = DEFAULT_SHOCKS,
        params: ModelParams | None = None,
        holds: Sequence[HubHold] = (),
    ) -> None:
        self.seed = seed
        self.profiles = dict(profiles)
        self.shocks = tuple(shocks)
        self.holds = tuple(holds)
        self.params = params or ModelParams()
        self._plans: dict[str, ParcelPlan] = {}
        self._phones: dict[str, str] = {}
        self._lock = threading.Lock()

    def register(
        self,
        number: str,
        carrier: str,
        origin: str | None = None,
        destination: str | None = None,
        *,
        handed_over_at: datetime,
        phone: str | None = None,
    ) -> ParcelPlan:
        """Plan a parcel's journey; registering a known number returns its existing plan.

        `carrier` is a parcelwatch code or any name `carriers.registry` knows (中通, zhongtong);
        `origin`/`destination` are province names or addresses ("广东省深圳市南山区").
        """
        number = number.strip()
        if not number:
            raise ValueError("a tracking number is required")
        with self._lock:
            existing = self._plans.get(number)
            if existing is not None:
                if phone and number not in self._phones:
                    self._phones[number] = phone
                return existing
        code = normalize_carrier(carrier)
        if code is None or code not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise ValueError(f"unknown carrier {carrier!r} (the simulator knows {known})")
        if handed_over_at.tzinfo is None:
            raise ValueError("handed_over_at must be timezone-aware")
        plan = plan_parcel(
            self.seed,
            self.profiles[code],
            self.shocks,
            self.params,
            number,
            origin,
            destination,
            handed_over_at.astimezone(UTC),
            self.holds,
        )
        with self._lock:
            plan = self._plans.setdefault(number, plan)
            if phone:
                self._phones.setdefault(number, phone)
        return plan

    def get(self, number: str) -> ParcelPlan | None:
        return self._plans.get(number)

    def plan(self, number: str) -> ParcelPlan:
        found = self._plans.get(number)
        if found is None:
            raise KeyError(f"tracking number {number!r} is not registered in the simulator")
        return found

    def phone(self, number: str) -> str | None:
        return self._phones.get(number)

    def visible_events(self, number: str, now: datetime) -> tuple[ScanEvent, ...]:
        return self.plan(number).visible(now)

    def __contains__(self, number: object) -> bool:
        return number in self._plans

    def __len__(self) -> int:
        return len(self._plans)

    def numbers(self) -> list[str]:
        with self._lock:
            return list(self._plans)

    def sample(
        self,
        n: int,
        *,
        start: datetime,
        days: float = 1.0,
        origin: str | None = None,
        carriers: Iterable[str] | None = None,
        sample_seed: int = 0,
    ) -> list[ParcelPlan]:
        """Register `n` parcels handed over in [start, start + days): carriers by market share
        and destinations drawn so lane bands follow the docs/scorecard.md "Simulator calibration"
        weights. For demos, load tests and calibration."""
        rng = random.Random(digest(self.seed, "sample", sample_seed, start.isoformat(), n))
        pool = [self.profiles[c] for c in carriers] if carriers else list(self.profiles.values())
        weights = [p.share for p in pool] if any(p.share for p in pool) else None
        bands = list(self.params.band_weights)
        band_weights = [self.params.band_weights[b] for b in bands]
        plans = []
        for i in range(n):
            profile = rng.choices(pool, weights)[0]
            src = origin or weighted(rng, ORIGINS)
            band = rng.choices(bands, band_weights)[0]
            dst = _destination_in_band(rng, src, band)
            number = _tracking_number(rng, profile, i)
            at = start + timedelta(days=days) * rng.random()
            plans.append(self.register(number, profile.code, src, dst, handed_over_at=at))
        return plans


def _destination_in_band(rng: random.Random, origin: str, band: str) -> str:
    names, weights = _band_destinations(origin, band)
    return rng.choices(names, weights)[0]


@lru_cache(maxsize=256)
def _band_destinations(origin: str, band: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    choices = [p for p in PROVINCES.values() if lane_band(origin, p.name) == band]
    if not choices:
        choices = list(PROVINCES.values())
    return tuple(p.name for p in choices), tuple(p.weight for p in choices)


def _tracking_number(rng: random.Random, profile: CarrierProfile, index: int) -> str:
    prefix = profile.number_prefixes[0] if profile.number_prefixes else profile.code.upper()
    digits = 14 - len(prefix)
    return f"{prefix}{rng.randrange(10 ** (digits - 4)):0{digits - 4}d}{index % 10000:04d}"
