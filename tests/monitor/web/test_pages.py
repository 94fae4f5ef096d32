"""The warehouse lead's pages: access control, CSRF, escaping, filters, export, languages;
then the same flows in a real headless Chromium (Debian's package, driven by Playwright
without any browser download), with screenshots kept under test-artifacts/."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from carriers.base import CarrierEvent, TrackingUpdate
from carriers.status import ParcelStatus
from monitor.alert_queue import AlertFilter, history, list_alerts
from monitor.clock import FixedClock
from monitor.config import Config
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.tracking import apply_updates
from monitor.web.app import create_app
from monitor.web.context import AppContext
from monitor.web.sessions import hash_password
from tests.support.config import make_config
from tests.support.paths import ARTIFACTS

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=SH)
XSS = '<script>document.title="pwned"</script>快件已到达【杭州转运中心】'


def config(anonymous_read: bool = False) -> Config:
    return make_config(
        auth={
            "anonymous_read": anonymous_read,
            "users": [
                {"name": "小王", "role": "lead", "password_hash": hash_password("lead-pass")},
                {"name": "guest", "role": "viewer", "password_hash": hash_password("view-pass")},
            ],
        }
    )


def populate(engine: Engine, cfg: Config) -> None:
    rows = [
        RawRow(1, {"order_id": "TB1001", "platform": "淘宝", "warehouse": "hz1",
                   "paid_at": "2026-11-19 09:00", "carrier": "zto", "tracking_number": "7301",
                   "shipped_at": "2026-11-19 12:00", "province": "四川"}),
        RawRow(2, {"order_id": "PDD2002", "platform": "拼多多", "warehouse": "gz1",
                   "paid_at": "2026-11-20 09:00", "carrier": "jt", "tracking_number": "JT2",
                   "shipped_at": "2026-11-20 12:00", "province": "新疆"}),
        RawRow(3, {"order_id": "=HYPERLINK(1)", "warehouse": "hz1",
                   "paid_at": "2026-11-19 08:00", "province": "浙江"}),
    ]  # fmt: skip
    assert not ingest_rows(engine, cfg, rows, NOW).rejected
    scan = CarrierEvent(NOW - timedelta(days=2, hours=12), ParcelStatus.IN_TRANSIT, XSS, "1002")
    apply_updates(
        engine,
        [TrackingUpdate("7301", "zto", ParcelStatus.IN_TRANSIT, (scan,))],
        NOW,
    )
    run_tick(engine, cfg, NOW)


def client_for(engine: Engine, cfg: Config) -> TestClient:
    return TestClient(create_app(AppContext(engine, cfg, FixedClock(NOW))))


def login_token(client: TestClient) -> str:
    """The sign-in form's own CSRF token (the form is protected like every other)."""
    return csrf_of(client.get("/login").text)


def sign_in(client: TestClient, user: str, password: str) -> None:
    response = client.post("/login", data={"user": user, "password": password, "next": "/",
                                           "csrf": login_token(client)},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def test_reads_need_a_sign_in_unless_opened_to_anonymous(sqlite_engine: Engine) -> None:
    cfg = config()
    populate(sqlite_engine, cfg)
    with client_for(sqlite_engine, cfg) as client:
        first = client.get("/", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"].startswith("/login")
        wrong = client.post("/login", data={"user": "小王", "password": "nope",
                                            "csrf": login_token(client)})  # fmt: skip
        assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
        sign_in(client, "小王", "lead-pass")
        page = client.get("/")
        assert page.status_code == 200 and "小王" in page.text
    anonymous = config(anonymous_read=True)
    with client_for(sqlite_engine, anonymous) as client:
        page = client.get("/")
        assert page.status_code == 200 and "只读" in page.text
        assert 'name="csrf"' not in page.text  # no action forms for anonymous readers
        alert = list_alerts(sqlite_engine, AlertFilter(kind="stalled"))[0]
        posted = client.post(f"/alerts/{alert['id']}/action", data={"action": "ack"})
        assert posted.status_code == 403


def test_lead_acts_with_csrf_and_viewer_cannot(sqlite_engine: Engine) -> None:
    cfg = config()
    populate(sqlite_engine, cfg)
    stalled = list_alerts(sqlite_engine, AlertFilter(kind="stalled"))[0]
    with client_for(sqlite_engine, cfg) as client:
        sign_in(client, "小王", "lead-pass")
        page = client.get("/parcels/TB1001")
        token = csrf_of(page.text)
        path = f"/alerts/{stalled['id']}/action"
        forged = client.post(path, data={"action": "ack", "csrf": "forged"})
        assert forged.status_code == 403
        done = client.post(path, data={"action": "ack", "csrf": token, "next": "/parcels/TB1001"},
                           follow_redirects=False)  # fmt: skip
        assert done.status_code == 303 and done.headers["location"] == "/parcels/TB1001"
        evil = client.post(path, data={"action": "comment", "note": "x", "csrf": token,
                                       "next": "https://evil.example/"}, follow_redirects=False)  # fmt: skip
        assert evil.headers["location"] == "/"  # never redirected off-site
        client.post(path, data={"action": "resolve", "note": "补发", "csrf": token})
    steps = [(h["action"], h["actor"]) for h in history(sqlite_engine, stalled["id"])]
    assert steps == [("opened", "system"), ("acknowledged", "小王"), ("commented", "小王"),
                     ("resolved", "小王")]  # fmt: skip
    with client_for(sqlite_engine, cfg) as client:
        sign_in(client, "guest", "view-pass")
        page = client.get("/")
        assert page.status_code == 200 and 'name="csrf"' not in page.text
        other = list_alerts(sqlite_engine, AlertFilter(state="active"))[0]
        assert client.post(f"/alerts/{other['id']}/action",
                           data={"action": "ack", "csrf": "x"}).status_code == 403  # fmt: skip


def test_scan_text_is_escaped_and_filters_export_and_language_work(sqlite_engine: Engine) -> None:
    cfg = config(anonymous_read=True)
    populate(sqlite_engine, cfg)
    with client_for(sqlite_engine, cfg) as client:
        parcel = client.get("/parcels/TB1001").text
        assert "<script>document.title" not in parcel
        assert "&lt;script&gt;document.title" in parcel
        filtered = client.get("/", params={"kind": "no_pickup_scan", "province": "Xinjiang"})
        assert "PDD2002" in filtered.text and "TB1001" not in filtered.text
        english = client.get("/", params={"lang": "en"})
        assert "Exception queue" in english.text and english.cookies.get("lang") == "en"
        assert "Exception queue" in client.get("/").text  # the switch sticks (cookie)
        browser_zh = client.get("/", params={"lang": "zh"})
        assert "异常队列" in browser_zh.text
        export = client.get("/alerts.csv", params={"state": "all"})
        assert export.headers["content-type"].startswith("text/csv")
        assert export.text.startswith("\ufeffid,kind")
        assert "'=HYPERLINK(1)" in export.text  # formula injection defused
        assert client.get("/parcels/nope").status_code == 404


def test_bulk_acknowledge(sqlite_engine: Engine) -> None:
    cfg = config()
    populate(sqlite_engine, cfg)
    ids = [a["id"] for a in list_alerts(sqlite_engine, AlertFilter(state="open"))]
    with client_for(sqlite_engine, cfg) as client:
        sign_in(client, "小王", "lead-pass")
        token = csrf_of(client.get("/").text)
        done = client.post("/alerts/bulk", data={"action": "ack", "csrf": token,
                                                 "ids": [str(i) for i in ids[:2]]})  # fmt: skip
        assert done.status_code == 200
    states = {a["id"]: a["state"] for a in list_alerts(sqlite_engine, AlertFilter(state=None))}
    assert [states[i] for i in ids[:2]] == ["acknowledged", "acknowledged"]


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.slow
def test_in_a_real_browser(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from carriers.sim.runner import start_in_thread
    from monitor.store.db import make_engine, upgrade

    assert Path(CHROMIUM).exists(), "Chromium is missing: run scripts/install-system-deps.sh"
    engine = make_engine(f"sqlite:///{tmp_path / 'pages.db'}")
    upgrade(engine)
    cfg = config()
    populate(engine, cfg)
    server = start_in_thread(create_app(AppContext(engine, cfg, FixedClock(NOW))))
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update",
                      "--disable-sync"],
            )  # fmt: skip
            page = browser.new_page(locale="zh-CN", viewport={"width": 1280, "height": 900})
            page.goto(f"{server.url}/")
            assert "/login" in page.url
            page.fill("input[name=user]", "小王")
            page.fill("input[name=password]", "lead-pass")
            page.click("#sign-in")
            page.wait_for_selector("table.queue")
            assert page.inner_text("#viewer") == "小王"
            page.select_option("select[name=kind]", "stalled")
            page.click("#apply-filter")
            page.wait_for_url(re.compile(r"kind=stalled"))
            rows = page.locator("table.queue tbody tr")
            assert rows.count() == 1
            page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

            page.click("text=TB1001")
            page.wait_for_selector("ol.timeline")
            assert XSS in page.inner_text("ol.timeline")  # shown as text, never run
            assert page.title() != "pwned"
            stalled = list_alerts(engine, AlertFilter(kind="stalled"))[0]["id"]
            page.click(f"#ack-{stalled}")
            page.wait_for_selector(f"#alert-{stalled} .state")
            page.fill(f"#alert-{stalled} input[name=note]", "已联系中通网点，补发")
            page.click(f"#resolve-{stalled}")
            page.wait_for_load_state()
            history_text = page.inner_text(f"#alert-{stalled} ol.history")
            assert (
                "小王 确认" in history_text and "已联系中通网点，补发" in history_text
            )  # localized
            page.screenshot(path=str(ARTIFACTS / "parcel.png"), full_page=True)

            viewer = browser.new_page()
            viewer.goto(f"{server.url}/login")
            viewer.fill("input[name=user]", "guest")
            viewer.fill("input[name=password]", "view-pass")
            viewer.click("#sign-in")
            viewer.goto(f"{server.url}/parcels/PDD2002")
            assert viewer.locator("div.actions").count() == 0  # nothing to click
            browser.close()
    finally:
        server.stop()
        engine.dispose()
    assert (ARTIFACTS / "queue.png").stat().st_size > 10_000


def test_scorecard_page_and_api(sqlite_engine: Engine) -> None:
    cfg = config(anonymous_read=True)
    populate(sqlite_engine, cfg)
    with client_for(sqlite_engine, cfg) as client:
        card = client.get("/api/v1/scorecards", params={"week": "2026-W47"}).json()
        assert card["week"] == "2026-W47" and "rows" in card and "recommendations" in card
        assert client.get("/api/v1/scorecards", params={"week": "2026-W99"}).status_code == 400
        page = client.get("/scorecards", params={"week": "2026-W47"})
        assert page.status_code == 200 and "2026-W47" in page.text
