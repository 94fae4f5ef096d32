"""One grouped alert when a carrier's trouble is systemic, instead of hundreds of parcel alerts.

A carrier's stall-or-late share in one destination province counts as an incident when it
is at least `min_share` (3 %) of at least `min_parcels` (20) parcels in its hands and at least
`baseline_factor` (2x) its own 28-day rate there: warehouse overload (爆仓), weather, a hub
holding parcels (压货). Metapack flags lanes the same way (docs/rules.md "carrier_incident").

The rules are judged in three pure steps, so that the full tick (over the whole book) and the
incremental tick (over counts kept in the store) share them (docs/architecture.md "Incident cells"):
what each parcel contributes (`incident_members`), the counts per cell (`cell_counts`), and
the verdict over the cells (`judge_cells`), given each firing cell's earliest trouble.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from alerts.model import AlertKind
from monitor.config import IncidentConfig
from monitor.rules.base import EXCEPTION_COLUMNS, RuleContext, carrier_wide, empty_exceptions
from monitor.rules.transit import HEADING_TO_BUYER

TROUBLE_KINDS = (AlertKind.STALLED.value, AlertKind.DELAYED.value)
BASELINE_COLUMNS = ("carrier", "province", "picked_up", "affected")
# The two kinds of cell: a carrier x destination province, a carrier x the hub of last scan.
PROVINCE, HUB = "province", "hub"
SCOPES = (PROVINCE, HUB)
# What one parcel contributes (monitor/store/incident_cells.py keeps these per parcel):
# `province` is set when it counts in its province cell (in the carrier's hands, or stalled
# or delayed), `in_hands` when it counts among that cell's parcels, `hub` when it counts in
# its hub cell (heading to the buyer, last scanned at a hub).
MEMBER_COLUMNS = (
    "shipment_id", "carrier", "province", "hub", "in_hands", "stalled_since", "delayed_since",
)  # fmt: skip
CELL_KEY = ("scope", "carrier", "place")
COUNT_COLUMNS = ("parcels", "stalled", "delayed", "affected")
CellKey = tuple[str, str, str]
TIME = "datetime64[us, UTC]"


def _since(exceptions: pd.DataFrame, kind: str, ids: pd.Series) -> pd.Series:
    """Each parcel's `since` for `kind` (NaT where it has none), to the microsecond: the
    precision of the store, so that both ticks compare equal moments. On the moments'
    integers: the reconciliation asks this for every parcel of the book, and a datetime
    Series taken apart element by element cost a second there."""
    found = exceptions[(exceptions["kind"].astype(object) == kind).to_numpy(dtype=bool)]
    micros = np.full(len(ids), np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    if not found.empty:
        moments = pd.to_datetime(found["since"], utc=True).dt.floor("us").astype(TIME)
        keys = pd.Index(found["shipment_id"].astype("int64").to_numpy())
        first = ~keys.duplicated()
        where = keys[first].get_indexer(ids.to_numpy(dtype="int64"))
        hit = where >= 0
        micros[hit] = moments.array.asi8[first][where[hit]]
    naive = pd.Series(micros.view("datetime64[us]"), index=ids.index)
    return naive.dt.tz_localize("UTC")


def incident_members(ctx: RuleContext, exceptions: pd.DataFrame) -> pd.DataFrame:
    """What the incident rules count of each parcel in `ctx.parcels` (which needs only the
    incident columns), given the exceptions the other rules found for them: one row per
    parcel that counts in some cell, MEMBER_COLUMNS."""
    p = ctx.parcels
    if p.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MEMBER_COLUMNS})
    heading = ctx.status_in(*HEADING_TO_BUYER)
    stalled = _since(exceptions, AlertKind.STALLED.value, p["shipment_id"])
    delayed = _since(exceptions, AlertKind.DELAYED.value, p["shipment_id"])
    picked_up = p["picked_up_at"].notna().to_numpy(dtype=bool)
    troubled = stalled.notna().to_numpy(dtype=bool) | delayed.notna().to_numpy(dtype=bool)
    in_province = (heading & picked_up) | troubled
    in_province &= p["province"].notna().to_numpy(dtype=bool)
    at_hub = heading & p["last_hub"].notna().to_numpy(dtype=bool)
    keep = (in_province | at_hub) & p["carrier"].notna().to_numpy(dtype=bool)
    members = pd.DataFrame(
        {
            "shipment_id": p["shipment_id"].astype("int64"),
            "carrier": p["carrier"],
            "province": p["province"].where(in_province),
            "hub": p["last_hub"].where(at_hub),
            "in_hands": heading & picked_up & in_province,
            "stalled_since": stalled,
            "delayed_since": delayed,
        }
    )
    return members.loc[keep].reset_index(drop=True)


def _scope_rows(members: pd.DataFrame, scope: str) -> pd.DataFrame:
    """One row per member of a cell of `scope`: its key and what it adds to the counts."""
    place = members["province" if scope == PROVINCE else "hub"]
    rows = members.loc[place.notna().to_numpy(dtype=bool)]
    stalled = rows["stalled_since"].notna().to_numpy(dtype=bool)
    delayed = rows["delayed_since"].notna().to_numpy(dtype=bool)
    if scope == HUB:  # a hub incident counts the stalled parcels of the hub's whole flow
        parcels, delayed = np.ones(len(rows), dtype=bool), np.zeros(len(rows), dtype=bool)
    else:
        parcels = rows["in_hands"].to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "carrier": rows["carrier"],
            "place": place.loc[rows.index],
            "parcels": parcels.astype("int64"),
            "stalled": stalled.astype("int64"),
            "delayed": delayed.astype("int64"),
            "affected": (stalled | delayed).astype("int64"),
        }
    )


def cell_deltas(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Per cell (CELL_KEY), what replacing the member rows `old` by `new` adds to its counts;
    the cells it leaves as they were are not in it. One grouping over both, without the
    earliest trouble (a change to the counts needs none)."""
    parts = [
        _scope_rows(members, scope)
        .assign(scope=scope)
        .pipe(lambda rows, sign=sign: rows.assign(**{c: rows[c] * sign for c in COUNT_COLUMNS}))
        for members, sign in ((new, 1), (old, -1))
        for scope in SCOPES
    ]
    parts = [part for part in parts if not part.empty]
    if not parts:
        return empty_cells()[[*CELL_KEY, *COUNT_COLUMNS]]
    rows = pd.concat(parts, ignore_index=True).astype({"carrier": object, "place": object})
    summed = rows.groupby(list(CELL_KEY), as_index=False, sort=False)[list(COUNT_COLUMNS)].sum()
    changed = (summed[list(COUNT_COLUMNS)] != 0).any(axis=1).to_numpy(dtype=bool)
    return summed.loc[changed].reset_index(drop=True).astype({c: "int64" for c in COUNT_COLUMNS})


def cell_counts(members: pd.DataFrame) -> pd.DataFrame:
    """Per cell (CELL_KEY): its parcels, stalled, delayed and affected (stalled or delayed)
    members, and `first`, its earliest trouble (NaT if none). Grouped on integer codes, not
    through a grouped frame: the full tick asks this for every parcel of the book, and the
    frames a groupby builds from a million rows cost more memory than the rest of the tick
    holds (docs/architecture.md "Incident cells")."""
    parts = [cells for scope in SCOPES if not (cells := _counted(members, scope)).empty]
    if not parts:
        return empty_cells()
    cells = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return cells[[*CELL_KEY, *COUNT_COLUMNS, "first"]]


_NAT = np.iinfo(np.int64).min
_LAST = np.iinfo(np.int64).max  # stands for "no trouble" while taking minimums


def _micros(moments: pd.Series) -> np.ndarray:
    """Microseconds since the epoch, the int64 minimum for NaT."""
    if moments.dtype != TIME:
        moments = pd.to_datetime(moments, utc=True).astype(TIME)
    return np.asarray(moments.array.asi8)


def _dense(key: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of `key` (integers in [0, span)) in order, and each row's position
    among them: np.unique's answer without its sort, when the span is not much larger than
    the rows."""
    if span > 4 * len(key) + 1024:
        return np.unique(key, return_inverse=True)
    cells = np.flatnonzero(np.bincount(key, minlength=span))
    position = np.empty(span, dtype=np.int64)
    position[cells] = np.arange(len(cells))
    return cells, position[key]


def _counted(members: pd.DataFrame, scope: str) -> pd.DataFrame:
    """cell_counts for the cells of one scope, sorted by carrier and place."""
    place = members["province" if scope == PROVINCE else "hub"]
    keep = (place.notna() & members["carrier"].notna()).to_numpy(dtype=bool)
    if not keep.any():
        return empty_cells()
    stalled_at = _micros(members["stalled_since"])[keep]
    delayed_at = _micros(members["delayed_since"])[keep]
    stalled, delayed = stalled_at != _NAT, delayed_at != _NAT
    first = np.where(stalled, stalled_at, _LAST)
    if scope == HUB:  # a hub incident counts the stalled parcels of the hub's whole flow
        parcels, delayed = np.ones(len(stalled), dtype=bool), np.zeros(len(stalled), dtype=bool)
    else:
        parcels = members["in_hands"].to_numpy(dtype=bool)[keep]
        first = np.minimum(first, np.where(delayed, delayed_at, _LAST))
    carrier_codes, carriers = pd.factorize(members["carrier"].loc[keep])
    place_codes, places = pd.factorize(place.loc[keep])
    key = carrier_codes.astype(np.int64) * len(places) + place_codes
    cells, row_cell = _dense(key, len(carriers) * len(places))
    earliest_first = np.full(len(cells), _LAST, dtype=np.int64)
    np.minimum.at(earliest_first, row_cell, first)
    earliest_first[earliest_first == _LAST] = _NAT

    def count(where: np.ndarray) -> np.ndarray:
        return np.bincount(row_cell[where], minlength=len(cells)).astype("int64")

    moments = pd.Series(earliest_first.view("datetime64[us]")).dt.tz_localize("UTC")
    return pd.DataFrame(
        {
            "scope": scope,
            "carrier": pd.Series(
                np.asarray(carriers, dtype=object)[cells // len(places)], dtype=object
            ),
            "place": pd.Series(np.asarray(places, dtype=object)[cells % len(places)], dtype=object),
            "parcels": count(parcels),
            "stalled": count(stalled),
            "delayed": count(delayed),
            "affected": count(stalled | delayed),
            "first": moments,
        }
    ).sort_values(["carrier", "place"], ignore_index=True)


def summed_counts(*parts: pd.DataFrame) -> pd.DataFrame:
    """The cell_counts of several sets of members, from the counts of each: summed per cell,
    the earliest `first` of them."""
    parts = tuple(part for part in parts if not part.empty)
    if len(parts) < 2:
        return parts[0] if parts else empty_cells()
    grouped = pd.concat(parts, ignore_index=True).groupby(list(CELL_KEY), sort=False)
    cells = grouped[list(COUNT_COLUMNS)].sum().join(grouped["first"].min()).reset_index()
    return cells.sort_values(list(CELL_KEY), ignore_index=True)


def empty_cells() -> pd.DataFrame:
    columns: dict[str, pd.Series] = {c: pd.Series(dtype=object) for c in CELL_KEY}
    columns |= {c: pd.Series(dtype="int64") for c in COUNT_COLUMNS}
    return pd.DataFrame(columns | {"first": pd.Series(dtype=TIME)})


def _province_firing(
    cells: pd.DataFrame, baseline: pd.DataFrame | None, settings: IncidentConfig
) -> pd.DataFrame:
    cells = cells[(cells["scope"] == PROVINCE) & (cells["parcels"] > 0) & (cells["affected"] > 0)]
    cells = cells.assign(share=cells["affected"] / cells["parcels"])
    if baseline is not None and not baseline.empty:
        base = baseline.assign(
            baseline_rate=baseline["affected"]
            / baseline["picked_up"].where(baseline["picked_up"] > 0)
        )[["carrier", "province", "baseline_rate"]].astype({"carrier": object, "province": object})
        cells = cells.merge(base, left_on=["carrier", "place"], right_on=["carrier", "province"],
                            how="left").drop(columns="province")  # fmt: skip
    else:
        cells = cells.assign(baseline_rate=np.nan)
    above_baseline = cells["baseline_rate"].isna() | (
        cells["share"] >= settings.baseline_factor * cells["baseline_rate"]
    )
    return cells[
        (cells["parcels"] >= settings.min_parcels)
        & (cells["share"] >= settings.min_share)
        & above_baseline
    ]


def _hub_firing(cells: pd.DataFrame, settings: IncidentConfig) -> pd.DataFrame:
    cells = cells[(cells["scope"] == HUB) & (cells["parcels"] > 0)]
    # What is usual: the stalled share at the carrier's other hubs right now (the hub's own
    # parcels left out, so one big hub cannot raise its own bar).
    totals = cells.groupby("carrier")[["parcels", "stalled"]].sum()
    n = cells["carrier"].map(totals["parcels"]).astype("int64")
    k = cells["carrier"].map(totals["stalled"]).astype("int64")
    share = cells["stalled"] / cells["parcels"]
    usual = (k - cells["stalled"]) / (n - cells["parcels"]).where(n > cells["parcels"])
    cells = cells.assign(share=share, usual=usual)
    # A hub holds parcels when many are stuck there, not when one of its few is: the count
    # bar is on the stalled parcels themselves.
    return cells[
        (cells["stalled"] >= settings.min_parcels)
        & (cells["share"] >= settings.min_share)
        & (cells["usual"].isna() | (cells["share"] >= settings.baseline_factor * cells["usual"]))
    ]


def firing_cells(
    cells: pd.DataFrame, baseline: pd.DataFrame | None, settings: IncidentConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The province cells and the hub cells that make an incident, with their shares."""
    if cells.empty:
        return cells, cells
    by_key = ["carrier", "place"]
    province = _province_firing(cells, baseline, settings).sort_values(by_key)
    return province, _hub_firing(cells, settings).sort_values(by_key)


def incident_rows(
    province: pd.DataFrame, hubs: pd.DataFrame, first: Mapping[CellKey, Any]
) -> pd.DataFrame:
    """The incidents of the firing cells, `first[(scope, carrier, place)]` their `since`: the
    carrier incidents' frame and the hub incidents', one after the other."""
    by_province = []
    for cell in province.itertuples(index=False):
        by_kind = {kind: int(n) for kind, n in (("delayed", cell.delayed),
                                                 ("stalled", cell.stalled)) if n}  # fmt: skip
        detail: dict[str, Any] = {
            "parcels": int(cell.parcels),
            "affected": int(cell.affected),
            "share": round(float(cell.share), 4),
            "baseline_rate": None
            if pd.isna(cell.baseline_rate)
            else round(float(cell.baseline_rate), 4),
            "by_kind": by_kind,
        }
        since = first[(PROVINCE, cell.carrier, cell.place)]
        by_province.append(carrier_wide(AlertKind.CARRIER_INCIDENT.value, cell.carrier, since,
                                        detail, province=cell.place))  # fmt: skip
    by_hub = []
    for cell in hubs.itertuples(index=False):
        detail = {
            "hub": str(cell.place),
            "parcels": int(cell.parcels),
            "stalled": int(cell.stalled),
            "share": round(float(cell.share), 4),
            "usual_share": None if pd.isna(cell.usual) else round(float(cell.usual), 4),
        }
        since = first[(HUB, cell.carrier, cell.place)]
        by_hub.append(carrier_wide(AlertKind.HUB_INCIDENT.value, cell.carrier, since, detail))
    frames = [pd.DataFrame(rows, columns=list(EXCEPTION_COLUMNS))
              for rows in (by_province, by_hub) if rows]  # fmt: skip
    if not frames:
        return empty_exceptions()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def judge_cells(
    cells: pd.DataFrame, baseline: pd.DataFrame | None, settings: IncidentConfig
) -> pd.DataFrame:
    """The carrier and hub incidents of `cells` (cell_counts, with `first` known)."""
    province, hubs = firing_cells(cells, baseline, settings)
    first = {
        (s, c, p): f
        for s, c, p, f in zip(cells["scope"], cells["carrier"], cells["place"], cells["first"],
                              strict=True)
    }  # fmt: skip
    return incident_rows(province, hubs, first)
