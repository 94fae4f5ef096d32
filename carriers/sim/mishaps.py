"""The exception tail of a journey (docs/scorecard.md "Simulator calibration"): a stall in
line-haul, a mis-sort, and the outcomes other than a plain delivery (loss, damage, refusal,
return, failed delivery), applied to the planned scans."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

from carriers.sim.codes import SIGNED_KINDS
from carriers.sim.geo import PROVINCES, City
from carriers.sim.plan import MIN_SCANS
from carriers.sim.profiles import HubHold, ModelParams
from carriers.sim.scans import Journey, PlannedScan
from carriers.sim.texts import REFUSALS, RETURN_REASONS


def _shift_after(scans: list[PlannedScan], at: float, by: float) -> None:
    for scan in scans:
        if scan.hours > at:
            scan.hours += by


def _linehaul_point(rng: random.Random, linehaul: tuple[float, float]) -> float:
    start, end = linehaul
    return start + (end - start) * rng.uniform(0.05, 0.95)


def _hub_at(scans: list[PlannedScan], at: float) -> City:
    """The hub (or city) of the last scan at or before `at`."""
    city = scans[0].city
    for scan in sorted(scans, key=lambda s: s.hours):
        if scan.hours <= at:
            city = scan.city
    return city


def misroute(
    rng: random.Random,
    j: Journey,
    params: ModelParams,
    scans: list[PlannedScan],
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
        PlannedScan(at + extra * rng.uniform(0.3, 0.45), "misrouted", "misrouted", wrong, values, 8)
    )
    scans.append(
        PlannedScan(
            at + extra * rng.uniform(0.55, 0.7), "misrouted", "misroute_back", wrong, values, 7
        )
    )


def stall(
    rng: random.Random,
    j: Journey,
    params: ModelParams,
    scans: list[PlannedScan],
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
            PlannedScan(
                at, "stall_notice", "stall_notice", city, {"hub": j.hub(city), "reason": reason}, 8
            )
        )
    return at, length


def hold_at_hub(
    rng: random.Random, scans: list[PlannedScan], pickup: datetime, hold: HubHold
) -> bool:
    """If the parcel arrives at the held hub while the hold lasts, nothing after its arrival
    happens before the hold ends (and the hub has worked off a few hours of backlog)."""
    for scan in sorted(scans, key=lambda s: s.hours):
        if scan.kind != "arrived_hub" or scan.city.hub != hold.hub:
            continue
        arrived = pickup + timedelta(hours=scan.hours)
        if not hold.start <= arrived < hold.end:
            return False
        wait = (hold.end - arrived) / timedelta(hours=1) + rng.uniform(1.0, 6.0)
        _shift_after(scans, scan.hours, wait)
        # The arrival is the last news for days: never trimmed away (it names the hub).
        scan.priority, scan.optional = 9, False
        return True
    return False


def apply_outcome(
    rng: random.Random,
    j: Journey,
    params: ModelParams,
    scans: list[PlannedScan],
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
                PlannedScan(
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
        scans.append(
            PlannedScan(at, "damaged", "damaged", arrived.city, {"hub": j.hub(arrived.city)}, 9)
        )
        signed_at = max(s.hours for s in scans if s.kind in SIGNED_KINDS or s.kind == "in_locker")
        scans[:] = [s for s in scans if s.kind not in SIGNED_KINDS and s.kind != "in_locker"]
        scans.append(
            PlannedScan(
                signed_at, "signed_after_exception", "signed_after_exception", j.d, j.values(), 9
            )
        )
        return outcome
    if outcome == "rejected":
        refused = out.hours + rng.uniform(1, 6)
        reason = rng.choice(REFUSALS)
        scans[:] = [
            *before_out,
            PlannedScan(refused, "refused", "refused", j.d, j.values(reason=reason), 9),
            PlannedScan(
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
    scans[:] = [*before_out, PlannedScan(failed, failed_kind, failed_kind, j.d, j.values(), 9)]
    if outcome == "returned":
        back = failed + rng.uniform(4, 24)
        trip = rng.lognormvariate(math.log(max(hours * 0.8, 12.0)), 0.3)
        origin_hub = j.hub(j.hubs[0])
        reason = rng.choice(RETURN_REASONS)
        scans += [
            PlannedScan(
                back, "returning", "returning", j.d, j.values(reason=reason, next=origin_hub), 9
            ),
            PlannedScan(
                back + trip * 0.75, "returning", "return_arrived", j.hubs[0], {"hub": origin_hub}, 5
            ),
            PlannedScan(back + trip, "returned", "returned", j.o, {}, 9),
        ]
        return outcome
    if rng.random() < params.redelivered_share:  # delivered on the second attempt
        retry = failed + rng.uniform(16, 26)
        scans += [
            PlannedScan(retry, "out_for_delivery", "redelivery", j.d, j.values(), 9),
            PlannedScan(
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
