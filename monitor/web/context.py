"""What the web app needs from the daemon, handed in at construction (no globals)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from carriers.base import TrackingAdapter, TrackingUpdate
from monitor.clock import Clock
from monitor.config import Config
from monitor.ingest.poll_schedule import PlanInput
from monitor.ingest.push_writer import PushWriter
from monitor.ingest.tracking import apply_updates
from monitor.store.raw_answers import RawPush, keep_raw


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
        self.push_writer = PushWriter(self._store_pushed, self._keep_raw)

    def _keep_raw(self, pushes: Sequence[RawPush]) -> None:
        keep_raw(self.engine, pushes, self.clock.now(), self.config.raw_retention)

    def _store_pushed(self, updates: Sequence[TrackingUpdate]) -> None:
        apply_updates(self.engine, updates, self.clock.now(), subscribed=True, plan=self.plan)
