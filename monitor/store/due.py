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
`release_claim`, in the transaction that applies the batch's alert changes, clears them, or
fails the whole transaction if another replica has taken the rows over meanwhile.
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
    or_,
    select,
    update,
)

from monitor.clock import NEVER
from monitor.store.tables import DETECT_DIRTY, DETECT_STATE, ORDERS, SHIPMENTS

D = DETECT_DIRTY.c
CHUNK = 1000


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
            or_(D.shipment_id.in_(claim.shipments), D.sales_order_id.in_(claim.orders))
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


def claim_due(engine: Engine, now: datetime, owner: str, lease_seconds: float, limit: int) -> Claim:
    """Up to `limit` due parcels and as many due orders that no live lease holds, leased to
    `owner`. Lease ends are on the database's clock, so replicas' clocks need not agree. A
    materialized CTE keeps the limit (monitor/daemon/poller.py `_claim` says why)."""
    claimed: dict[str, list[int]] = {}
    with engine.begin() as conn:
        for table in (SHIPMENTS, ORDERS):
            lease_free = or_(
                table.c.detect_lease_until.is_(None),
                table.c.detect_lease_until < func.clock_timestamp(),
            )
            due = (
                select(table.c.id)
                .where(due_condition(table, now), lease_free)
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
            claimed[table.name] = sorted(int(i) for (i,) in conn.execute(claim))
    return Claim(owner, claimed[SHIPMENTS.name], claimed[ORDERS.name])


def release_claim(conn: Connection, claim: Claim) -> None:
    """Clear the claim in the transaction that applies the batch; LeaseLost (which rolls that
    transaction back) if any row is no longer this claim's: its new holder judges it."""
    for table, ids in ((SHIPMENTS, claim.shipments), (ORDERS, claim.orders)):
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            done = conn.execute(
                update(table)
                .where(table.c.id.in_(chunk), table.c.detect_owner == claim.owner)
                .values(detect_owner=None, detect_lease_until=None)
            ).rowcount
            if done != len(chunk):
                raise LeaseLost(
                    f"{len(chunk) - done} of {len(chunk)} {table.name} rows of claim "
                    f"{claim.owner} were taken over"
                )


def unclaim(engine: Engine, claim: Claim) -> None:
    """Give back a batch that was not applied (an error, or shutdown): the rows stay due, and
    the next tick (of any replica) claims them at once instead of after the lease."""
    with engine.begin() as conn:
        for table, ids in ((SHIPMENTS, claim.shipments), (ORDERS, claim.orders)):
            for start in range(0, len(ids), CHUNK):
                conn.execute(
                    update(table)
                    .where(
                        table.c.id.in_(ids[start : start + CHUNK]),
                        table.c.detect_owner == claim.owner,
                    )
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
    for start in range(0, len(ids), CHUNK):
        conn.execute(delete(DETECT_DIRTY).where(D.id.in_(ids[start : start + CHUNK])))


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
    conn.exec_driver_sql(
        f"UPDATE {table.name} SET due_at = due_moment.due FROM due_moment "
        f"WHERE {table.name}.id = due_moment.id"
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
