"""Migration 0021 (the /metrics counts kept in place on SQLite) on a store written by the
previous schema, with appended count rows not yet folded, on SQLite and PostgreSQL: the counts
are the same afterwards, SQLite holds one row per label set and adds to it in place from then
on, PostgreSQL keeps appending (monitor/store/counts.py)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, text

from monitor.metrics import collectors
from monitor.store.counts import COUNTS, compact_counts
from monitor.store.db import MIGRATIONS, upgrade
from tests.support.migrations import store_fixture

old_store = store_fixture("0020")  # the counts appended by triggers, folded by a job

BOOK = {
    collectors.PARCELS_ACTIVE_SQL: (
        "SELECT coalesce(carrier, ''), status, count(*) FROM shipment"
        " WHERE status NOT IN ('delivered', 'returned') GROUP BY 1, 2"
        " UNION ALL SELECT '', 'awaiting_shipment', count(*) FROM sales_order"
        " WHERE shipped_at IS NULL"
    ),
    collectors.ALERTS_OPEN_SQL: (
        "SELECT kind, severity, coalesce(carrier, ''), coalesce(warehouse, ''), count(*)"
        " FROM alert WHERE state != 'resolved' GROUP BY 1, 2, 3, 4"
    ),
    collectors.PARCELS_STALLED_SQL: (
        "SELECT coalesce(carrier, ''), coalesce(province, ''), count(*) FROM alert"
        " WHERE state != 'resolved' AND kind = 'stalled' GROUP BY 1, 2"
    ),
}


def _fill(engine: Engine, cancelling: bool = True) -> None:
    """Orders, parcels and alerts written through the count triggers (on an old store one
    appended row each), and with `cancelling` two appended rows that cancel out, one with
    NULL and one with '' as its carrier (a unique key on a store at 0021)."""
    now = 1_795_000_000_000_000 if engine.dialect.name == "sqlite" else "2026-11-24T02:00:00Z"
    with engine.begin() as conn:
        for i in range(1, 7):
            shipped = None if i == 6 else now
            conn.execute(
                text(
                    "INSERT INTO sales_order (id, platform, order_id, shop, warehouse, province,"
                    " amount, paid_at, shipped_at, content_hash, created_at, updated_at) VALUES"
                    " (:i, 'taobao', :oid, '店', 'hz1', '江苏', 10, :now, :shipped, 'h', :now,"
                    " :now)"
                ),
                {"i": i, "oid": f"TB{i}", "now": now, "shipped": shipped},
            )
            if shipped is None:
                continue
            conn.execute(
                text(
                    "INSERT INTO shipment (id, order_id, order_count, platform, shop, warehouse,"
                    " carrier, tracking_number, province, shipped_at, status, content_hash,"
                    " poll_failures, created_at, updated_at) VALUES (:i, :oid, 1, 'taobao',"
                    " '店', 'hz1', :carrier, :number, '江苏', :now, :status, 'h', 0, :now, :now)"
                ),
                {"i": i, "oid": f"TB{i}", "now": now, "number": f"71000000{i}",
                 "carrier": "zto" if i < 4 else "sf",
                 "status": "delivered" if i == 5 else "in_transit"},
            )  # fmt: skip
        for i, (kind, state) in enumerate([("stalled", "open"), ("stalled", "acknowledged"),
                                           ("lost", "resolved")], start=1):  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO alert (fingerprint, kind, severity, state, shipment_id,"
                    " carrier, warehouse, province, since, opened_at, updated_at, detail)"
                    " VALUES (:f, :kind, 'warning', :state, :i, 'zto', 'hz1', '江苏', :now,"
                    " :now, :now, '{}')"
                ),
                {"f": f"f{i}", "kind": kind, "state": state, "i": i, "now": now},
            )
        conn.execute(text("UPDATE shipment SET status = 'out_for_delivery' WHERE id = 2"))
    if not cancelling:
        return
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO parcel_count (carrier, status, n) VALUES"
                " (NULL, 'exception', 1), ('', 'exception', -1)"
            )
        )


def _kept(engine: Engine) -> dict[Any, dict[tuple[Any, ...], int]]:
    with engine.connect() as conn:
        return {
            sql: {tuple(r[:-1]): int(r[-1]) for r in conn.execute(sql)}
            for sql in (*BOOK, collectors.ALERTS_BY_PROVINCE_SQL)
        }


def _book(engine: Engine) -> dict[Any, dict[tuple[Any, ...], int]]:
    with engine.connect() as conn:
        return {
            sql: {tuple(r[:-1]): int(r[-1]) for r in conn.exec_driver_sql(book) if r[-1]}
            for sql, book in BOOK.items()
        }


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return sum(
            int(conn.execute(text(f"SELECT count(*) FROM {table.name}")).scalar_one())
            for table, _ in COUNTS
        )


def test_upgrade_keeps_the_counts_and_sqlite_keeps_them_in_place(old_store: Engine) -> None:
    _fill(old_store)
    before = _kept(old_store)
    assert _rows(old_store) > 10  # appended, not folded
    upgrade(old_store)
    after = _kept(old_store)
    assert after == before
    assert {sql: after[sql] for sql in BOOK} == _book(old_store)
    assert after[collectors.PARCELS_ACTIVE_SQL] == {
        ("zto", "in_transit"): 2, ("zto", "out_for_delivery"): 1, ("sf", "in_transit"): 1,
        ("", "awaiting_shipment"): 1,
    }  # fmt: skip
    sqlite = old_store.dialect.name == "sqlite"
    rows = _rows(old_store)
    if sqlite:  # folded: one row per label set, none at zero
        assert rows == sum(len(counts) for counts in after.values())

    with old_store.begin() as conn:
        conn.execute(text("UPDATE shipment SET status = 'in_transit' WHERE id = 2"))
        conn.execute(text("UPDATE alert SET state = 'resolved' WHERE id = 2"))
        conn.execute(text("UPDATE sales_order SET shipped_at = created_at WHERE id = 6"))
    # SQLite: the existing rows changed in place (a label set at zero stays, at 0, until the
    # fold drops it); PostgreSQL: two rows appended per change
    assert _rows(old_store) == rows if sqlite else _rows(old_store) > rows
    assert {sql: counts for sql, counts in _kept(old_store).items() if sql in BOOK} == _book(
        old_store
    )
    compact_counts(old_store)
    assert {sql: counts for sql, counts in _kept(old_store).items() if sql in BOOK} == _book(
        old_store
    )
    with old_store.connect() as conn:
        zeros = conn.execute(text("SELECT count(*) FROM parcel_count WHERE n = 0")).scalar_one()
    assert zeros == 0


def test_the_migration_can_be_undone_and_redone(old_store: Engine) -> None:
    upgrade(old_store)
    _fill(old_store, cancelling=False)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old_store.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0020")
    rows = _rows(old_store)
    with old_store.begin() as conn:
        conn.execute(text("UPDATE shipment SET status = 'in_transit' WHERE id = 2"))
    assert _rows(old_store) == rows + 2  # appended again, as 0016 does
    upgrade(old_store)
    assert {sql: counts for sql, counts in _kept(old_store).items() if sql in BOOK} == _book(
        old_store
    )
