"""The counts /metrics shows (parcels by carrier and status; open alerts by kind, severity,
carrier and warehouse, by kind and province, and stalled ones by carrier and province), kept
by triggers in the transactions that change them
(migration 0016): a scrape sums one small table instead of counting the book, and so costs
the number of series, however many parcels there are
(docs/observability.md "Store collectors").

On PostgreSQL the triggers only append rows of +1 and -1, so concurrent writers never wait on
a shared counter row; `compact_counts` folds them into one row per label set, atomically, so a
concurrent writer's row is either folded or left for the next run, never lost or counted twice.
Until then a scrape also sums the rows appended since the last fold. On SQLite, which admits
one writer at a time, the triggers add to the label set's one row in place (migration 0022),
so a scrape always reads one row per series and the fold only drops label sets back at zero.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, Table, delete

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
    # SQLite keeps one row per label set (migration 0022): only the zeros are left to drop.
    return int(conn.execute(delete(table).where(table.c.n == 0)).rowcount)


def compact_counts(engine: Engine) -> int:
    """Fold the appended +1/-1 rows; returns how many rows went away."""
    with engine.begin() as conn:
        return sum(_compact(conn, table, labels) for table, labels in COUNTS)
