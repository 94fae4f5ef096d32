"""AfterShip adapter: create, get and the webhook on the documented wire format
(docs/tracking-apis.md "AfterShip"), over httpx.MockTransport; never the network."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from carriers.aftership import AfterShipAdapter
from carriers.aftership.status import STATUS_TABLE
from carriers.base import (
    ParcelRef,
    PermanentCarrierError,
    PushFormatError,
    RateLimited,
    SignatureError,
    TrackingAdapter,
    TransientCarrierError,
)
from carriers.status import ParcelStatus
from tests.support.carrier_http import Handler, answer, fixture, offline_clients, raw, run_adapter

BASE = "http://aftership.test/tracking/2025-01"
KEY, SECRET = "as-key-123", "webhook-secret-456"
T = TypeVar("T")
Offline = Callable[..., AfterShipAdapter]

ZTO = ParcelRef("75312345678901", "zto")


def run(handler: Handler, action: Callable[[AfterShipAdapter], Awaitable[T]], **kw: Any) -> T:
    def make(client: httpx.AsyncClient) -> AfterShipAdapter:
        return AfterShipAdapter(client, api_key=KEY, webhook_secret=SECRET, base_url=BASE, **kw)

    return run_adapter(handler, make, action)


@pytest.fixture
def offline() -> Iterator[Offline]:
    with offline_clients() as new_client:
        yield lambda **kw: AfterShipAdapter(new_client(), api_key=KEY, webhook_secret=SECRET, **kw)


def meta(code: int, message: str = "") -> dict[str, Any]:
    return {"meta": {"code": code, "message": message, "type": "Error"}, "data": {}}


def signature(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_adapter_satisfies_the_protocol(offline: Offline) -> None:
    adapter: TrackingAdapter = offline()
    assert (adapter.name, adapter.batch_size, adapter.rate_per_second) == ("aftership", 1, 5.0)


# --- track ----------------------------------------------------------------------------------


def test_track_gets_the_tracking_by_number_and_parses_it() -> None:
    seen: list[httpx.Request] = []
    doc = fixture("aftership_trackings.json")
    doc["data"]["trackings"][0]["checkpoints"].reverse()  # order on the wire must not matter

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=doc)

    result = run(handler, lambda a: a.track([ZTO]))
    (request,) = seen
    assert request.method == "GET"
    assert request.url.path == "/tracking/2025-01/trackings"
    assert dict(request.url.params) == {"tracking_numbers": ZTO.tracking_number}
    assert request.headers["as-api-key"] == KEY
    assert request.headers["content-type"] == "application/json"

    (update,) = result.updates
    assert (update.tracking_number, update.carrier) == (ZTO.tracking_number, "zto")
    assert (update.status, update.sub_reason) == (ParcelStatus.DELIVERY_FAILED, "unreachable")
    assert update.raw_status == "AttemptFail_002"
    assert [e.raw_code for e in update.events] == [
        "InTransit_002",
        "InTransit_003",
        "OutForDelivery_001",
        "AttemptFail_002",
    ]
    assert update.events[0].status is ParcelStatus.PICKED_UP
    assert update.events[0].occurred_at == datetime(2026, 11, 11, 6, 30, tzinfo=UTC)
    assert update.events[1].location == "杭州市, 浙江省"  # built from city and state
    # latest_estimated_delivery has only a window: its late end, a bare date → end of day
    assert update.expected_delivery_at == datetime(2026, 11, 15, 16, 0, tzinfo=UTC)
    assert not update.stopped


@pytest.mark.parametrize("code", sorted(STATUS_TABLE))
def test_each_documented_code_through_a_full_parse(code: str) -> None:
    calls: list[tuple[str, str]] = []
    tag = code.split("_")[0]
    checkpoint = {"checkpoint_time": "2026-11-12T08:00:00+08:00", "message": "scan", "tag": tag}
    tracking = {
        "slug": "zto-express",
        "tracking_number": "Z1",
        "tag": tag,
        "checkpoints": [checkpoint],
    }
    if "_" in code:
        tracking["subtag"] = checkpoint["subtag"] = code
    body = {"meta": {"code": 200}, "data": {"trackings": [tracking]}}
    result = run(
        answer(body),
        lambda a: a.track([ParcelRef("Z1", "zto")]),
        on_unknown_code=lambda api, c: calls.append((api, c)),
    )
    (update,) = result.updates
    status, sub_reason = STATUS_TABLE[code]
    assert (update.status, update.sub_reason, update.raw_status) == (status, sub_reason, code)
    assert (update.events[0].status, update.events[0].sub_reason) == (status, sub_reason)
    assert calls == []


def test_slug_from_carrier_codes_is_sent_and_mapped_back() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=fixture("aftership_trackings.json"))

    result = run(handler, lambda a: a.track([ZTO]), carrier_codes={"zto": "zto-express"})
    assert seen[0].url.params["slug"] == "zto-express"
    assert result.updates[0].carrier == "zto"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, {"meta": {"code": 200}, "data": {"trackings": []}}),
        (404, meta(4004, "Tracking does not exist.")),
    ],
    ids=["empty-list", "4004"],
)
def test_a_tracking_not_created_yet_is_a_problem(status: int, body: Any) -> None:
    result = run(answer(body, status), lambda a: a.track([ZTO]))
    (problem,) = result.problems
    assert (problem.tracking_number, problem.code) == (ZTO.tracking_number, "4004")
    assert "subscribe" in problem.message


@pytest.mark.parametrize(
    ("status", "code"), [(401, 401), (403, 403), (400, 4010), (422, 4221)], ids=str
)
def test_4xx_is_permanent(status: int, code: int) -> None:
    with pytest.raises(PermanentCarrierError) as info:
        run(answer(meta(code, "refused"), status), lambda a: a.track([ZTO]))
    assert info.value.status_code == status
    if status == 401:
        assert "PARCELWATCH_AFTERSHIP_KEY" in str(info.value)


def test_4xx_without_a_json_body_is_permanent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>not found</html>")

    with pytest.raises(PermanentCarrierError, match="base_url"):
        run(handler, lambda a: a.track([ZTO]))


def test_429_is_rate_limited_with_retry_after_or_the_reset_time() -> None:
    with pytest.raises(RateLimited) as info:
        run(answer(meta(429), 429, **{"Retry-After": "3"}), lambda a: a.track([ZTO]))
    assert info.value.retry_after == 3

    reset = str(int(time.time()) + 30)
    with pytest.raises(RateLimited) as info:
        run(answer(meta(429), 429, **{"X-RateLimit-Reset": reset}), lambda a: a.track([ZTO]))
    assert info.value.retry_after is not None
    assert 25 <= info.value.retry_after <= 30


def test_5xx_timeouts_and_malformed_bodies_are_transient() -> None:
    with pytest.raises(TransientCarrierError) as info:
        run(answer(meta(500), 500), lambda a: a.track([ZTO]))
    assert info.value.status_code == 500

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.PoolTimeout("pool timed out", request=request)

    with pytest.raises(TransientCarrierError):
        run(timeout, lambda a: a.track([ZTO]))

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>gateway</html>")

    with pytest.raises(TransientCarrierError, match="malformed body"):
        run(garbage, lambda a: a.track([ZTO]))

    bad_time = {"meta": {"code": 200}, "data": {"trackings": [
        {"tracking_number": ZTO.tracking_number, "tag": "InTransit",
         "checkpoints": [{"checkpoint_time": "last tuesday", "message": "?"}]}]}}  # fmt: skip
    with pytest.raises(TransientCarrierError, match="malformed body"):
        run(answer(bad_time), lambda a: a.track([ZTO]))


# --- subscribe (create) ---------------------------------------------------------------------


def test_subscribe_creates_the_tracking() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        tracking = fixture("aftership_trackings.json")["data"]["trackings"][0]
        return httpx.Response(201, json={"meta": {"code": 201}, "data": tracking})

    result = run(handler, lambda a: a.subscribe([ZTO], "https://unused/"))
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/tracking/2025-01/trackings")
    assert request.headers["as-api-key"] == KEY
    assert json.loads(request.content) == {
        "tracking_number": ZTO.tracking_number,
        "custom_fields": {"parcelwatch_carrier": "zto"},
    }
    assert result.accepted == [ZTO.tracking_number]


def test_subscribe_again_is_accepted_and_errors_are_classified() -> None:
    body = meta(4003, "Tracking already exists.")
    result = run(answer(body, 400), lambda a: a.subscribe([ZTO], ""))
    assert result.accepted == [ZTO.tracking_number]
    with pytest.raises(PermanentCarrierError):
        run(answer(meta(401), 401), lambda a: a.subscribe([ZTO], ""))
    with pytest.raises(RateLimited):
        run(answer(meta(429), 429), lambda a: a.subscribe([ZTO], ""))
    with pytest.raises(TransientCarrierError):
        run(answer(meta(503), 503), lambda a: a.subscribe([ZTO], ""))


# --- webhook --------------------------------------------------------------------------------


def test_webhook_with_a_valid_hmac(offline: Offline) -> None:
    body = raw("aftership_webhook.json")
    push = offline().parse_push({"aftership-hmac-sha256": signature(body)}, body)
    (update,) = push.updates
    assert (update.tracking_number, update.carrier) == ("SF1234567890124", "sf")
    assert update.status is ParcelStatus.DELIVERED
    assert update.raw_status == "Delivered_002"
    assert update.source == "push"
    assert update.stopped  # active: false
    assert update.expected_delivery_at == datetime(2026, 11, 13, 10, 0, tzinfo=UTC)
    assert [e.status for e in update.events] == [
        ParcelStatus.PICKED_UP,
        ParcelStatus.AVAILABLE_FOR_PICKUP,
        ParcelStatus.DELIVERED,
    ]


def test_webhook_header_name_is_case_insensitive(offline: Offline) -> None:
    body = raw("aftership_webhook.json")
    assert offline().parse_push({"Aftership-Hmac-Sha256": signature(body)}, body).updates


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"aftership-hmac-sha256": signature(b"another body")},
        {"aftership-hmac-sha256": signature(raw("aftership_webhook.json"), "other-secret")},
    ],
    ids=["missing", "other-body", "other-secret"],
)
def test_webhook_with_a_wrong_hmac_is_refused(offline: Offline, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        offline().parse_push(headers, raw("aftership_webhook.json"))


def test_webhook_with_a_valid_hmac_but_no_tracking_is_malformed(offline: Offline) -> None:
    body = b'{"event":"tracking_update","msg":null}'
    with pytest.raises(PushFormatError):
        offline().parse_push({"aftership-hmac-sha256": signature(body)}, body)


def test_webhook_courier_estimate_is_used_when_aftership_has_none(offline: Offline) -> None:
    doc = fixture("aftership_webhook.json")
    del doc["msg"]["latest_estimated_delivery"]
    doc["msg"]["courier_estimated_delivery_date"] = {"estimated_delivery_date": "2026-11-14"}
    body = json.dumps(doc).encode()
    (update,) = offline().parse_push({"aftership-hmac-sha256": signature(body)}, body).updates
    assert update.expected_delivery_at == datetime(2026, 11, 14, 16, 0, tzinfo=UTC)


def test_from_env_reads_both_variables_and_names_a_missing_one() -> None:
    env = {"PARCELWATCH_AFTERSHIP_KEY": KEY, "PARCELWATCH_AFTERSHIP_WEBHOOK_SECRET": SECRET}

    async def check() -> None:
        async with httpx.AsyncClient() as client:
            adapter = AfterShipAdapter.from_env(client, environ=env)
            assert adapter.base_url == "https://api.aftership.com/tracking/2025-01"
            for name in env:
                with pytest.raises(PermanentCarrierError, match=name):
                    AfterShipAdapter.from_env(
                        client, environ={k: v for k, v in env.items() if k != name}
                    )

    asyncio.run(check())
