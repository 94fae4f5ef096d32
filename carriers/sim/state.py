"""What the running simulator remembers besides the world: accounts, subscriptions, the
17TRACK rate limiter, counters and the fault injector. Shared by the routes and the pusher.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from carriers.sim.clock import SimClock
from carriers.sim.faults import FaultInjector, Faults
from carriers.sim.model import SimWorld

KUAIDI100: str = "kuaidi100"
TRACK17: str = "17track"


class TokenBucket:
    """`rate` requests per real second with bursts of `burst` (17TRACK: 3 req/s,
    docs/tracking-apis.md "17TRACK limits")."""

    def __init__(
        self, rate: float, burst: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._monotonic = rate, burst, monotonic
        self._tokens = burst
        self._last = monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


@dataclass
class Subscription:
    """One number followed for push: a Kuaidi100 subscription or a 17TRACK registration."""

    api: str  # KUAIDI100 | TRACK17
    number: str
    subscribed_at: datetime  # simulated time
    com: str | None = None  # Kuaidi100 company code as subscribed
    carrier_key: int | None = None  # 17TRACK carrier key as registered (echoed back)
    callback_url: str | None = None  # Kuaidi100; 17TRACK uses the account's webhook URL
    salt: str | None = None
    resultv2: str | None = None
    phone: str | None = None
    tag: str | None = None
    # Push bookkeeping: how many visible events the receiver has acknowledged, the update
    # being retried and how often it failed.
    acked: int = 0
    pending: tuple[str, int] | None = None  # (push kind, events) of the update in flight
    attempts: int = 0
    ended: bool = False
    ended_at: datetime | None = None
    last_body: Any = None  # the last push delivered, for "older push re-sent" faults


@dataclass
class SimState:
    world: SimWorld
    clock: SimClock
    kuaidi100_customer: str
    kuaidi100_key: str
    track17_key: str
    faults: FaultInjector
    track17_bucket: TokenBucket
    track17_webhook_url: str | None = None
    push_interval: float = 5.0  # real seconds between push rounds
    push_timeout: float = 5.0  # real seconds per push (Kuaidi100 allows 20)
    max_push_attempts: int = 3  # per update, like Kuaidi100's three tries
    subscriptions: dict[tuple[str, str], Subscription] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    responses: Counter[str] = field(default_factory=Counter)
    pushes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    push_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def set_faults(self, faults: Faults) -> None:
        self.faults.set(faults)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            subs = Counter(
                f"{s.api}:{'ended' if s.ended else 'active'}" for s in self.subscriptions.values()
            )
            return {
                "now": self.clock.now().isoformat(),
                "parcels": len(self.world),
                "subscriptions": dict(subs),
                "requests": dict(self.requests),
                "responses": dict(self.responses),
                "pushes": dict(self.pushes),
                "faults_injected": dict(self.faults.injected),
                "faults": self.faults.faults.to_json(),
            }
