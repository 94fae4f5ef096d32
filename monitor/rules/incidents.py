"""One grouped alert when a carrier's trouble is systemic, instead of hundreds of parcel alerts.

A carrier's stall-or-late share in one destination province counts as an incident when it
is at least `min_share` (3 %) of at least `min_parcels` (20) parcels in its hands and at least
`baseline_factor` (2x) its own 28-day rate there: warehouse overload (爆仓), weather, a hub
holding parcels (压货). Metapack flags lanes the same way (docs/rules.md "carrier_incident").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alerts.model import AlertKind
from monitor.rules.base import EXCEPTION_COLUMNS, RuleContext, carrier_wide, empty_exceptions
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
            carrier_wide(
                AlertKind.CARRIER_INCIDENT.value,
                cell.carrier,
                cell.since,
                province=cell.province,
                detail={
                    "parcels": int(cell.parcels),
                    "affected": int(cell.affected),
                    "share": round(float(cell.share), 4),
                    "baseline_rate": None
                    if pd.isna(cell.baseline_rate)
                    else round(float(cell.baseline_rate), 4),
                    "by_kind": counts,
                },
            )
        )
    return pd.DataFrame(rows, columns=list(EXCEPTION_COLUMNS))


def hub_incidents(ctx: RuleContext, exceptions: pd.DataFrame) -> pd.DataFrame:
    """One alert per carrier hub holding parcels (docs/rules.md "hub_incident"): among the
    parcels in a carrier's hands whose last scan was at one hub, at least `min_parcels` in
    all, at least `min_share` of them stalled, and at least `baseline_factor` times the stalled
    share at the carrier's other hubs right now (a hub that stands out from its own network:
    压货 there, not everywhere)."""
    settings = ctx.config.rules.incident
    p = ctx.parcels
    if p.empty or p["last_hub"].isna().all():
        return empty_exceptions()
    in_hands = ctx.status_in(*HEADING_TO_BUYER) & p["last_hub"].notna().to_numpy(dtype=bool)
    hands = p.loc[in_hands, ["shipment_id", "carrier", "last_hub"]]
    stalled = exceptions[exceptions["kind"] == AlertKind.STALLED.value]
    if hands.empty or stalled.empty:
        return empty_exceptions()
    hands = hands.assign(stalled=hands["shipment_id"].isin(stalled["shipment_id"]))
    since = stalled.set_index("shipment_id")["since"]
    cells = hands.groupby(["carrier", "last_hub"], observed=True).agg(
        parcels=("stalled", "size"), affected=("stalled", "sum")
    ).reset_index()  # fmt: skip
    # What is usual: the stalled share at the carrier's other hubs right now (the hub's own
    # parcels left out, so one big hub cannot raise its own bar).
    totals = hands.groupby("carrier", observed=True)["stalled"].agg(n="size", k="sum")
    cells = cells.merge(totals, left_on="carrier", right_index=True)
    cells["share"] = cells["affected"] / cells["parcels"]
    others = (cells["n"] - cells["parcels"]).where(cells["n"] > cells["parcels"])
    cells["usual"] = (cells["k"] - cells["affected"]) / others
    # A hub holds parcels when many are stuck there, not when one of its few is: the count
    # bar is on the stalled parcels themselves.
    firing = cells[
        (cells["affected"] >= settings.min_parcels)
        & (cells["share"] >= settings.min_share)
        & (cells["usual"].isna() | (cells["share"] >= settings.baseline_factor * cells["usual"]))
    ]
    if firing.empty:
        return empty_exceptions()
    members = hands[hands["stalled"]]
    rows = []
    for cell in firing.itertuples(index=False):
        ids = members[(members["carrier"] == cell.carrier) & (members["last_hub"] == cell.last_hub)]
        rows.append(
            carrier_wide(
                AlertKind.HUB_INCIDENT.value,
                cell.carrier,
                since.loc[since.index.isin(ids["shipment_id"])].min(),
                detail={
                    "hub": str(cell.last_hub),
                    "parcels": int(cell.parcels),
                    "stalled": int(cell.affected),
                    "share": round(float(cell.share), 4),
                    "usual_share": None if pd.isna(cell.usual) else round(float(cell.usual), 4),
                },
            )
        )
    return pd.DataFrame(rows, columns=list(EXCEPTION_COLUMNS))
