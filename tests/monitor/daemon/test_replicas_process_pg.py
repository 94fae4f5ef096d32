"""Two `parcelwatch run` replicas on one real PostgreSQL, as an operator runs them
(docs/architecture.md "Detection across replicas", "Scale"): both start together on an
empty database, poll the carrier simulator over loopback and judge the parcels of an ERP
import on disjoint claims, and notify a webhook receiver. One is SIGKILLed while it holds a
detection claim. Its claims are taken over within their leases, and at the end no alert
opened twice, no notification was lost or sent twice (beyond the one re-send at-least-once
delivery allows for a send cut off by the kill), and a full evaluation finds nothing the
replicas left wrong."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, text

from carriers.sim.clock import AcceleratedClock
from carriers.sim.credentials import SIM_17TRACK_KEY, SIM_CUSTOMER, SIM_KEY
from carriers.sim.model import SimWorld
from carriers.sim.runner import start_in_thread
from carriers.sim.server import create_app as create_sim_app
from monitor.config import Config, load_config
from monitor.daemon.incremental import reconcile
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.db import make_engine
from monitor.store.tables import (
    ALERT_HISTORY,
    ALERTS,
    DETECT_DIRTY,
    ORDERS,
    OUTBOX,
    OUTBOX_DELIVERIES,
    SHIPMENTS,
)
from tests.support.servers import free_port, stop, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
CARRIERS = ("zto", "yto", "yunda", "sto", "jt", "sf")
LEASE = 10  # seconds, for detection, polling and delivery claims alike
SLACK = 20  # seconds a loaded machine may add to a takeover (a tick, a poll round)
S, ORD = SHIPMENTS.c, ORDERS.c


@dataclass
class Receiver:
    """A CRM on loopback: keeps each notification's idempotency key and when it came."""

    url: str = ""
    received: list[tuple[float, str]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            except ValueError:  # a send cut off by the kill: the sender never hears back
                self.send_response(400)
            else:
                got.received.append((time.monotonic(), str(body["idempotency_key"])))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield got
    server.shutdown()
    server.server_close()


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database with no schema: the replicas migrate it themselves."""
    name = f"replicas_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def engine(empty_database: str) -> Iterator[Engine]:
    """The test's own connection to the replicas' database (the ERP import, the checks)."""
    engine = make_engine(empty_database)
    yield engine
    engine.dispose()


@pytest.fixture
def sim_url() -> Iterator[str]:
    """The carrier simulator on the real clock, so its scans agree with the replicas' now."""
    app = create_sim_app(
        SimWorld(21), AcceleratedClock(datetime.now(UTC)), kuaidi100_customer=SIM_CUSTOMER,
        kuaidi100_key=SIM_KEY, track17_key=SIM_17TRACK_KEY, pushes=False,
    )  # fmt: skip
    server = start_in_thread(app)
    yield server.url
    server.stop()


def config_text(db_url: str, sim_url: str, hook_url: str) -> str:
    carriers = "".join(
        f'[carriers.{c}]\nadapter = "sim"\nbase_url = "{sim_url}"\nrate_per_second = 1000\n'
        for c in CARRIERS
    )
    return (
        f'[database]\nurl = "{db_url}"\n'
        '[[warehouses]]\nid = "hz1"\nprovince = "浙江"\n'
        f"{carriers}"
        "[daemon]\npoll_interval_seconds = 1\ndetect_interval_seconds = 1\n"
        "deliver_interval_seconds = 1\ndetect_batch_size = 200\n"
        f"detect_lease_seconds = {LEASE}\npoll_lease_seconds = {LEASE}\n"
        f"deliver_lease_seconds = {LEASE}\nshutdown_grace_seconds = 5\n"
        f'[[sinks]]\nname = "crm"\ntype = "webhook"\nurl = "{hook_url}"\n'
        'secret_env = "CRM_SECRET"\nevents = ["opened", "escalated", "resolved"]\n'
    )


class Replica:
    """One `parcelwatch run` process, its port and its output."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log = (workdir / f"replica-{self.port}.log").open("w+", encoding="utf-8")
        script = Path(sys.executable).with_name("parcelwatch")
        env = {**os.environ, "CRM_SECRET": "s3cret", "PARCELWATCH_SESSION_SECRET": "x" * 32}
        self.process: subprocess.Popen[str] = subprocess.Popen(
            [str(script), "run", "--port", str(self.port)], cwd=workdir, env=env,
            stdout=self.log, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def ready(self) -> bool:
        assert self.process.poll() is None, self.output()
        url = f"http://127.0.0.1:{self.port}/readyz"
        return httpx.get(url, timeout=2).status_code == 200

    def counter(self, name: str) -> float:
        """The sum of a counter's samples on this replica's /metrics."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(f"{name}_total")
        )

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]


def import_wave(engine: Engine, config: Config, world: SimWorld, wave: int, n: int) -> None:
    """An ERP export of `n` orders shipped over the last three days, as the shop sends it."""
    now = datetime.now(UTC)
    plans = world.sample(n, start=now - timedelta(days=3), days=2.5, carriers=CARRIERS,
                         sample_seed=wave)  # fmt: skip
    rows = [
        RawRow(i + 1, {
            "order_id": f"W{wave}-{p.number}", "warehouse": "hz1",
            "paid_at": (p.handed_over_at - timedelta(hours=3)).isoformat(),
            "carrier": p.carrier, "tracking_number": p.number,
            "shipped_at": p.handed_over_at.isoformat(), "province": p.destination,
        })
        for i, p in enumerate(plans)
    ]  # fmt: skip
    report = ingest_rows(engine, config, rows, now)
    assert not report.rejected, report.rejected[:3]


def scalar(engine: Engine, query: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def claims_of(engine: Engine, pid: int) -> list[tuple[str, int, datetime]]:
    """The detection claims a replica holds: (table, id, lease end)."""
    found: list[tuple[str, int, datetime]] = []
    with engine.connect() as conn:
        for table in (SHIPMENTS, ORDERS):
            query = select(table.c.id, table.c.detect_lease_until).where(
                table.c.detect_owner.like(f"%:{pid}:%")
            )
            found += [(table.name, int(i), until) for i, until in conn.execute(query)]
    return found


def quiet(engine: Engine) -> bool:
    """Nothing claimed, marked or waiting to be sent."""
    with engine.connect() as conn:
        claimed = (
            conn.execute(select(func.count()).where(S.detect_owner.is_not(None))).scalar()
            or conn.execute(select(func.count()).where(ORD.detect_owner.is_not(None))).scalar()
        )
        marked = conn.execute(select(func.count()).select_from(DETECT_DIRTY)).scalar()
        unsent = conn.execute(select(func.count()).where(OUTBOX.c.delivered_at.is_(None))).scalar()
        polling = conn.execute(select(func.count()).where(S.poll_lease_until > func.now())).scalar()
    return not (claimed or marked or unsent or polling)


def test_two_replicas_share_the_work_and_one_killed_loses_nothing(
    tmp_path: Path, empty_database: str, engine: Engine, sim_url: str, receiver: Receiver
) -> None:
    (tmp_path / "parcelwatch.toml").write_text(
        config_text(empty_database, sim_url, receiver.url), encoding="utf-8"
    )
    config = load_config(tmp_path / "parcelwatch.toml", {"CRM_SECRET": "s3cret"})
    world = SimWorld(21)
    a, b = Replica(tmp_path), Replica(tmp_path)
    try:
        wait_for("both replicas ready", lambda: a.ready() and b.ready(), timeout=90)
        import_wave(engine, config, world, 1, 1200)

        def both_work() -> bool:
            return all(
                r.counter("parcelwatch_tracking_requests") > 0
                and r.counter("parcelwatch_detection_rows") > 0
                for r in (a, b)
            )

        wait_for("both replicas polling and judging", both_work, timeout=90)

        # A second import gives the replicas a burst of marked rows; kill A mid-batch.
        import_wave(engine, config, world, 2, 1500)
        deadline = time.monotonic() + 60
        while not claims_of(engine, a.pid):
            assert time.monotonic() < deadline, "replica A never claimed a detection batch"
            time.sleep(0.005)
        a.process.send_signal(signal.SIGKILL)
        a.process.wait(10)
        killed_at = time.monotonic()
        held = claims_of(engine, a.pid)
        assert held, "the kill should leave A's claim behind"
        with engine.connect() as conn:
            query = select(S.id, S.poll_lease_until).where(S.poll_lease_until.is_not(None))
            polls_held = {int(i): until for i, until in conn.execute(query)}

        # Its detection claims are taken over once their leases run out.
        wait_for("A's detection claims taken over", lambda: not claims_of(engine, a.pid),
                 timeout=LEASE + SLACK)  # fmt: skip
        assert time.monotonic() - killed_at <= LEASE + SLACK

        # Its poll claims too: each parcel it held is released or claimed afresh.
        def polls_taken_over() -> bool:
            with engine.connect() as conn:
                query = select(S.id, S.poll_lease_until).where(S.id.in_(list(polls_held)))
                now_held = {int(i): until for i, until in conn.execute(query)}
            return all(until is None or until > polls_held[i] for i, until in now_held.items())

        wait_for("A's poll claims taken over", polls_taken_over, timeout=LEASE + SLACK)

        wait_for("B to finish the work", lambda: quiet(engine), timeout=180)
    finally:
        stop(b.process)
        stop(a.process)
        output_b = b.output()
        a.log.close()
        b.log.close()
    assert b.process.returncode == 0, output_b

    with engine.connect() as conn:
        opened = conn.execute(
            select(ALERT_HISTORY.c.alert_id, func.count())
            .where(ALERT_HISTORY.c.action == "opened")
            .group_by(ALERT_HISTORY.c.alert_id)
        ).all()
        open_twice = conn.execute(
            select(ALERTS.c.fingerprint)
            .where(ALERTS.c.state != "resolved")
            .group_by(ALERTS.c.fingerprint)
            .having(func.count() > 1)
        ).all()
        announced = conn.execute(
            select(OUTBOX.c.alert_id, func.count())
            .where(OUTBOX.c.alert_id.is_not(None), OUTBOX.c.event == "opened")
            .group_by(OUTBOX.c.alert_id)
            .having(func.count() > 1)
        ).all()
        sent = conn.execute(
            select(OUTBOX.c.idempotency_key, OUTBOX_DELIVERIES.c.delivered_at)
            .join(OUTBOX_DELIVERIES, OUTBOX_DELIVERIES.c.outbox_id == OUTBOX.c.id)
            .where(OUTBOX_DELIVERIES.c.sink == "crm")
        ).all()
    assert len(opened) >= 20, "the import should open alerts"
    assert {n for _, n in opened} == {1}  # every alert opened once
    assert open_twice == [] and announced == []
    assert all(delivered is not None for _, delivered in sent)

    # Every notification reached the CRM; a key came twice only if A was killed mid-send.
    keys = [key for _, key in receiver.received]
    assert set(keys) == {key for key, _ in sent}
    first_seen: dict[str, float] = {}
    for at, key in receiver.received:
        if key in first_seen:
            assert first_seen[key] <= killed_at < at, f"{key} sent twice, not across the kill"
        first_seen.setdefault(key, at)
    assert len(keys) - len(first_seen) <= 5

    result = reconcile(engine, config, datetime.now(UTC))
    assert result is not None and result.differences == 0
