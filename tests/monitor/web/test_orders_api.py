"""Orders with their parcels through the API, the alerts and the order page: a split order,
a merged parcel, and two platforms' equal order ids (docs/orders-and-parcels.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from monitor.clock import FixedClock
from monitor.daemon.tick import run_tick
from monitor.ingest.records import RecordParser
from monitor.store.tables import ALERTS, SHIPMENTS
from monitor.web.app import create_app
from monitor.web.auth import hash_token
from monitor.web.context import AppContext
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
TOKEN = "lead-token-123"
LEAD = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = make_config(  # pages read anonymously, as in the demo; writes need the token
    auth={"anonymous_read": True,
          "tokens": [{"name": "lead", "role": "lead", "token_sha256": hash_token(TOKEN)}]},
)  # fmt: skip
PAID = "2026-11-20 10:00"
SHIPPED = "2026-11-20 15:00"
PICKED = "2026-11-20 18:00"
SCAN = "2026-11-21 02:00"  # then silence: stalled in transit by 2026-11-23 02:00

ORDERS: list[dict[str, Any]] = [
    # X1 leaves in two parcels, written as one cell; the second carries X2 too (merged).
    {"order_id": "X1", "platform": "淘宝", "warehouse": "hz1", "paid_at": PAID, "carrier": "中通",
     "tracking_number": "73100000000903，73100000000904", "shipped_at": SHIPPED,
     "province": "江苏", "picked_up_at": PICKED, "last_event_at": SCAN, "status": "运输中"},
    {"order_id": "X2", "platform": "淘宝", "warehouse": "hz1", "paid_at": "2026-11-20 09:00",
     "carrier": "中通", "tracking_number": "73100000000904", "shipped_at": SHIPPED,
     "province": "江苏", "picked_up_at": PICKED, "last_event_at": SCAN, "status": "运输中"},
    # Two platforms issued the same number; neither has shipped.
    {"order_id": "1001", "platform": "淘宝", "warehouse": "hz1", "paid_at": PAID},
    {"order_id": "1001", "platform": "拼多多", "warehouse": "hz1", "paid_at": PAID},
]  # fmt: skip


@pytest.fixture
def client(engine: Engine) -> Any:
    ctx = AppContext(engine, CONFIG, FixedClock(NOW))
    with TestClient(create_app(ctx)) as client:
        posted = client.post("/api/v1/shipments", json=ORDERS, headers=LEAD)
        assert posted.status_code == 200, posted.text
        body = posted.json()
        assert (body["inserted"], body["parcels"]["inserted"], body["rejected"]) == (4, 2, [])
        yield client


def test_an_order_comes_with_its_parcels_and_their_events(client: TestClient) -> None:
    order = client.get("/api/v1/shipments/X1", headers=LEAD).json()
    assert order["order_id"] == "X1" and order["platform"] == "taobao"
    assert order["shipped_at"] == "2026-11-20T07:00:00+00:00"
    numbers = [p["tracking_number"] for p in order["parcels"]]
    assert numbers == ["73100000000903", "73100000000904"]
    merged = order["parcels"][1]
    assert merged["orders"] == ["X1", "X2"] and merged["carrier"] == "zto"
    assert [e["raw_text"] for e in merged["events"]] == ["揽收（导入）", "物流更新（导入）"]
    assert "content_hash" not in order and "poll_lease_until" not in merged
    # The one-parcel-per-order fields still answer, from the first parcel.
    assert (order["tracking_number"], order["status"]) == ("73100000000903", "in_transit")


def test_an_id_two_platforms_share_needs_the_platform(client: TestClient) -> None:
    ambiguous = client.get("/api/v1/shipments/1001", headers=LEAD)
    assert ambiguous.status_code == 409
    assert ambiguous.json()["platforms"] == ["pinduoduo", "taobao"]
    assert "?platform=" in ambiguous.json()["error"]
    pdd = client.get("/api/v1/shipments/1001", params={"platform": "pinduoduo"}, headers=LEAD)
    assert pdd.status_code == 200 and pdd.json()["platform"] == "pinduoduo"
    assert pdd.json()["parcels"] == [] and pdd.json()["status"] == "awaiting_shipment"
    page = client.get("/parcels/1001", headers=LEAD)
    assert page.status_code == 409 and "/parcels/1001?platform=pinduoduo" in page.text


def test_alerts_are_keyed_by_order_and_by_parcel(engine: Engine, client: TestClient) -> None:
    run_tick(engine, CONFIG, NOW)
    with engine.connect() as conn:
        alerts = [dict(r._mapping) for r in conn.execute(select(ALERTS))]
        merged_id = conn.execute(
            select(SHIPMENTS.c.id).where(SHIPMENTS.c.tracking_number == "73100000000904")
        ).scalar_one()
    stalled = [a for a in alerts if a["kind"] == "stalled"]
    # One per parcel: the split order's two parcels are two alerts, the merged parcel one.
    assert sorted(a["tracking_number"] for a in stalled) == ["73100000000903", "73100000000904"]
    shared = next(a for a in stalled if a["shipment_id"] == merged_id)
    assert shared["detail"]["orders"] == ["X1", "X2"] and shared["sales_order_id"] is None
    assert shared["fingerprint"] == f"stalled:parcel:{merged_id}"
    # The equal order ids of two platforms are two order alerts, not one.
    late = [a for a in alerts if a["kind"] == "ship_deadline_breached"]
    assert sorted(a["platform"] for a in late) == ["pinduoduo", "taobao"]
    assert len({a["fingerprint"] for a in late}) == 2 and all(
        a["shipment_id"] is None for a in late
    )
    export = client.get("/alerts.csv", params={"kind": "stalled"}).text.splitlines()
    assert export[0].lstrip("\ufeff").startswith("id,kind,severity,state,order_id,orders,")
    assert any(",X1 X2,73100000000904," in line for line in export[1:])
    again = run_tick(engine, CONFIG, NOW + timedelta(minutes=5))
    assert again.opened == 0  # re-detection updates, never duplicates


def test_the_order_page_shows_each_parcel_with_its_timeline(
    engine: Engine, client: TestClient
) -> None:
    run_tick(engine, CONFIG, NOW)
    page = client.get("/parcels/X1", params={"lang": "en"}, headers=LEAD)
    assert page.status_code == 200
    html = page.text
    assert "Parcels (2)" in html and "Parcel 1" in html and "Parcel 2" in html
    assert html.count('class="timeline"') == 2
    assert "Also in this parcel" in html and "/parcels/X2?platform=taobao" in html
    with engine.connect() as conn:  # every alert of both parcels (stalled, delayed ...)
        of_x1 = conn.execute(select(ALERTS.c.id).where(ALERTS.c.order_id.in_(["X1"]))).all()
    assert len(of_x1) >= 2 and html.count('class="alert ') == len(of_x1)
    assert "· 73100000000903 ·" in html and "· 73100000000904 ·" in html
    zh = client.get("/parcels/X2", params={"lang": "zh"}, headers=LEAD).text
    assert "包裹 (1)" in zh and "同包裹的其他订单" in zh


def test_a_posted_row_is_parsed_like_an_export_row() -> None:
    record = RecordParser(CONFIG, NOW).parse(ORDERS[0])
    assert record.tracking_numbers == ("73100000000903", "73100000000904")
