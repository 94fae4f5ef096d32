"""The working pieces of a planned journey: a scan being placed (`PlannedScan`) and the facts a
journey fixes once (`Journey`: carrier, origin, destination, lane band, hubs)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from carriers.sim.geo import (
    ADJACENT_REGION,
    CROSS_REGION,
    PROVINCES,
    REGION_HUBS,
    REMOTE,
    City,
)
from carriers.sim.profiles import CarrierProfile
from carriers.sim.texts import courier_name, masked_phone


@dataclass
class PlannedScan:
    hours: float  # after pickup
    kind: str
    text_kind: str  # template key (a kind, or a text variant such as "redelivery")
    city: City
    values: dict[str, str]
    priority: int  # lower is dropped first when a journey has more than MAX_SCANS scans
    optional: bool = False


class Journey:
    """The hubs and people of one parcel's route."""

    def __init__(self, rng: random.Random, profile: CarrierProfile, o: City, d: City, band: str):
        self.profile = profile
        self.o, self.d = o, d
        self.o_outlet = f"{o.short}{rng.choice(o.districts)}{profile.outlet_suffix}"
        self.d_outlet = f"{d.short}{rng.choice(d.districts)}{profile.outlet_suffix}"
        self.pickup_courier = courier_name(rng), masked_phone(rng)
        self.courier = courier_name(rng), masked_phone(rng)
        hubs: list[City] = [o]
        if band in (CROSS_REGION, REMOTE):
            for province in (PROVINCES[o.province], PROVINCES[d.province]):
                hubs.append(PROVINCES[REGION_HUBS[province.region]].cities[0])
        elif band == ADJACENT_REGION and rng.random() < 0.4:
            hubs.append(PROVINCES[REGION_HUBS[PROVINCES[d.province].region]].cities[0])
        hubs.append(d)
        self.hubs: list[City] = []
        for city in hubs:  # drop repeats: a route never visits one hub twice in a row
            if not self.hubs or self.hubs[-1].hub != city.hub:
                self.hubs.append(city)

    def hub(self, city: City) -> str:
        return city.hub + self.profile.hub_suffix

    def values(self, **extra: str) -> dict[str, str]:
        values = {
            "brand": self.profile.brand,
            "outlet": self.d_outlet,
            "courier": self.courier[0],
            "phone": self.courier[1],
        }
        values.update(extra)
        return values
