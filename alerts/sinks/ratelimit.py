"""A sliding-window limit per channel: at most `limit` sends in any `period` seconds.

Not a token bucket: WeCom and DingTalk robots count 20 messages per minute, and DingTalk
throttles a robot for 10 minutes once it goes over (docs/observability.md "Chat robots"). A
bucket that refills one token every 3 s would allow 20 at once and a 21st three seconds
later: 21 in a minute. The window keeps the time of each of the last `limit` sends and
allows the next one only when the oldest has left the window.

The clock and the sleep are injectable, so tests run a minute of sends in no time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable


class SlidingWindowLimiter:
    def __init__(
        self,
        limit: int,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a rate limit needs limit >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self.sent: deque[float] = deque()

    @classmethod
    def per_minute(
        cls,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> SlidingWindowLimiter:
        """`rate` sends a minute; a fractional rate (0.5: one every two minutes) widens the
        window instead."""
        if rate >= 1:
            return cls(int(rate), 60.0, clock=clock, sleep=sleep)
        return cls(1, 60.0 / rate, clock=clock, sleep=sleep)

    def delay(self) -> float:
        """Seconds until one more send is allowed (0: now)."""
        now = self.clock()
        while self.sent and self.sent[0] <= now - self.period:
            self.sent.popleft()
        if len(self.sent) < self.limit:
            return 0.0
        return self.sent[0] + self.period - now

    def record(self) -> None:
        self.sent.append(self.clock())

    async def acquire(self, max_wait: float) -> bool:
        """Take one send, waiting up to `max_wait` seconds for the window to allow it.
        False (nothing taken) if that would take longer."""
        wait = self.delay()
        if wait > max_wait:
            return False
        if wait > 0:
            await self.sleep(wait)
            if self.delay() > 0:  # the clock did not move as promised
                return False
        self.record()
        return True
