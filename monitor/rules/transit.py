"""Rules on the carrier's side: the pickup scan, stalls, lateness and loss.

Defaults and their sources: no pickup scan within 24 h of upload is Pinduoduo's "fake
shipping" (20 ¥ an order); no update 24 h after pickup is JD's rule; 48/72/120 h in transit by
remoteness is the platforms' stall rule; 7 days without a scan is treated as lost
(docs/rules.md "Platform ship promises", "Threshold basis").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alerts.model import AlertKind, Severity
from carriers.status import MOVING_STATUSES, ParcelStatus
from monitor.rules.base import HOUR, RuleContext, emit

# Which stall allowance applies in which status.
STALL_COLUMN = {
    ParcelStatus.PICKED_UP: "stall_picked_up_h",
    ParcelStatus.IN_TRANSIT: "stall_in_transit_h",
    ParcelStatus.OUT_FOR_DELIVERY: "stall_out_for_delivery_h",
    ParcelStatus.AVAILABLE_FOR_PICKUP: "stall_available_for_pickup_h",
}
DELAY_COLUMN = {
    "same_province": "delay_same_province_h",
    "adjacent": "delay_adjacent_h",
    "cross_region": "delay_cross_region_h",
    "remote": "delay_remote_h",
}
NOT_YET_PICKED_UP = (
    ParcelStatus.AWAITING_SHIPMENT,
    ParcelStatus.LABEL_CREATED,
    ParcelStatus.UNKNOWN,
)
HEADING_TO_BUYER = (*MOVING_STATUSES, ParcelStatus.DELIVERY_FAILED)
# A parcel waiting at a locker or station has arrived as far as the carrier takes it: it is
# judged by the locker's own stall allowance, not as late.
STILL_TRAVELLING = tuple(s for s in HEADING_TO_BUYER if s != ParcelStatus.AVAILABLE_FOR_PICKUP)


def no_pickup_scan(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.parcels
    hours = ctx.thresholds["no_pickup_h"]
    waiting = (p["shipped_at"].notna() & p["picked_up_at"].isna()).to_numpy(dtype=bool)
    overdue = (ctx.hours_since("shipped_at") >= hours).to_numpy(dtype=bool, na_value=False)
    mask = waiting & ctx.status_in(*NOT_YET_PICKED_UP) & overdue & ~ctx.awaiting_first_check
    fake_ship = ctx.config.platforms.rule("pinduoduo")
    detail = {"threshold_hours": hours}
    if fake_ship.fake_ship_penalty is not None:
        detail["penalty_estimate_yuan"] = pd.Series(
            np.where(p["platform"] == "pinduoduo", fake_ship.fake_ship_penalty, np.nan),
            index=p.index,
        )
    return emit(
        ctx,
        mask,
        AlertKind.NO_PICKUP_SCAN,
        Severity.CRITICAL,
        p["shipped_at"] + hours * HOUR,
        detail,
    )


def _last_scan(ctx: RuleContext) -> pd.Series:
    return ctx.last_scan


def _quiet_hours(ctx: RuleContext) -> pd.Series:
    """Hours since the last scan, less the carrier's maintenance windows in between."""
    return ctx.hours_since(_last_scan(ctx)) - ctx.paused_hours


def _lost_by_silence(ctx: RuleContext) -> np.ndarray:
    quiet = _quiet_hours(ctx) >= ctx.thresholds["lost_after_h"]
    return (
        ctx.status_in(*HEADING_TO_BUYER)
        & quiet.to_numpy(dtype=bool, na_value=False)
        & ~ctx.awaiting_first_check
    )


def stalled(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.parcels
    allowance = pd.Series(np.nan, index=p.index, dtype="float64")
    for status, column in STALL_COLUMN.items():
        rows = ctx.status_in(status)
        allowance[rows] = ctx.thresholds.loc[rows, column]
    last = _last_scan(ctx)
    overdue = (_quiet_hours(ctx) >= allowance).to_numpy(dtype=bool, na_value=False)
    # A lost parcel is no longer merely stalled.
    mask = overdue & ~_lost_by_silence(ctx) & ~ctx.awaiting_first_check
    detail = {"stage": p["status"], "threshold_hours": allowance, "last_scan_at": last}
    paused = ctx.paused_hours
    if ctx.config.maintenance:
        detail["paused_hours"] = paused.where(paused > 0).round(1)
    if p["last_hub"].notna().any():  # where its scans named one: for hub incidents
        detail["last_hub"] = p["last_hub"].astype(object)
    return emit(
        ctx,
        mask,
        AlertKind.STALLED,
        Severity.WARNING,
        last + (allowance + paused) * HOUR,
        detail,
    )


def lane_p90_hours(ctx: RuleContext) -> np.ndarray:
    """Each parcel's learned lane p90 in hours (lane_stats, refreshed by
    monitor/scorecard/lanes.py), NaN where the lane has fewer than `rules.lane_min_deliveries`
    deliveries in its window. A lane is (carrier, origin province, destination province); a
    parcel from a warehouse without a configured province matches the carrier x destination
    row (origin NULL), the best figure there is for it.

    The join runs on integer codes: each parcel's (carrier, warehouse, province) indexes a
    small table filled from the lane rows, so a million parcels cost a few array lookups
    rather than a million string keys."""
    p = ctx.parcels
    result = np.full(len(p), np.nan)
    lanes = ctx.lane_expectations
    if lanes is None or lanes.empty or p.empty:
        return result
    usable = lanes[
        (lanes["deliveries"] >= ctx.config.rules.lane_min_deliveries).to_numpy(dtype=bool)
        & lanes["transit_p90_hours"].notna().to_numpy(dtype=bool)
        & lanes["province"].notna().to_numpy(dtype=bool)
    ]
    if usable.empty:
        return result
    carrier_codes, carriers = pd.factorize(p["carrier"])
    warehouse_codes, warehouses = pd.factorize(p["warehouse"])
    province_codes, provinces = pd.factorize(p["province"])
    # One extra slot on each axis: where code -1 (missing) lands, and stays NaN.
    table = np.full((len(carriers) + 1, len(warehouses) + 1, len(provinces) + 1), np.nan)
    carrier_at = {str(c): i for i, c in enumerate(carriers)}
    province_at = {str(v): i for i, v in enumerate(provinces)}
    origin_of = {w.id: w.province for w in ctx.config.warehouses}
    by_origin: dict[str | None, list[int]] = {}
    for i, warehouse in enumerate(warehouses):
        by_origin.setdefault(origin_of.get(str(warehouse)), []).append(i)
    origins = usable["origin"].astype(object).where(usable["origin"].notna(), None)
    for carrier, origin, province, hours in zip(
        usable["carrier"], origins, usable["province"], usable["transit_p90_hours"], strict=True
    ):
        c, v = carrier_at.get(str(carrier)), province_at.get(str(province))
        rows = by_origin.get(None if origin is None else str(origin), [])
        if c is not None and v is not None and rows:
            table[c, rows, v] = float(hours)
    return table[carrier_codes, warehouse_codes, province_codes]


def expected_delivery(ctx: RuleContext) -> tuple[pd.Series, pd.Series]:
    """When each parcel should be delivered: the carrier's own estimate when it gave one,
    else pickup + the lane's learned p90 once the lane has enough history, else pickup + the
    distance band's allowance (docs/rules.md "delayed"). Returns (expected instant, basis)."""
    p = ctx.parcels
    band_codes, band_names = pd.factorize(ctx.distance_bands)
    allowance = np.full(len(p), np.nan)
    for code, band in enumerate(band_names):
        rows = band_codes == code
        allowance[rows] = ctx.thresholds[DELAY_COLUMN[str(band)]].to_numpy()[rows]
    lane = lane_p90_hours(ctx)
    learned = ~np.isnan(lane)
    allowance = np.where(learned, lane, allowance)
    by_allowance = p["picked_up_at"] + pd.Series(allowance, index=p.index) * HOUR
    has_estimate = p["expected_delivery_at"].notna()
    expected = p["expected_delivery_at"].where(has_estimate, by_allowance)
    labels = [f"distance_band:{band}" for band in band_names] + ["lane_p90", "carrier_estimate"]
    codes = np.where(learned, len(band_names), band_codes)
    codes = np.where(has_estimate.to_numpy(dtype=bool), len(band_names) + 1, codes)
    basis = pd.Series(pd.Categorical.from_codes(codes, labels), index=p.index)
    return expected, basis


def delayed(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.parcels
    candidates = (
        ctx.status_in(*STILL_TRAVELLING)
        & p["picked_up_at"].notna().to_numpy(dtype=bool)
        & ~ctx.awaiting_first_check
    )
    if not candidates.any():
        return emit(ctx, candidates, AlertKind.DELAYED, Severity.WARNING, p["picked_up_at"])
    expected, basis = expected_delivery(ctx)
    mask = candidates & (expected <= ctx.now).to_numpy(dtype=bool, na_value=False)
    return emit(
        ctx,
        mask,
        AlertKind.DELAYED,
        Severity.WARNING,
        expected,
        {"expected_delivery_at": expected, "basis": basis},
    )


def lost(ctx: RuleContext) -> pd.DataFrame:
    p = ctx.parcels
    last = _last_scan(ctx)
    silent = _lost_by_silence(ctx)
    declared = ctx.status_in(ParcelStatus.EXCEPTION) & (p["sub_reason"] == "lost").to_numpy(
        dtype=bool, na_value=False
    )
    # Declared: from the carrier's last word, as for the other carrier-reported kinds (an
    # import may say 丢失 with no scan time at all; `since` must never be NaT).
    since = (last + (ctx.thresholds["lost_after_h"] + ctx.paused_hours) * HOUR).where(
        ~pd.Series(declared, index=p.index), last.fillna(p["shipped_at"])
    )
    basis = pd.Series(np.where(declared, "carrier_declared", "no_scan"), index=p.index)
    return emit(
        ctx,
        silent | declared,
        AlertKind.LOST,
        Severity.CRITICAL,
        since,
        {"basis": basis, "last_scan_at": last},
    )
