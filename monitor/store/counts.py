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
one writer at a time, the triggers add to the label set's one row in place (migration 0021),
so a scrape always reads one row per series and the fold only drops label sets back at zero.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Connection, Engine, Table, delete, func, select

from monitor.store.tables import (
    ALERT_COUNTS,
    ALERT_PROVINCE_COUNTS,
    PARCEL_COUNTS,
    STALLED_COUNTS,
)

log = logging.getLogger(__name__)

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
    # SQLite keeps one row per label set (migration 0021): only the zeros are left to drop.
    return int(conn.execute(delete(table).where(table.c.n == 0)).rowcount)


# Past this many rows folded away, PostgreSQL's count tables are vacuumed at once.
VACUUM_AFTER_ROWS = 10_000


def compact_counts(engine: Engine) -> int:
    """Fold the appended +1/-1 rows; returns how many rows went away."""
    with engine.begin() as conn:
        gone = sum(_compact(conn, table, labels) for table, labels in COUNTS)
    if gone > VACUUM_AFTER_ROWS and engine.dialect.name == "postgresql":
        _vacuum(engine)
    return gone


def _vacuum(engine: Engine) -> None:
    """A scrape reads a count table whole, the rows a fold deleted too until they are
    vacuumed (autovacuum may take minutes): after a large fold, vacuum the tables now.
    SKIP_LOCKED: a vacuum already running elsewhere (another replica's) is enough."""
    tables = ", ".join(table.name for table, _ in COUNTS)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM (SKIP_LOCKED) {tables}")


def rows_bound(conn: Connection) -> int:
    """At least as many rows as the count tables hold, from the span of their ids (two index
    look-ups per table, whatever their size): how far PostgreSQL's appended rows are behind
    the fold, without counting them. Gaps in the ids only make it larger."""
    total = 0
    for table, _ in COUNTS:
        span = conn.execute(select(func.max(table.c.id) - func.min(table.c.id) + 1)).scalar()
        total += int(span or 0)
    return total


_folding: set[int] = set()
_folding_lock = threading.Lock()


def fold_in_background(engine: Engine) -> threading.Thread | None:
    """Fold now, in a thread of its own, unless a fold of this engine started here still
    runs; returns the thread it started. For a reader that found too many appended rows:
    it does not wait, and a fold running at the same time elsewhere is harmless (each
    appended row is folded by exactly one of them)."""
    key = id(engine)
    with _folding_lock:
        if key in _folding:
            return None
        _folding.add(key)

    def fold() -> None:
        try:
            compact_counts(engine)
        except Exception as exc:  # the daemon's fold job runs anyway; say why this one failed
            log.warning("folding the /metrics counts failed: %s", getattr(exc, "orig", exc))
        finally:
            with _folding_lock:
                _folding.discard(key)

    thread = threading.Thread(target=fold, name="parcelwatch-count-fold", daemon=True)
    thread.start()
    return thread
