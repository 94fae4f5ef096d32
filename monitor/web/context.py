"""What the web app needs from the daemon, handed in at construction (no globals)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from carriers.base import TrackingAdapter
from monitor.clock import Clock
from monitor.config import Config
from monitor.ingest.poll_schedule import PlanInput
from monitor.ingest.push_writer import Accepted, PushWriter
from monitor.ingest.tracking import apply_updates_in
from monitor.store.raw_answers import keep_raw_in


@dataclass
class AppContext:
    engine: Engine
    config: Config
    clock: Clock
    push_adapters: Mapping[str, TrackingAdapter] = field(default_factory=dict)  # by push name
    # The carriers each push path may update (unset: any): an account's push never moves a
    # parcel of a carrier configured on another API.
    push_carriers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Set by the scheduler's jobs; /readyz reports the daemon not ready when one stalls
    # (judged by its own interval) or its last run failed.
    heartbeats: dict[str, datetime] = field(default_factory=dict)  # last run finished
    job_intervals: dict[str, float] = field(default_factory=dict)  # seconds between runs
    job_errors: dict[str, str] = field(default_factory=dict)  # last run's error, if it failed
    scheduler_running: bool = False

    def __post_init__(self) -> None:
        self.plan = PlanInput(self.config)
        self.push_writer = PushWriter(self._store_pushes)

    def _store_pushes(self, pushes: Sequence[Accepted]) -> None:
        """A batch of pushes in one transaction: their bodies as received, then what they
        say (docs/architecture.md "Push ingest")."""
        now = self.clock.now()
        raws = [p.raw for p in pushes if p.raw is not None]
        updates = [u for p in pushes for u in p.updates]
        with self.engine.begin() as conn:
            keep_raw_in(conn, raws, now, self.config.raw_retention)
            result = apply_updates_in(conn, updates, now, subscribed=True, plan=self.plan)
        result.record_metrics()  # committed: counted once, however often it was tried
