"""A shop whose orders met every fate a platform charges for, each parcel's scans arriving as
signed Kuaidi100 pushes through the real webhook (so their bodies are kept and linked as in
production), and a penalty export whose lines have a known truth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi.testclient import TestClient

from carriers.kuaidi100.parse import push_sign
from monitor.clock import FixedClock
from monitor.daemon.carrier_clients import build_clients
from monitor.daemon.service import Daemon
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.web.app import create_app
from tests.support.config import make_config
from tests.support.paths import CARRIER_FIXTURES

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
SALT = "salt-1"
ENV = {
    "PARCELWATCH_KUAIDI100_CUSTOMER": "C1",
    "PARCELWATCH_KUAIDI100_KEY": "K1",
    "PARCELWATCH_KUAIDI100_SALT": SALT,
}
FORM = {"content-type": "application/x-www-form-urlencoded"}
CARRIERS = {"zto": {"adapter": "kuaidi100"}, "yto": {"adapter": "kuaidi100"}}
K100_CODES = {"zto": "zhongtong", "yto": "yuantong"}


def signed(param: dict[str, Any]) -> bytes:
    text = json.dumps(param, ensure_ascii=False)
    return urlencode({"param": text, "sign": push_sign(text, SALT)}).encode()


def k100_push(number: str, carrier: str, scans: list[tuple[str, str, str | None]]) -> bytes:
    """A polling push with these (local time, text, status code) scans, newest first as
    Kuaidi100 sends them."""
    data = [{"time": t, "ftime": t, "context": text, "status": None, "statusCode": code}
            for t, text, code in sorted(scans, reverse=True)]  # fmt: skip
    return signed({"status": "polling", "message": "", "lastResult": {
        "message": "ok", "nu": number, "ischeck": "0", "com": K100_CODES[carrier],
        "status": "200", "state": data[0]["statusCode"] or "0", "data": data}})  # fmt: skip


def real_yto_push() -> bytes:
    """A real YTO push (tests/fixtures/carriers/real/kuaidi100/README.md), signed here."""
    path = CARRIER_FIXTURES / "real" / "kuaidi100" / "yto_push_polling_nulls.json"
    return signed(json.loads(path.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Case:
    """One order, its parcel's scans, and the charge a platform made on it, with the
    judgement the evidence must give."""

    order_id: str
    paid_at: str
    shipped_at: str | None
    carrier: str
    number: str | None
    scans: list[tuple[str, str, str | None]]
    charge: str  # the export's wording
    amount: float
    outcome: str
    at_fault: str | None = None
    ship_deadline_at: str | None = None
    province: str = "四川"


CASES = [
    # Shipped a day before the 48 h promise ran out: the late-shipment charge is contestable.
    Case("P1", "2026-11-24 10:00", "2026-11-25 09:00", "zto", "ZT1001",
         [("2026-11-25 16:00", "【杭州市】中通快递 已揽收", "1")], "延迟发货", 3, "contestable"),
    # Uploaded three hours after the promise, scanned later still: fair, the seller's.
    Case("P2", "2026-11-22 09:00", "2026-11-24 12:00", "zto", "ZT1002",
         [("2026-11-24 18:00", "【杭州市】中通快递 已揽收", "1")], "延迟发货", 3, "fair", "seller"),
    # Scanned two hours after the upload: the fake-shipment charge is contestable.
    Case("P3", "2026-11-24 08:00", "2026-11-24 12:00", "yto", "YT2003",
         [("2026-11-24 14:00", "【杭州市】圆通速递 已揽收", "1")], "虚假发货", 20, "contestable"),
    # Scanned 30 hours after the upload: fair, and the carrier's (the scorecard's cost).
    Case("P4", "2026-11-24 08:00", "2026-11-24 12:00", "zto", "ZT1004",
         [("2026-11-25 18:00", "【杭州市】中通快递 已揽收", "1")], "揽收超时", 5, "fair", "carrier"),
    # Never scanned: fair, and nobody can be blamed from the scans alone.
    Case("P5", "2026-11-24 08:00", "2026-11-24 12:00", "zto", "ZT1005", [], "虚假发货超时", 20,
         "fair"),
    # The platform's own deadline from its export, met by the upload.
    Case("P6", "2026-11-24 08:00", "2026-11-24 20:00", "yto", "YT2006",
         [("2026-11-24 21:00", "【杭州市】圆通速递 已揽收", "1")], "发货超时", 3, "contestable",
         ship_deadline_at="2026-11-25 08:00"),
]  # fmt: skip
# Lines whose order the store does not hold, or whose charge parcelwatch does not judge.
UNKNOWN_LINES = [("P404", "延迟发货", 3.0), ("P1", "虚假签收", 10.0)]


def make_daemon(
    tmp_path: Path, now: datetime = NOW, url: str | None = None, **config: Any
) -> Daemon:
    config = make_config(url or f"sqlite:///{tmp_path / 'pw.db'}", carriers=CARRIERS,
                         platforms={"pinduoduo": {"ship_promise_hours": 48}}, **config)  # fmt: skip
    return Daemon(config, FixedClock(now), build_clients(config, httpx.AsyncClient(), ENV))


def import_rows(daemon: Daemon, rows: list[dict[str, str]]) -> None:
    raw = [RawRow(line, row) for line, row in enumerate(rows, start=2)]
    report = ingest_rows(daemon.engine, daemon.ctx.config, raw, daemon.ctx.clock.now())
    assert not report.rejected, report.rejected


def push(daemon: Daemon, *bodies: bytes) -> None:
    """Through the real webhook: verified, kept as received and linked, then stored."""
    with TestClient(create_app(daemon.ctx)) as client:
        for body in bodies:
            answer = client.post("/webhooks/kuaidi100", content=body, headers=FORM)
            assert answer.status_code == 200, answer.text


def shop(tmp_path: Path, url: str | None = None, **config: Any) -> Daemon:
    """The daemon with every case's order imported and its scans pushed."""
    daemon = make_daemon(tmp_path, NOW, url, **config)
    rows = []
    for case in CASES:
        row = {"order_id": case.order_id, "platform": "拼多多", "warehouse": "hz1",
               "paid_at": case.paid_at, "carrier": case.carrier, "province": case.province,
               "amount": "59.00"}  # fmt: skip
        if case.number:
            row |= {"tracking_number": case.number, "shipped_at": str(case.shipped_at)}
        if case.ship_deadline_at:
            row["ship_deadline_at"] = case.ship_deadline_at
        rows.append(row)
    import_rows(daemon, rows)
    push(daemon, *(k100_push(c.number, c.carrier, c.scans) for c in CASES if c.number and c.scans))
    return daemon


def penalty_export(path: Path) -> Path:
    """The platform's export, as its merchant backend writes it: Chinese headers, GB18030."""
    lines = ["订单号,违规类型,赔付金额(元),处罚时间"]
    for case in CASES:
        lines.append(f"{case.order_id},{case.charge},{case.amount:.2f},2026-11-27 10:00:00")
    for order_id, charge, amount in UNKNOWN_LINES:
        lines.append(f"{order_id},{charge},{amount:.2f},2026-11-27 10:00:00")
    path.write_bytes(("\n".join(lines) + "\n").encode("gb18030"))
    return path
