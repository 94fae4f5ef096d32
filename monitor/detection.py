"""Detection, read-only: load the active parcels into a frame, run the rules at a moment.

The store read is one query into a pandas frame (monitor/store/frames.py); the rules are
pure and vectorised (monitor/rules/). `parcelwatch detect` prints what this returns; the
daemon's tick (monitor/daemon/tick.py) turns it into alert changes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, func, or_, select

from alerts.model import AlertState
from carriers.status import TERMINAL_STATUSES, ParcelStatus
from monitor.clock import EARLIEST_MOMENT
from monitor.config import Config
from monitor.metrics.instruments import PARCELS_SKIPPED
from monitor.rules import BASELINE_COLUMNS, PARCEL_COLUMNS, TIME_COLUMNS, evaluate
from monitor.rules.incidents import TROUBLE_KINDS
from monitor.store.frames import read_frame
from monitor.store.health import load_health
from monitor.store.lanes import load_lane_expectations
from monitor.store.tables import ALERTS, SHIPMENTS

S = SHIPMENTS.c
A = ALERTS.c
log = logging.getLogger(__name__)
TERMINAL = sorted(s.value for s in TERMINAL_STATUSES)
RECENTLY_RETURNED = timedelta(days=7)


def active_parcels_query(now: datetime) -> Any:
    """Parcels still on their way; finished ones that still have an open alert (so the alert
    can see its condition clear, or stay open for a returned parcel); and parcels returned
    within the last RECENTLY_RETURNED (one that went straight to "returned" between two
    ticks, or arrived that way in an import, still deserves its `returned` alert)."""
    with_open_alert = select(A.shipment_id).where(
        A.state != AlertState.RESOLVED.value, A.shipment_id.is_not(None)
    )
    # The rules' columns (monitor/rules/base.py PARCEL_COLUMNS), the shipment id under its
    # frame name.
    columns = [S.id.label("shipment_id"), *(S[name] for name in PARCEL_COLUMNS[1:])]
    return select(*columns).where(
        or_(
            S.status.not_in(TERMINAL),
            S.id.in_(with_open_alert),
            and_(
                S.status == ParcelStatus.RETURNED.value,
                S.last_event_at >= now - RECENTLY_RETURNED,
                S.last_event_at <= now,
            ),
        )
    )


CATEGORY_COLUMNS = (
    "platform", "warehouse", "carrier", "province", "status", "sub_reason", "last_hub",
)  # fmt: skip


def load_parcels(engine: Engine, now: datetime) -> pd.DataFrame:
    return read_frame(engine, active_parcels_query(now), TIME_COLUMNS, CATEGORY_COLUMNS)


class BaselineCache:
    """The daemon keeps one: a 28-day rate does not move in five minutes, so it is computed
    once per hour rather than on every tick."""

    def __init__(self) -> None:
        self.key: tuple[int, datetime] | None = None
        self.frame: pd.DataFrame | None = None

    def get(self, engine: Engine, now: datetime, days: int) -> pd.DataFrame:
        key = (days, now.replace(minute=0, second=0, microsecond=0))
        if self.key != key or self.frame is None:
            self.frame = incident_baseline(engine, now, days)
            self.key = key
        return self.frame


def incident_baseline(engine: Engine, now: datetime, days: int) -> pd.DataFrame:
    """Per carrier and province: parcels picked up in the last `days` that have since
    finished (delivered or returned), and how many of them had a stalled or delayed alert.

    Finished parcels only, so that the episode being judged (parcels still in the carrier's
    hands) does not raise its own baseline and silence itself. One grouped query: GROUP BY in
    the subquery lets SQLite index it, where a DISTINCT subquery is rescanned for every
    shipment (683 s instead of about 1 s at a million parcels)."""
    troubled = (
        select(A.shipment_id)
        .where(A.kind.in_(TROUBLE_KINDS), A.shipment_id.is_not(None))
        .group_by(A.shipment_id)
        .subquery()
    )
    query = (
        select(
            S.carrier,
            S.province,
            func.count().label("picked_up"),
            func.count(troubled.c.shipment_id).label("affected"),
        )
        .select_from(SHIPMENTS.outerjoin(troubled, troubled.c.shipment_id == S.id))
        .where(
            S.picked_up_at >= now - timedelta(days=days),
            S.picked_up_at < now,
            S.status.in_(TERMINAL),
        )
        .group_by(S.carrier, S.province)
    )
    frame = read_frame(engine, query)
    return frame[list(BASELINE_COLUMNS)] if not frame.empty else frame


IMPOSSIBLE_AHEAD = timedelta(days=366)


def without_impossible(parcels: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """The parcels whose stored times a rule can compute with. Times are checked where they
    enter (monitor/clock.py `implausible_moment`), but a store written by an older version may
    hold a 9999-12-31 that would make every deadline computation overflow: such a parcel is
    skipped, logged and counted, and the rest are evaluated."""
    if parcels.empty:
        return parcels
    low = pd.Timestamp(EARLIEST_MOMENT)
    high = pd.Timestamp(now).tz_convert("UTC") + IMPOSSIBLE_AHEAD
    bad = np.zeros(len(parcels), dtype=bool)
    for column in TIME_COLUMNS:
        values = parcels[column]
        bad |= ((values < low) | (values > high)).to_numpy(dtype=bool, na_value=False)
    if not bad.any():
        return parcels
    skipped = parcels.loc[bad, "shipment_id"].tolist()
    PARCELS_SKIPPED.inc(len(skipped))
    log.error(
        "detection skipped %d parcel(s) with impossible times (shipment ids %s%s); fix or "
        "re-import them",
        len(skipped), ", ".join(map(str, skipped[:10])), " ..." if len(skipped) > 10 else "",
    )  # fmt: skip
    return parcels.loc[~bad]


def detect(
    engine: Engine,
    config: Config,
    now: datetime,
    parcels: pd.DataFrame | None = None,
    baselines: BaselineCache | None = None,
) -> pd.DataFrame:
    """Every exception true at `now`, read-only."""
    if parcels is None:
        parcels = load_parcels(engine, now)
    parcels = without_impossible(parcels, now)
    days = config.rules.incident.baseline_days
    baseline = (
        baselines.get(engine, now, days) if baselines else incident_baseline(engine, now, days)
    )
    lanes = load_lane_expectations(engine)  # learned lane p90s for `delayed`: one small query
    return evaluate(parcels, now, config, baseline, load_health(engine), lane_expectations=lanes)
