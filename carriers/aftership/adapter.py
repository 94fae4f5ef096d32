"""AfterShip Tracking API (2025-01) over HTTP: create (subscribe), get (track) and the webhook
(docs/tracking-apis.md "AfterShip").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from carriers.aftership import parse
from carriers.base import (
    ParcelRef,
    PushResult,
    SubscribeResult,
    TrackingAdapter,
    TrackResult,
    UnknownCodeHook,
)
from carriers.http import required_env, send

# docs/tracking-apis.md "AfterShip basics"
DEFAULT_BASE_URL = "https://api.aftership.com/tracking/2025-01"
ENV_KEY = "PARCELWATCH_AFTERSHIP_KEY"
ENV_WEBHOOK_SECRET = "PARCELWATCH_AFTERSHIP_WEBHOOK_SECRET"


class AfterShipAdapter:
    """TrackingAdapter for AfterShip.

    Limits (docs/tracking-apis.md "AfterShip basics"): POST /trackings 20/s, GET /trackings 6/s,
    /trackings/:id 5/s; 5/s keeps every call under its limit. `track` asks `GET
    /trackings?tracking_numbers=` for one number per call (batch 1): the answer is matched on number
    and slug, and one call per number keeps a bad number from failing its neighbours. AfterShip
    refreshes couriers on its own schedule and pushes changes, so polling hourly is a generous
    fallback.

    Slugs: docs/tracking-apis.md "AfterShip basics" lists none for Chinese couriers, so by default
    no slug is sent and AfterShip detects the courier; `carrier_codes` (our code → slug, from the
    config) pins it. Our carrier code rides in `custom_fields` so webhooks map back without a slug
    table. The webhook address is set in AfterShip's settings, so `callback_url` is unused.
    """

    name: str = "aftership"
    batch_size: int = 1
    rate_per_second: float = 5.0
    min_interval: timedelta = timedelta(hours=1)
    supports_push: bool = True

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        webhook_secret: str,
        base_url: str | None = None,
        carrier_codes: Mapping[str, str] | None = None,
        on_unknown_code: UnknownCodeHook | None = None,
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._webhook_secret = webhook_secret
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.carrier_codes: Mapping[str, str] = dict(carrier_codes or {})
        self._ours = {slug: code for code, slug in self.carrier_codes.items()}
        self._on_unknown_code = on_unknown_code

    @classmethod
    def from_env(
        cls,
        client: httpx.AsyncClient,
        base_url: str | None = None,
        *,
        carrier_codes: Mapping[str, str] | None = None,
        on_unknown_code: UnknownCodeHook | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> AfterShipAdapter:
        return cls(
            client,
            api_key=required_env(ENV_KEY, environ),
            webhook_secret=required_env(ENV_WEBHOOK_SECRET, environ),
            base_url=base_url,
            carrier_codes=carrier_codes,
            on_unknown_code=on_unknown_code,
        )

    def carrier_for(self, slug: str) -> str | None:
        return self._ours.get(slug)

    @property
    def _headers(self) -> dict[str, str]:
        return {"as-api-key": self._api_key, "Content-Type": "application/json"}

    def _check(self, parcels: Sequence[ParcelRef]) -> None:
        if len(parcels) > self.batch_size:
            raise ValueError(f"{self.name}: at most {self.batch_size} parcel per call")

    async def track(self, parcels: Sequence[ParcelRef]) -> TrackResult:
        self._check(parcels)
        result = TrackResult()
        for ref in parcels:
            slug = self.carrier_codes.get(ref.carrier)
            params = {"tracking_numbers": ref.tracking_number}
            if slug:
                params["slug"] = slug
            response = await send(
                self._client,
                "GET",
                f"{self.base_url}/trackings",
                api=self.name,
                params=params,
                headers=self._headers,
            )
            result.bodies.append(response.content)
            answer = parse.parse_track_response(
                response.status_code,
                response.content,
                tracking_number=ref.tracking_number,
                carrier=ref.carrier,
                slug=slug,
                carrier_for=self.carrier_for,
                report=self._on_unknown_code,
            )
            result.updates.extend(answer.updates)
            result.problems.extend(answer.problems)
        return result

    async def subscribe(self, parcels: Sequence[ParcelRef], callback_url: str) -> SubscribeResult:
        self._check(parcels)
        result = SubscribeResult()
        for ref in parcels:
            tracking: dict[str, Any] = {
                "tracking_number": ref.tracking_number,
                "custom_fields": {parse.CARRIER_FIELD: ref.carrier},
            }
            slug = self.carrier_codes.get(ref.carrier)
            if slug:
                tracking["slug"] = slug
            response = await send(
                self._client,
                "POST",
                f"{self.base_url}/trackings",
                api=self.name,
                json=tracking,
                headers=self._headers,
            )
            answer = parse.parse_create_response(
                response.status_code, response.content, tracking_number=ref.tracking_number
            )
            result.accepted.extend(answer.accepted)
            result.problems.extend(answer.problems)
        return result

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushResult:
        return parse.parse_push(
            headers,
            body,
            secret=self._webhook_secret,
            carrier_for=self.carrier_for,
            report=self._on_unknown_code,
        )


if TYPE_CHECKING:

    def _implements_protocol(adapter: AfterShipAdapter) -> TrackingAdapter:
        return adapter
