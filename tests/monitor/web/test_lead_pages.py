"""The warehouse lead's working day in Debian's Chromium, at a desk (1440 px) and on a phone
(390 px), in Chinese and English: sign in with the demo's `lead` login, work the queue (act on
an alert, bulk-assign, "assigned to me"), open a parcel, see resolved alerts leave without a
reload; never a raw enum or an ISO-8601 UTC time in what the page shows. Screenshots are kept
under test-artifacts/ for a person to look at."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from alerts.model import Action, AlertKind, AlertState, Severity
from carriers.registry import CARRIERS
from carriers.status import SUB_REASONS, ParcelStatus
from monitor.alert_queue import AlertFilter, act, list_alerts
from monitor.clock import FixedClock
from monitor.config import PLATFORMS
from monitor.evidence.pack import verify
from monitor.web.app import create_app
from monitor.web.context import AppContext
from tests.monitor.web.lead_shop import NOW, PASSWORD, lead_config, seed
from tests.support.paths import ARTIFACTS

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]00:?00)|"
                     r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")  # fmt: skip
# English words among the codes (stalled, lost, returned, open ...) are fair in English text;
# codes with an underscore, platform and carrier codes never are, nor any code in Chinese.
ENGLISH_WORDS = {"stalled", "delayed", "lost", "returned", "rejected", "damaged", "open",
                 "acknowledged", "resolved", "warning", "critical", "delivered", "refused",
                 "other", "held", "customs", "missorted", "exception", "unknown", "best"}  # fmt: skip
CODES = (
    {k.value for k in AlertKind} | {s.value for s in ParcelStatus} | set(SUB_REASONS)
    | set(PLATFORMS) | set(CARRIERS) | {s.value for s in Severity} | {s.value for s in AlertState}
    | {"system", "escalated", "deescalated", "superseded", "cleared", "poll", "push"}
)  # fmt: skip


def raw_codes_in(text: str, lang: str) -> list[str]:
    codes = CODES if lang == "zh" else CODES - ENGLISH_WORDS
    words = set(re.findall(r"(?<![\w-])[a-z][a-z0-9_]*(?![\w-])", text))
    return sorted(words & codes)


def assert_readable(page: Any, lang: str, where: str) -> None:
    text = page.inner_text("body")  # what is rendered: closed <details> are not
    assert not raw_codes_in(text, lang), f"{where}: raw codes {raw_codes_in(text, lang)}"
    assert not ISO_UTC.search(text), f"{where}: ISO time {ISO_UTC.search(text)}"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    from carriers.sim.runner import start_in_thread
    from monitor.store.db import make_engine, upgrade

    assert Path(CHROMIUM).exists(), "Chromium is missing: run scripts/install-system-deps.sh"
    folder = tmp_path_factory.mktemp("lead")
    url = f"sqlite:///{folder / 'lead.db'}"
    engine = make_engine(url)
    upgrade(engine)
    config = lead_config(url)
    seed(engine, config, folder / "orders.csv")
    server = start_in_thread(create_app(AppContext(engine, config, FixedClock(NOW))))
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield engine, server.url
    finally:
        server.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--font-render-hinting=none"],
        )  # fmt: skip
        yield chromium
        chromium.close()


def signed_in(browser: Any, base: str, width: int, lang: str, **options: Any) -> Any:
    context = browser.new_context(
        locale="zh-CN" if lang == "zh" else "en-GB",
        viewport={"width": width, "height": 900 if width > 640 else 844},
        device_scale_factor=1 if width > 640 else 2,
        **options,
    )
    page = context.new_page()
    page.goto(f"{base}/login?lang={lang}")
    page.fill("input[name=user]", "lead")
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_selector("#queue-rows")
    assert page.inner_text("#viewer") == "lead"
    return page


# A different kind for each run, so each finds alerts the runs before it left open.
KIND_FOR = {(1440, "zh"): "stalled", (390, "zh"): "no_pickup_scan", (1440, "en"): "delayed",
            (390, "en"): "rejected"}  # fmt: skip
WORDS = {
    "zh": {"acknowledged": "已确认", "history_ack": "确认", "opened": "系统 打开"},
    "en": {
        "acknowledged": "Acknowledged",
        "history_ack": "acknowledged",
        "opened": "System opened",
    },
}


@pytest.mark.parametrize("width", [1440, 390])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_lead_works_the_queue(shop: tuple[Engine, str], browser: Any, width: int,
                                  lang: str) -> None:  # fmt: skip
    _, base = shop
    page = signed_in(browser, base, width, lang)
    shot = f"{width}-{lang}"
    assert page.locator("#queue-rows tr[data-alert]").count() > 5
    assert_readable(page, lang, f"queue {shot}")
    page.screenshot(path=str(ARTIFACTS / f"lead-queue-{shot}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    if width < 640:
        assert page.locator("table.queue thead").is_hidden()  # cards, not a table
        box = page.locator("#queue-rows tr[data-alert] td.row-actions button").first.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width and box["height"] >= 30

    # Act on one alert, in its row, and stay on the same filtered queue.
    kind = KIND_FOR[width, lang]
    page.select_option("select[name=kind]", kind)
    page.click("#apply-filter")
    page.wait_for_url(re.compile(f"kind={kind}"))
    first = page.locator("#queue-rows tr[data-alert]").first
    alert_id = int(first.get_attribute("data-alert") or 0)
    if page.locator(f"#row-ack-{alert_id}").count():
        page.click(f"#row-ack-{alert_id}")
        page.wait_for_url(re.compile(f"kind={kind}"))
    row = page.locator(f"tr[data-alert='{alert_id}']")
    assert WORDS[lang]["acknowledged"] in row.inner_text()

    # Its parcel: the sentence, the localized facts and history; resolve it with a note.
    row.locator("td.order a").click()
    page.wait_for_selector(f"#alert-{alert_id}")
    section = page.locator(f"#alert-{alert_id}")
    assert section.locator("details.raw").count() == 1
    assert_readable(page, lang, f"parcel {shot}")
    page.fill(f"#alert-{alert_id} .actions input[name=note]", "已联系网点，补发")
    page.click(f"#resolve-{alert_id}")
    page.wait_for_load_state()
    history_text = page.inner_text(f"#alert-{alert_id} ol.history")
    assert WORDS[lang]["opened"] in history_text and WORDS[lang]["history_ack"] in history_text
    assert "已联系网点，补发" in history_text
    assert_readable(page, lang, f"parcel after resolve {shot}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTIFACTS / f"lead-parcel-{shot}.png"), full_page=True)

    page.click("header nav a[href='/today']")
    page.wait_for_selector("#to-ship")
    page.select_option("select[name=warehouse]", "gz1")
    page.click("#pick-warehouse")
    page.wait_for_url(re.compile(r"warehouse=gz1"))
    assert page.locator("#by-kind tbody tr").count() > 0
    assert page.locator("#no-pickup tbody tr").count() > 0
    assert_readable(page, lang, f"today {shot}")
    page.screenshot(path=str(ARTIFACTS / f"lead-today-{shot}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll

    page.click("header nav a[href='/scorecards']")
    page.wait_for_selector("table.card")
    page.goto(f"{base}/scorecards?week=2026-W47")
    assert "2026-W47" in page.inner_text("h1")
    assert_readable(page, lang, f"scorecard {shot}")
    page.screenshot(path=str(ARTIFACTS / f"lead-scorecard-{shot}.png"), full_page=True)
    page.context.close()


def test_bulk_assign_and_assigned_to_me_in_the_url(shop: tuple[Engine, str], browser: Any) -> None:
    _, base = shop
    page = signed_in(browser, base, 1440, "en")
    page.goto(f"{base}/?kind=delayed")
    boxes = page.locator("#queue-rows input[name=ids]")
    assert boxes.count() >= 2
    chosen = [boxes.nth(i).get_attribute("value") for i in range(2)]
    for i in range(2):
        boxes.nth(i).check()
    page.click("#bulk-assign")  # the name box holds the lead's own name: "assign to me"
    page.wait_for_url(re.compile(r"kind=delayed"))
    page.check("#mine")
    page.click("#apply-filter")
    page.wait_for_url(re.compile(r"mine=1"))
    assert "kind=delayed" in page.url  # the filters live in the URL
    shown = {
        r.get_attribute("data-alert") for r in page.locator("#queue-rows tr[data-alert]").all()
    }
    assert shown == set(chosen)
    assert_readable(page, "en", "mine")
    page.context.close()


def test_bulk_evidence_downloads_a_pack_per_order(shop: tuple[Engine, str], browser: Any) -> None:
    """The queue's bulk action for appeals: the selected alerts' orders, one pack each."""
    _, base = shop
    page = signed_in(browser, base, 1440, "zh")
    page.goto(f"{base}/?kind=delayed")  # parcel alerts: each parcel's orders
    boxes = page.locator("#queue-rows input[name=ids]")
    assert boxes.count() >= 2
    for i in range(2):
        boxes.nth(i).check()
    with page.expect_download() as download:
        page.click("#bulk-evidence")
    path = download.value.path()
    with zipfile.ZipFile(path) as archive:
        packs = [n for n in archive.namelist() if n.endswith(".zip")]
        assert len(packs) >= 2  # a merged parcel brings each of its orders
        assert all(verify(archive.read(name)) == [] for name in packs)
    page.context.close()


def test_the_queue_is_live_and_works_without_javascript(shop: tuple[Engine, str],
                                                        browser: Any) -> None:  # fmt: skip
    engine, base = shop
    page = signed_in(browser, base, 1440, "zh")
    page.goto(f"{base}/?kind=damaged")
    rows = page.locator("#queue-rows tr[data-alert]")
    before = rows.count()
    assert before >= 2
    gone = int(rows.first.get_attribute("data-alert") or 0)
    act(engine, gone, Action.RESOLVE, "小李", NOW + timedelta(minutes=1), note="已补发")
    page.wait_for_selector(f"tr[data-alert='{gone}']", state="detached", timeout=25_000)
    assert page.locator("#live-note").is_visible() and "1" in page.inner_text("#live-note")
    assert page.inner_text("#total") == str(before - 1)
    page.screenshot(path=str(ARTIFACTS / "lead-queue-live.png"), full_page=True)
    page.context.close()

    plain = signed_in(browser, base, 390, "en", java_script_enabled=False)
    plain.goto(f"{base}/?kind=damaged")
    target = int(plain.locator("#queue-rows tr[data-alert]").first.get_attribute("data-alert") or 0)
    plain.click(f"#row-resolve-{target}")
    plain.wait_for_url(re.compile(r"kind=damaged"))
    assert plain.locator(f"tr[data-alert='{target}']").count() == 0
    shown = int(plain.inner_text("#total"))  # "1 alert", "2 alerts"
    assert plain.inner_text("#total-word") == ("alert" if shown == 1 else "alerts")
    state = list_alerts(engine, AlertFilter(state=None, kind="damaged"), 100)
    assert {a["id"]: a["state"] for a in state}[target] == "resolved"
    plain.context.close()
