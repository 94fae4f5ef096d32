"""Guards the private-server helper (tests/support/postgres.py) that every PostgreSQL test
builds on.

If the helper leaked servers or pointed at the wrong one, failures elsewhere would
be confusing, so its start, round trip and clean shutdown are checked directly.
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.support.postgres import running_postgres


@pytest.mark.postgres
def test_private_server_round_trip_and_shutdown() -> None:
    with running_postgres() as url:
        parsed = make_url(url)
        assert parsed.host == "127.0.0.1"
        assert parsed.database == "parcelwatch_test"
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                version = conn.execute(text("select version()")).scalar_one()
                assert version.startswith("PostgreSQL ")
                conn.execute(text("create table parcel (id serial primary key, code text)"))
                conn.execute(
                    text("insert into parcel (code) values (:a), (:b)"),
                    {"a": "SF1234567890", "b": "顺丰-中转"},
                )
            with engine.connect() as conn:
                codes = conn.execute(text("select code from parcel order by id")).scalars()
                assert list(codes) == ["SF1234567890", "顺丰-中转"]
        finally:
            engine.dispose()
        port = parsed.port
        assert port is not None

    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
