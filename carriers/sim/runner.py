"""Running the simulator: `serve(...)` blocks (for `parcelwatch sim`), `start_in_thread(...)`
runs an app on loopback in a background thread (for the demo and integration tests)."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette

from carriers.sim.clock import AcceleratedClock
from carriers.sim.faults import Faults
from carriers.sim.model import SimWorld
from carriers.sim.server import create_app, new_credentials

log = logging.getLogger(__name__)


def _config(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Config:
    # No websockets (the simulator has none, and their import can warn); h11 is pure Python.
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, ws="none", http="h11", lifespan="on"
    )


def credentials_from_env(seed: int | None = None) -> tuple[str, str, str]:
    """(Kuaidi100 customer, Kuaidi100 key, 17TRACK token): the same environment variables
    the daemon reads, so both sides agree; random ones for whatever is unset."""
    customer, key, token = new_credentials(seed)
    return (
        os.environ.get("PARCELWATCH_KUAIDI100_CUSTOMER", customer),
        os.environ.get("PARCELWATCH_KUAIDI100_KEY", key),
        os.environ.get("PARCELWATCH_17TRACK_KEY", token),
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 9000,
    *,
    seed: int = 7,
    speed: float = 1.0,
    start: datetime | None = None,
    kuaidi100_customer: str | None = None,
    kuaidi100_key: str | None = None,
    track17_key: str | None = None,
    track17_webhook_url: str | None = None,
    faults: Faults | None = None,
    push_interval: float = 5.0,
    log_level: str = "info",
) -> None:
    """Run the simulator until interrupted: a fresh `SimWorld(seed)` on an accelerated
    clock that starts at `start` (default: now) and runs `speed` times real time.
    Credentials left as None come from `credentials_from_env()`; they are logged."""
    env_customer, env_key, env_token = credentials_from_env()
    customer = kuaidi100_customer or env_customer
    key = kuaidi100_key or env_key
    token = track17_key or env_token
    clock = AcceleratedClock(start or datetime.now(UTC), speed)
    app = create_app(
        SimWorld(seed),
        clock,
        kuaidi100_customer=customer,
        kuaidi100_key=key,
        track17_key=token,
        faults=faults,
        track17_webhook_url=track17_webhook_url,
        push_interval=push_interval,
    )
    log.warning(
        "carrier simulator on http://%s:%s: kuaidi100 customer=%s key=%s, 17token=%s, "
        "clock %s at %sx",
        host, port, customer, key, token, clock.now().isoformat(), speed,
    )  # fmt: skip
    uvicorn.Server(_config(app, host, port, log_level)).run()


@dataclass
class RunningServer:
    server: uvicorn.Server
    thread: threading.Thread
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError(f"the server at {self.url} did not stop within {timeout} s")


def start_in_thread(
    app: Starlette,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    timeout: float = 10.0,
) -> RunningServer:
    """Serve `app` from a daemon thread and return once it accepts connections; port 0
    picks a free port (see `.port`). Works for any ASGI app, e.g. a test's push receiver."""
    server = uvicorn.Server(_config(app, host, port, log_level))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the server on {host}:{port} failed to start")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server on {host}:{port} did not start within {timeout} s")
        time.sleep(0.01)
    bound = port
    for listener in server.servers:
        for sock in listener.sockets:
            bound = sock.getsockname()[1]
    return RunningServer(server, thread, host, bound)
