"""One grouped alert when a carrier's trouble is systemic, instead of hundreds of parcel alerts.

A carrier's stall-or-late share in one destination province counts as an incident when it
is at least `min_share` (3 %) of at least `min_parcels` (20) parcels in its hands and at least
`baseline_factor` (2x) its own 28-day rate there: warehouse overload (爆仓), weather, a hub
holding parcels (压货). Metapack flags lanes the same way (docs/rules.md "carrier_incident").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alerts.model import AlertKind, Severity
from monitor.rules.base import EXCEPTION_COLUMNS, RuleContext, empty_exceptions
from monitor.rules.transit import HEADING_TO_BUYER

TROUBLE_KINDS = (AlertKind.STALLED.value, AlertKind.DELAYED.value)
BASELINE_COLUMNS = ("carrier", "province", "picked_up", "affected")


def carrier_incidents(
    ctx: RuleContext, exceptions: pd.DataFrame, baseline: pd.DataFrame | None
) -> pd.DataFrame:
    """`baseline`: carrier, province, picked_up, affected over the last `baseline_days`."""
    settings = ctx.config.rules.incident
    p = ctx.parcels
    in_hands = ctx.status_in(*HEADING_TO_BUYER) & p["picked_up_at"].notna().to_numpy(dtype=bool)
    population = (
        p.loc[in_hands].groupby(["carrier", "province"], observed=True).size().rename("parcels")
    )
    trouble = exceptions[exceptions["kind"].isin(TROUBLE_KINDS)]
    if trouble.empty or population.empty:
        return empty_exceptions()
    grouped = trouble.groupby(["carrier", "province"], observed=True)
    affected = grouped["shipment_id"].nunique().rename("affected")
    since = grouped["since"].min().rename("since")
    by_kind = trouble.pivot_table(
        index=["carrier", "province"], columns="kind", values="shipment_id", aggfunc="nunique"
    )
    cells = pd.concat([population, affected, since], axis=1, join="inner").reset_index()
    cells["share"] = cells["affected"] / cells["parcels"]
    if baseline is not None and not baseline.empty:
        base = baseline.assign(
            baseline_rate=baseline["affected"]
            / baseline["picked_up"].where(baseline["picked_up"] > 0)
        )[["carrier", "province", "baseline_rate"]]
        cells = cells.merge(base, on=["carrier", "province"], how="left")
    else:
        cells["baseline_rate"] = np.nan
    above_baseline = cells["baseline_rate"].isna() | (
        cells["share"] >= settings.baseline_factor * cells["baseline_rate"]
    )
    firing = cells[
        (cells["parcels"] >= settings.min_parcels)
        & (cells["share"] >= settings.min_share)
        & above_baseline
    ]
    if firing.empty:
        return empty_exceptions()
    rows = []
    for cell in firing.itertuples(index=False):
        counts = by_kind.loc[(cell.carrier, cell.province)].dropna().astype(int).to_dict()
        rows.append(
            {
                "kind": AlertKind.CARRIER_INCIDENT.value,
                "severity": Severity.CRITICAL.value,
                "shipment_id": None,
                "order_id": None,
                "tracking_number": None,
                "carrier": cell.carrier,
                "warehouse": None,
                "province": cell.province,
                "platform": None,
                "since": cell.since,
                "detail": {
                    "parcels": int(cell.parcels),
                    "affected": int(cell.affected),
                    "share": round(float(cell.share), 4),
                    "baseline_rate": None
                    if pd.isna(cell.baseline_rate)
                    else round(float(cell.baseline_rate), 4),
                    "by_kind": counts,
                },
            }
        )
    return pd.DataFrame(rows, columns=list(EXCEPTION_COLUMNS))
