"""Benchmark: tracking events ingested per second, and API calls per delivered parcel.

    python bench/ingest.py [--parcels 2000] [--concurrency 16]

1. Push: signed Kuaidi100 push callbacks (each a parcel's full history so far) sent over
   loopback HTTP to the daemon's /webhooks/kuaidi100 on SQLite (one uvicorn worker in its
   own process); events stored per second, and the receiver's and the load generator's CPU
   time per push. Against a naive receiver measured in the same run on the same pushes: the
   same app answering pushes through the framework's route (no fast path), parsing on the
   event loop and committing each push in its own transaction from a thread. Three load
   generators: httpx's default client, httpx over aiohttp, and a lean one (one keep-alive
   HTTP/1.1 connection per concurrent sender, requests encoded before the clock starts),
   which leaves the most of the two shared cores to the receiver, as carriers' own machines
   would. The same updates applied straight to the store (no HTTP) show what HTTP costs.
2. Poll: the poller asking the carrier simulator (real HTTP, real Kuaidi100 adapter) about
   every parcel; events stored per second.
3. Calls per delivered parcel over twelve simulated days: parcelwatch's plan (subscribe,
   pushes, polls only before thresholds and as a safety net) against polling every parcel
   every 2 hours until delivered, in the same run on the same parcels.
Target: >= 5,000 events/s into SQLite; calls per delivered parcel <= 4 with push.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from carriers.kuaidi100.adapter import Kuaidi100Adapter
from carriers.registry import CARRIERS
from carriers.sim.clock import ManualClock
from carriers.sim.credentials import SIM_17TRACK_KEY, SIM_CUSTOMER, SIM_KEY, SIM_SALT
from carriers.sim.model import SimWorld
from carriers.sim.plan import ParcelPlan
from carriers.sim.push import kuaidi100_sign
from carriers.sim.runner import start_in_thread
from carriers.sim.server import create_app as create_sim_app
from carriers.sim.wire import kuaidi100_body
from monitor.config import Config, parse_config
from monitor.daemon.carrier_clients import build_clients
from monitor.daemon.poller import Poller
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.ingest.push_writer import Accepted
from monitor.ingest.tracking import apply_updates
from monitor.store.db import make_engine, upgrade
from monitor.store.tables import TRACKING_EVENTS
from monitor.web.app import create_app
from monitor.web.context import AppContext
from monitor.web.webhooks import PushFastPath

NOW = datetime(2026, 9, 10, 2, 0, tzinfo=UTC)
PHONE = "13800001234"
SIM_CARRIERS = ("sf", "zto", "yto", "yunda", "sto", "jt", "ems", "jd", "debang")


def config(db: Path, sim_url: str, public_url: str | None = None) -> Config:
    return parse_config(
        {
            "database": {"url": f"sqlite:///{db}"},
            "warehouses": [{"id": "hz1", "province": "浙江"}],
            "carriers": {
                c: {"adapter": "sim", "base_url": sim_url, "rate_per_second": 100000}
                for c in SIM_CARRIERS
            },
            "daemon": {"public_url": public_url},
        },
        "<bench>",
    )


def store_with_orders(cfg: Config, plans: list[ParcelPlan], now: datetime) -> Any:
    engine = make_engine(cfg.database.url)
    upgrade(engine)
    if plans:
        _import(engine, cfg, plans, now)
    return engine


def push_forms(plans: list[ParcelPlan], now: datetime) -> tuple[list[dict[str, str]], int]:
    forms, events = [], 0
    for plan in plans:
        visible = plan.visible(now)
        if not visible:
            continue
        body = kuaidi100_body(plan, visible, CARRIERS[plan.carrier].kuaidi100, "4")
        param = json.dumps({"status": "polling", "message": "", "lastResult": body},
                           ensure_ascii=False)  # fmt: skip
        forms.append({"param": param, "sign": kuaidi100_sign(param, SIM_SALT)})
        events += len(visible)
    return forms, events


async def send_all(
    url: str, forms: list[dict[str, str]], concurrency: int, transport: Any
) -> float:
    queue = list(forms)
    async with httpx.AsyncClient(transport=transport, timeout=30) as client:

        async def worker() -> None:
            while queue:
                form = queue.pop()
                response = await client.post(url, data=form)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


async def send_lean(url: str, forms: list[dict[str, str]], concurrency: int) -> float:
    """The lean load generator: each of `concurrency` senders holds one keep-alive HTTP/1.1
    connection and sends its next push once the last one was answered 200."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    queue = [_request_bytes(host, path, _form_bytes(form)) for form in forms]

    async def sender() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while queue:
                writer.write(queue.pop())
                status = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                if status.split()[1] != b"200":
                    raise RuntimeError(f"push refused: {status.decode().strip()}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return time.perf_counter() - started


def _request_bytes(host: str, path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


class NaiveWriter:
    """The baseline: parse on the event loop, then one transaction per push, each from a
    thread of its own, as a push route without group commit would."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def submit(self, prepare: Callable[[], Accepted]) -> Accepted:
        accepted = prepare()
        await asyncio.to_thread(self.ctx._store_pushes, [accepted])
        return accepted

    async def close(self) -> None:
        return None


def serve_receiver(db: Path, port: int, naive: bool) -> None:
    """The daemon's web app alone, in its own process (so that the load generator does not
    share a GIL with it), as `parcelwatch run` serves it."""
    import uvicorn

    cfg = config(db, "http://127.0.0.1:9")
    engine = make_engine(cfg.database.url)
    adapter = Kuaidi100Adapter(httpx.AsyncClient(), customer=SIM_CUSTOMER, key=SIM_KEY,
                               salt=SIM_SALT)  # fmt: skip
    ctx = AppContext(engine, cfg, ManualClock(NOW), {"kuaidi100": adapter})
    app = create_app(ctx)
    if naive:
        ctx.push_writer = NaiveWriter(ctx)  # type: ignore[assignment]
        # pushes go through the framework's routing, sessions and request objects
        app.user_middleware = [m for m in app.user_middleware if m.cls is not PushFastPath]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_receiver(db: Path, naive: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mode = "naive" if naive else "batched"
    process = subprocess.Popen([sys.executable, __file__, "--serve-push", str(db), str(port), mode])
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the push receiver did not start")


def bench_push(tmp: Path, parcels: int, concurrency: int) -> None:
    world = SimWorld(7)
    plans = world.sample(parcels, start=NOW - timedelta(days=6), days=5)
    forms, events = push_forms(plans, NOW)

    for label, send in senders(concurrency):
        rates = {}
        for naive in (True, False):
            name = f"push-{label}-{'naive' if naive else 'batched'}.db"
            cfg = config(tmp / name, "http://127.0.0.1:9")
            store_with_orders(cfg, plans, NOW).dispose()
            process, url = start_receiver(tmp / name, naive)
            try:
                cpu, client_cpu = cpu_seconds(process.pid), time.process_time()
                elapsed = asyncio.run(send(f"{url}/webhooks/kuaidi100", forms))
                cpu, client_cpu = cpu_seconds(process.pid) - cpu, time.process_time() - client_cpu
            finally:
                process.terminate()
                process.wait(timeout=30)
            stored = stored_events(cfg)
            if stored != events:
                raise RuntimeError(f"{events} events pushed, {stored} stored")
            rates[naive] = events / elapsed
            what = "naive receiver" if naive else "parcelwatch"
            print(f"push over HTTP, {what} ({label} client, {concurrency} concurrent): "
                  f"{len(forms)} pushes, {events} events in {elapsed:.2f} s = "
                  f"{events / elapsed:,.0f} events/s, {len(forms) / elapsed:,.0f} pushes/s; "
                  f"CPU per push: receiver {cpu / len(forms) * 1000:.2f} ms, "
                  f"load generator {client_cpu / len(forms) * 1000:.2f} ms")  # fmt: skip
        print(
            f"  parcelwatch / naive receiver: {rates[False] / rates[True]:.2f}x "
            f"({rates[False]:,.0f} events/s; target >= 5,000)"
        )

    # The same updates straight into the store: the cost of storing, without HTTP.
    adapter = Kuaidi100Adapter(httpx.AsyncClient(), customer=SIM_CUSTOMER, key=SIM_KEY,
                               salt=SIM_SALT)  # fmt: skip
    updates = [adapter.parse_push({}, _form_bytes(f)).updates[0] for f in forms]
    for label, size in (("batches of 200", 200), ("one transaction per push, as the endpoint", 1)):
        cfg = config(tmp / f"push-direct-{size}.db", "http://127.0.0.1:9")
        engine = store_with_orders(cfg, plans, NOW)
        started = time.perf_counter()
        for start in range(0, len(updates), size):
            apply_updates(engine, updates[start : start + size], NOW, subscribed=True)
        elapsed = time.perf_counter() - started
        print(f"store only ({label}): {events} events in {elapsed:.2f} s = "
              f"{events / elapsed:,.0f} events/s")  # fmt: skip
        engine.dispose()


def _form_bytes(form: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(form).encode()


Sender = Callable[[str, list[dict[str, str]]], Coroutine[Any, Any, float]]


def senders(concurrency: int) -> list[tuple[str, Sender]]:
    """The load generators, each sending every push with `concurrency` in flight."""

    def over_httpx(transport: Callable[[], Any]) -> Sender:
        return lambda url, forms: send_all(url, forms, concurrency, transport())

    options: list[tuple[str, Sender]] = [("httpx default", over_httpx(lambda: None))]
    try:
        from httpx_aiohttp import AiohttpTransport  # type: ignore[import-not-found]

        options.append(("httpx-aiohttp", over_httpx(AiohttpTransport)))
    except ImportError:
        print("(httpx-aiohttp not installed: httpx over aiohttp not measured)")
    options.append(("lean keep-alive", lambda url, forms: send_lean(url, forms, concurrency)))
    return options


def stored_events(cfg: Config) -> int:
    engine = make_engine(cfg.database.url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(TRACKING_EVENTS)).scalar_one())
    finally:
        engine.dispose()


def bench_poll(tmp: Path, parcels: int) -> None:
    world = SimWorld(7)
    plans = world.sample(parcels, start=NOW - timedelta(days=6), days=5)
    for plan in plans:
        world.register(plan.number, plan.carrier, handed_over_at=plan.handed_over_at, phone=PHONE)
    clock = ManualClock(NOW)
    sim = start_in_thread(create_sim_app(world, clock, kuaidi100_customer=SIM_CUSTOMER,
                                         kuaidi100_key=SIM_KEY, track17_key=SIM_17TRACK_KEY,
                                         pushes=False))  # fmt: skip
    cfg = config(tmp / "poll.db", sim.url)
    engine = store_with_orders(cfg, plans, NOW)
    events = sum(len(p.visible(NOW)) for p in plans)

    async def run() -> tuple[float, Any]:
        async with httpx.AsyncClient(timeout=30) as http:
            poller = Poller(engine, cfg, build_clients(cfg, http), clock, batch_limit=100000)
            started = time.perf_counter()
            stats = await poller.poll_due()
            return time.perf_counter() - started, stats

    elapsed, stats = asyncio.run(run())
    sim.stop()
    rate = stats.events / elapsed
    print(f"poll the simulator ({stats.calls} calls): {stats.events} events in {elapsed:.2f} s"
          f" = {rate:,.0f} events/s (visible in the simulator: {events})")  # fmt: skip


def _calls_in_mode(mode: str, world: SimWorld, plans: list[ParcelPlan], tmp: Path,
                   end: datetime) -> dict[str, int]:  # fmt: skip
    """Run the daemon's jobs every 30 simulated minutes from the first handover to `end`,
    importing orders as they ship; return the simulator's request counts."""
    clock = ManualClock(min(p.handed_over_at for p in plans))
    sim = start_in_thread(create_sim_app(world, clock, kuaidi100_customer=SIM_CUSTOMER,
                                         kuaidi100_key=SIM_KEY, track17_key=SIM_17TRACK_KEY,
                                         pushes=False))  # fmt: skip
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    public = f"http://127.0.0.1:{port}" if mode == "push" else None
    cfg = config(tmp / f"calls-{mode}.db", sim.url, public)
    engine = store_with_orders(cfg, [], clock.now())
    pending = sorted(plans, key=lambda p: p.handed_over_at)

    async def run() -> dict[str, int]:
        async with httpx.AsyncClient(timeout=30) as http:
            clients = build_clients(cfg, http)
            web = None
            if public:
                push = {c.push_name or c.adapter.name: c.adapter for c in clients}
                ctx = AppContext(engine, cfg, clock, push)
                web = start_in_thread(create_app(ctx), port=port)
            poller = Poller(engine, cfg, clients, clock, callback_base=public,
                            retry_wait_scale=0.001)  # fmt: skip
            while clock.now() < end:
                shipped = [p for p in pending if p.handed_over_at <= clock.now()]
                del pending[: len(shipped)]
                if shipped:
                    _import(engine, cfg, shipped, clock.now())
                await poller.subscribe_new()
                await poller.poll_due()
                if public:
                    await http.post(f"{sim.url}/_sim/push")
                clock.advance(minutes=30)
            stats = (await http.get(f"{sim.url}/_sim/stats")).json()
            if web:
                web.stop()
            return dict(stats["requests"])

    try:
        return asyncio.run(run())
    finally:
        sim.stop()
        engine.dispose()


def bench_calls(tmp: Path, parcels: int, days: int = 12) -> None:
    world = SimWorld(9)
    plans = world.sample(parcels, start=NOW, days=2)
    for plan in plans:
        world.register(plan.number, plan.carrier, handed_over_at=plan.handed_over_at, phone=PHONE)
    end = NOW + timedelta(days=days)
    results = {mode: _calls_in_mode(mode, world, plans, tmp, end) for mode in ("push", "poll")}
    delivered = [p for p in plans if p.delivered_at and p.delivered_at <= end]
    # The baseline polls every 2 h from handover until it sees the parcel delivered (or the
    # run ends), one more call than the whole 2-hour steps in that span.
    baseline = sum(
        math.ceil(((p.delivered_at or end) - p.handed_over_at) / timedelta(hours=2)) + 1
        for p in plans
    )
    print(f"{len(plans)} parcels over {days} simulated days, {len(delivered)} delivered:")
    for mode, requests in results.items():
        calls = sum(requests.values())
        print(f"  calls per delivered parcel, parcelwatch {mode:4}: "
              f"{calls / len(delivered):.2f} ({requests})")  # fmt: skip
    print(f"  calls per delivered parcel, fixed 2-hour polling: {baseline / len(delivered):.2f}; "
          f"parcelwatch with push makes {sum(results['push'].values()) / baseline:.1%} of "
          f"the baseline's calls")  # fmt: skip


def _import(engine: Any, cfg: Config, plans: list[ParcelPlan], now: datetime) -> None:
    rows = [
        RawRow(i + 1, {
            "order_id": f"B{p.number}", "warehouse": "hz1",
            "paid_at": (p.handed_over_at - timedelta(hours=3)).isoformat(),
            "carrier": p.carrier, "tracking_number": p.number,
            "shipped_at": p.handed_over_at.isoformat(), "province": p.destination,
            "phone": PHONE,
        })
        for i, p in enumerate(plans)
    ]  # fmt: skip
    ingest_rows(engine, cfg, rows, now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--call-parcels", type=int, default=300)
    parser.add_argument("--serve-push", nargs=3, metavar=("DB", "PORT", "MODE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parser.add_argument("--push-only", action="store_true", help="only the push benchmark")
    args = parser.parse_args()
    if args.serve_push:
        db, port, mode = args.serve_push
        serve_receiver(Path(db), int(port), naive=mode == "naive")
        return
    with tempfile.TemporaryDirectory() as tmp:
        bench_push(Path(tmp), args.parcels, args.concurrency)
        if args.push_only:
            return
        bench_poll(Path(tmp), args.parcels)
        bench_calls(Path(tmp), args.call_parcels)


if __name__ == "__main__":
    main()
