"""The simulator's parameters as data: carrier profiles, lane bands, the stage template,
the exception tail and seasonal shocks. Every number starts from
docs/scorecard.md "Simulator calibration" and can be replaced (`dataclasses.replace`, or new
mappings passed to `SimWorld`).

Loss, damage and stall rates are the reference's [I] assumptions, not published statistics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Final

from carriers.sim.geo import ADJACENT_REGION, CROSS_REGION, INTRA_PROVINCE, REMOTE

CHINA_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True)
class CarrierProfile:
    """One courier: how much of the market it carries, how fast and how reliably.

    `transit` multiplies the lane's median; `stall` is the probability of one 24-120 h
    silence in line-haul; `misroute` (default: equal to `stall`) the probability of a
    mis-sort that adds 24-120 h with scans; loss and damage are per 10,000 parcels.
    """

    code: str  # parcelwatch's carrier code (carriers.registry)
    brand: str  # as scans print it: 中通快递
    share: float
    transit: float
    stall: float
    loss_per_10k: float
    damage_per_10k: float
    remote_transit: float | None = None  # replaces `transit` on the remote band (EMS)
    misroute: float | None = None
    style: str = "tongda"  # scan-text family: tongda | sf | jd | post | deppon
    hub_suffix: str = "转运中心"
    outlet_suffix: str = "网点"
    number_prefixes: tuple[str, ...] = ()  # how its waybill numbers usually start

    @property
    def misroute_p(self) -> float:
        return self.stall if self.misroute is None else self.misroute


def _profiles(*profiles: CarrierProfile) -> dict[str, CarrierProfile]:
    return {p.code: p for p in profiles}


# docs/scorecard.md "Simulator calibration" table (shares and multipliers relative to the "tongda"
# baseline). The last three carriers are not in the table: they get baseline-like figures and no
# market share, so they appear only when a parcel names them.
DEFAULT_PROFILES: Final[Mapping[str, CarrierProfile]] = _profiles(
    CarrierProfile("zto", "中通快递", 0.20, 1.00, 0.025, 1.5, 8, number_prefixes=("7", "ZTO")),
    CarrierProfile("yto", "圆通速递", 0.15, 1.02, 0.030, 2.0, 10, number_prefixes=("YT",)),
    CarrierProfile(
        "yunda",
        "韵达快递",
        0.14,
        1.03,
        0.030,
        2.0,
        10,
        hub_suffix="分拨中心",
        number_prefixes=("43", "46", "31"),
    ),
    CarrierProfile("jt", "极兔速递", 0.13, 1.08, 0.045, 3.0, 12, number_prefixes=("JT",)),
    CarrierProfile("sto", "申通快递", 0.13, 1.05, 0.035, 2.5, 10, number_prefixes=("77", "STO")),
    CarrierProfile(
        "sf",
        "顺丰速运",
        0.08,
        0.75,
        0.010,
        0.5,
        5,
        style="sf",
        hub_suffix="中转场",
        outlet_suffix="营业点",
        number_prefixes=("SF",),
    ),
    CarrierProfile(
        "ems",
        "EMS",
        0.06,
        1.15,
        0.030,
        1.5,
        8,
        remote_transit=0.9,
        style="post",
        hub_suffix="邮件处理中心",
        outlet_suffix="揽投部",
        number_prefixes=("9", "1"),
    ),
    CarrierProfile(
        "jd",
        "京东快递",
        0.06,
        0.80,
        0.010,
        0.5,
        5,
        style="jd",
        hub_suffix="分拣中心",
        outlet_suffix="营业部",
        number_prefixes=("JD",),
    ),
    CarrierProfile(
        "debang",
        "德邦快递",
        0.05,
        1.10,
        0.025,
        2.0,
        25,
        style="deppon",
        hub_suffix="枢纽中心",
        outlet_suffix="营业部",
        number_prefixes=("DPK",),
    ),
    CarrierProfile(
        "youzheng",
        "中国邮政",
        0.0,
        1.20,
        0.030,
        2.0,
        10,
        remote_transit=0.95,
        style="post",
        hub_suffix="邮件处理中心",
        outlet_suffix="揽投部",
    ),
    CarrierProfile("best", "百世快递", 0.0, 1.05, 0.035, 2.5, 10, hub_suffix="分拨中心"),
    CarrierProfile("danniao", "丹鸟", 0.0, 1.00, 0.025, 1.5, 8, outlet_suffix="站点"),
)


@dataclass(frozen=True)
class ModelParams:
    """Lane bands, the stage template and the non-carrier parts of the exception tail."""

    # pickup -> delivered hours, log-normal: (median, sigma of the log), calibrated so the band
    # weights of docs/scorecard.md "Lane bands" give mean ≈ 51 h and ≈ 83 % within 72 h with
    # the tail below.
    bands: Mapping[str, tuple[float, float]] = field(
        default_factory=lambda: {
            INTRA_PROVINCE: (26.0, 0.30),
            ADJACENT_REGION: (42.0, 0.30),
            CROSS_REGION: (60.0, 0.30),
            REMOTE: (110.0, 0.40),
        }
    )
    # The band medians above give the aggregate targets (docs/scorecard.md "Lane bands") on
    # their own; carrier multipliers (share-weighted ≈ 1.006) and buyers collecting from lockers add
    # about 1.5 h, so the whole mixture is scaled back to land on mean ≈ 51 h, 83 % within 72 h.
    calibration: float = 0.97
    band_weights: Mapping[str, float] = field(
        default_factory=lambda: {
            INTRA_PROVINCE: 0.32,
            ADJACENT_REGION: 0.34,
            CROSS_REGION: 0.31,
            REMOTE: 0.03,
        }
    )
    # Stage template, cumulative shares of the journey (SPB Q2 2024 means: origin 15 %,
    # line-haul 61 %, destination 18 %, last mile the rest).
    origin_share: float = 0.15
    linehaul_share: float = 0.61
    destination_share: float = 0.18
    max_leg_hours: float = 30.0  # longer line-haul legs get "on the road" scans
    stall_hours: tuple[float, float] = (24.0, 120.0)
    misroute_hours: tuple[float, float] = (24.0, 120.0)
    stall_notice_p: float = 0.35  # a stall opens with a 滞留 scan rather than plain silence
    # Outcomes that are not the carrier's own loss/damage (per parcel).
    delivery_failed_p: float = 0.008
    redelivered_share: float = 0.5  # of failed attempts, delivered the next day
    returned_p: float = 0.005
    rejected_p: float = 0.004
    lost_declared_share: float = 0.5  # of lost parcels, the carrier eventually says so
    locker_share: float = 0.30  # left at a 驿站 or locker, collected later
    locker_dwell_mean_hours: float = 3.0  # most buyers collect the same evening
    pickup_delay_hours: tuple[float, float] = (0.2, 2.5)
    late_pickup_p: float = 0.02  # picked up a day late
    late_pickup_hours: tuple[float, float] = (24.0, 40.0)


@dataclass(frozen=True)
class Shock:
    """A period (and optionally a set of provinces) in which the network slows down.

    `annual` windows repeat every year (month and day compared). A shock applies to a
    parcel whose nominal journey overlaps the window and, when `provinces` is set, whose
    origin or destination is one of them. Multipliers are drawn per parcel from the ranges.
    """

    name: str
    start: date
    end: date  # inclusive, China time
    transit: tuple[float, float] = (1.0, 1.0)
    stall: tuple[float, float] = (1.0, 1.0)
    provinces: frozenset[str] | None = None
    annual: bool = False
    reason: str = "当地操作量大"  # printed in 滞留 scans

    def active(self, start: datetime, end: datetime, provinces: tuple[str | None, ...]) -> bool:
        if self.provinces is not None and not any(p in self.provinces for p in provinces):
            return False
        first = start.astimezone(CHINA_TZ).date()
        last = end.astimezone(CHINA_TZ).date()
        if not self.annual:
            return first <= self.end and self.start <= last
        day = first
        while day <= last:  # journeys are days long, so this loop is short
            key = (day.month, day.day)
            lo, hi = (self.start.month, self.start.day), (self.end.month, self.end.day)
            if (lo <= key <= hi) if lo <= hi else (key >= lo or key <= hi):
                return True
            day += timedelta(days=1)
        return False


def double_eleven() -> Shock:
    """爆仓 around 11.11: transit ×1.2-1.5, stall probability ×2-3
    (docs/scorecard.md "Seasonal shocks")."""
    return Shock(
        "double11",
        date(2000, 11, 10),
        date(2000, 11, 16),
        (1.2, 1.5),
        (2.0, 3.0),
        annual=True,
        reason="双十一期间快件量激增",
    )


# Official Spring Festival holidays (2024-2026) and the lunar new year weeks after them.
SPRING_FESTIVALS: Final = (
    (date(2024, 2, 10), date(2024, 2, 17)),
    (date(2025, 1, 28), date(2025, 2, 4)),
    (date(2026, 2, 15), date(2026, 2, 23)),
    (date(2027, 2, 5), date(2027, 2, 11)),
    (date(2028, 1, 25), date(2028, 1, 31)),
    (date(2029, 2, 12), date(2029, 2, 18)),
    (date(2030, 2, 2), date(2030, 2, 8)),
)


def spring_festival(start: date, end: date) -> Shock:
    """春节: throughput ≈ 20 % of normal, transit ×2; stalls mostly on remote lanes."""
    return Shock("spring_festival", start, end, (2.0, 2.0), (1.5, 2.0), reason="春节期间运力紧张")


def weather(
    province: str,
    start: date,
    end: date,
    *,
    transit: tuple[float, float] = (1.5, 3.0),
    stall: float = 5.0,
    name: str | None = None,
) -> Shock:
    """A regional weather event (snow, flood, typhoon): transit ×1.5-3, stall p ×5."""
    return Shock(
        name or f"weather:{province}",
        start,
        end,
        transit,
        (stall, stall),
        provinces=frozenset({province}),
        reason="恶劣天气影响",
    )


@dataclass(frozen=True)
class HubHold:
    """One carrier's sorting hub holding parcels (压货, 爆仓): every parcel of `carrier` that
    arrives at the hub of `hub` (a City.hub base name: 杭州, 广州白云) between `start` and `end`
    gets no scan until the hub clears, a few hours after `end`. Unlike a Shock it is one place,
    so the parcels it holds share their last hub: what hub incidents look for (docs/rules.md
    "hub_incident")."""

    carrier: str
    hub: str
    start: datetime
    end: datetime


DEFAULT_SHOCKS: Final[tuple[Shock, ...]] = (
    double_eleven(),
    *(spring_festival(a, b) for a, b in SPRING_FESTIVALS),
)
