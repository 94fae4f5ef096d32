"""The store side of incidents judged on every tick: what each parcel counts for in the carrier
and hub incidents, and the counts per cell (docs/architecture.md "Incident cells"; migration
0022).

`incident_member` holds, per parcel, what the last tick that judged it found: the province
cell and the hub cell it counts in, whether it is among the parcels in the carrier's hands,
and since when it is stalled or delayed. `incident_cell` holds the sums per (scope, carrier,
place). Both are written by detection only, in the transaction that applies its alert plan
and writes the judged parcels' due moments, so the counts change exactly when a judgment
does; the writers of parcel data (import, push, poll) pay nothing for them. The earliest
trouble of a cell is read through partial indexes on the since columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import sqlite
from sqlmodel import SQLModel

from monitor.store.due import in_ids
from monitor.store.frames import read_frame
from monitor.store.types import UTCDateTime

ID = BigInteger().with_variant(Integer(), "sqlite")
INCIDENT_MEMBERS = Table(
    "incident_member",
    SQLModel.metadata,
    Column("shipment_id", ID, primary_key=True, autoincrement=False),
    Column("carrier", String, nullable=False),
    Column("province", String),  # set: it counts in the carrier x province cell
    Column("hub", String),  # set: it counts in the carrier x hub cell
    Column("in_hands", Boolean, nullable=False),  # among the province cell's parcels
    Column("stalled_since", UTCDateTime()),
    Column("delayed_since", UTCDateTime()),
)
# One row per cell on SQLite (a unique key, updated in place); on PostgreSQL the batches of
# concurrent replicas append their changes as rows of their own, so that no two of them wait
# for each other's lock on a busy cell, and the tick's keeper folds them (`fold_cells`).
INCIDENT_CELLS = Table(
    "incident_cell",
    SQLModel.metadata,
    Column("scope", String, nullable=False),  # province | hub
    Column("carrier", String, nullable=False),
    Column("place", String, nullable=False),  # the province or the hub
    Column("parcels", BigInteger, nullable=False),
    Column("stalled", BigInteger, nullable=False),
    Column("delayed", BigInteger, nullable=False),
    Column("affected", BigInteger, nullable=False),
)
M = INCIDENT_MEMBERS.c
C = INCIDENT_CELLS.c
MEMBER_NAMES = tuple(c.name for c in INCIDENT_MEMBERS.columns)
COUNT_NAMES = ("parcels", "stalled", "delayed", "affected")
CELL_NAMES = ("scope", "carrier", "place", *COUNT_NAMES)
SINCE_NAMES = ("stalled_since", "delayed_since")
TIME = "datetime64[us, UTC]"
ID_CHUNK = 20_000  # ids per literal IN list
WHOLE_TABLE = 200_000  # more ids than this: read every row and keep theirs


def normalised_members(frame: pd.DataFrame) -> pd.DataFrame:
    """Member rows with plain types (text as object with None, a bool, UTC microseconds),
    whether they come from the store or from the rules, so that they compare equal."""
    if frame.empty:
        frame = pd.DataFrame({name: pd.Series(dtype=object) for name in MEMBER_NAMES})
    out = pd.DataFrame(index=frame.index)
    out["shipment_id"] = frame["shipment_id"].astype("int64")
    for name in ("carrier", "province", "hub"):
        values = frame[name].astype(object)
        out[name] = values.where(values.notna(), None)
    out["in_hands"] = frame["in_hands"].fillna(False).astype(bool)
    for name in SINCE_NAMES:
        out[name] = pd.to_datetime(frame[name], utc=True).astype(TIME)
    return out.reset_index(drop=True)


def read_members(engine: Engine, ids: Sequence[int] | None = None) -> pd.DataFrame:
    """The stored member rows of these parcels (all of them with None)."""
    query = select(*INCIDENT_MEMBERS.columns)
    if ids is None or len(ids) > WHOLE_TABLE:
        frame = read_frame(engine, query, SINCE_NAMES)
        if ids is not None:
            frame = frame[frame["shipment_id"].isin(list(ids))]
        return normalised_members(frame)
    keys = sorted({int(i) for i in ids})
    parts = [
        read_frame(engine, query.where(term), SINCE_NAMES)
        for term in _id_terms(engine.dialect.name, keys)
    ]
    parts = [part for part in parts if not part.empty]
    return normalised_members(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame())


def read_cells(engine: Engine) -> pd.DataFrame:
    """Every cell's counts: one row per (scope, carrier, place), the empty ones left out."""
    sums = [func.sum(C[name]).label(name) for name in COUNT_NAMES]
    query = select(C.scope, C.carrier, C.place, *sums).group_by(C.scope, C.carrier, C.place)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(C.scope, C.carrier, C.place)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(CELL_NAMES))
    frame = frame.astype({name: "int64" for name in COUNT_NAMES})
    return frame[(frame[list(COUNT_NAMES)] != 0).any(axis=1)].reset_index(drop=True)


def stored_firsts(engine: Engine) -> pd.DataFrame:
    """Each cell's earliest stored trouble (scope, carrier, place, first): grouped reads of
    the partial indexes, which hold only the stalled and delayed parcels."""
    parts = []
    with engine.connect() as conn:
        for scope, place, since in (("province", M.province, M.stalled_since),
                                    ("province", M.province, M.delayed_since),
                                    ("hub", M.hub, M.stalled_since)):  # fmt: skip
            query = (
                select(M.carrier, place, func.min(since))
                .where(since.is_not(None), place.is_not(None))
                .group_by(M.carrier, place)
            )
            parts += [(scope, c, p, f) for c, p, f in conn.execute(query)]
    frame = pd.DataFrame(parts, columns=["scope", "carrier", "place", "first"])
    frame["first"] = pd.to_datetime(frame["first"], utc=True).astype(TIME)
    return frame.groupby(["scope", "carrier", "place"], as_index=False)["first"].min()


def first_trouble(engine: Engine, scope: str, carrier: str, place: str) -> pd.Timestamp | None:
    """A cell's earliest stored trouble (None: no member row of it is stalled or delayed):
    one or two reads of the partial indexes, each the first entry of the cell's range."""
    place_column = M.province if scope == "province" else M.hub
    columns = (M.stalled_since, M.delayed_since) if scope == "province" else (M.stalled_since,)
    found = []
    with engine.connect() as conn:
        for since in columns:
            moment = conn.execute(
                select(func.min(since)).where(
                    M.carrier == carrier, place_column == place,
                    place_column.is_not(None), since.is_not(None),
                )
            ).scalar()  # fmt: skip
            if moment is not None:
                found.append(pd.Timestamp(moment).tz_convert("UTC"))
    return min(found) if found else None


def _id_terms(dialect: str, ids: Sequence[int]) -> Iterable[Any]:
    """WHERE terms that together name `ids`: one literal on PostgreSQL, literals of ID_CHUNK
    ids on SQLite (store/due.py `in_ids`), so that no statement grows without bound."""
    if dialect == "postgresql":
        if ids:
            yield in_ids(dialect, M.shipment_id, ids)
        return
    for start in range(0, len(ids), ID_CHUNK):
        yield in_ids(dialect, M.shipment_id, ids[start : start + ID_CHUNK])


def _member_rows(members: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for record in normalised_members(members).to_dict("records"):
        for name in SINCE_NAMES:
            value = record[name]
            record[name] = None if pd.isna(value) else value.to_pydatetime()
        record["shipment_id"] = int(record["shipment_id"])
        record["in_hands"] = bool(record["in_hands"])
        rows.append(record)
    return rows


def replace_members(conn: Connection, gone: Sequence[int], members: pd.DataFrame) -> None:
    """Delete the rows of `gone`, then insert `members` (whose ids are among them)."""
    for term in _id_terms(conn.dialect.name, sorted(gone)):
        conn.execute(delete(INCIDENT_MEMBERS).where(term))
    rows = _member_rows(members)
    if rows:
        conn.execute(insert(INCIDENT_MEMBERS), rows)


def _cell_rows(cells: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"scope": s, "carrier": c, "place": p} | dict(zip(COUNT_NAMES, map(int, n), strict=True))
        for s, c, p, *n in cells.sort_values(["scope", "carrier", "place"])[list(CELL_NAMES)]
        .itertuples(index=False)
    ]  # fmt: skip


def add_to_cells(conn: Connection, deltas: pd.DataFrame) -> None:
    """Add `deltas` (CELL_NAMES, counts that may be negative) to the stored cells: appended
    as rows of their own on PostgreSQL, added in place on SQLite (one writer), where the
    cells left empty are dropped."""
    if deltas.empty:
        return
    rows = _cell_rows(deltas)
    if conn.dialect.name == "postgresql":
        conn.execute(insert(INCIDENT_CELLS), rows)
        return
    statement = sqlite.insert(INCIDENT_CELLS)
    statement = statement.on_conflict_do_update(
        index_elements=[C.scope, C.carrier, C.place],
        set_={name: C[name] + statement.excluded[name] for name in COUNT_NAMES},
    )
    conn.execute(statement, rows)
    conn.execute(delete(INCIDENT_CELLS).where(*(C[name] == 0 for name in COUNT_NAMES)))


def fold_cells(engine: Engine) -> int:
    """PostgreSQL: the appended rows, one row per cell again (the empty cells dropped), in one
    transaction that deletes exactly the rows it sums (DELETE ... RETURNING): a batch that
    commits meanwhile keeps its rows for the next fold. Returns the rows folded away."""
    if engine.dialect.name != "postgresql":
        return 0
    with engine.begin() as conn:
        taken = conn.execute(delete(INCIDENT_CELLS).returning(*INCIDENT_CELLS.columns)).all()
        frame = pd.DataFrame([tuple(r) for r in taken], columns=list(CELL_NAMES))
        summed = frame.groupby(["scope", "carrier", "place"], as_index=False)[
            list(COUNT_NAMES)
        ].sum()
        kept = summed[(summed[list(COUNT_NAMES)] != 0).any(axis=1)]
        if not kept.empty:
            conn.execute(insert(INCIDENT_CELLS), _cell_rows(kept))
    return len(taken) - len(kept)


def replace_cells(conn: Connection, cells: pd.DataFrame) -> None:
    """Every cell's counts replaced by `cells` (the reconciliation's repair)."""
    conn.execute(delete(INCIDENT_CELLS))
    kept = cells[(cells[list(COUNT_NAMES)] != 0).any(axis=1)]
    if not kept.empty:
        conn.execute(insert(INCIDENT_CELLS), _cell_rows(kept))
