"""The sliding-window limiter (alerts/sinks/ratelimit.py) that keeps each robot under its
messages a minute."""

from __future__ import annotations

import asyncio

from alerts.sinks.ratelimit import SlidingWindowLimiter


def test_sliding_window_allows_20_a_minute_and_no_more() -> None:
    clock = [0.0]
    limiter = SlidingWindowLimiter.per_minute(20, clock=lambda: clock[0])
    for second in range(20):
        clock[0] = float(second)
        assert limiter.delay() == 0
        limiter.record()
    clock[0] = 30.0
    assert limiter.delay() == 30.0  # the first send leaves the window at 60 s
    clock[0] = 60.0
    assert limiter.delay() == 0  # one slot free, not twenty
    limiter.record()
    assert limiter.delay() == 1.0
    # Half a message a minute: one every two minutes.
    slow = SlidingWindowLimiter.per_minute(0.5, clock=lambda: clock[0])
    slow.record()
    assert slow.delay() == 120.0


def test_sliding_limiter_refuses_when_the_wait_is_too_long() -> None:
    clock = [0.0]
    limiter = SlidingWindowLimiter(2, 60, clock=lambda: clock[0])

    async def scenario() -> list[bool]:
        return [await limiter.acquire(max_wait=0) for _ in range(3)]

    assert asyncio.run(scenario()) == [True, True, False]
