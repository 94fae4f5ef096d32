"""Carrier KPIs from one parcel query, computed with vectorised pandas.

Definitions (docs/scorecard.md "KPI definitions"), every parcel
judged as of the report time `now`:

- cohort: parcels picked up in the ISO week; pickup timeliness uses the parcels *shipped*
  (tracking number uploaded) in the week instead, so that a parcel the courier never
  collected counts against it rather than vanishing from every cohort;
- delivered: a delivery at or before `now`; transit time = delivered − picked up (hours);
- lost: not delivered, and declared lost by the carrier (status exception + sub-reason
  lost), or a `lost` alert was raised, or silent for `lost_after_days` while on its way. A
  parcel is one row, so however many of these hold it is counted once;
- damaged: the carrier reported damage, or a `damaged` alert was raised; the damage ratio's
  base is the parcels that reached the buyer or were reported damaged on the way (damage
  ÷ delivered, kept a proportion when a damaged parcel never arrives);
- stalled: a `stalled` alert was raised for the parcel (open or since resolved);
- open: still in the carrier's hands (not delivered, lost, returned or refused);
- on time ÷ (on time + late), where late is delivered after the expected time, or not
  delivered and past it (open and lost parcels count against the carrier). A refused or
  returned parcel is the buyer's doing and counts neither way. The expected time is the
  one the `delayed` rule uses (monitor/rules/transit.py `expected_delivery`): the carrier's
  estimate, else the lane's learned p90, else the distance-band default;
- pickup timeliness: pickup scan within 24 h of the upload ÷ parcels shipped whose 24 h have
  run out (or that were scanned sooner).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, case, func, literal, or_, select
from sqlalchemy.sql import ColumnElement

from alerts.model import AlertKind
from carriers.status import MOVING_STATUSES, ParcelStatus
from monitor.config import Config
from monitor.rules.base import RuleContext
from monitor.rules.transit import expected_delivery
from monitor.store.frames import read_frame
from monitor.store.tables import ALERTS, SHIPMENTS

S = SHIPMENTS.c
A = ALERTS.c

HOUR = pd.Timedelta(hours=1)
PICKUP_WITHIN = pd.Timedelta(hours=24)  # Pinduoduo's fake-shipping clock (docs/rules.md)
TIME_COLUMNS = ("shipped_at", "picked_up_at", "delivered_at", "last_event_at")
READ_TIMES = (*TIME_COLUMNS, "expected_delivery_at")
# Low-cardinality text, read as Categoricals: the threshold and band lookups and the
# groupings then work on small integer codes (as the detection tick does).
CATEGORIES = ("platform", "warehouse", "carrier", "province", "status", "sub_reason")
# Alerts that mark a parcel, as bits of one `alert_flags` column.
FLAG_BITS = {AlertKind.LOST: 1, AlertKind.STALLED: 2, AlertKind.DAMAGED: 4}
HEADING_TO_BUYER = (*MOVING_STATUSES, ParcelStatus.DELIVERY_FAILED)
BUYER_ENDED = (ParcelStatus.RETURNING, ParcelStatus.RETURNED, ParcelStatus.REJECTED)

# Per-parcel outcome columns summed per cell, in report order.
COUNTS = (
    "parcels",
    "delivered",
    "open",
    "lost",
    "damaged",
    "damage_base",
    "stalled",
    "on_time",
    "late",
    "shipped",
    "picked_up_24h",
)


def parcel_query(window: ColumnElement[bool], since: datetime, now: datetime) -> Any:
    """The report's one query: the parcels in `window`, with `alert_flags` saying which of
    the lost / stalled / damaged alerts each had (opened in [since, now]; a parcel picked
    up in the window cannot have one before). The flags come from a grouped subquery that
    SQLite materialises and indexes once, not from a correlated lookup per parcel; and as
    one bitmask column rather than three, because the driver's cost is per value fetched."""
    flag = sum(
        (func.max(case((A.kind == kind.value, bit), else_=0)) for kind, bit in FLAG_BITS.items()),
        start=literal(0),
    )
    flags = (
        select(A.shipment_id, flag.label("alert_flags"))
        .where(
            A.kind.in_([k.value for k in FLAG_BITS]),
            A.shipment_id.is_not(None),
            A.opened_at >= since,
            A.opened_at <= now,
        )
        .group_by(A.shipment_id)
        .subquery()
    )
    return (
        select(
            S.carrier,
            S.province,
            S.warehouse,
            S.platform,
            S.status,
            S.sub_reason,
            S.shipped_at,
            S.picked_up_at,
            S.delivered_at,
            S.last_event_at,
            S.expected_delivery_at,
            func.coalesce(flags.c.alert_flags, 0).label("alert_flags"),
        )
        .select_from(SHIPMENTS.outerjoin(flags, flags.c.shipment_id == S.id))
        .where(S.carrier.is_not(None), window)
    )


def load_window(engine: Engine, start: datetime, end: datetime, now: datetime) -> pd.DataFrame:
    """Parcels picked up or shipped in [start, end) (and not after `now`)."""
    until = min(end, now)
    window = or_(
        and_(S.picked_up_at >= start, S.picked_up_at < until),
        and_(S.shipped_at >= start, S.shipped_at < until),
    )
    return read_frame(engine, parcel_query(window, start, now), READ_TIMES, CATEGORIES)


def _flag(frame: pd.DataFrame, kind: AlertKind) -> np.ndarray:
    flags = pd.to_numeric(frame["alert_flags"], errors="coerce").fillna(0).astype("int64")
    return (flags.to_numpy() & FLAG_BITS[kind]) > 0


def _is(values: pd.Series, *options: str) -> np.ndarray:
    return values.isin([str(o) for o in options]).to_numpy(dtype=bool, na_value=False)


def _equals(values: pd.Series, option: str) -> np.ndarray:
    return (values == option).to_numpy(dtype=bool, na_value=False)


def parcel_outcomes(
    frame: pd.DataFrame,
    config: Config,
    now: datetime | pd.Timestamp,
    lane_expectations: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per parcel (same index): the booleans and transit hours the KPIs sum."""
    moment = pd.Timestamp(now).tz_convert("UTC")
    ctx = RuleContext(frame, moment, config, lane_expectations)
    status = frame["status"]
    reason = frame["sub_reason"]
    picked = frame["picked_up_at"].where(frame["picked_up_at"] <= moment)  # as of `now`
    delivered_at = frame["delivered_at"].where(frame["delivered_at"] <= moment)
    delivered = delivered_at.notna().to_numpy(dtype=bool) | (
        _is(status, ParcelStatus.DELIVERED) & frame["delivered_at"].isna().to_numpy(dtype=bool)
    )
    buyer_ended = _is(status, *BUYER_ENDED) & ~delivered
    exception = _is(status, ParcelStatus.EXCEPTION)

    last_scan = frame["last_event_at"].where(frame["last_event_at"] <= moment).fillna(picked)
    silent_hours = ((moment - last_scan) / HOUR).to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        silent = _is(status, *HEADING_TO_BUYER) & (
            silent_hours >= ctx.thresholds["lost_after_h"].to_numpy()
        )
    declared = exception & _equals(reason, "lost")
    lost = ~delivered & (declared | _flag(frame, AlertKind.LOST) | silent)
    damaged = (exception & _equals(reason, "damaged")) | _flag(frame, AlertKind.DAMAGED)

    in_cohort = picked.notna().to_numpy(dtype=bool)
    expected, _ = expected_delivery(ctx)
    expected_arr = expected.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT"))
    delivered_arr = delivered_at.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT"))
    now64 = np.datetime64(moment.tz_convert(None).to_datetime64(), "us")
    has_expected = ~np.isnat(expected_arr)
    with np.errstate(invalid="ignore"):
        on_time = (
            delivered & ~np.isnat(delivered_arr) & has_expected & (delivered_arr <= expected_arr)
        )
        late = has_expected & (
            (delivered & ~np.isnat(delivered_arr) & (delivered_arr > expected_arr))
            | (~delivered & ~buyer_ended & (expected_arr < now64))
        )

    transit = ((delivered_at - picked) / HOUR).to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        transit = np.where(transit < 0, np.nan, transit)  # delivered before pickup: bad data

    shipped_at = frame["shipped_at"]
    waited = (picked - shipped_at).to_numpy(dtype="timedelta64[us]", na_value=np.timedelta64("NaT"))
    since_ship = (moment - shipped_at).to_numpy(
        dtype="timedelta64[us]", na_value=np.timedelta64("NaT")
    )
    within = np.timedelta64(PICKUP_WITHIN.to_timedelta64(), "us")
    scanned_in_time = ~np.isnat(waited) & (waited <= within)
    judged = shipped_at.notna().to_numpy(dtype=bool) & (
        ~np.isnat(waited) | (~np.isnat(since_ship) & (since_ship >= within))
    )

    return pd.DataFrame(
        {
            "parcels": in_cohort,
            "delivered": in_cohort & delivered,
            "open": in_cohort & ~delivered & ~lost & ~buyer_ended,
            "lost": in_cohort & lost,
            "damaged": in_cohort & damaged,
            "damage_base": in_cohort & (delivered | damaged),
            "stalled": in_cohort & _flag(frame, AlertKind.STALLED),
            "on_time": in_cohort & on_time,
            "late": in_cohort & late,
            "shipped": judged,
            "picked_up_24h": judged & scanned_in_time,
            "transit_hours": np.where(in_cohort, transit, np.nan),
        },
        index=frame.index,
    )


def week_index(times: pd.Series, starts: list[datetime]) -> np.ndarray:
    """For each time, the position of the week it falls in (`starts` are consecutive week
    starts plus the end of the last week); -1 outside them."""
    edges = np.array([pd.Timestamp(s).tz_convert("UTC").value // 1000 for s in starts])
    values = times.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT"))
    micros = values.astype("int64")
    position = np.searchsorted(edges, micros, side="right") - 1
    outside = np.isnat(values) | (position < 0) | (position >= len(edges) - 1)
    return np.where(outside, -1, position)


def aggregate(
    frame: pd.DataFrame, outcomes: pd.DataFrame, starts: list[datetime], labels: list[str]
) -> pd.DataFrame:
    """Sums and transit percentiles per (week, carrier, province), and per (week, carrier)
    nationally with province None. Pickup counts go by the week shipped, the rest by the
    week picked up. Groups on one integer key per cell (carriers and provinces factorised
    once), which pandas groups several times faster than a multi-column key."""
    carrier_codes, carriers = pd.factorize(frame["carrier"])
    province_codes, provinces = pd.factorize(frame["province"])  # -1: unknown destination
    n_provinces = len(provinces) + 1  # slot 0: the national rows
    cohort = [c for c in COUNTS if c not in ("shipped", "picked_up_24h")]
    in_cohort = outcomes["parcels"].to_numpy(dtype=bool)
    pickup_week = np.where(in_cohort, week_index(frame["picked_up_at"], starts), -1)
    ship_week = week_index(frame["shipped_at"], starts)

    def summarise(province: np.ndarray) -> pd.DataFrame:
        """`province`: 1 + the province code (-1: unknown, left out), or 0 for every
        parcel (the national rows)."""
        key = (carrier_codes.astype(np.int64) * n_provinces + province) * len(labels)
        known = (carrier_codes >= 0) & (province >= 0)
        picked, shipped = known & (pickup_week >= 0), known & (ship_week >= 0)
        grouped = outcomes.loc[picked, [*cohort, "transit_hours"]].groupby(
            (key + pickup_week)[picked], sort=False
        )
        transit = grouped["transit_hours"]
        table = grouped[cohort].sum()
        table["transit_hours_p50"] = transit.quantile(0.5)
        table["transit_hours_p90"] = transit.quantile(0.9)
        table["transit_hours_mean"] = transit.mean()
        ship = outcomes.loc[shipped, ["shipped", "picked_up_24h"]]
        return table.join(ship.groupby((key + ship_week)[shipped], sort=False).sum(), how="outer")

    national = summarise(np.zeros(len(frame), dtype=np.int64))
    cells = summarise(np.where(province_codes >= 0, province_codes.astype(np.int64) + 1, -1))
    result = pd.concat([national, cells])
    key = result.index.to_numpy(dtype=np.int64)
    week, rest = key % len(labels), key // len(labels)
    counts = list(COUNTS)
    result = result.reset_index(drop=True)
    result[counts] = result[counts].fillna(0).astype("int64")
    result["week"] = np.asarray(labels, dtype=object)[week]
    result["carrier"] = np.asarray(carriers, dtype=object)[rest // n_provinces]
    result["province"] = np.asarray([None, *provinces], dtype=object)[rest % n_provinces]
    return result[["week", "carrier", "province", *counts, *TRANSIT_STATS]]


TRANSIT_STATS = ("transit_hours_p50", "transit_hours_p90", "transit_hours_mean")


def wilson(
    k: pd.Series | np.ndarray, n: pd.Series | np.ndarray, z: float = 1.96
) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval for k successes in n (Brown, Cai & DasGupta 2001; the
    formula in docs/scorecard.md "Wilson interval"). With n = 0 nothing is known: (0, 1)."""
    k = np.asarray(k, dtype="float64")
    n = np.asarray(n, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, 0.0)
        z2n = z * z / n
        centre = p + z2n / 2
        spread = z * np.sqrt(p * (1 - p) / n + z2n / (4 * n))
        low = (centre - spread) / (1 + z2n)
        high = (centre + spread) / (1 + z2n)
    empty = n <= 0
    return np.where(empty, 0.0, np.clip(low, 0, 1)), np.where(empty, 1.0, np.clip(high, 0, 1))


RATIOS = {
    # name: (events, base)
    "on_time_ratio": ("on_time", None),  # base: on_time + late
    "loss_ratio": ("lost", "parcels"),
    "damage_ratio": ("damaged", "damage_base"),
    "stall_ratio": ("stalled", "parcels"),
    "pickup_ratio": ("picked_up_24h", "shipped"),
}


def ratio_base(frame: pd.DataFrame, name: str) -> pd.Series:
    _, base = RATIOS[name]
    return frame["on_time"] + frame["late"] if base is None else frame[base]


def with_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Adds each ratio with its Wilson interval (`_low`, `_high`); NaN when its base is 0."""
    frame = frame.copy()
    for name, (events, _) in RATIOS.items():
        base = ratio_base(frame, name)
        k = frame[events]
        low, high = wilson(k, base)
        with np.errstate(divide="ignore", invalid="ignore"):
            frame[name] = np.where(base > 0, k / base.where(base > 0), np.nan)
        frame[f"{name}_low"] = np.where(base > 0, low, np.nan)
        frame[f"{name}_high"] = np.where(base > 0, high, np.nan)
    return frame


def transit_spread(
    frame: pd.DataFrame, outcomes: pd.DataFrame, week_mask: np.ndarray
) -> pd.DataFrame:
    """Per carrier nationally for one week: transit percentiles for the distribution chart."""
    rows = outcomes.loc[week_mask, ["transit_hours"]].assign(
        carrier=frame.loc[week_mask, "carrier"].to_numpy(dtype=object)
    )
    rows = rows.dropna()
    if rows.empty:
        return pd.DataFrame(columns=["carrier", "n", "p10", "p25", "p50", "p75", "p90"])
    grouped = rows.groupby("carrier")["transit_hours"]
    spread = grouped.quantile([0.1, 0.25, 0.5, 0.75, 0.9]).unstack()
    spread.columns = ["p10", "p25", "p50", "p75", "p90"]
    spread.insert(0, "n", grouped.size())
    return spread.reset_index()
