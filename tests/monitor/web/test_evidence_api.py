"""Evidence and penalties over HTTP, and from the pages: one order's pack in each format, the
409 for an id two platforms share, a zip for the orders of chosen alerts (the queue's bulk
action), a penalty export posted and judged (docs/evidence-and-penalties.md)."""

from __future__ import annotations

import io
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from monitor.daemon.tick import run_tick
from monitor.evidence.pack import verify
from monitor.web.app import create_app
from monitor.web.auth import hash_token
from tests.support.evidence import NOW, import_rows, penalty_export, shop

TOKEN = "lead-token-123"
LEAD = {"Authorization": f"Bearer {TOKEN}"}
AUTH = {"anonymous_read": True,
        "tokens": [{"name": "lead", "role": "lead", "token_sha256": hash_token(TOKEN)}]}  # fmt: skip


@pytest.fixture
def daemon(tmp_path: Path) -> Any:
    return shop(tmp_path, auth=AUTH)


@pytest.fixture
def client(daemon: Any) -> Any:
    with TestClient(create_app(daemon.ctx)) as client:
        yield client


def test_one_order_in_each_format(client: TestClient) -> None:
    pdf = client.get("/api/v1/orders/P3/evidence")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert 'filename="evidence-pinduoduo-P3.pdf"' in pdf.headers["content-disposition"]
    html = client.get("/api/v1/orders/P3/evidence", params={"format": "html", "lang": "en"})
    assert html.headers["content-type"].startswith("text/html")
    assert "pickup scan 11-24 14:00" in html.text
    pack = client.get("/api/v1/orders/P3/evidence", params={"format": "zip"})
    assert verify(pack.content) == []
    late = client.get("/api/v1/orders/P4/evidence",
                      params={"format": "html", "kind": "late_pickup"})  # fmt: skip
    assert "<strong>合理</strong>" in late.text


def test_unknown_and_ambiguous_orders(client: TestClient, daemon: Any) -> None:
    assert client.get("/api/v1/orders/NOPE/evidence").status_code == 404
    import_rows(daemon, [{"order_id": "P3", "platform": "淘宝", "warehouse": "hz1",
                          "paid_at": "2026-11-24 08:00"}])  # fmt: skip
    both = client.get("/api/v1/orders/P3/evidence", params={"format": "html"})
    assert both.status_code == 409 and both.json()["platforms"] == ["pinduoduo", "taobao"]
    one = client.get("/api/v1/orders/P3/evidence",
                     params={"format": "html", "platform": "taobao"})  # fmt: skip
    assert one.status_code == 200 and "截至" in one.text  # not shipped yet


def test_packs_for_the_orders_of_alerts(client: TestClient, daemon: Any) -> None:
    run_tick(daemon.engine, daemon.ctx.config, NOW)
    alerts = client.get("/api/v1/alerts", params={"limit": 100}).json()["alerts"]
    wanted = [a["id"] for a in alerts if a["order_id"] in ("P1", "P4")]
    assert len(wanted) == 2  # parcel alerts (stalled after the pickup scan)
    answer = client.post("/api/v1/evidence", json={"alerts": wanted})
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = archive.namelist()
        assert names == ["evidence-pinduoduo-P1.zip", "evidence-pinduoduo-P4.zip"]
        assert all(verify(archive.read(name)) == [] for name in names)
    nothing = client.post("/api/v1/evidence", json={"orders": [{"order_id": "NOPE"}]})
    assert nothing.status_code == 404


def test_a_penalty_export_posted_and_judged(client: TestClient, tmp_path: Path) -> None:
    body = penalty_export(tmp_path / "export.csv").read_bytes()
    refused = client.post("/api/v1/penalties", content=body)
    assert refused.status_code == 401  # writes need a lead
    posted = client.post("/api/v1/penalties", content=body, headers=LEAD,
                         params={"platform": "pinduoduo", "name": "export.csv"})  # fmt: skip
    assert posted.status_code == 200, posted.text
    assert posted.json()["added"] == 8 and posted.json()["unmapped_kinds"] == ["虚假签收"]
    report = client.get("/api/v1/penalties").json()
    assert report["totals"]["contestable"] == {"lines": 3, "amount": 26.0}
    p4 = next(line for line in report["lines"] if line["order_id"] == "P4")
    assert (p4["outcome"], p4["at_fault"], p4["carrier"]) == ("fair", "carrier", "zto")
    packs = client.get("/api/v1/penalties/evidence.zip")
    with zipfile.ZipFile(io.BytesIO(packs.content)) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".zip")]) == 3
    bad = client.post("/api/v1/penalties", content="订单号\nA1\n".encode(), headers=LEAD)
    assert bad.status_code == 400 and "no column for kind" in bad.json()["error"]


def test_the_order_page_links_its_evidence(client: TestClient) -> None:
    page = client.get("/parcels/P1", params={"lang": "en"})
    assert page.status_code == 200
    assert "/api/v1/orders/P1/evidence?platform=pinduoduo&amp;lang=en&amp;format=pdf" in page.text


class _NoPango(types.ModuleType):
    """What importing WeasyPrint does on a machine without the Pango library."""

    def __getattr__(self, name: str) -> Any:
        raise OSError("cannot load library 'libpango-1.0-0': not found")


def test_without_pango_a_pdf_is_refused_clearly_and_html_still_works(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", _NoPango("weasyprint"))
    pdf = client.get("/api/v1/orders/P3/evidence")
    assert pdf.status_code == 503
    assert "libpango-1.0-0" in pdf.json()["error"] and "HTML" in pdf.json()["error"]
    assert client.get("/api/v1/orders/P3/evidence", params={"format": "html"}).status_code == 200
    assert client.post("/api/v1/evidence", json={"orders": [{"order_id": "P3"}]}).status_code == 503
