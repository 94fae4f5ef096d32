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


@dataclass
class AppContext:
    engine: Engine
    config: Config
    clock: Clock
    push_adapters: Mapping[str, TrackingAdapter] = field(default_factory=dict)  # by API name
    # Set by the scheduler's jobs; /readyz reports the daemon not ready when they stall.
    heartbeats: dict[str, datetime] = field(default_factory=dict)
    scheduler_running: bool = False

    def __post_init__(self) -> None:
        self.plan = PlanInput(self.config)
        self.push_writer = PushWriter(self._store_pushed)

    def _store_pushed(self, updates: Sequence[TrackingUpdate]) -> None:
        apply_updates(self.engine, updates, self.clock.now(), subscribed=True, plan=self.plan)
