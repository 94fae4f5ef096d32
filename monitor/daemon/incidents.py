"""Carrier and hub incidents on every incremental tick, from counts the store keeps per cell, and
the reconciliation's check of those counts (docs/architecture.md "Incident cells").

Each batch of a tick knows what its judged parcels count for now (monitor/rules/incidents.py
`incident_members`) and reads what they counted for before; the difference, summed per cell,
is what the cells change by, written with the changed member rows in the transaction that
applies the batch's plan. Once the batches are in, the incidents are judged from the stored
cells (`judged_incidents`) by the same pure functions the full tick uses, so both ticks open,
escalate and resolve the same incidents with the same `since`: O(cells), plus one index read
per firing cell for its earliest trouble.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine

from alerts.model import AlertKind, fingerprint
from monitor.config import Config
from monitor.detection import BaselineCache, baseline_for
from monitor.rules.incidents import (
    CELL_KEY,
    COUNT_COLUMNS,
    HUB,
    PROVINCE,
    cell_counts,
    cell_deltas,
    firing_cells,
    incident_rows,
    summed_counts,
)
from monitor.store.due import Marks
from monitor.store.incident_cells import (
    MEMBER_NAMES,
    add_to_cells,
    first_trouble,
    normalised_members,
    read_cells,
    read_members,
    replace_cells,
    replace_members,
    stored_firsts,
)

log = logging.getLogger(__name__)
EMPTY = normalised_members(pd.DataFrame())
KEY = list(CELL_KEY)
COUNTS = list(COUNT_COLUMNS)


@dataclass
class CellChanges:
    """What one batch changes in the incident cells: the parcels whose stored row goes (their
    contribution changed), the rows that replace them, and the counts' change per cell."""

    gone: list[int] = field(default_factory=list)
    members: pd.DataFrame = field(default_factory=lambda: normalised_members(pd.DataFrame()))
    deltas: pd.DataFrame = field(default_factory=lambda: cell_deltas(EMPTY, EMPTY))


def _differ(old: pd.DataFrame, new: pd.DataFrame) -> pd.Index:
    """The ids whose member row differs between two normalised frames (absent counts)."""
    old, new = old.set_index("shipment_id"), new.set_index("shipment_id")
    ids = old.index.union(new.index)
    old, new = old.reindex(ids), new.reindex(ids)
    same = pd.Series(True, index=ids)
    for name in MEMBER_NAMES[1:]:
        a, b = old[name], new[name]
        same &= (a == b).fillna(False) | (a.isna() & b.isna())
    return ids[~same.to_numpy(dtype=bool)]


def cell_changes(engine: Engine, judged: Iterable[int], members: pd.DataFrame) -> CellChanges:
    """The change from what the store says the judged parcels counted for to `members`, what
    they count for now (a judged parcel absent from it counts for nothing)."""
    ids = sorted({int(i) for i in judged})
    if not ids:
        return CellChanges()
    old = read_members(engine, ids)
    new = normalised_members(members)
    changed = _differ(old, new)
    old = old[old["shipment_id"].isin(changed)]
    new = new[new["shipment_id"].isin(changed)]
    gone = [int(i) for i in changed]
    return CellChanges(gone, new.reset_index(drop=True), cell_deltas(old, new))


def judged_incidents(
    engine: Engine, config: Config, now: datetime, baselines: BaselineCache | None = None
) -> pd.DataFrame:
    """The carrier and hub incidents true at `now`, judged from the stored cells. `config`
    holds the stored maintenance windows already (with_stored_windows)."""
    cells = read_cells(engine)
    province, hubs = firing_cells(cells, baseline_for(engine, config, now, baselines),
                                  config.rules.incident)  # fmt: skip
    first: dict[tuple[str, str, str], pd.Timestamp] = {}
    kept = []
    for scope, frame in ((PROVINCE, province), (HUB, hubs)):
        found = []
        for carrier, place in zip(frame["carrier"], frame["place"], strict=True):
            since = first_trouble(engine, scope, carrier, place)
            if since is None:  # the counts say trouble, no row does: the reconciliation repairs
                log.warning("incident cell %s %s %s has no trouble to date", scope, carrier, place)
            else:
                first[(scope, carrier, place)] = since
            found.append(since is not None)
        kept.append(frame[found])
    return incident_rows(kept[0], kept[1], first)


def write_changes(conn: Connection, changes: CellChanges) -> None:
    """In the batch's transaction: the changed member rows, then the cells' change."""
    replace_members(conn, changes.gone, changes.members)
    add_to_cells(conn, changes.deltas)


# --- the reconciliation ------------------------------------------------------------------


@dataclass
class CellCheck:
    """The reconciliation's view of the cells: what the full tick found every parcel counts
    for (`book`), the rows of it that changed since the incremental tick (`changed`: their
    member rows count as stored, `as_stored`, until their own tick, which comes next), the
    cells whose stored counts or earliest trouble differ from that, and the fingerprints of
    incidents about cells those changed parcels count in."""

    book: pd.DataFrame
    changed: np.ndarray
    as_stored: pd.DataFrame
    drifted: pd.DataFrame
    pending: set[str]

    def expected(self) -> pd.DataFrame:
        """The member rows the store should hold (normalised_members)."""
        truth = normalised_members(self.book.loc[~self.changed])
        return pd.concat([truth, self.as_stored], ignore_index=True)


def _subjects(members: pd.DataFrame) -> set[str]:
    found = set()
    for carrier, province, hub in zip(members["carrier"], members["province"], members["hub"],
                                      strict=True):  # fmt: skip
        if province is not None:
            found.add(fingerprint(AlertKind.CARRIER_INCIDENT.value, f"{carrier}:{province}"))
        if hub is not None:
            found.add(fingerprint(AlertKind.HUB_INCIDENT.value, f"{carrier}@{hub}"))
    return found


def check_cells(engine: Engine, book: pd.DataFrame, pending: Marks) -> CellCheck:
    """Compare the stored cells with what the full tick's members (`book`) make of them. The
    parcels no incremental tick has judged as they are now (`pending`: marked by a writer
    since, or due and not yet judged) count as stored. The book is counted as the rules left
    it, not normalised: a million rows of Python strings would double the tick's memory."""
    waiting = pending.shipments
    changed = book["shipment_id"].isin(waiting).to_numpy(dtype=bool)
    as_stored = read_members(engine, sorted(waiting)) if waiting else EMPTY
    judged = book.loc[~changed] if changed.any() else book
    want = summed_counts(cell_counts(judged), cell_counts(as_stored))
    have = read_cells(engine).merge(stored_firsts(engine), on=KEY, how="left")
    both = want.merge(have, on=KEY, how="outer", suffixes=("", "_stored"))
    differs = pd.Series(False, index=both.index)
    for name in [*COUNTS, "first"]:
        a, b = both[name], both[f"{name}_stored"]
        if name != "first":
            a, b = a.fillna(0), b.fillna(0)
        differs |= ~((a == b).fillna(False) | (a.isna() & b.isna()))
    held = _subjects(normalised_members(book.loc[changed])) | _subjects(as_stored)
    return CellCheck(book, changed, as_stored, both.loc[differs.to_numpy(dtype=bool)], held)


def repair_cells(engine: Engine, check: CellCheck) -> int:
    """Make the stored members and cells what the check expected; returns the member rows
    rewritten. Reads every stored row: only when a cell has drifted."""
    stored, expected = read_members(engine), check.expected()
    changed = _differ(stored, expected)
    rows = expected[expected["shipment_id"].isin(changed)]
    with engine.begin() as conn:
        replace_members(conn, [int(i) for i in changed], rows)
        replace_cells(conn, cell_counts(expected))
    return len(changed)


def log_drift(check: CellCheck, rewritten: int) -> None:
    sample = ", ".join(
        f"{s} {c} {p}" for s, c, p in check.drifted[KEY].head(10).itertuples(index=False)
    )
    log.warning(
        "reconciliation repaired %d incident cell(s) whose counts had drifted (%d parcel rows "
        "rewritten): %s%s",
        len(check.drifted), rewritten, sample, " ..." if len(check.drifted) > 10 else "",
    )  # fmt: skip
