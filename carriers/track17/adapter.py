"""17TRACK API v2.2 over HTTP: register (subscribe), gettrackinfo (track) and the webhook
(docs/tracking-apis.md "17TRACK endpoints and auth").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from carriers.base import (
    ParcelRef,
    PermanentCarrierError,
    PushResult,
    SubscribeResult,
    TrackingAdapter,
    TrackResult,
    UnknownCodeHook,
)
from carriers.http import required_env, send
from carriers.registry import CARRIERS
from carriers.track17 import parse

# docs/tracking-apis.md "17TRACK endpoints and auth"
DEFAULT_BASE_URL = "https://api.17track.net/track/v2.2"
# API token and webhook signing key alike (docs/tracking-apis.md "17TRACK webhook")
ENV_KEY = "PARCELWATCH_17TRACK_KEY"


class Track17Adapter:
    """TrackingAdapter for 17TRACK.

    Limits, all in docs/tracking-apis.md "17TRACK limits": every endpoint 3 requests/s (else HTTP
    429); at most 40 numbers a request; 17TRACK refreshes a number every 3–12 h and pushes on
    change, so polling a number more often than every 3 h only re-reads the same data
    (`min_interval`).

    `subscribe` registers numbers (tagged with our carrier code, so a webhook can be matched
    back even when the carrier key is unknown to us); the webhook address itself is set per
    account in the 17TRACK console, so `callback_url` is not sent. `track` asks gettrackinfo
    in one request; a number never registered comes back as a problem with code
    `parse.NOT_REGISTERED`, to subscribe first.
    """

    name: str = "17track"
    batch_size: int = 40
    rate_per_second: float = 3.0
    min_interval: timedelta = timedelta(hours=3)
    supports_push: bool = True

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        key: str,
        base_url: str | None = None,
        carrier_codes: Mapping[str, str] | None = None,
        on_unknown_code: UnknownCodeHook | None = None,
    ) -> None:
        self._client = client
        self._key = key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        codes = {code: str(info.track17) for code, info in CARRIERS.items() if info.track17}
        codes.update(carrier_codes or {})
        self.carrier_codes: Mapping[str, str] = codes
        self._ours = {key_: code for code, key_ in codes.items()}
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
    ) -> Track17Adapter:
        return cls(
            client,
            key=required_env(ENV_KEY, environ),
            base_url=base_url,
            carrier_codes=carrier_codes,
            on_unknown_code=on_unknown_code,
        )

    def carrier_for(self, key: str) -> str | None:
        return self._ours.get(key)

    def _items(self, parcels: Sequence[ParcelRef], *, tag: bool) -> list[dict[str, Any]]:
        if len(parcels) > self.batch_size:
            raise ValueError(f"{self.name}: at most {self.batch_size} parcels per call")
        items: list[dict[str, Any]] = []
        for ref in parcels:
            item: dict[str, Any] = {"number": ref.tracking_number}
            key = self.carrier_codes.get(ref.carrier)
            if key is not None:
                # Numeric carrier key (docs/tracking-apis.md "17TRACK carrier keys"); without
                # one 17TRACK detects the carrier.
                item["carrier"] = int(key) if key.isdigit() else key
            if tag:
                item["tag"] = ref.carrier
            items.append(item)
        return items

    async def _post(self, path: str, items: list[dict[str, Any]]) -> bytes:
        response = await send(
            self._client,
            "POST",
            f"{self.base_url}{path}",
            api=self.name,
            json=items,
            headers={"17token": self._key},
        )
        if 400 <= response.status_code < 500:
            # 17TRACK answers in a 200 envelope
            # (docs/tracking-apis.md "17TRACK endpoints and auth"); a bare 4xx is a refused key
            # or a wrong address, which retrying will not fix.
            raise PermanentCarrierError(
                f"{self.name}: HTTP {response.status_code} from {response.request.url}: "
                f"{response.text[:200]!r}; check PARCELWATCH_17TRACK_KEY and base_url",
                status_code=response.status_code,
            )
        return response.content

    async def track(self, parcels: Sequence[ParcelRef]) -> TrackResult:
        if not parcels:
            return TrackResult()
        body = await self._post("/gettrackinfo", self._items(parcels, tag=False))
        result = parse.parse_track_response(
            body,
            carriers={ref.tracking_number: ref.carrier for ref in parcels},
            carrier_for=self.carrier_for,
            report=self._on_unknown_code,
        )
        result.bodies.append(body)
        return result

    async def subscribe(self, parcels: Sequence[ParcelRef], callback_url: str) -> SubscribeResult:
        if not parcels:
            return SubscribeResult()
        body = await self._post("/register", self._items(parcels, tag=True))
        return parse.parse_register_response(body, numbers=[ref.tracking_number for ref in parcels])

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushResult:
        return parse.parse_push(
            headers,
            body,
            key=self._key,
            carrier_for=self.carrier_for,
            known_carriers={*CARRIERS, *self.carrier_codes},
            report=self._on_unknown_code,
        )


if TYPE_CHECKING:

    def _implements_protocol(adapter: Track17Adapter) -> TrackingAdapter:
        return adapter
