"""The store side of incremental detection: the changed-set marks, the due moments, and what
they were computed against (docs/architecture.md "Incremental detection").

Marks (`detect_dirty`) are appended by triggers in the writers' transactions (migration 0019).
A tick reads them first, judges their rows (read afterwards, so at least as new as the change
each mark stands for), and deletes exactly the marks it read: a mark committed meanwhile, even
one with a smaller id (PostgreSQL hands out sequence numbers before commit), stays for the
next tick.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Table, bindparam, delete, select, update

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


def read_marks(engine: Engine) -> Marks:
    with engine.connect() as conn:
        rows = conn.execute(select(D.id, D.shipment_id, D.sales_order_id)).all()
    return Marks(
        ids=[int(r[0]) for r in rows],
        shipments={int(r[1]) for r in rows if r[1] is not None},
        orders={int(r[2]) for r in rows if r[2] is not None},
    )


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
