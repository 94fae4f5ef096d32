"""Rules on the seller's side of the handover: shipping before the daily cutoff and within
the platform's ship promise (docs/rules.md "Alert kinds and defaults", "Platform ship promises").

They judge orders, not parcels: an order is shipped once its first tracking number is uploaded
(docs/orders-and-parcels.md "When an order counts as shipped"), whatever became of the parcel.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from alerts.model import AlertKind, Severity
from monitor.calendar import ShippingCalendar
from monitor.config import PLATFORMS, WarehouseConfig
from monitor.rules.base import HOUR, RuleContext, emit


def unshipped(ctx: RuleContext) -> np.ndarray:
    return ctx.parcels["shipped_at"].isna().to_numpy(dtype=bool)


def _warehouse(ctx: RuleContext, warehouse_id: str) -> WarehouseConfig:
    # A warehouse that has left the config keeps being judged by the defaults, not dropped.
    return ctx.config.warehouse(warehouse_id) or WarehouseConfig(id=warehouse_id)


def ship_by_deadlines(ctx: RuleContext, mask: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """For each parcel in `mask`, the moment it must have shipped by (UTC: `ship_by` on its due
    date in the warehouse's time zone) and that local due date. Computed once per distinct
    (warehouse, local date, before/after cutoff): a million orders cost a few hundred
    calendar look-ups."""
    index = ctx.parcels.index
    deadlines = pd.Series(pd.NaT, index=index, dtype="datetime64[us, UTC]")
    due_days = pd.Series(None, index=index, dtype=object)
    subset = ctx.parcels.loc[mask, ["warehouse", "paid_at"]]
    for warehouse_id, group in subset.groupby("warehouse", sort=False):
        wh = _warehouse(ctx, str(warehouse_id))
        zone = ZoneInfo(wh.timezone)
        calendar = ShippingCalendar(wh.calendar, wh.closed, wh.open)
        # Wall-clock time: on a DST day, 16:00 is not 16 hours after local midnight.
        local = group["paid_at"].dt.tz_convert(zone).dt.tz_localize(None)
        local_day = local.dt.normalize()
        cutoff = pd.Timedelta(hours=wh.cutoff.hour, minutes=wh.cutoff.minute)
        keys = pd.DataFrame({"day": local_day.dt.date, "before": (local - local_day) < cutoff})
        due: dict[tuple[date, bool], date] = {
            (day, before): calendar.due_date(day, bool(before))
            for day, before in keys.drop_duplicates().itertuples(index=False)
        }
        days = [due[k] for k in zip(keys["day"], keys["before"], strict=True)]
        instants = [datetime.combine(d, wh.ship_by, tzinfo=zone) for d in days]
        deadlines.loc[group.index] = pd.to_datetime(instants, utc=True)
        due_days.loc[group.index] = [d.isoformat() for d in days]
    return deadlines, due_days


def unshipped_past_cutoff(ctx: RuleContext) -> pd.DataFrame:
    mask = unshipped(ctx)
    deadline, due_day = ship_by_deadlines(ctx, mask)
    late = mask & (deadline <= ctx.now).to_numpy(dtype=bool, na_value=False)
    return emit(
        ctx,
        late,
        AlertKind.UNSHIPPED_PAST_CUTOFF,
        Severity.WARNING,
        deadline,
        {"due_date": due_day, "ship_by": deadline},
    )


def _penalty_estimate(ctx: RuleContext) -> pd.Series:
    """Compensation the platform will charge for a late shipment, in yuan (None if unknown)."""
    p = ctx.parcels
    estimate = pd.Series(np.nan, index=p.index, dtype="float64")
    amount = pd.to_numeric(p["amount"], errors="coerce")
    for platform in PLATFORMS:
        rule = ctx.config.platforms.rule(platform)
        rows = (p["platform"] == platform).to_numpy(dtype=bool, na_value=False)
        if not rows.any():
            continue
        if rule.late_ship_penalty_fixed is not None:
            estimate[rows] = rule.late_ship_penalty_fixed
        elif rule.late_ship_penalty_ratio is not None:
            value = amount[rows] * rule.late_ship_penalty_ratio
            # Without a price, the floor is the best estimate we can stand behind.
            value = value.fillna(rule.late_ship_penalty_min or 0)
            estimate[rows] = value.clip(rule.late_ship_penalty_min, rule.late_ship_penalty_max)
    return estimate


def ship_deadline(ctx: RuleContext) -> list[pd.DataFrame]:
    """at_risk from ship_risk_hours until the promise, critical from ship_risk_critical_hours;
    breached once the promise has passed (at_risk then resolves as superseded). The promise
    runs from payment, unless the platform's export gave the order's own deadline; then the
    warnings come as many hours before it as they would before a computed one."""
    th = ctx.thresholds
    mask = unshipped(ctx)
    promise = th["ship_promise_h"]
    paid = ctx.parcels["paid_at"]
    deadline = ctx.parcels["ship_deadline_at"].fillna(paid + promise * HOUR)
    left = (deadline - ctx.now) / HOUR  # hours until the deadline
    risk_from = deadline - (promise - th["ship_risk_h"]) * HOUR
    at_risk = mask & (risk_from <= ctx.now).to_numpy() & (left > 0).to_numpy()
    breached = mask & (left <= 0).to_numpy()
    critical = left <= (promise - th["ship_risk_critical_h"])
    severity = pd.Series(
        np.where(critical, Severity.CRITICAL, Severity.WARNING), index=ctx.parcels.index
    )
    return [
        emit(
            ctx,
            at_risk,
            AlertKind.SHIP_DEADLINE_AT_RISK,
            severity,
            risk_from,
            {"deadline": deadline, "ship_promise_hours": promise},
        ),
        emit(
            ctx,
            breached,
            AlertKind.SHIP_DEADLINE_BREACHED,
            Severity.CRITICAL,
            deadline,
            {
                "deadline": deadline,
                "ship_promise_hours": promise,
                "penalty_estimate_yuan": _penalty_estimate(ctx) if breached.any() else None,
            },
        ),
    ]
