"""Faults on demand: what a real tracking API does on a bad day, drawn from a seeded RNG.

Per API request: `rate_429` (HTTP 429), `rate_5xx` (500/502/503), `rate_slow` (answer after
`slow_seconds`, to trip client timeouts), `rate_malformed` (a truncated JSON body with 200),
`rate_duplicate` (one event repeated), `rate_out_of_order` (two events swapped).
Per push: `rate_malformed`, `rate_duplicate`, `rate_out_of_order` (two events swapped, or an
older push re-sent after a newer one) and `rate_bad_signature` (a wrong `sign`).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Faults:
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 2.0
    rate_malformed: float = 0.0
    rate_duplicate: float = 0.0
    rate_out_of_order: float = 0.0
    rate_bad_signature: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("rate_") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name} must be between 0 and 1, got {value}")
        if self.slow_seconds < 0:
            raise ValueError(f"slow_seconds must not be negative, got {self.slow_seconds}")

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with `changes` applied; unknown keys and non-numbers raise ValueError."""
        names = {f.name: f.type for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in names:
                raise ValueError(f"unknown fault {key!r} (known: {', '.join(sorted(names))})")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"fault {key!r} must be a number, got {value!r}")
            clean[key] = int(value) if key == "seed" else float(value)
        return replace(self, **clean)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """The current `Faults`, a seeded RNG to roll them, and a count of what was injected."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self.injected: Counter[str] = Counter()

    def set(self, faults: Faults) -> None:
        with self._lock:
            if faults.seed != self.faults.seed:
                self._rng = random.Random(faults.seed)
            self.faults = faults

    def roll(self, kind: str) -> bool:
        """True (and counted) when fault `kind` ("429", "5xx", ...) strikes this time."""
        rate: float = getattr(self.faults, f"rate_{kind}")
        if rate <= 0.0:
            return False
        with self._lock:
            hit = self._rng.random() < rate
            if hit:
                self.injected[kind] += 1
        return hit

    def choice(self, n: int) -> int:
        with self._lock:
            return self._rng.randrange(n)
