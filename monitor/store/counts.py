"""The counts /metrics shows (parcels by carrier and status; open alerts by kind, severity,
carrier and warehouse, by kind and province, and stalled ones by carrier and province), kept
by triggers in the transactions that change them
(migration 0016): a scrape sums one small table instead of counting the book, and so costs
the number of series, however many parcels there are
(docs/observability.md "Store collectors").

The triggers only append rows of +1 and -1, so writers never wait on a shared counter row;
`compact_counts` folds them into one row per label set, atomically, so a concurrent writer's
row is either folded or left for the next run, never lost or counted twice.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, Table, func, select

from monitor.store.tables import (
    ALERT_COUNTS,
    ALERT_PROVINCE_COUNTS,
    PARCEL_COUNTS,
    STALLED_COUNTS,
)

# Each count table and its labels (one table per /metrics family: migration 0016).
COUNTS: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (PARCEL_COUNTS, ("carrier", "status")),
    (ALERT_COUNTS, ("kind", "severity", "carrier", "warehouse")),
    (ALERT_PROVINCE_COUNTS, ("kind", "province")),
    (STALLED_COUNTS, ("carrier", "province")),
)


def _compact(conn: Connection, table: Table, labels: tuple[str, ...]) -> int:
    columns = ", ".join(labels)
    if conn.dialect.name == "postgresql":
        # One statement: the rows it deletes are exactly those it sums back.
        result = conn.exec_driver_sql(
            f"WITH gone AS (DELETE FROM {table.name} RETURNING {columns}, n), "
            f"folded AS (INSERT INTO {table.name} ({columns}, n) "
            f"SELECT {columns}, sum(n) FROM gone GROUP BY {columns} HAVING sum(n) != 0 "
            "RETURNING 1) SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM folded)"
        ).one()
        return int(result[0]) - int(result[1])
    # SQLite has one writer at a time: the transaction is the atomicity.
    last = conn.execute(select(func.max(table.c.id))).scalar()
    if last is None:
        return 0
    before = conn.execute(select(func.count()).select_from(table)).scalar_one()
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({columns}, n) SELECT {columns}, sum(n) FROM {table.name} "
        f"WHERE id <= ? GROUP BY {columns} HAVING sum(n) != 0",
        (last,),
    )
    conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE id <= ?", (last,))
    after = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return int(before) - int(after)


def compact_counts(engine: Engine) -> int:
    """Fold the appended +1/-1 rows; returns how many rows went away."""
    with engine.begin() as conn:
        return sum(_compact(conn, table, labels) for table, labels in COUNTS)
