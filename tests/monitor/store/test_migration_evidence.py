"""Migration 0017 on a store with carrier bodies kept before it, on SQLite and PostgreSQL:
each body is linked to the stored tracking numbers it names (a form-encoded Kuaidi100 push
included), so the evidence packs of old orders still show them; and it can be undone."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from urllib.parse import urlencode

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, insert

from monitor.store.db import MIGRATIONS, upgrade
from monitor.store.raw_answers import answers_about
from monitor.store.tables import CARRIER_ANSWERS, ORDERS, SHIPMENTS
from tests.support.migrations import store_fixture

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


store_at_0016 = store_fixture("0016")


def test_bodies_kept_before_the_links_are_linked(store_at_0016: Engine) -> None:
    engine = store_at_0016
    kuaidi100 = urlencode({"param": '{"lastResult":{"nu":"YT6074326614455","data":[]}}',
                           "sign": "ABC"}).encode()  # fmt: skip
    batch = b'{"data":{"accepted":[{"number":"ZT1001"},{"number":"ZT1002"},{"number":"X9"}]}}'
    with engine.begin() as conn:
        for number in ("YT6074326614455", "ZT1001", "ZT1002", "ZT1003"):
            conn.execute(insert(SHIPMENTS), {"order_id": "A1", "warehouse": "hz1", "tracking_number": number,
                                            "carrier": "yto", "status": "in_transit",
                                            "created_at": T0, "updated_at": T0})  # fmt: skip
        conn.execute(insert(ORDERS), {"order_id": "A1", "warehouse": "hz1", "paid_at": T0,
                                      "created_at": T0, "updated_at": T0})  # fmt: skip
        for sha, body in (("a" * 64, kuaidi100), ("b" * 64, batch)):
            conn.execute(insert(CARRIER_ANSWERS), {"api": "kuaidi100", "source": "push",
                         "received_at": T0, "sha256": sha, "headers": {},
                         "body": zlib.compress(body)})  # fmt: skip
    upgrade(engine)
    found = answers_about(engine, ["YT6074326614455", "ZT1001", "ZT1002", "ZT1003"])
    assert [a.sha256 for a in found["YT6074326614455"]] == ["a" * 64]
    assert [a.sha256 for a in found["ZT1001"]] == [a.sha256 for a in found["ZT1002"]] == ["b" * 64]
    assert found["ZT1003"] == []
    assert found["ZT1001"][0].body == batch


def test_the_migration_can_be_undone_and_redone(store_at_0016: Engine) -> None:
    engine = store_at_0016
    upgrade(engine)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0016")
    with engine.connect() as conn:
        assert "penalty" not in engine.dialect.get_table_names(conn)
    upgrade(engine)
    with engine.connect() as conn:
        assert {"penalty", "carrier_answer_number"} <= set(engine.dialect.get_table_names(conn))
