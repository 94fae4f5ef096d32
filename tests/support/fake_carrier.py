"""An in-memory TrackingAdapter for daemon-side tests (the real adapters are tested against
their wire formats in tests/carriers/, and end to end against the simulator)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from carriers.base import (
    CarrierAPIError,
    CarrierEvent,
    ParcelRef,
    PushResult,
    SignatureError,
    SubscribeResult,
    TrackingUpdate,
    TrackResult,
)
from carriers.status import ParcelStatus


def scan(at: datetime, status: ParcelStatus, text: str, code: str | None = None) -> CarrierEvent:
    return CarrierEvent(occurred_at=at, status=status, raw_text=text, raw_code=code)


@dataclass
class FakeAdapter:
    name: str = "kuaidi100"
    batch_size: int = 2
    rate_per_second: float = 1000.0
    min_interval: timedelta = timedelta(minutes=30)
    supports_push: bool = True
    timelines: dict[str, list[CarrierEvent]] = field(default_factory=dict)
    carrier: str = "zto"
    # Errors to raise on the next calls, in order (None = answer normally).
    script: list[CarrierAPIError | None] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)
    subscribed: list[str] = field(default_factory=list)
    secret: str = "s3cret"

    def _next_error(self) -> CarrierAPIError | None:
        return self.script.pop(0) if self.script else None

    def update_for(self, number: str, source: str = "poll") -> TrackingUpdate:
        events = tuple(self.timelines.get(number, ()))
        status = events[-1].status if events else ParcelStatus.LABEL_CREATED
        return TrackingUpdate(
            tracking_number=number,
            carrier=self.carrier,
            status=status,
            events=events,
            source=source,
        )

    async def track(self, parcels: Sequence[ParcelRef]) -> TrackResult:
        assert len(parcels) <= self.batch_size
        self.calls.append([p.tracking_number for p in parcels])
        error = self._next_error()
        if error is not None:
            raise error
        # The answer's body as an API would send it: one JSON document per call.
        body = json.dumps({"numbers": [p.tracking_number for p in parcels]}).encode()
        return TrackResult(updates=[self.update_for(p.tracking_number) for p in parcels],
                           bodies=[body])  # fmt: skip

    async def subscribe(self, parcels: Sequence[ParcelRef], callback_url: str) -> SubscribeResult:
        error = self._next_error()
        if error is not None:
            raise error
        self.subscribed.extend(p.tracking_number for p in parcels)
        return SubscribeResult(accepted=[p.tracking_number for p in parcels])

    def push_body(self, number: str) -> bytes:
        return json.dumps({"number": number}).encode()

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushResult:
        if headers.get("x-sign") != self.secret:
            raise SignatureError("x-sign does not match")
        number = json.loads(body)["number"]
        return PushResult(
            updates=[self.update_for(number, source="push")],
            reply_body=b'{"result":true,"returnCode":"200","message":"\xe6\x88\x90\xe5\x8a\x9f"}',
        )
