"""The HTTP edge (issue: hardening): bodies over the limit, NUL characters, numbers past the
databases' 64-bit range, an impossible week and order ids with "/" all get a clear 4xx, never
a 500; on both backends where the store is reached."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from monitor.clock import FixedClock
from monitor.config import Config
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.web.app import create_app
from monitor.web.auth import hash_token
from monitor.web.context import AppContext
from monitor.web.sessions import hash_password
from tests.support.config import make_config
from tests.support.fake_carrier import FakeAdapter

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
TOKEN = "lead-token"
HUGE = 2**63


def config() -> Config:
    return make_config(
        auth={
            "tokens": [{"name": "ci", "role": "lead", "token_sha256": hash_token(TOKEN)}],
            "users": [{"name": "lead", "role": "lead", "password_hash": hash_password("pw")}],
        },
        daemon={"max_push_bytes": 4096},
    )


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    cfg = config()
    rows = [RawRow(1, {"order_id": "TB/2026/1", "warehouse": "hz1", "paid_at": "2026-11-23 10:00"})]
    assert not ingest_rows(engine, cfg, rows, NOW).rejected
    ctx = AppContext(engine, cfg, FixedClock(NOW), push_adapters={"kuaidi100": FakeAdapter()})
    with TestClient(create_app(ctx)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield test_client


def test_a_push_body_over_the_limit_is_refused_before_it_is_read(client: TestClient) -> None:
    answer = client.post("/webhooks/kuaidi100", content=b"x" * 5000)
    assert answer.status_code == 413 and "4096" in answer.json()["error"]
    small = client.post("/webhooks/kuaidi100", content=b"{}", headers={"x-sign": "wrong"})
    assert small.status_code == 401


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/alerts?carrier=%00",
        "/api/v1/alerts?province=a%00b",
        "/api/v1/shipments/A%00",
        "/?kind=%00",
    ],
)
def test_nul_in_a_url_is_400(client: TestClient, url: str) -> None:
    answer = client.get(url)
    assert answer.status_code == 400 and "NUL" in answer.json()["error"]


def test_nul_in_a_json_body_is_400(client: TestClient) -> None:
    body = '{"order_id": "A\\u0000", "warehouse": "hz1", "paid_at": "2026-11-23 10:00"}'
    answer = client.post(
        "/api/v1/shipments", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400


def test_an_impossible_date_through_the_api_is_a_named_rejection(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/shipments",
        json={"order_id": "X9", "warehouse": "hz1", "paid_at": "9999-12-31 23:59:59"},
    )
    assert answer.status_code == 422
    (rejected,) = answer.json()["rejected"]
    assert rejected["column"] == "paid_at" and "future" in rejected["reason"]


@pytest.mark.parametrize(
    ("method", "url", "statuses"),
    [
        ("get", f"/api/v1/alerts/{HUGE}", {404}),
        ("get", f"/api/v1/alerts/{-HUGE}", {404}),
        ("post", f"/api/v1/alerts/{HUGE}/ack", {404}),
        ("get", f"/api/v1/alerts?offset={HUGE}", {422}),
        ("get", "/api/v1/scorecards?week=0001-W01", {400}),
        ("get", "/api/v1/scorecards?week=9999-W52", {400}),
    ],
)
def test_numbers_past_64_bits_are_4xx(
    client: TestClient, method: str, url: str, statuses: set[int]
) -> None:
    assert getattr(client, method)(url).status_code in statuses


def test_pages_and_bulk_form_with_huge_ids(client: TestClient) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    signed = client.post("/login", data={"user": "lead", "password": "pw", "csrf": token},
                         follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303
    queue = client.get("/")
    csrf = queue.text.split('name="csrf" value="')[1].split('"')[0]
    bulk = client.post("/alerts/bulk", data={"csrf": csrf, "action": "ack",
                                             "ids": [str(HUGE), "1"]}, follow_redirects=False)  # fmt: skip
    assert bulk.status_code in (303, 404)
    one = client.post(f"/alerts/{HUGE}/action", data={"csrf": csrf, "action": "ack"},
                      follow_redirects=False)  # fmt: skip
    assert one.status_code == 404
    assert client.get(f"/?page={HUGE}").status_code == 200
    assert client.get("/scorecards?week=0001-W01").status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/shipments/TB/2026/1", "/api/v1/shipments/TB%2F2026%2F1"])
def test_an_order_id_with_slashes_can_be_read(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200 and answer.json()["order_id"] == "TB/2026/1"


def test_the_parcel_page_opens_for_an_order_id_with_slashes(client: TestClient) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"user": "lead", "password": "pw", "csrf": token})
    for path in ("/parcels/TB/2026/1", "/parcels/TB%2F2026%2F1"):
        answer = client.get(path)
        assert answer.status_code == 200 and "TB/2026/1" in answer.text


def test_the_openapi_schema_documents_the_errors(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"400", "401", "404", "413"} <= set(paths["/webhooks/{api}"]["post"]["responses"])
    alerts = paths["/api/v1/alerts/{alert_id}/{action}"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "422"} <= set(alerts)
    assert "503" in paths["/readyz"]["get"]["responses"]


def test_the_today_view_of_an_unknown_warehouse_is_404(client: TestClient) -> None:
    page = client.get("/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    client.post("/login", data={"user": "lead", "password": "pw", "csrf": token})
    assert client.get("/today").status_code == 200
    missing = client.get("/today?warehouse=nowhere")
    assert missing.status_code == 404 and "hz1" in missing.json()["error"]
