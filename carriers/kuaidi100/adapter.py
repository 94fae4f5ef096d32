"""Kuaidi100 (快递100) over HTTP: real-time query, subscription and push (docs/tracking-apis.md
"Kuaidi100").

The thin I/O layer around parse.py: builds and signs the form requests, sends them over the
`httpx.AsyncClient` it is given, and leaves every answer to the pure parsers.
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
    TrackingProblem,
    TrackResult,
    UnknownCodeHook,
)
from carriers.http import required_env, send
from carriers.kuaidi100 import parse
from carriers.registry import CARRIERS, normalize_carrier

# docs/tracking-apis.md "Kuaidi100 query" + "Kuaidi100 subscription"
DEFAULT_BASE_URL = "https://poll.kuaidi100.com"

ENV_CUSTOMER = "PARCELWATCH_KUAIDI100_CUSTOMER"
ENV_KEY = "PARCELWATCH_KUAIDI100_KEY"
ENV_SALT = "PARCELWATCH_KUAIDI100_SALT"


class Kuaidi100Adapter:
    """TrackingAdapter for Kuaidi100.

    Limits (docs/tracking-apis.md "At a glance" + "Kuaidi100 query" + "Kuaidi100 subscription"): one
    number per query; at least 30 min between two queries of one number, and more than 48 queries of
    one number in 24 h locks it for 24 h, so `min_interval` is 30 min (hourly is what Kuaidi100
    recommends). No per-second account limit is documented; 5/s is our own ceiling. Subscriptions:
    at most 4 per company+number a month, and re-subscribing only 30 min after an `abort`/`shutdown`
    (`resubscribe_after`).
    """

    name: str = "kuaidi100"
    batch_size: int = 1
    rate_per_second: float = 5.0
    min_interval: timedelta = timedelta(minutes=30)
    resubscribe_after: timedelta = timedelta(minutes=30)
    supports_push: bool = True

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        customer: str,
        key: str,
        salt: str,
        base_url: str | None = None,
        carrier_codes: Mapping[str, str] | None = None,
        on_unknown_code: UnknownCodeHook | None = None,
    ) -> None:
        self._client = client
        self._customer = customer
        self._key = key
        self._salt = salt
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        codes = {code: info.kuaidi100 for code, info in CARRIERS.items()}
        codes.update(carrier_codes or {})
        self.carrier_codes: Mapping[str, str] = codes
        self._ours = {com: code for code, com in codes.items()}
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
    ) -> Kuaidi100Adapter:
        return cls(
            client,
            customer=required_env(ENV_CUSTOMER, environ),
            key=required_env(ENV_KEY, environ),
            salt=required_env(ENV_SALT, environ),
            base_url=base_url,
            carrier_codes=carrier_codes,
            on_unknown_code=on_unknown_code,
        )

    # -- helpers ---------------------------------------------------------------------------

    def carrier_for(self, com: str) -> str | None:
        """Our carrier code for a Kuaidi100 `com` (config first, then the registry's names)."""
        return self._ours.get(com) or normalize_carrier(com)

    def _check(self, parcels: Sequence[ParcelRef]) -> None:
        if len(parcels) > self.batch_size:
            raise ValueError(f"{self.name}: at most {self.batch_size} parcel per call")

    def _com_or_problem(self, ref: ParcelRef) -> str | TrackingProblem:
        """The `com` to ask with, or the problem that makes asking pointless."""
        com = self.carrier_codes.get(ref.carrier)
        if com is None:
            return TrackingProblem(
                ref.tracking_number,
                "no_company_code",
                f"{self.name}: no Kuaidi100 company code for carrier {ref.carrier!r}; "
                f"set `code` under [carriers.{ref.carrier}]",
                retryable=False,
            )
        if com in parse.PHONE_REQUIRED and not ref.phone:
            # Kuaidi100 would answer 408 and still count the query
            # (docs/tracking-apis.md "Kuaidi100 query" + "Kuaidi100 lastResult shape").
            return TrackingProblem(
                ref.tracking_number,
                "408",
                f"{self.name}: {com} requires the receiver's or sender's phone "
                "(last 4 digits suffice); none is recorded for this parcel",
                retryable=False,
            )
        return com

    @staticmethod
    def _places(ref: ParcelRef) -> dict[str, str]:
        places: dict[str, str] = {}
        if ref.origin:
            places["from"] = ref.origin
        if ref.destination:
            places["to"] = ref.destination + (ref.destination_city or "")
        return places

    # -- TrackingAdapter -------------------------------------------------------------------

    async def track(self, parcels: Sequence[ParcelRef]) -> TrackResult:
        self._check(parcels)
        result = TrackResult()
        for ref in parcels:
            com = self._com_or_problem(ref)
            if isinstance(com, TrackingProblem):
                result.problems.append(com)
                continue
            query: dict[str, Any] = {"com": com, "num": ref.tracking_number}
            if ref.phone:
                query["phone"] = ref.phone
            query.update(self._places(ref))
            # advanced status codes and areas (docs/tracking-apis.md "Kuaidi100 query")
            query["resultv2"] = "4"
            param = parse.encode_param(query)
            response = await send(
                self._client,
                "POST",
                f"{self.base_url}/poll/query.do",
                api=self.name,
                data={
                    "customer": self._customer,
                    "sign": parse.query_sign(param, self._key, self._customer),
                    "param": param,
                },
            )
            _reject_http_4xx(response, self.name)
            result.bodies.append(response.content)
            answer = parse.parse_query_response(
                response.content,
                tracking_number=ref.tracking_number,
                carrier=ref.carrier,
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
            com = self._com_or_problem(ref)
            if isinstance(com, TrackingProblem):
                result.problems.append(com)
                continue
            parameters: dict[str, Any] = {
                "callbackurl": callback_url,
                "salt": self._salt,
                "resultv2": "4",
            }
            if ref.phone:
                parameters["phone"] = ref.phone
            subscription: dict[str, Any] = {"company": com, "number": ref.tracking_number}
            subscription.update(self._places(ref))
            subscription["key"] = self._key
            subscription["parameters"] = parameters
            response = await send(
                self._client,
                "POST",
                f"{self.base_url}/poll",
                api=self.name,
                data={"schema": "json", "param": parse.encode_param(subscription)},
            )
            _reject_http_4xx(response, self.name)
            answer = parse.parse_subscribe_response(
                response.content, tracking_number=ref.tracking_number
            )
            result.accepted.extend(answer.accepted)
            result.problems.extend(answer.problems)
        return result

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> PushResult:
        return parse.parse_push(
            body, salt=self._salt, carrier_for=self.carrier_for, report=self._on_unknown_code
        )


def _reject_http_4xx(response: httpx.Response, api: str) -> None:
    """Kuaidi100 answers errors inside a 200 envelope; a bare HTTP 4xx means the address or
    the request itself is wrong (a proxy, a bad base_url), which retrying will not fix."""
    if 400 <= response.status_code < 500:
        raise PermanentCarrierError(
            f"{api}: HTTP {response.status_code} from {response.request.url}; check base_url",
            status_code=response.status_code,
        )


if TYPE_CHECKING:

    def _implements_protocol(adapter: Kuaidi100Adapter) -> TrackingAdapter:
        return adapter
