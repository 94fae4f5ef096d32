"""Planning one parcel's journey (domain-rules §6.4), as a pure function of its inputs.

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from carriers.sim.codes import SIGNED_KINDS
from carriers.sim.geo import (
    ADJACENT_REGION,
    CROSS_REGION,
    PROVINCES,
    REGION_HUBS,
    REMOTE,
    City,
    lane_band,
    parse_place,
)
from carriers.sim.plan import HOUR, MAX_SCANS, MIN_SCANS, ParcelPlan, ScanEvent
from carriers.sim.profiles import (
    CarrierProfile,
    ModelParams,
    Shock,
)
from carriers.sim.texts import (
    PROXIES,
    REFUSALS,
    RETURN_REASONS,
    STATIONS,
    courier_name,
    masked_phone,
    render,
)

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


@dataclass
class _Scan:
    hours: float  # after pickup
    kind: str
    text_kind: str  # template key (a kind, or a text variant such as "redelivery")
    city: City
    values: dict[str, str]
    priority: int  # lower is dropped first when a journey has more than MAX_SCANS scans
    optional: bool = False


class _Journey:
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

    journey = _Journey(rng, profile, o_city, d_city, band)
    scans, marks = _normal_scans(rng, journey, params, hours)
    linehaul = (marks["linehaul_start"], marks["linehaul_end"])
    if misrouted:
        _misroute(rng, journey, params, scans, linehaul)
    stall_at: tuple[float, float] | None = None
    if stalled:
        reason = reasons[-1] if reasons else "当地操作量大"
        stall_at = _stall(rng, journey, params, scans, linehaul, reason)
    outcome = _apply_outcome(rng, journey, params, scans, outcome, hours)
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
    rng: random.Random, j: _Journey, params: ModelParams, hours: float
) -> tuple[list[_Scan], dict[str, float]]:
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
        _Scan(0.0, "picked_up", "picked_up", j.o, pick, 9),
        _Scan(
            origin * rng.uniform(0.25, 0.45),
            "departed_outlet",
            "departed_outlet",
            j.o,
            {**pick, "next": first_hub},
            2,
            optional=True,
        ),
        _Scan(
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
            _Scan(
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
            scans.append(_Scan(at, "in_transit", "in_transit", city, values, 5))
        if 0 < i + 1 < legs:
            arr_city = hubs[i + 1]
            jitter = rng.uniform(-0.05, 0.05) * (times[i + 1] - times[i])
            scans.append(
                _Scan(
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
            _Scan(
                linehaul_end, "arrived_city", "arrived_city", hubs[-1], {"hub": j.hub(hubs[-1])}, 6
            )
        )
    dest_hub = j.hub(hubs[-1])
    scans.append(
        _Scan(
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
        _Scan(
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
    scans.append(_Scan(out, "out_for_delivery", "out_for_delivery", j.d, j.values(), 9))
    if rng.random() < params.locker_share:
        station = rng.choice(STATIONS)
        values = j.values(
            station=station,
            code=f"{rng.randrange(1, 30)}-{rng.randrange(1, 6)}-{rng.randrange(1000, 9999)}",
        )
        dwell = min(rng.expovariate(1 / params.locker_dwell_mean_hours), 96.0)
        scans.append(_Scan(hours, "in_locker", "in_locker", j.d, values, 9))
        scans.append(
            _Scan(hours + max(dwell, 0.2), "signed_locker", "signed_locker", j.d, values, 9)
        )
    elif rng.random() < 0.6:
        scans.append(_Scan(hours, "signed_self", "signed_self", j.d, j.values(), 9))
    else:
        values = j.values(who=rng.choice(PROXIES))
        scans.append(_Scan(hours, "signed_proxy", "signed_proxy", j.d, values, 9))
    return scans, {"linehaul_start": origin, "linehaul_end": linehaul_end}


def _shift_after(scans: list[_Scan], at: float, by: float) -> None:
    for scan in scans:
        if scan.hours > at:
            scan.hours += by


def _linehaul_point(rng: random.Random, linehaul: tuple[float, float]) -> float:
    start, end = linehaul
    return start + (end - start) * rng.uniform(0.05, 0.95)


def _hub_at(scans: list[_Scan], at: float) -> City:
    """The hub (or city) of the last scan at or before `at`."""
    city = scans[0].city
    for scan in sorted(scans, key=lambda s: s.hours):
        if scan.hours <= at:
            city = scan.city
    return city


def _misroute(
    rng: random.Random,
    j: _Journey,
    params: ModelParams,
    scans: list[_Scan],
    linehaul: tuple[float, float],
) -> None:
    """A mis-sort: the parcel goes to a wrong hub and back, adding 24-120 h with scans."""
    at = _linehaul_point(rng, linehaul)
    extra = rng.uniform(*params.misroute_hours)
    _shift_after(scans, at, extra)
    right = _hub_at(scans, at)
    wrong_pool = [p.cities[0] for p in PROVINCES.values() if p.cities[0].hub != right.hub]
    wrong = rng.choice(wrong_pool)
    values = {"wrong": j.hub(wrong), "right": j.hub(right)}
    scans.append(
        _Scan(at + extra * rng.uniform(0.3, 0.45), "misrouted", "misrouted", wrong, values, 8)
    )
    scans.append(
        _Scan(at + extra * rng.uniform(0.55, 0.7), "misrouted", "misroute_back", wrong, values, 7)
    )


def _stall(
    rng: random.Random,
    j: _Journey,
    params: ModelParams,
    scans: list[_Scan],
    linehaul: tuple[float, float],
    reason: str,
) -> tuple[float, float]:
    """A silence of 24-120 h in line-haul, sometimes opened by a 滞留 scan."""
    at = _linehaul_point(rng, linehaul)
    length = rng.uniform(*params.stall_hours)
    _shift_after(scans, at, length)
    if rng.random() < params.stall_notice_p:
        city = _hub_at(scans, at)
        scans.append(
            _Scan(
                at, "stall_notice", "stall_notice", city, {"hub": j.hub(city), "reason": reason}, 8
            )
        )
    return at, length


def _apply_outcome(
    rng: random.Random,
    j: _Journey,
    params: ModelParams,
    scans: list[_Scan],
    outcome: str,
    hours: float,
) -> str:
    if outcome == "delivered":
        return outcome
    scans.sort(key=lambda s: s.hours)
    out = next(s for s in scans if s.kind == "out_for_delivery")
    before_out = [s for s in scans if s.hours <= out.hours]
    if outcome == "lost":
        start = next(s.hours for s in scans if s.kind == "departed_hub")
        end = next(s.hours for s in scans if s.kind in ("arrived_city", "out_for_delivery"))
        cut = rng.uniform(start, max(start, end - 0.1))
        kept = [s for s in scans if s.hours <= cut]
        if len(kept) < MIN_SCANS:
            kept = scans[:MIN_SCANS]
        if rng.random() < params.lost_declared_share:
            city = kept[-1].city
            kept.append(
                _Scan(
                    kept[-1].hours + rng.uniform(72, 168),
                    "lost",
                    "lost",
                    city,
                    {"hub": j.hub(city)},
                    9,
                )
            )
        scans[:] = kept
        return outcome
    if outcome == "damaged":
        arrived = next((s for s in scans if s.kind == "arrived_city"), scans[2])
        nxt = min((s.hours for s in scans if s.hours > arrived.hours), default=arrived.hours + 4)
        at = arrived.hours + (nxt - arrived.hours) * rng.uniform(0.3, 0.7)
        scans.append(_Scan(at, "damaged", "damaged", arrived.city, {"hub": j.hub(arrived.city)}, 9))
        signed_at = max(s.hours for s in scans if s.kind in SIGNED_KINDS or s.kind == "in_locker")
        scans[:] = [s for s in scans if s.kind not in SIGNED_KINDS and s.kind != "in_locker"]
        scans.append(
            _Scan(signed_at, "signed_after_exception", "signed_after_exception", j.d, j.values(), 9)
        )
        return outcome
    if outcome == "rejected":
        refused = out.hours + rng.uniform(1, 6)
        reason = rng.choice(REFUSALS)
        scans[:] = [
            *before_out,
            _Scan(refused, "refused", "refused", j.d, j.values(reason=reason), 9),
            _Scan(
                refused + rng.uniform(2, 12),
                "rejected",
                "rejected",
                j.d,
                j.values(reason=reason),
                9,
            ),
        ]
        return outcome
    failed_kind = rng.choice(("failed_address", "failed_unreachable", "failed_out_of_area"))
    failed = out.hours + rng.uniform(2, 8)
    scans[:] = [*before_out, _Scan(failed, failed_kind, failed_kind, j.d, j.values(), 9)]
    if outcome == "returned":
        back = failed + rng.uniform(4, 24)
        trip = rng.lognormvariate(math.log(max(hours * 0.8, 12.0)), 0.3)
        origin_hub = j.hub(j.hubs[0])
        reason = rng.choice(RETURN_REASONS)
        scans += [
            _Scan(back, "returning", "returning", j.d, j.values(reason=reason, next=origin_hub), 9),
            _Scan(
                back + trip * 0.75, "returning", "return_arrived", j.hubs[0], {"hub": origin_hub}, 5
            ),
            _Scan(back + trip, "returned", "returned", j.o, {}, 9),
        ]
        return outcome
    if rng.random() < params.redelivered_share:  # delivered on the second attempt
        retry = failed + rng.uniform(16, 26)
        scans += [
            _Scan(retry, "out_for_delivery", "redelivery", j.d, j.values(), 9),
            _Scan(
                retry + rng.uniform(1, 4),
                "signed_after_exception",
                "signed_after_exception",
                j.d,
                j.values(),
                9,
            ),
        ]
        return "delivered"
    return outcome


def _trim(rng: random.Random, scans: list[_Scan]) -> list[_Scan]:
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


def _events(pickup: datetime, scans: list[_Scan], j: _Journey) -> tuple[ScanEvent, ...]:
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
