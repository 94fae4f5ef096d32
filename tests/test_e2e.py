"""End to end over real HTTP on loopback: the carrier simulator and the daemon's web app each
on their own port, the real Kuaidi100 adapter in between, one shared manual clock.

1. A simulated stall opens a `stalled` alert, and the scan that ends it resolves the alert.
2. With about a quarter of all calls and pushes faulty (429, 5xx, malformed bodies,
   duplicates, out-of-order and badly signed pushes), no event is lost: the store ends up
   with exactly the simulator's ground truth, parcel by parcel.
3. `parcelwatch demo` as a user runs it: alerts of several kinds within a minute, a clean
   stop on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from carriers.sim.clock import ManualClock
from carriers.sim.credentials import SIM_17TRACK_KEY, SIM_CUSTOMER, SIM_KEY
from carriers.sim.faults import Faults
from carriers.sim.model import SimWorld
from carriers.sim.plan import ParcelPlan
from carriers.sim.runner import RunningServer, start_in_thread
from carriers.sim.server import create_app as create_sim_app
from monitor.alert_queue import AlertFilter, list_alerts
from monitor.config import Config, parse_config
from monitor.daemon.carrier_clients import build_clients
from monitor.daemon.poller import Poller
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.db import make_engine, upgrade
from monitor.store.models import Shipment, TrackingEvent
from monitor.web.app import create_app
from monitor.web.context import AppContext

pytestmark = pytest.mark.slow
T0 = datetime(2026, 9, 7, 2, 0, tzinfo=UTC)  # a quiet week: no seasonal shock
PHONE = "13800001234"


def config_for(db_url: str, sim_url: str, daemon_url: str | None) -> Config:
    carriers = ("sf", "zto", "yto", "yunda", "sto", "jt", "ems", "jd", "debang")
    return parse_config(
        {
            "database": {"url": db_url},
            "warehouses": [{"id": "hz1", "province": "浙江"}],
            "carriers": {
                c: {"adapter": "sim", "base_url": sim_url, "rate_per_second": 1000}
                for c in carriers
            },
            "daemon": {"public_url": daemon_url},
        },
        "<e2e>",
    )


def import_orders(engine: Engine, config: Config, plans: list[ParcelPlan], now: datetime) -> None:
    rows = [
        RawRow(
            i + 1,
            {
                "order_id": f"E{p.number}",
                "warehouse": "hz1",
                "paid_at": (p.handed_over_at - timedelta(hours=3)).isoformat(),
                "carrier": p.carrier,
                "tracking_number": p.number,
                "shipped_at": p.handed_over_at.isoformat(),
                "province": p.destination,
                "phone": PHONE,
            },
        )
        for i, p in enumerate(plans)
    ]
    report = ingest_rows(engine, config, rows, now)
    assert not report.rejected, report.rejected[:3]


class Stack:
    """Simulator + daemon web app on loopback, sharing one manual clock."""

    def __init__(self, tmp_path: Path, *, seed: int, faults: Faults | None, push: bool) -> None:
        self.clock = ManualClock(T0)
        self.world = SimWorld(seed)
        self.sim_app = create_sim_app(
            self.world, self.clock, kuaidi100_customer=SIM_CUSTOMER, kuaidi100_key=SIM_KEY,
            track17_key=SIM_17TRACK_KEY, faults=faults, pushes=False,
        )  # fmt: skip
        self.sim: RunningServer = start_in_thread(self.sim_app)
        self.engine = make_engine(f"sqlite:///{tmp_path / 'e2e.db'}")
        upgrade(self.engine)
        self.web: RunningServer | None = None
        if push:
            # The daemon's URL must be known before its config: reserve a free port.
            port = _free_port()
            self.config = config_for(self.db_url, self.sim.url, f"http://127.0.0.1:{port}")
        else:
            self.config = config_for(self.db_url, self.sim.url, None)

    @property
    def db_url(self) -> str:
        return str(self.engine.url)

    def start_web(self, push_adapters: dict[str, Any]) -> None:
        ctx = AppContext(self.engine, self.config, self.clock, push_adapters=push_adapters)
        port = int(str(self.config.daemon.public_url).rsplit(":", 1)[1])
        self.web = start_in_thread(create_app(ctx), port=port)

    def stop(self) -> None:
        if self.web is not None:
            self.web.stop()
        self.sim.stop()
        self.engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Any]:
    stacks: list[Stack] = []

    def make(**kwargs: Any) -> Stack:
        stack = Stack(tmp_path, **kwargs)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


def _long_in_transit_stall(plans: list[ParcelPlan]) -> tuple[ParcelPlan, datetime, datetime]:
    for plan in plans:
        for start, end in plan.stalls:
            if end - start >= timedelta(hours=60) and start > plan.picked_up_at + timedelta(
                hours=6
            ):
                return plan, start, end
    raise AssertionError("no plan with a long in-transit stall; widen the sample")


def test_stall_opens_an_alert_and_the_next_scan_resolves_it(stack_factory: Any) -> None:
    stack = stack_factory(seed=11, faults=None, push=False)
    plans = stack.world.sample(400, start=T0 - timedelta(days=2), days=1)
    plan, stall_start, stall_end = _long_in_transit_stall(plans)
    during = stall_start + timedelta(hours=55)
    assert during < stall_end
    stack.clock.set(during)
    import_orders(stack.engine, stack.config, [plan], stack.clock.now())

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            poller = Poller(stack.engine, stack.config, build_clients(stack.config, http),
                            stack.clock, retry_wait_scale=0.001)  # fmt: skip
            assert (await poller.poll_due()).updates == 1
            run_tick(stack.engine, stack.config, stack.clock.now())
            [alert] = list_alerts(stack.engine, AlertFilter(kind="stalled"))
            assert alert["order_id"] == f"E{plan.number}" and alert["state"] == "open"

            with stack.engine.connect() as conn:
                next_poll = conn.execute(select(Shipment.next_poll_at)).scalar_one()
            stack.clock.set(max(stall_end + timedelta(minutes=5), next_poll))
            assert (await poller.poll_due()).updates == 1
            run_tick(stack.engine, stack.config, stack.clock.now())

    asyncio.run(scenario())
    [alert] = list_alerts(stack.engine, AlertFilter(kind="stalled", state="resolved"))
    assert alert["resolution"] in ("cleared", "superseded")


def _store_timelines(engine: Engine) -> dict[str, set[tuple[datetime, str]]]:
    timelines: dict[str, set[tuple[datetime, str]]] = {}
    query = select(
        Shipment.tracking_number, TrackingEvent.occurred_at, TrackingEvent.raw_text
    ).join(Shipment, Shipment.id == TrackingEvent.shipment_id)
    with engine.connect() as conn:
        for number, occurred_at, text in conn.execute(query):
            timelines.setdefault(number, set()).add((occurred_at, text))
    return timelines


def test_no_event_is_lost_under_faults(stack_factory: Any) -> None:
    faults = Faults(rate_429=0.05, rate_5xx=0.05, rate_malformed=0.04, rate_duplicate=0.04,
                    rate_out_of_order=0.04, rate_bad_signature=0.05, seed=3)  # fmt: skip
    stack = stack_factory(seed=5, faults=faults, push=True)
    plans = stack.world.sample(120, start=T0 - timedelta(days=3), days=3)
    for plan in plans:
        stack.world.register(plan.number, plan.carrier, handed_over_at=plan.handed_over_at,
                             phone=PHONE)  # fmt: skip
    import_orders(stack.engine, stack.config, plans, stack.clock.now())
    end = T0 + timedelta(days=9)

    async def scenario() -> dict[str, int]:
        async with httpx.AsyncClient(timeout=10) as http:
            clients = build_clients(stack.config, http)
            stack.start_web({c.adapter.name: c.adapter for c in clients})
            poller = Poller(stack.engine, stack.config, clients, stack.clock,
                            callback_base=stack.config.daemon.public_url,
                            retry_wait_scale=0.001)  # fmt: skip
            while stack.clock.now() < end:
                await poller.subscribe_new()
                await poller.poll_due()
                await http.post(f"{stack.sim.url}/_sim/push")
                stack.clock.advance(hours=3)
            return dict((await http.get(f"{stack.sim.url}/_sim/stats")).json())

    stats = asyncio.run(scenario())
    stored = _store_timelines(stack.engine)
    now = stack.clock.now()
    missing = {}
    for plan in plans:
        truth = {(e.time, e.context) for e in plan.visible(now)}
        have = stored.get(plan.number, set())
        if truth - have:
            missing[plan.number] = sorted(truth - have)
        assert have <= truth, f"{plan.number}: events the carrier never sent"
    assert not missing, f"{len(missing)} parcels lost events: {list(missing.items())[:2]}"
    # The run really was faulty: every kind of fault happened, and pushes failed.
    assert set(stats["faults_injected"]) >= {"429", "5xx", "malformed", "bad_signature",
                                             "duplicate", "out_of_order"}, stats  # fmt: skip
    assert stats["pushes"]["kuaidi100:failed"] > 0
    # Every parcel's state agrees with the truth too.
    with stack.engine.connect() as conn:
        delivered = {
            n
            for (n,) in conn.execute(
                select(Shipment.tracking_number).where(Shipment.status == "delivered")
            )
        }
    assert delivered == {p.number for p in plans if p.delivered_at and p.delivered_at <= now}


def test_demo_shows_alerts_within_a_minute_and_stops_cleanly(tmp_path: Path) -> None:
    port, sim_port = _free_port(), _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    script = Path(sys.executable).with_name("parcelwatch")
    process = subprocess.Popen(
        [str(script), "demo", "--port", str(port), "--sim-port", str(sim_port), "--orders", "1200"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        kinds: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                kinds = httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=5).json()[
                    "counts"
                ]
            except (httpx.HTTPError, KeyError, ValueError):
                kinds = {}
            if len(kinds) >= 5:
                break
            time.sleep(2)
        assert len(kinds) >= 5, kinds
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-2000:]
    assert "lead API token" in output and "demo stopped" in output


def test_daemon_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    (tmp_path / "parcelwatch.toml").write_text(
        '[database]\nurl = "sqlite:///pw.db"\n[[warehouses]]\nid = "hz1"\n'
        "[daemon]\ndetect_interval_seconds = 1\n",
        encoding="utf-8",
    )
    script = Path(sys.executable).with_name("parcelwatch")
    process = subprocess.Popen([str(script), "run", "--port", str(port)], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        ready = None
        for _ in range(100):
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, ready and ready.text
        assert (
            "parcelwatch_detection_duration_seconds"
            in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        )
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-2000:]
