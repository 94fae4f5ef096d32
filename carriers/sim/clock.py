"""The simulator's "now": real time sped up for demos, or moved by hand in tests.

The model itself is timeless (a plan holds every scan, past and future); the clock only
decides which of them the APIs have "seen" yet. Rate limits and push intervals use real
time (`time.monotonic`), never this clock, because they protect real sockets.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class SimClock(Protocol):
    def now(self) -> datetime:
        """The simulated current moment, timezone-aware."""
        ...


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


class AcceleratedClock:
    """`start` plus the real time elapsed since construction, times `speed`.

    With speed 600 one real second is ten simulated minutes, so a two-day journey plays out
    in under five minutes.
    """

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.start = _aware(start)
        self.speed = speed
        self._origin = time.monotonic()

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._origin
        return self.start + timedelta(seconds=elapsed * self.speed)


class ManualClock:
    """A clock that stays where it is put; tests (and `POST /_sim/clock`) move it."""

    def __init__(self, at: datetime) -> None:
        self._at = _aware(at)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = _aware(at)

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by `delta` or by keyword parts (`hours=2`); returns the new now."""
        step = (delta or timedelta()) + timedelta(**parts)
        with self._lock:
            self._at += step
            return self._at
