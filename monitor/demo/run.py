"""`parcelwatch demo`: the whole product on one machine, from zero to a working alert queue.

A seeded sample shop (orders across three warehouses, platforms, carriers and provinces) is
imported through the real import path; its shipped parcels are handed to the carrier
simulator, which plays their journeys on an accelerated clock and speaks Kuaidi100's wire
format over real HTTP on loopback. The daemon subscribes them, receives the pushes, polls
before thresholds, runs detection and serves the API, /metrics and /readyz, exactly as
`parcelwatch run` does against real carriers.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console

from carriers.registry import CARRIERS
from carriers.sim.clock import AcceleratedClock
from carriers.sim.credentials import SIM_17TRACK_KEY, SIM_CUSTOMER, SIM_KEY
from carriers.sim.model import SimWorld
from carriers.sim.profiles import HubHold
from carriers.sim.runner import start_in_thread
from carriers.sim.server import create_app as create_sim_app
from monitor.config import Config, parse_config
from monitor.daemon.carrier_clients import build_clients
from monitor.daemon.service import Daemon
from monitor.demo.penalties import penalty_sample, write_penalties
from monitor.demo.sample import DEMO_WAREHOUSES, generate_shop, write_csv
from monitor.evidence.penalties import store_lines
from monitor.ingest import import_file
from monitor.ingest.penalty_file import read_penalties
from monitor.store.silences import create_silence
from monitor.web.auth import hash_token
from monitor.web.sessions import hash_password

DEMO_DIR = Path("demo")
# History an ERP export would not have for a live shop: the simulator produces it instead.
TRACKING_HISTORY = ("揽收时间", "签收时间", "最后更新时间", "物流状态")
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo warehouses' zone
SIM_CARRIERS = ("sf", "zto", "yto", "yunda", "sto", "jt", "ems", "jd", "debang")


def demo_config(db_url: str, *, sim_url: str, public_url: str, token: str, password: str) -> Config:
    warehouses: list[dict[str, Any]] = [
        {k: v for k, v in w.items() if k != "city"} for w in DEMO_WAREHOUSES
    ]
    carriers = {
        code: {"adapter": "sim", "base_url": sim_url, "rate_per_second": 100}
        for code in SIM_CARRIERS
        if code in CARRIERS
    }
    return parse_config(
        {
            "database": {"url": db_url},
            "warehouses": warehouses,
            "carriers": carriers,
            "auth": {
                "anonymous_read": True,
                "tokens": [
                    {"name": "demo-lead", "role": "lead", "token_sha256": hash_token(token)}
                ],
                # The sign-in the demo prints: `lead` with this run's password.
                "users": [
                    {"name": "lead", "role": "lead", "password_hash": hash_password(password)}
                ],
            },
            "daemon": {
                "public_url": public_url,
                "poll_interval_seconds": 2,
                "subscribe_interval_seconds": 2,
                "detect_interval_seconds": 3,
                # Carrier and hub incidents are judged by the full reconciliation: every
                # 30 s here (5 simulated hours), so the held hub shows within a minute.
                "reconcile_interval_seconds": 30,
            },
        },
        "<demo config>",
    )


PICKUP_DUE = timedelta(hours=24)  # Pinduoduo's fake-shipment window (docs/rules.md)


def demo_holds(start: datetime) -> tuple[HubHold, ...]:
    """ZTO's Shanghai Qingpu hub holds parcels from five days before the demo starts until
    ten days after (24 minutes of the demo at its default speed), so the demo shows one hub
    incident: from the start the parcels it has held for over 48 h are stalled, all with
    that hub as their last scan, and their notifications wait under the incident; when the
    hub clears, the incident resolves and what it held is announced once."""
    return (HubHold("zto", "上海青浦", start - timedelta(days=5), start + timedelta(days=10)),)


def _phone(order_id: str) -> str:
    """A stable fake receiver phone (Kuaidi100 wants one for SF and ZTO)."""
    digits = int(hashlib.sha1(order_id.encode()).hexdigest()[:8], 16) % 10**8
    return f"138{digits:08d}"


def prepare_shop(
    now: datetime, orders: int, seed: int, world: SimWorld, export: Path
) -> list[dict[str, str]]:
    """Write the shop's order export and hand its shipped parcels to the simulator."""
    rows = generate_shop(seed=seed, orders=orders, now=now)
    origins = {w["id"]: w["province"] for w in DEMO_WAREHOUSES}
    registered: set[str] = set()  # a merged parcel is one journey, whatever orders it carries
    for row in rows:
        for column in TRACKING_HISTORY:
            row[column] = ""
        row["收货人电话"] = _phone(row["订单编号"])
        if row["快递单号"] and row["发货时间"] and row["快递单号"] not in registered:
            registered.add(row["快递单号"])
            shipped = datetime.fromisoformat(row["发货时间"]).replace(tzinfo=SHANGHAI)
            world.register(
                row["快递单号"], row["快递公司"], origins[row["仓库"]], row["收货省份"],
                handed_over_at=shipped, phone=row["收货人电话"],
            )  # fmt: skip
    write_csv(rows, export)
    return rows


def run_demo(
    out: Console,
    *,
    db_url: str | None,
    port: int = 8000,
    sim_port: int = 9000,
    speed: float = 600.0,
    orders: int = 3000,
    seed: int = 7,
    host: str = "127.0.0.1",
) -> None:
    DEMO_DIR.mkdir(exist_ok=True)
    if db_url is None:
        database = DEMO_DIR / "parcelwatch-demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)  # a fresh shop every run
        db_url = f"sqlite:///{database}"
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    clock = AcceleratedClock(start, speed)
    world = SimWorld(seed, holds=demo_holds(start))
    token = secrets.token_urlsafe(18)
    password = secrets.token_urlsafe(9)

    sim = start_in_thread(
        create_sim_app(
            world, clock, kuaidi100_customer=SIM_CUSTOMER, kuaidi100_key=SIM_KEY,
            track17_key=SIM_17TRACK_KEY, push_interval=1.0,
        ),
        host, sim_port,
    )  # fmt: skip
    public_url = f"http://{host}:{port}"
    config = demo_config(
        db_url, sim_url=sim.url, public_url=public_url, token=token, password=password
    )
    export = DEMO_DIR / "sample-orders.csv"
    rows = prepare_shop(start, orders, seed, world, export)
    penalties = DEMO_DIR / "sample-penalties.csv"
    plans = [world.get(r["快递单号"]) for r in rows if r["快递单号"]]
    late = {p.number for p in plans if p and p.picked_up_at - p.handed_over_at > PICKUP_DUE}
    write_penalties(penalty_sample(rows, seed=seed, now=start, picked_late=late), penalties)

    async def main() -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(20.0)) as http:
            daemon = Daemon(config, clock, build_clients(config, http), http)
            report = import_file(daemon.engine, config, export, clock.now())
            # One silence to show what it does: EMS's alerts open but notify nothing.
            create_silence(daemon.engine, {"carrier": "ems"}, clock.now(),
                           clock.now() + timedelta(days=7), "演示：EMS 延误已知，暂不通知",
                           "demo", clock.now())  # fmt: skip
            charged = read_penalties(penalties, config.penalties)
            store_lines(daemon.engine, charged.lines, clock.now())
            out.print(
                f"shop: {report.counts.inserted} orders imported from {export}; "
                f"{len(world)} parcels handed to the carrier simulator at {sim.url}; "
                f"{len(charged.lines)} platform charges from {penalties} "
                "(judged by `parcelwatch penalties report`)",
                highlight=False,
            )
            out.print(
                f"parcelwatch demo: {public_url}  (clock ×{speed:g}: one real second is "
                f"{speed / 60:g} simulated minutes; Ctrl-C stops)\n"
                f"  alert queue       {public_url}/   (sign in as lead / {password})\n"
                f"  alert queue API   {public_url}/api/v1/alerts\n"
                f"  metrics           {public_url}/metrics\n"
                f"  ready?            {public_url}/readyz\n"
                f"  lead API token    {token}\n"
                f"  from a terminal   PARCELWATCH_DATABASE_URL={db_url} parcelwatch alerts list\n"
                f"  appeal evidence   PARCELWATCH_DATABASE_URL={db_url} parcelwatch penalties "
                "report",
                highlight=False,
            )
            await daemon.server(host, port).serve()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        out.print("demo stopped", highlight=False)
