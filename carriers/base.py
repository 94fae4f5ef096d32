"""The seam between parcelwatch and a tracking API: what an adapter takes, returns and raises.

An adapter speaks one API (Kuaidi100, 17TRACK, AfterShip, the simulator): it builds requests,
signs them, sends them over an `httpx.AsyncClient` it is given, and turns the answers into
`TrackingUpdate`s in the canonical status model. It knows nothing of the database, the
rules or the alert queue. Parsing is done by pure functions beside each adapter (tested on
recorded wire formats); the adapter is the thin I/O layer around them.

Contract:
- `track(parcels)` takes at most `batch_size` parcels. Per-number problems (not found yet,
  wrong company, number rejected) come back as `TrackingProblem`s in the result, as data.
  Whole-call failures raise a `CarrierAPIError` subclass:
    RateLimited (429 or the API's own "too often" code; `retry_after` seconds if given),
    TransientCarrierError (5xx, timeouts, connection errors, a malformed body: retry later),
    PermanentCarrierError (bad key, no quota, unknown company: retrying will not help).
  httpx exceptions never escape an adapter; they are mapped with `raise ... from exc`.
- `subscribe(parcels, callback_url)` registers numbers for push where the API supports it
  (`supports_push`); same error contract.
- `parse_push(headers, body)` verifies the push's signature (raising `SignatureError`, which
  the web layer turns into 401 with nothing stored) and returns the updates plus the exact
  reply body the API expects back; a push it cannot read raises `PushFormatError` (a
  ValueError: 400, nothing stored).
- Every raw code an adapter does not know maps to `ParcelStatus.UNKNOWN`, keeping the raw code
  on the event, and is reported through `on_unknown_code` (a counter); never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from carriers.status import ParcelStatus

UnknownCodeHook = Callable[[str, str], None]  # (api name, raw code)


@dataclass(frozen=True)
class ParcelRef:
    """What an adapter needs to know about one parcel to ask about it."""

    tracking_number: str
    carrier: str  # parcelwatch's carrier code (carriers.registry)
    phone: str | None = None  # Kuaidi100 needs it for SF and ZTO (last 4 digits suffice)
    origin: str | None = None  # province, canonical short name
    destination: str | None = None  # province, canonical short name
    destination_city: str | None = None


@dataclass(frozen=True)
class CarrierEvent:
    """One scan, normalised, with the carrier's own words kept verbatim."""

    occurred_at: datetime  # timezone-aware
    status: ParcelStatus
    raw_text: str
    raw_code: str | None = None
    sub_reason: str | None = None
    location: str | None = None
    # True when the status was inferred (from a status name or the scan text) rather than given
    # by the carrier's own code (docs/statuses.md "Events without a code").
    inferred: bool = False


@dataclass(frozen=True)
class TrackingUpdate:
    """Everything one answer (poll or push) says about one parcel."""

    tracking_number: str
    carrier: str  # parcelwatch's carrier code (after any correction the API made)
    status: ParcelStatus  # the latest, normalised
    events: tuple[CarrierEvent, ...]  # oldest first
    raw_status: str | None = None
    sub_reason: str | None = None
    expected_delivery_at: datetime | None = None  # the carrier's or the API's estimate
    stopped: bool = False  # the API stopped tracking it (delivered, expired, aborted)
    stop_reason: str | None = None
    # After a stop: the API takes a new subscription later (Kuaidi100 `abort`), as opposed
    # to a final stop (`shutdown`), after which re-subscribing only repeats the same answer.
    resubscribe: bool = False
    source: str = "poll"  # poll | push
    # The parcelwatch carriers whose parcels this update may change (None: any). Set for a
    # push by the account that verified it, so that one API account's push can never move a
    # parcel that another account tracks.
    carriers_allowed: frozenset[str] | None = None


@dataclass(frozen=True)
class TrackingProblem:
    tracking_number: str
    code: str
    message: str
    retryable: bool = True


@dataclass
class TrackResult:
    updates: list[TrackingUpdate] = field(default_factory=list)
    problems: list[TrackingProblem] = field(default_factory=list)
    # Each answer's body exactly as received, for the store to keep (a disputed timeline is
    # shown from them) whatever the parser made of it.
    bodies: list[bytes] = field(default_factory=list)


@dataclass
class SubscribeResult:
    accepted: list[str] = field(default_factory=list)  # tracking numbers
    problems: list[TrackingProblem] = field(default_factory=list)


@dataclass(frozen=True)
class PushResult:
    updates: list[TrackingUpdate]
    reply_body: bytes  # what the API expects back, verbatim
    reply_content_type: str = "application/json"


class CarrierAPIError(Exception):
    """A whole call to a tracking API failed."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RateLimited(CarrierAPIError):
    def __init__(
        self, message: str, *, retry_after: float | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class TransientCarrierError(CarrierAPIError):
    pass


class PermanentCarrierError(CarrierAPIError):
    pass


class SignatureError(Exception):
    """A push whose signature is missing or wrong: reject it, store nothing."""


class PushFormatError(ValueError):
    """A push that cannot be read (no signed field, or a correctly signed body that is not the
    documented JSON): reject it (400) and store nothing."""


class TrackingAdapter(Protocol):
    name: str  # "kuaidi100" | "17track" | "aftership"
    batch_size: int  # numbers per track() call
    rate_per_second: float  # calls per second the account may make
    min_interval: timedelta  # between two queries of one number
    supports_push: bool

    async def track(self, parcels: Sequence[ParcelRef]) -> TrackResult: ...

    async def subscribe(
        self, parcels: Sequence[ParcelRef], callback_url: str
    ) -> SubscribeResult: ...

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushResult: ...
