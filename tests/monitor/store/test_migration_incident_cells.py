"""Migration 0022 (incident cells) on a store that the previous version had judged, on SQLite
and PostgreSQL: the cells start empty and nothing in them is taken as true, because the
stored config fingerprint is forgotten and the first incremental tick judges the whole book
once, which fills them; the downgrade drops them (docs/architecture.md "Incident cells")."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, inspect, text, update

from monitor.daemon.incremental import context_key, run_incremental_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.db import MIGRATIONS, upgrade
from monitor.store.due import read_state, write_state
from monitor.store.incident_cells import read_cells
from monitor.store.tables import ORDERS, SHIPMENTS
from tests.support.lifecycle import CONFIG, alerts, at
from tests.support.migrations import store_fixture

NOW = at("2026-11-19 12:00")
old_store = store_fixture("0021")  # before incident cells


def _judged_by_the_previous_version(engine: Engine) -> None:
    """30 parcels for 江苏 in zto's hands, 10 of them stalled, each with a due moment ahead
    and the config fingerprint stored, as the previous version's ticks left them."""
    rows = [
        RawRow(i + 1, {
            "order_id": f"TB{i}", "platform": "taobao", "warehouse": "hz1", "province": "江苏",
            "paid_at": "2026-11-16 09:00", "carrier": "zto", "tracking_number": f"73{i:05d}",
            "shipped_at": "2026-11-16 12:00", "picked_up_at": "2026-11-16 15:00",
            "status": "in_transit",
            "last_event_at": "2026-11-17 06:00" if i < 10 else "2026-11-19 11:00",
        })
        for i in range(30)
    ]  # fmt: skip
    assert not ingest_rows(engine, CONFIG, rows, NOW).rejected
    with engine.begin() as conn:
        for table in (SHIPMENTS, ORDERS):
            conn.execute(update(table).values(due_at=NOW + timedelta(hours=1)))
        conn.execute(text("DELETE FROM detect_dirty"))
        write_state(conn, "context", context_key(CONFIG))


def test_the_first_tick_after_the_upgrade_fills_the_cells(old_store: Engine) -> None:
    _judged_by_the_previous_version(old_store)
    upgrade(old_store)
    assert "context" not in read_state(old_store)
    assert read_cells(old_store).empty
    result = run_incremental_tick(old_store, CONFIG, NOW)
    assert result is not None and result.parcels == 30  # every row due once
    [cell] = read_cells(old_store).to_dict("records")
    assert (cell["parcels"], cell["stalled"], cell["affected"]) == (30, 10, 10)
    assert [a["kind"] for a in alerts(old_store, state="active")].count("carrier_incident") == 1


def test_the_migration_can_be_undone_and_redone(old_store: Engine) -> None:
    tables = {"incident_member", "incident_cell"}
    upgrade(old_store)
    assert tables <= set(inspect(old_store).get_table_names())
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old_store.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0021")
    assert not tables & set(inspect(old_store).get_table_names())
    upgrade(old_store)
    assert tables <= set(inspect(old_store).get_table_names())
