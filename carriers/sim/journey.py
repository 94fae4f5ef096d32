"""Planning one parcel's journey (docs/scorecard.md "Simulator calibration"), as a pure function of
its inputs.

A log-normal pickup -> delivery time by lane band and carrier (stretched by any seasonal
shock), cut into the stage template (origin processing, line-haul, destination processing,
last mile; long gaps only in line-haul, where long legs get "on the road" scans), then the
exception tail: a stall (24-120 h of silence in line-haul), a mis-sort, and at most one of
loss (scanning stops; half the time the carrier later says so), damage, refusal, return or
failed delivery. At most 10 scans, the least informative dropped first.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from carriers.sim.geo import (
    PROVINCES,
    REMOTE,
    City,
    lane_band,
    parse_place,
)
from carriers.sim.mishaps import apply_outcome, hold_at_hub, misroute, stall
from carriers.sim.plan import HOUR, MAX_SCANS, MIN_SCANS, ParcelPlan, ScanEvent
from carriers.sim.profiles import CarrierProfile, HubHold, ModelParams, Shock
from carriers.sim.scans import Journey, PlannedScan
from carriers.sim.texts import PROXIES, STATIONS, render

P90_Z: Final = 1.2816
# Where parcels without a known origin are shipped from: the big e-commerce clusters.
ORIGINS: Final = (
    ("浙江", 0.35),
    ("广东", 0.30),
    ("江苏", 0.12),
    ("上海", 0.08),
    ("福建", 0.08),
    ("山东", 0.07),
)


def weighted(rng: random.Random, items: Sequence[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in items], [w for _, w in items])[0]


def digest(*parts: object) -> int:
    """A seed from any values, the same in every process (unlike `hash`)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _pick_city(rng: random.Random, province: str | None) -> City:
    if province is None:
        province = rng.choices(list(PROVINCES), [p.weight for p in PROVINCES.values()])[0]
    cities = PROVINCES[province].cities
    return rng.choices(cities, [len(cities) - i for i in range(len(cities))])[0]


def plan_parcel(
    seed: int,
    profile: CarrierProfile,
    shocks: Sequence[Shock],
    params: ModelParams,
    number: str,
    origin: str | None,
    destination: str | None,
    handed_over_at: datetime,
    holds: Sequence[HubHold] = (),
) -> ParcelPlan:
    """The whole journey of one parcel; the same inputs always give the same plan."""
    carrier = profile.code
    o_province, o_city = parse_place(origin)
    d_province, d_city = parse_place(destination)
    rng = random.Random(
        digest(
            seed,
            number,
            carrier,
            o_province,
            o_city and o_city.name,
            d_province,
            d_city and d_city.name,
            handed_over_at.isoformat(),
        )
    )
    band = lane_band(o_province, d_province)
    if o_city is None:
        o_city = _pick_city(rng, o_province or weighted(rng, ORIGINS))
    if d_city is None:
        d_city = _pick_city(rng, d_province)

    pickup = handed_over_at + rng.uniform(*params.pickup_delay_hours) * HOUR
    if rng.random() < params.late_pickup_p:
        pickup += rng.uniform(*params.late_pickup_hours) * HOUR
    median, sigma = params.bands[band]
    multiplier = profile.transit
    if band == REMOTE and profile.remote_transit is not None:
        multiplier = profile.remote_transit
    nominal = median * multiplier * params.calibration
    transit_x, stall_x, shock_names, reasons = 1.0, 1.0, [], []
    provinces = (o_city.province, d_city.province)
    for shock in shocks:
        if shock.active(pickup, pickup + nominal * 1.5 * HOUR, provinces):
            transit_x *= rng.uniform(*shock.transit)
            stall_x *= rng.uniform(*shock.stall)
            shock_names.append(shock.name)
            reasons.append(shock.reason)
    hours = rng.lognormvariate(math.log(nominal * transit_x), sigma)

    # The exclusive outcome, then the independent stall and mis-sort.
    draw = rng.random()
    outcome = "delivered"
    for name, p in (
        ("lost", profile.loss_per_10k / 10_000),
        ("damaged", profile.damage_per_10k / 10_000),
        ("rejected", params.rejected_p),
        ("returned", params.returned_p),
        ("delivery_failed", params.delivery_failed_p),
    ):
        if draw < p:
            outcome = name
            break
        draw -= p
    stalled = rng.random() < min(1.0, profile.stall * stall_x)
    misrouted = rng.random() < profile.misroute_p

    journey = Journey(rng, profile, o_city, d_city, band)
    scans, marks = _normal_scans(rng, journey, params, hours)
    linehaul = (marks["linehaul_start"], marks["linehaul_end"])
    if misrouted:
        misroute(rng, journey, params, scans, linehaul)
    stall_at: tuple[float, float] | None = None
    if stalled:
        reason = reasons[-1] if reasons else "当地操作量大"
        stall_at = stall(rng, journey, params, scans, linehaul, reason)
    for hold in holds:
        if hold.carrier == carrier and hold_at_hub(rng, scans, pickup, hold):
            shock_names.append(f"hub hold: {hold.hub}")
    outcome = apply_outcome(rng, journey, params, scans, outcome, hours)
    scans = _trim(rng, scans)

    events = _events(pickup, scans, journey)
    stalls: tuple[tuple[datetime, datetime], ...] = ()
    if stall_at is not None:
        start_t, _ = stall_at
        # Scans after the stall moved by at least 24 h; an hour's margin absorbs rounding.
        split = pickup + start_t * HOUR + HOUR
        before = [e.time for e in events if e.time <= split]
        after = [e.time for e in events if e.time > split]
        if before and after:
            stalls = ((before[-1], after[0]),)
    p50 = pickup + nominal * transit_x * HOUR
    p90 = pickup + nominal * transit_x * math.exp(P90_Z * sigma) * HOUR
    return ParcelPlan(
        number=number,
        carrier=carrier,
        origin=o_city.province,
        destination=d_city.province,
        origin_city=o_city.name,
        destination_city=d_city.name,
        band=band,
        handed_over_at=handed_over_at,
        picked_up_at=events[0].time,
        events=events,
        outcome=outcome,
        stalls=stalls,
        misrouted=misrouted,
        shocks=tuple(shock_names),
        expected_delivery=(p50.replace(microsecond=0), p90.replace(microsecond=0)),
    )


def _normal_scans(
    rng: random.Random, j: Journey, params: ModelParams, hours: float
) -> tuple[list[PlannedScan], dict[str, float]]:
    """A clean journey of `hours` (pickup -> handed to the buyer or their locker).

    Origin, destination and last-mile stages take their template share but at most a
    working shift each, so long journeys stretch only the line-haul, where long gaps are
    normal; the line-haul is cut into legs between the route's hubs.
    """
    origin = min(params.origin_share * hours, 16.0)
    destination = min(params.destination_share * hours, 18.0)
    last_mile_share = 1.0 - params.origin_share - params.linehaul_share - params.destination_share
    last_mile = min(last_mile_share * hours, 6.0)
    linehaul_end = hours - destination - last_mile
    hubs, o_outlet = j.hubs, j.o_outlet
    pick_name, pick_phone = j.pickup_courier
    pick = {"brand": j.profile.brand, "outlet": o_outlet, "courier": pick_name, "phone": pick_phone}
    first_hub = j.hub(hubs[0])
    scans = [
        PlannedScan(0.0, "picked_up", "picked_up", j.o, pick, 9),
        PlannedScan(
            origin * rng.uniform(0.25, 0.45),
            "departed_outlet",
            "departed_outlet",
            j.o,
            {**pick, "next": first_hub},
            2,
            optional=True,
        ),
        PlannedScan(
            origin * rng.uniform(0.6, 0.8),
            "arrived_hub",
            "arrived_hub",
            hubs[0],
            {"hub": first_hub},
            6,
        ),
    ]
    # Line-haul: leave the first hub at the end of the origin stage, pass the middle hubs,
    # arrive at the destination city's hub at the end of the line-haul.
    legs = len(hubs) - 1
    if legs == 0:  # same hub at both ends: one truck from the hub to the outlet
        linehaul_end = origin + (linehaul_end - origin) * 0.5
    times = [
        origin + (linehaul_end - origin) * (i / legs if legs else 1.0) for i in range(legs + 1)
    ]
    for i, city in enumerate(hubs[:-1]):
        dep = times[i] if i == 0 else times[i] + rng.uniform(1.0, 3.0)
        nxt = j.hub(hubs[i + 1])
        priority = 4 if i == 0 else 1
        scans.append(
            PlannedScan(
                dep,
                "departed_hub",
                "departed_hub",
                city,
                {"hub": j.hub(city), "next": nxt},
                priority,
                optional=i > 0,
            )
        )
        # A long leg gets "on the road" scans, as trunk trucks report, so a healthy
        # parcel never goes silent for two days.
        fillers = math.ceil((times[i + 1] - dep) / params.max_leg_hours) - 1
        for k in range(1, fillers + 1):
            at = dep + (times[i + 1] - dep) * k / (fillers + 1)
            values = {"hub": j.hub(city), "next": nxt}
            scans.append(PlannedScan(at, "in_transit", "in_transit", city, values, 5))
        if 0 < i + 1 < legs:
            arr_city = hubs[i + 1]
            jitter = rng.uniform(-0.05, 0.05) * (times[i + 1] - times[i])
            scans.append(
                PlannedScan(
                    times[i + 1] + jitter - 0.5,
                    "arrived_hub",
                    "arrived_hub",
                    arr_city,
                    {"hub": j.hub(arr_city)},
                    3,
                )
            )
    if legs:
        scans.append(
            PlannedScan(
                linehaul_end, "arrived_city", "arrived_city", hubs[-1], {"hub": j.hub(hubs[-1])}, 6
            )
        )
    dest_hub = j.hub(hubs[-1])
    scans.append(
        PlannedScan(
            linehaul_end + destination * rng.uniform(0.2, 0.45),
            "departed_hub",
            "departed_hub",
            hubs[-1],
            {"hub": dest_hub, "next": j.d_outlet},
            3,
            optional=bool(legs),
        )
    )
    scans.append(
        PlannedScan(
            linehaul_end + destination * rng.uniform(0.7, 0.9),
            "arrived_outlet",
            "arrived_outlet",
            j.d,
            j.values(),
            2,
            optional=True,
        )
    )
    out = hours - last_mile
    scans.append(PlannedScan(out, "out_for_delivery", "out_for_delivery", j.d, j.values(), 9))
    if rng.random() < params.locker_share:
        station = rng.choice(STATIONS)
        values = j.values(
            station=station,
            code=f"{rng.randrange(1, 30)}-{rng.randrange(1, 6)}-{rng.randrange(1000, 9999)}",
        )
        dwell = min(rng.expovariate(1 / params.locker_dwell_mean_hours), 96.0)
        scans.append(PlannedScan(hours, "in_locker", "in_locker", j.d, values, 9))
        scans.append(
            PlannedScan(hours + max(dwell, 0.2), "signed_locker", "signed_locker", j.d, values, 9)
        )
    elif rng.random() < 0.6:
        scans.append(PlannedScan(hours, "signed_self", "signed_self", j.d, j.values(), 9))
    else:
        values = j.values(who=rng.choice(PROXIES))
        scans.append(PlannedScan(hours, "signed_proxy", "signed_proxy", j.d, values, 9))
    return scans, {"linehaul_start": origin, "linehaul_end": linehaul_end}


def _trim(rng: random.Random, scans: list[PlannedScan]) -> list[PlannedScan]:
    """Drop some optional scans (networks do not scan everything) and then the least
    important ones until the journey has at most MAX_SCANS."""
    kept = sorted(scans, key=lambda s: s.hours)
    for scan in list(kept):
        if len(kept) > MIN_SCANS and scan.optional and rng.random() < 0.15:
            kept.remove(scan)

    def cost(i: int) -> tuple[int, float]:
        # Among equally unimportant scans, drop the one whose absence leaves the shortest
        # silence, so the scans that remain stay evenly spread.
        before = kept[i - 1].hours if i > 0 else kept[i].hours
        after = kept[i + 1].hours if i + 1 < len(kept) else kept[i].hours
        return kept[i].priority, after - before

    while len(kept) > MAX_SCANS:
        del kept[min(range(len(kept)), key=cost)]
    return kept


def _events(pickup: datetime, scans: list[PlannedScan], j: Journey) -> tuple[ScanEvent, ...]:
    events: list[ScanEvent] = []
    last: datetime | None = None
    base = pickup.replace(microsecond=0)
    for scan in sorted(scans, key=lambda s: s.hours):
        at = base + timedelta(seconds=round(scan.hours * 3600))
        if last is not None and at <= last:  # scans are strictly ordered, a minute apart
            at = last + timedelta(minutes=1)
        last = at
        context = render(j.profile.style, scan.text_kind, scan.values)
        province = PROVINCES[scan.city.province]
        events.append(
            ScanEvent(
                at, scan.kind, context, scan.city.name, province.full_name, scan.city.area_code
            )
        )
    return tuple(events)
