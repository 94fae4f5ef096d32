"""When each parcel's or order's rule outcome can next change without new data: its due moment
(docs/architecture.md "Incremental detection").

Pure and vectorised like the rules, and built from the same pieces (thresholds, the shipping
calendar's deadlines, the expected delivery, the maintenance pauses), so that a rule and its
due moment cannot drift apart. The answer is the earliest threshold crossing still ahead; an
earlier answer is always safe (the row is judged once more for nothing), a later one would be
a missed alert, so every doubt resolves towards earlier:

- a crossing that is a hair in the past still counts (within `SLACK`): the rule compares
  floating hours, and a row judged exactly at its crossing must be judged once more;
- a maintenance window's pause is counted as far as it has run by `now` (the pause only grows,
  so the real crossing is never earlier);
- a clock counts in every status its rule reads, whatever else the rule also asks (a parcel
  awaiting its first carrier answer still gets its stall moment).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carriers.status import ParcelStatus
from monitor.clock import QUIET
from monitor.rules import shipping, transit
from monitor.rules.base import HOUR, RuleContext

SLACK = pd.Timedelta(milliseconds=1)
RECENTLY_RETURNED = pd.Timedelta(days=7)  # monitor/detection.py RECENTLY_RETURNED


def must_store(stored: pd.Series, due: pd.Series, now: pd.Timestamp) -> np.ndarray:
    """Which of the rows a tick read need their new due moment written. A stored moment still
    ahead and no later than the new one may stay: an earlier moment is always safe (the row is
    judged once more for nothing, and its moment is written then). So a scan that pushes a
    parcel's stall moment back costs no write now; the write comes once, when the old moment
    is reached, however many scans came meanwhile. A row with no moment (new, or made due by a
    config or lane change), a row whose moment has come and moved, and a row whose moment
    moved earlier are written (docs/architecture.md "Incremental detection")."""
    missing = stored.isna().to_numpy(dtype=bool)
    came = (stored <= now).to_numpy(dtype=bool, na_value=False)
    moved = (due != stored).to_numpy(dtype=bool, na_value=True)
    earlier = (due < stored).to_numpy(dtype=bool, na_value=False)
    return missing | (came & moved) | earlier


def earliest_ahead(now: pd.Timestamp, crossings: list[pd.Series], index: pd.Index) -> pd.Series:
    """Per row, the earliest crossing not already behind `now` (less SLACK); QUIET if none."""
    floor = now - SLACK
    due = pd.Series(pd.NaT, index=index, dtype="datetime64[us, UTC]")
    for crossing in crossings:
        values = crossing.astype("datetime64[us, UTC]")
        ahead = values.where(values >= floor)
        due = due.where(due.notna() & ~(ahead < due), ahead)
    return due.fillna(pd.Timestamp(QUIET))


def parcel_due(ctx: RuleContext) -> pd.Series:
    """The parcel rules' next crossings (monitor/rules/transit.py, reported.py): no pickup
    scan, each stall allowance, lost by silence, the expected delivery; and the edges of the
    "recently returned" stretch in which detection still reads a returned parcel."""
    p = ctx.parcels
    if p.empty:
        return pd.Series(pd.NaT, index=p.index, dtype="datetime64[us, UTC]")
    th = ctx.thresholds
    last = ctx.last_scan
    paused = ctx.paused_hours
    allowance = pd.Series(np.nan, index=p.index, dtype="float64")
    for status, column in transit.STALL_COLUMN.items():
        rows = ctx.status_in(status)
        allowance[rows] = th.loc[rows, column]
    # A clock only counts in the statuses its rule reads: a status changes only with new data.
    waiting = pd.Series(
        ctx.status_in(*transit.NOT_YET_PICKED_UP) & p["picked_up_at"].isna().to_numpy(dtype=bool),
        index=p.index,
    )
    heading = pd.Series(ctx.status_in(*transit.HEADING_TO_BUYER), index=p.index)
    crossings = [
        (p["shipped_at"] + th["no_pickup_h"] * HOUR).where(waiting),
        last + (allowance + paused) * HOUR,
        (last + (th["lost_after_h"] + paused) * HOUR).where(heading),
    ]
    travelling = ctx.status_in(*transit.STILL_TRAVELLING) & p["picked_up_at"].notna().to_numpy(
        dtype=bool
    )
    if travelling.any():
        expected, _ = transit.expected_delivery(ctx)
        crossings.append(expected.where(pd.Series(travelling, index=p.index)))
    returned = pd.Series(ctx.status_in(ParcelStatus.RETURNED), index=p.index)
    crossings += [
        p["last_event_at"].where(returned),
        (p["last_event_at"] + RECENTLY_RETURNED).where(returned),
    ]
    return earliest_ahead(ctx.now, crossings, p.index)


def order_due(ctx: RuleContext) -> pd.Series:
    """The order rules' next crossings (monitor/rules/shipping.py) for unshipped orders: the
    cutoff deadline from the warehouse's calendar (holidays and time zone included), the
    platform promise's at-risk, critical and breached moments. A shipped order's outcome
    changes only with new data."""
    o = ctx.parcels
    if o.empty:
        return pd.Series(pd.NaT, index=o.index, dtype="datetime64[us, UTC]")
    mask = shipping.unshipped(ctx)
    th = ctx.thresholds
    cutoff, _ = shipping.ship_by_deadlines(ctx, mask)
    promise = th["ship_promise_h"]
    deadline = o["ship_deadline_at"].fillna(o["paid_at"] + promise * HOUR)
    unshipped = pd.Series(mask, index=o.index)
    crossings = [
        cutoff,
        deadline - (promise - th["ship_risk_h"]) * HOUR,
        deadline - (promise - th["ship_risk_critical_h"]) * HOUR,
        deadline,
    ]
    return earliest_ahead(ctx.now, [c.where(unshipped) for c in crossings], o.index)
