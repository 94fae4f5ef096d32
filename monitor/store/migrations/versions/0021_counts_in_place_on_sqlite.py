"""On SQLite the /metrics counts are kept in place, one row per label set, so that a scrape
reads only as many rows as /metrics has series, however much was written since the last fold
(monitor/store/counts.py)

Migration 0016 made the count triggers append +1/-1 rows, folded by a job every minute, so that
concurrent writers never wait on a shared counter row; until the fold, a scrape sums every
appended row (a million after a large import: 1.4 s). SQLite admits one writer at a time, so a
counter row updated in place costs no writer any wait there: its triggers now add to the label
set's row (an upsert on a unique index of the label values, NULL and '' as one, as /metrics
shows them) instead of appending. PostgreSQL keeps appending, because its writers do run
concurrently. The rows already appended are folded here, once.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 13:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# Frozen here, as migration 0016 wrote them.
ACTIVE = "{t}.status NOT IN ('delivered', 'returned')"
OPEN = "{t}.state != 'resolved'"
UNSHIPPED = "{t}.shipped_at IS NULL"
PARCEL_LABELS = ("carrier", "status")
ORDER_LABELS = ("NULL AS carrier", "'awaiting_shipment' AS status")
ALERT_WATCHED = ("kind", "severity", "carrier", "warehouse", "province", "state")
COUNT_TABLES: dict[str, tuple[str, ...]] = {
    "parcel_count": PARCEL_LABELS,
    "alert_count": ("kind", "severity", "carrier", "warehouse"),
    "alert_province_count": ("kind", "province"),
    "stalled_count": ("carrier", "province"),
}
ALERT_EXTRA = {"alert_count": "TRUE", "alert_province_count": "TRUE",
               "stalled_count": "{t}.kind = 'stalled'"}  # fmt: skip

Target = tuple[str, tuple[str, ...], str]


def _plan() -> list[tuple[str, str, tuple[str, ...], list[Target]]]:
    """(source table, trigger name, watched columns, [(count table, labels, condition)])."""
    alert_targets = [
        (table, COUNT_TABLES[table], f"{OPEN} AND ({extra})")
        for table, extra in ALERT_EXTRA.items()
    ]
    return [
        ("shipment", "parcel", PARCEL_LABELS, [("parcel_count", PARCEL_LABELS, ACTIVE)]),
        ("sales_order", "unshipped", ("shipped_at",),
         [("parcel_count", ORDER_LABELS, UNSHIPPED)]),
        ("alert", "alert", ALERT_WATCHED, alert_targets),
    ]  # fmt: skip


def _key(labels: tuple[str, ...]) -> str:
    """The unique key of a count table: its label values, NULL and '' as one."""
    return ", ".join(f"coalesce({c.split(' AS ')[-1]}, '')" for c in labels)


def _add(table: str, labels: tuple[str, ...], row: str, n: int, when: str, upsert: bool) -> str:
    """Add n to the count of `row`'s (NEW or OLD) labels when `when` holds for it: in place
    (upsert) or as an appended row (migration 0016's way, for the downgrade)."""
    values = ", ".join(f"{row}.{c}" if " AS " not in c else c.split(" AS ")[0] for c in labels)
    names = ", ".join(c.split(" AS ")[-1] for c in labels)
    statement = f"INSERT INTO {table} ({names}, n) SELECT {values}, {n} WHERE {when.format(t=row)}"
    if upsert:
        statement += f" ON CONFLICT ({_key(labels)}) DO UPDATE SET n = n + excluded.n"
    return statement


def _sqlite_triggers(upsert: bool) -> list[str]:
    statements = []
    for source, name, watched, targets in _plan():
        old = "; ".join(_add(t, labels, "OLD", -1, when, upsert) for t, labels, when in targets)
        new = "; ".join(_add(t, labels, "NEW", 1, when, upsert) for t, labels, when in targets)
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in watched)
        statements += [
            f"CREATE TRIGGER {name}_count_insert AFTER INSERT ON {source} BEGIN {new}; END",
            f"CREATE TRIGGER {name}_count_delete AFTER DELETE ON {source} BEGIN {old}; END",
            f"CREATE TRIGGER {name}_count_update AFTER UPDATE OF {', '.join(watched)} "
            f"ON {source} WHEN {changed} BEGIN {old}; {new}; END",
        ]
    return statements


def _drop_sqlite_triggers() -> None:
    for _, name, _, _ in _plan():
        for suffix in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_count_{suffix}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL keeps appending: its writers run concurrently
    _drop_sqlite_triggers()
    for table, labels in COUNT_TABLES.items():
        _fold_once(table, labels)
        op.execute(f"CREATE UNIQUE INDEX uq_{table}_labels ON {table} ({_key(labels)})")
    for statement in _sqlite_triggers(upsert=True):
        op.execute(statement)


def _fold_once(table: str, labels: tuple[str, ...]) -> None:
    """Every appended row folded into one row per label set (NULL and '' together), none at
    zero: what the unique index of the label values then keeps."""
    columns = ", ".join(labels)
    op.execute(f"CREATE TEMPORARY TABLE folded AS SELECT {columns}, n FROM {table} WHERE 0")
    op.execute(
        f"INSERT INTO folded ({columns}, n) SELECT {', '.join(f'max({c})' for c in labels)}, "
        f"sum(n) FROM {table} GROUP BY {_key(labels)} HAVING sum(n) != 0"
    )
    op.execute(f"DELETE FROM {table}")
    op.execute(f"INSERT INTO {table} ({columns}, n) SELECT {columns}, n FROM folded")
    op.execute("DROP TABLE folded")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop_sqlite_triggers()
    for table in COUNT_TABLES:
        op.execute(f"DROP INDEX IF EXISTS uq_{table}_labels")
    for statement in _sqlite_triggers(upsert=False):
        op.execute(statement)
