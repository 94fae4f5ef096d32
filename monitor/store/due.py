"""The store side of incremental detection: the changed-set marks, the due moments, and what
they were computed against (docs/architecture.md "Incremental detection").

Marks (`detect_dirty`) are appended by triggers in the writers' transactions (migration 0019).
A tick reads them first, judges their rows (read afterwards, so at least as new as the change
each mark stands for), and deletes exactly the marks it read: a mark committed meanwhile, even
one with a smaller id (PostgreSQL hands out sequence numbers before commit), stays for the
next tick.

On PostgreSQL the due rows are claimed in leased batches (docs/architecture.md "Detection
across replicas"): `claim_due` writes the replica's owner name and a lease end on up to a
batch of due rows no live lease holds (`FOR UPDATE SKIP LOCKED`, as the poller claims), and
`settle_claim`, in the transaction that applies the batch's alert changes, writes the rows'
next due moments and ends the claim in one UPDATE (the owner cleared, the settling moment
kept, so that the same tick does not claim the rows again), or fails the whole transaction if
another replica has taken the rows over meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)

from monitor.clock import NEVER
from monitor.store.tables import DETECT_DIRTY, DETECT_STATE, ORDERS, SHIPMENTS

D = DETECT_DIRTY.c


def among(column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column = ANY('{1,2,...}')` (PostgreSQL): one literal array instead of one bound
    parameter per id, which the driver and SQLAlchemy's literal compiler would each spend
    about a millisecond per thousand ids on; a batch names ten thousand."""
    joined = ",".join(str(int(i)) for i in ids)
    return literal_column(f"{column.table.name}.{column.name}") == text(
        f"ANY('{{{joined}}}'::bigint[])"
    )


def in_ids(dialect: str, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column` among `ids`, as one literal whatever their number: `among` on PostgreSQL; on
    SQLite a JSON array read by `json_each`, which SQLite probes the column's index with.
    IN lists of bound parameters cost SQLAlchemy about 5 ms per thousand ids to compile and
    must be cut below SQLite's limit of parameters."""
    if dialect == "postgresql":
        return among(column, ids)
    joined = ",".join(str(int(i)) for i in ids)
    name = f"{column.table.name}.{column.name}"
    return text(f"{name} IN (SELECT value FROM json_each('[{joined}]'))")  # type: ignore[return-value]


@dataclass
class Marks:
    """The changed-set as one tick read it."""

    ids: list[int]
    shipments: set[int]
    orders: set[int]


def due_condition(table: Table, now: datetime) -> ColumnElement[bool]:
    """Rows due by `now` (NULL: due since they were written) or marked changed since the
    last tick: index look-ups, not a scan."""
    key = D.shipment_id if table is SHIPMENTS else D.sales_order_id
    marked = select(key).where(key.is_not(None))
    return or_(table.c.due_at.is_(None), table.c.due_at <= now, table.c.id.in_(marked))


def read_marks(engine: Engine, claim: Claim | None = None) -> Marks:
    """Every mark, or those of the rows `claim` holds."""
    query = select(D.id, D.shipment_id, D.sales_order_id)
    if claim is not None:
        query = query.where(
            or_(among(D.shipment_id, claim.shipments), among(D.sales_order_id, claim.orders))
        )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return Marks(
        ids=[int(r[0]) for r in rows],
        shipments={int(r[1]) for r in rows if r[1] is not None},
        orders={int(r[2]) for r in rows if r[2] is not None},
    )


class LeaseLost(Exception):
    """Another replica took over rows of this batch after its lease ran out."""


@dataclass
class Claim:
    """The rows one batch of one replica's tick holds (PostgreSQL)."""

    owner: str
    shipments: list[int]
    orders: list[int]

    def __len__(self) -> int:
        return len(self.shipments) + len(self.orders)


def claim_due(
    engine: Engine, now: datetime, owner: str, lease_seconds: float, limit: int,
    tick_started: datetime | None = None,
) -> Claim:  # fmt: skip
    """Up to `limit` due parcels and as many due orders that no live lease holds, leased to
    `owner`: the marked ones first, then those whose due moment has come. Two claims, not
    one over `due_condition`: PostgreSQL cannot combine an index on `due_at` with the marks'
    subquery under OR and would scan the whole table for each batch. Lease ends are on the
    database's clock, so replicas' clocks need not agree. A materialized CTE keeps the limit
    (monitor/daemon/poller.py `_claim` says why).

    `tick_started` (the database's clock when this tick began): rows settled since then are
    not claimed again as due in this tick, although a due moment may equal `now` (a row
    judged at its crossing is judged once more, at the next tick); a marked row is, as its
    data changed again."""
    claimed: dict[str, list[int]] = {}
    with engine.begin() as conn:
        for table in (SHIPMENTS, ORDERS):
            key = D.shipment_id if table is SHIPMENTS else D.sales_order_id
            marked = table.c.id.in_(select(key).where(key.is_not(None)))
            came_due = or_(table.c.due_at.is_(None), table.c.due_at <= now)
            ids = _claim_part(conn, table, marked, owner, lease_seconds, limit, None)
            if len(ids) < limit:
                ids += _claim_part(conn, table, came_due, owner, lease_seconds,
                                   limit - len(ids), tick_started)  # fmt: skip
            claimed[table.name] = sorted(ids)
    return Claim(owner, claimed[SHIPMENTS.name], claimed[ORDERS.name])


def _claim_part(
    conn: Connection, table: Table, which: ColumnElement[bool], owner: str,
    lease_seconds: float, limit: int, settled_before: datetime | None,
) -> list[int]:  # fmt: skip
    """`detect_lease_until` is a claim's lease end while it is held and the moment it was
    settled afterwards: either way a row is free once that moment has passed."""
    free_from = func.clock_timestamp() if settled_before is None else settled_before
    lease_free = or_(table.c.detect_lease_until.is_(None), table.c.detect_lease_until < free_from)
    due = (
        select(table.c.id)
        .where(which, lease_free)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte(f"due_{table.name}")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    claim = (
        update(table)
        .where(table.c.id.in_(select(due.c.id)), lease_free)
        .values(
            detect_owner=owner,
            detect_lease_until=func.clock_timestamp() + timedelta(seconds=lease_seconds),
        )
        .returning(table.c.id)
    )
    return [int(i) for (i,) in conn.execute(claim)]


def release_claim(conn: Connection, claim: Claim) -> None:
    """Clear the claim in the transaction that applies the batch; LeaseLost (which rolls that
    transaction back) if any row is no longer this claim's: its new holder judges it."""
    for table, ids in ((SHIPMENTS, claim.shipments), (ORDERS, claim.orders)):
        done = conn.execute(
            update(table)
            .where(among(table.c.id, ids), table.c.detect_owner == claim.owner)
            .values(detect_owner=None, detect_lease_until=func.clock_timestamp())
        ).rowcount
        _check_held(table, claim, len(ids), done)


def settle_claim(conn: Connection, claim: Claim, table: Table, due: pd.Series) -> None:
    """Write the next due moment of each row of `claim` in `table` (`due`, by id) and clear
    its claim, in one UPDATE: each judged row is rewritten once per tick instead of twice
    (PostgreSQL writes a new version of the whole row for any update). LeaseLost as
    `release_claim`; a row deleted since the claim was taken over by nobody and has nothing
    left to settle, so it does not count as lost."""
    held = claim.shipments if table is SHIPMENTS else claim.orders
    ids = [int(i) for i in due.index]
    moments = [m.to_pydatetime() for m in due]
    done = conn.exec_driver_sql(
        f"UPDATE {table.name} SET due_at = v.due, detect_owner = NULL, "
        f"detect_lease_until = clock_timestamp() "
        f"FROM unnest(%(ids)s::bigint[], %(due)s::timestamptz[]) AS v(id, due) "
        f"WHERE {table.name}.id = v.id AND {table.name}.detect_owner = %(owner)s",
        {"ids": ids, "due": moments, "owner": claim.owner},
    ).rowcount
    rest = sorted(set(held) - set(ids))  # claimed but not read: deleted meanwhile
    if rest:
        done += conn.execute(
            update(table)
            .where(among(table.c.id, rest), table.c.detect_owner == claim.owner)
            .values(detect_owner=None, detect_lease_until=func.clock_timestamp())
        ).rowcount
    wanted = set(held) | set(ids)
    if done != len(wanted):  # some rows were deleted meanwhile, or taken over
        _check_held(table, claim, _still_there(conn, table, wanted), done)


def _still_there(conn: Connection, table: Table, ids: Iterable[int]) -> int:
    """How many of these rows exist, as the settling transaction sees them."""
    query = select(func.count()).select_from(table).where(among(table.c.id, ids))
    return int(conn.execute(query).scalar_one())


def _check_held(table: Table, claim: Claim, expected: int, done: int) -> None:
    if done != expected:
        raise LeaseLost(
            f"{expected - done} of {expected} {table.name} rows of claim {claim.owner} "
            "were taken over"
        )


def unclaim(engine: Engine, claim: Claim) -> None:
    """Give back a batch that was not applied (an error, or shutdown): the rows stay due, and
    the next tick (of any replica) claims them at once instead of after the lease."""
    with engine.begin() as conn:
        for table, ids in ((SHIPMENTS, claim.shipments), (ORDERS, claim.orders)):
            conn.execute(
                update(table)
                .where(among(table.c.id, ids), table.c.detect_owner == claim.owner)
                .values(detect_owner=None, detect_lease_until=None)
            )


def still_pending(engine: Engine, now: datetime) -> Marks:
    """The rows still due at `now` or marked: their tick has not come (or another replica's
    claim on them has not been applied yet)."""
    with engine.connect() as conn:
        shipments = {int(i) for (i,) in conn.execute(
            select(SHIPMENTS.c.id).where(due_condition(SHIPMENTS, now)))}  # fmt: skip
        orders = {int(i) for (i,) in conn.execute(
            select(ORDERS.c.id).where(due_condition(ORDERS, now)))}  # fmt: skip
    return Marks(ids=[], shipments=shipments, orders=orders)


def clear_marks(conn: Connection, ids: Sequence[int]) -> None:
    if ids:
        conn.execute(delete(DETECT_DIRTY).where(in_ids(conn.dialect.name, D.id, ids)))


def write_due(conn: Connection, table: Table, ids: Iterable[int], due: pd.Series) -> None:
    """Each judged row's next due moment (the column is not watched by the triggers, so this
    marks nothing). One UPDATE joined to the new values, not one statement per row: on
    PostgreSQL from two arrays, on SQLite from a temporary table (ten times faster than
    executemany at ten thousand rows)."""
    keys = [int(i) for i in ids]
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        moments = [m.to_pydatetime() for m in due]
        conn.exec_driver_sql(
            f"UPDATE {table.name} SET due_at = v.due FROM unnest(%(ids)s::bigint[], "
            f"%(due)s::timestamptz[]) AS v(id, due) WHERE {table.name}.id = v.id",
            {"ids": keys, "due": moments},
        )
        return
    micros = (due.astype("datetime64[us, UTC]").array.asi8).tolist()  # store/types.py
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS due_moment (id INTEGER PRIMARY KEY, due INTEGER)"
    )
    conn.exec_driver_sql("DELETE FROM due_moment")
    conn.exec_driver_sql(
        "INSERT INTO due_moment (id, due) VALUES (?, ?)", list(zip(keys, micros, strict=True))
    )
    # Driven by the few rows of due_moment: with UPDATE ... FROM due_moment SQLite's planner
    # walked the whole table's due_at index and looked each row up in due_moment instead
    # (three times slower at ten thousand of a million rows).
    conn.exec_driver_sql(
        f"UPDATE {table.name} SET due_at = (SELECT due FROM due_moment "
        f"WHERE due_moment.id = {table.name}.id) WHERE id IN (SELECT id FROM due_moment)"
    )
    conn.exec_driver_sql("DELETE FROM due_moment")


def mark_all_due(conn: Connection) -> None:
    """Every row still judged becomes due at once (the config changed: every threshold may
    have moved). Finished rows (NEVER) stay as they are: no threshold brings them back."""
    for table in (SHIPMENTS, ORDERS):
        conn.execute(
            update(table)
            .where(table.c.due_at.is_not(None), table.c.due_at < NEVER)
            .values(due_at=None)
        )


def mark_lanes_due(conn: Connection, pairs: Iterable[tuple[str, str]]) -> None:
    """The parcels of these (carrier, destination province) lanes become due: their expected
    delivery moved with the lane's learned figure."""
    S = SHIPMENTS.c
    params = [{"b_carrier": carrier, "b_province": province} for carrier, province in pairs]
    if params:
        conn.execute(
            update(SHIPMENTS)
            .where(
                S.carrier == bindparam("b_carrier"),
                S.province == bindparam("b_province"),
                S.due_at.is_not(None),
                S.due_at < NEVER,
            )
            .values(due_at=None),
            params,
        )


def read_state(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(DETECT_STATE.c.key, DETECT_STATE.c.value)).all()
    return {str(k): json.loads(v) for k, v in rows}


def write_state(conn: Connection, key: str, value: Any) -> None:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    table = DETECT_STATE
    done = conn.execute(update(table).where(table.c.key == key).values(value=text)).rowcount
    if not done:
        conn.execute(table.insert().values(key=key, value=text))


def forget_state(conn: Connection, key: str) -> None:
    conn.execute(delete(DETECT_STATE).where(DETECT_STATE.c.key == key))
