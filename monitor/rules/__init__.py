"""Exception rules: pure, vectorised functions of a frame and a moment.

`evaluate(parcels, now, config, orders=...)` runs the order rules over the unshipped orders and
every parcel-level rule over the parcels, then groups the parcels' output into carrier
incidents. The result has one row per (kind, order) or (kind, parcel) in the EXCEPTION_COLUMNS
shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd

from alerts.model import SEVERITY_RANK
from monitor.config import Config
from monitor.rules import reported, shipping, transit
from monitor.rules.base import (
    EXCEPTION_COLUMNS,
    ORDER_COLUMNS,
    ORDER_TIME_COLUMNS,
    PARCEL_COLUMNS,
    TIME_COLUMNS,
    RuleContext,
)
from monitor.rules.health import carrier_api_failing
from monitor.rules.incidents import BASELINE_COLUMNS, cell_counts, incident_members, judge_cells

Rule = Callable[[RuleContext], "pd.DataFrame | list[pd.DataFrame]"]

ORDER_RULES: tuple[Rule, ...] = (shipping.unshipped_past_cutoff, shipping.ship_deadline)
PARCEL_RULES: tuple[Rule, ...] = (
    transit.no_pickup_scan,
    transit.stalled,
    transit.delayed,
    transit.lost,
    reported.carrier_reported,
)

__all__ = [
    "BASELINE_COLUMNS",
    "EXCEPTION_COLUMNS",
    "INCIDENT_COLUMNS",
    "ORDER_COLUMNS",
    "ORDER_TIME_COLUMNS",
    "PARCEL_COLUMNS",
    "TIME_COLUMNS",
    "evaluate",
    "ranked",
    "with_incidents",
]
# What the carrier and hub incidents read of each parcel (monitor/rules/incidents.py).
INCIDENT_COLUMNS = ("shipment_id", "carrier", "province", "status", "picked_up_at", "last_hub")


def evaluate(
    parcels: pd.DataFrame | None,
    now: datetime | pd.Timestamp,
    config: Config,
    incident_baseline: pd.DataFrame | None = None,
    carrier_health: pd.DataFrame | None = None,
    lane_expectations: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
    incidents: bool = True,
) -> pd.DataFrame:
    """`incidents=False` leaves out the carrier-wide groupings (carrier and hub incidents),
    which need every parcel of the book: an incremental tick judges only some
    (docs/architecture.md "Incremental detection"). `parcels=None`: the order rules (and
    carrier health) alone, which the full tick judges while its first parcels are read."""
    moment = pd.Timestamp(now)
    if moment.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    utc = moment.tz_convert("UTC")
    ctx = None if parcels is None else RuleContext(parcels, utc, config, lane_expectations)
    frames: list[pd.DataFrame] = []
    rules = [] if ctx is None else [(rule, ctx) for rule in PARCEL_RULES]
    if orders is not None and not orders.empty:
        order_ctx = RuleContext(orders, utc, config)
        rules = [(rule, order_ctx) for rule in ORDER_RULES] + rules
    for rule, context in rules:
        result = rule(context)
        frames.extend(result if isinstance(result, list) else [result])
    frames.append(
        carrier_api_failing(carrier_health, utc, config.rules.carrier_api_failing_minutes)
    )
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EXCEPTION_COLUMNS})
    exceptions = pd.concat(frames, ignore_index=True)
    # The lost rule can fire twice for one parcel (declared and silent): one alert.
    exceptions = exceptions.drop_duplicates(
        ["kind", "shipment_id", "sales_order_id", "carrier"], keep="first"
    )
    if incidents and ctx is not None:
        exceptions = with_incidents(ctx, exceptions, incident_baseline)
    return ranked(exceptions)


def with_incidents(
    ctx: RuleContext,
    exceptions: pd.DataFrame,
    incident_baseline: pd.DataFrame | None,
    members: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """`exceptions` and the carrier and hub incidents they make up among `ctx.parcels` (which
    needs only INCIDENT_COLUMNS: detection builds it piece by piece for the whole book).
    `members`: what incident_members made of them, if the caller has it already."""
    if members is None:
        members = incident_members(ctx, exceptions)
    found = judge_cells(cell_counts(members), incident_baseline, ctx.config.rules.incident)
    return pd.concat([exceptions, found], ignore_index=True) if not found.empty else exceptions


def ranked(exceptions: pd.DataFrame) -> pd.DataFrame:
    """Gravest first, then oldest."""
    if exceptions.empty:
        return exceptions.reset_index(drop=True)
    rank = exceptions["severity"].map({s.value: r for s, r in SEVERITY_RANK.items()})
    order = pd.DataFrame({"rank": -rank, "since": exceptions["since"]}).sort_values(
        ["rank", "since"], kind="stable"
    )
    return exceptions.loc[order.index].reset_index(drop=True)
