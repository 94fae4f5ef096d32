"""The /metrics counts kept by triggers in the transactions that change them, so a scrape sums
a few rows per series instead of counting the book (monitor/store/counts.py)

Every insert, delete, or change of carrier and status on `shipment` (and of `shipped_at` on
`sales_order`, whose unshipped orders count as awaiting_shipment with no carrier) appends a
-1 and/or a +1 row to `parcel_count`; alerts likewise, while not resolved, to one table per
/metrics family (`alert_count` by kind, severity, carrier and warehouse; `alert_province_count`
by kind and province; `stalled_count` by carrier and province), so that each table holds no
more rows than its family has series. Rows are only appended, so concurrent writers never wait
on each other's counter rows; a job folds them into one row per label set (`compact_counts`).
Also an index on alert.opened_at, for the today page's 7-day trend.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 00:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Frozen here, as the models' partial indexes say it.
ACTIVE = "{t}.status NOT IN ('delivered', 'returned')"
OPEN = "{t}.state != 'resolved'"
PARCEL_LABELS = ("carrier", "status")
# What an alert change looks at, and the tables its counts go to (with an extra condition).
ALERT_WATCHED = ("kind", "severity", "carrier", "warehouse", "province", "state")
ALERT_TABLES: dict[str, tuple[tuple[str, ...], str]] = {
    "alert_count": (("kind", "severity", "carrier", "warehouse"), "TRUE"),
    "alert_province_count": (("kind", "province"), "TRUE"),
    "stalled_count": (("carrier", "province"), "{t}.kind = 'stalled'"),
}
UNSHIPPED = "{t}.shipped_at IS NULL"
ORDER_LABELS = ("NULL AS carrier", "'awaiting_shipment' AS status")


def _append(table: str, labels: tuple[str, ...], row: str, n: int, when: str) -> str:
    """INSERT one +n row of `row`'s (NEW or OLD) labels when `when` holds for it."""
    values = ", ".join(f"{row}.{c}" if " AS " not in c else c.split(" AS ")[0] for c in labels)
    names = ", ".join(c.split(" AS ")[-1] for c in labels)
    return f"INSERT INTO {table} ({names}, n) SELECT {values}, {n} WHERE {when.format(t=row)}"


def _plan() -> list[tuple[str, str, tuple[str, ...], list[tuple[str, tuple[str, ...], str]]]]:
    """(source table, name, watched columns, [(count table, labels, condition)])."""
    alert_targets = [
        (table, labels, f"{OPEN} AND ({extra})") for table, (labels, extra) in ALERT_TABLES.items()
    ]
    return [
        ("shipment", "parcel", PARCEL_LABELS, [("parcel_count", PARCEL_LABELS, ACTIVE)]),
        ("sales_order", "unshipped", ("shipped_at",),
         [("parcel_count", ORDER_LABELS, UNSHIPPED)]),
        ("alert", "alert", ALERT_WATCHED, alert_targets),
    ]  # fmt: skip


def _sqlite_triggers() -> list[str]:
    statements = []
    for source, name, watched, targets in _plan():
        old = "; ".join(_append(t, labels, "OLD", -1, when) for t, labels, when in targets)
        new = "; ".join(_append(t, labels, "NEW", 1, when) for t, labels, when in targets)
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in watched)
        statements += [
            f"CREATE TRIGGER {name}_count_insert AFTER INSERT ON {source} BEGIN {new}; END",
            f"CREATE TRIGGER {name}_count_delete AFTER DELETE ON {source} BEGIN {old}; END",
            f"CREATE TRIGGER {name}_count_update AFTER UPDATE OF {', '.join(watched)} "
            f"ON {source} WHEN {changed} BEGIN {old}; {new}; END",
        ]
    return statements


def _postgresql_triggers() -> list[str]:
    statements = []
    for source, name, watched, targets in _plan():
        old = "; ".join(_append(t, labels, "OLD", -1, when) for t, labels, when in targets)
        new = "; ".join(_append(t, labels, "NEW", 1, when) for t, labels, when in targets)
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in watched)
        statements += [
            f"""CREATE FUNCTION parcelwatch_count_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP IN ('UPDATE', 'DELETE') THEN {old}; END IF;
                IF TG_OP IN ('UPDATE', 'INSERT') THEN {new}; END IF;
                RETURN NULL;
            END $$""",
            f"CREATE TRIGGER {name}_count_insert_delete AFTER INSERT OR DELETE ON {source} "
            f"FOR EACH ROW EXECUTE FUNCTION parcelwatch_count_{name}()",
            f"CREATE TRIGGER {name}_count_update AFTER UPDATE OF {', '.join(watched)} "
            f"ON {source} FOR EACH ROW WHEN ({changed}) "
            f"EXECUTE FUNCTION parcelwatch_count_{name}()",
        ]
    return statements


def _table(name: str, labels: tuple[str, ...], required: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        *(sa.Column(c, sa.String(), nullable=c not in required) for c in labels),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )


def upgrade() -> None:
    _table("parcel_count", PARCEL_LABELS, ("status",))
    for table, (labels, _) in ALERT_TABLES.items():
        _table(table, labels, ("kind", "severity"))
    # What is already there, counted once; from now on the triggers keep it.
    op.execute(
        "INSERT INTO parcel_count (carrier, status, n) SELECT carrier, status, count(*) "
        f"FROM shipment WHERE {ACTIVE.format(t='shipment')} GROUP BY carrier, status"
    )
    op.execute(
        "INSERT INTO parcel_count (carrier, status, n) SELECT NULL, 'awaiting_shipment', "
        "count(*) FROM sales_order WHERE shipped_at IS NULL HAVING count(*) > 0"
    )
    for table, (labels, extra) in ALERT_TABLES.items():
        columns = ", ".join(labels)
        op.execute(
            f"INSERT INTO {table} ({columns}, n) SELECT {columns}, count(*) FROM alert "
            f"WHERE {OPEN.format(t='alert')} AND {extra.format(t='alert')} GROUP BY {columns}"
        )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _postgresql_triggers() if postgres else _sqlite_triggers():
        op.execute(statement)
    # The today page's 7-day trend counts alerts opened per day (monitor/web/today.py).
    op.create_index("ix_alert_opened_at", "alert", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_opened_at", table_name="alert")
    postgres = op.get_bind().dialect.name == "postgresql"
    for source, name, _, _ in _plan():
        suffixes = ("insert_delete", "update") if postgres else ("insert", "delete", "update")
        for suffix in suffixes:
            on = f" ON {source}" if postgres else ""
            op.execute(f"DROP TRIGGER IF EXISTS {name}_count_{suffix}{on}")
        if postgres:
            op.execute(f"DROP FUNCTION IF EXISTS parcelwatch_count_{name}()")
    for table in ("parcel_count", *ALERT_TABLES):
        op.drop_table(table)
