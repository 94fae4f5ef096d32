"""Push verification per API account: with `zto` on a real Kuaidi100 account and `sf` on the
simulator, a push signed with the simulator's public salt is refused at /webhooks/kuaidi100,
and at /webhooks/sim it can move only the simulator's carriers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from carriers.sim.credentials import SIM_SALT
from carriers.sim.push import kuaidi100_sign
from monitor.clock import FixedClock
from monitor.daemon.carrier_clients import build_clients
from monitor.daemon.service import Daemon
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.tables import SHIPMENTS
from monitor.web.app import create_app
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
REAL_SALT = "production-salt-nobody-knows"
ENV = {
    "PARCELWATCH_KUAIDI100_CUSTOMER": "C1",
    "PARCELWATCH_KUAIDI100_KEY": "K1",
    "PARCELWATCH_KUAIDI100_SALT": REAL_SALT,
}


def push(number: str, com: str, salt: str) -> bytes:
    param = json.dumps({
        "status": "polling", "message": "",
        "lastResult": {"message": "ok", "nu": number, "ischeck": "0", "com": com,
                       "status": "200", "state": "0",
                       "data": [{"time": "2026-11-24 10:00:00", "context": "【杭州】已揽收",
                                 "status": "揽收", "statusCode": "1"}]},
    }, ensure_ascii=False)  # fmt: skip
    return urlencode({"param": param, "sign": kuaidi100_sign(param, salt)}).encode()


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Daemon]]:
    cfg = make_config(
        f"sqlite:///{tmp_path / 'pw.db'}",
        carriers={"zto": {"adapter": "kuaidi100"}, "sf": {"adapter": "sim"}},
        daemon={"public_url": "https://shop.example"},
    )
    http = httpx.AsyncClient()
    daemon = Daemon(cfg, FixedClock(NOW), build_clients(cfg, http, ENV))
    rows = [
        RawRow(1, {"order_id": "Z1", "warehouse": "hz1", "paid_at": "2026-11-23 10:00",
                   "carrier": "zto", "tracking_number": "73100000001",
                   "shipped_at": "2026-11-23 12:00"}),
        RawRow(2, {"order_id": "S1", "warehouse": "hz1", "paid_at": "2026-11-23 10:00",
                   "carrier": "sf", "tracking_number": "SF100000001",
                   "shipped_at": "2026-11-23 12:00"}),
    ]  # fmt: skip
    assert not ingest_rows(daemon.engine, cfg, rows, NOW).rejected
    with TestClient(create_app(daemon.ctx)) as client:
        yield client, daemon


def status_of(daemon: Daemon, order: str) -> str:
    with daemon.engine.connect() as conn:
        query = select(SHIPMENTS.c.status).where(SHIPMENTS.c.order_id == order)
        return str(conn.execute(query).scalar_one())


FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_the_public_salt_cannot_verify_a_production_push(
    app: tuple[TestClient, Daemon],
) -> None:
    client, daemon = app
    forged = client.post("/webhooks/kuaidi100", content=push("73100000001", "zhongtong", SIM_SALT),
                         headers=FORM)  # fmt: skip
    assert forged.status_code == 401
    assert status_of(daemon, "Z1") == "label_created"
    real = client.post("/webhooks/kuaidi100", content=push("73100000001", "zhongtong", REAL_SALT),
                       headers=FORM)  # fmt: skip
    assert real.status_code == 200
    assert status_of(daemon, "Z1") == "in_transit"  # Kuaidi100 state 0


def test_the_simulators_path_moves_only_its_own_carriers(app: tuple[TestClient, Daemon]) -> None:
    client, daemon = app
    # Signed with the public salt and naming a zto parcel: accepted as a push, changes nothing.
    stray = client.post("/webhooks/sim", content=push("73100000001", "zhongtong", SIM_SALT),
                        headers=FORM)  # fmt: skip
    assert stray.status_code == 200
    assert status_of(daemon, "Z1") == "label_created"
    own = client.post("/webhooks/sim", content=push("SF100000001", "shunfeng", SIM_SALT),
                      headers=FORM)  # fmt: skip
    assert own.status_code == 200
    assert status_of(daemon, "S1") == "in_transit"


def test_each_account_subscribes_with_its_own_callback(app: tuple[TestClient, Daemon]) -> None:
    _, daemon = app
    paths = {c.push_name for c in daemon.poller.clients}
    assert paths == {"kuaidi100", "sim"}
