"""17TRACK adapter: register, gettrackinfo and the webhook on the documented wire format
(docs/tracking-apis.md "17TRACK"), over httpx.MockTransport; never the network."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, TypeVar

import httpx
import pytest

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
from carriers.track17 import Track17Adapter
from carriers.track17.status import STATUS_TABLE
from tests.support.carrier_http import Handler, answer, fixture, offline_clients, raw, run_adapter

BASE = "http://17track.test/track/v2.2"
KEY = "17token-secret"
T = TypeVar("T")
Offline = Callable[..., Track17Adapter]

POST = ParcelRef("1151234567890", "youzheng")
UNREGISTERED = ParcelRef("9999000011112", "yunda")


def run(handler: Handler, action: Callable[[Track17Adapter], Awaitable[T]], **kw: Any) -> T:
    return run_adapter(handler, lambda c: Track17Adapter(c, key=KEY, base_url=BASE, **kw), action)


@pytest.fixture
def offline() -> Iterator[Offline]:
    with offline_clients() as new_client:
        yield lambda **kw: Track17Adapter(new_client(), key=KEY, **kw)


def sign(body: bytes, key: str = KEY) -> str:
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


def test_adapter_satisfies_the_protocol(offline: Offline) -> None:
    adapter: TrackingAdapter = offline()
    assert (adapter.name, adapter.batch_size, adapter.rate_per_second) == ("17track", 40, 3.0)
    assert adapter.supports_push


# --- gettrackinfo -------------------------------------------------------------------------


def test_gettrackinfo_request_and_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=fixture("track17_gettrackinfo.json"))

    result = run(handler, lambda a: a.track([POST, UNREGISTERED]))

    (request,) = seen
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/gettrackinfo")
    assert request.headers["17token"] == KEY
    assert json.loads(request.content) == [
        # China Post's key (docs/tracking-apis.md "17TRACK carrier keys")
        {"number": "1151234567890", "carrier": 3011},
        {"number": "9999000011112"},  # no key known: 17TRACK detects the carrier
    ]

    (update,) = result.updates
    assert (update.tracking_number, update.carrier) == ("1151234567890", "youzheng")
    assert update.status is ParcelStatus.OUT_FOR_DELIVERY
    assert update.raw_status == "OutForDelivery_Other"
    assert update.source == "poll"
    # two providers report the pickup: once here, oldest first
    assert [e.raw_code for e in update.events] == [
        "InTransit_PickedUp",
        "InTransit_Departure",
        None,
        "OutForDelivery_Other",
    ]
    assert update.events[0].status is ParcelStatus.PICKED_UP
    assert update.events[0].occurred_at == datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
    # a scan 17TRACK gave no stage: classified from its words (docs/statuses.md)
    assert (update.events[2].status, update.events[2].inferred) == (ParcelStatus.IN_TRANSIT, True)
    assert update.events[-1].status is ParcelStatus.OUT_FOR_DELIVERY
    # EDD: the late end of the window
    assert update.expected_delivery_at == datetime(2026, 11, 13, 16, 0, tzinfo=UTC)

    (problem,) = result.problems
    assert (problem.tracking_number, problem.code) == ("9999000011112", "-18019902")
    assert problem.retryable
    assert "subscribe" in problem.message


@pytest.mark.parametrize("code", sorted(STATUS_TABLE))
def test_each_documented_status_through_a_full_parse(code: str) -> None:
    calls: list[tuple[str, str]] = []
    latest = {"status": code.split("_")[0], "sub_status": code}
    event = {"time_utc": "2026-11-12T00:00:00Z", "description": "scan", "sub_status": code}
    item = {
        "number": "N1",
        "carrier": 3013,
        "track_info": {
            "latest_status": latest,
            "tracking": {"providers": [{"events": [event]}]},
        },
    }
    body = {"code": 0, "data": {"accepted": [item], "rejected": []}}
    result = run(
        answer(body),
        lambda a: a.track([ParcelRef("N1", "ems")]),
        on_unknown_code=lambda api, c: calls.append((api, c)),
    )
    (update,) = result.updates
    status, sub_reason = STATUS_TABLE[code]
    assert (update.status, update.sub_reason, update.raw_status) == (status, sub_reason, code)
    assert (update.events[0].status, update.events[0].sub_reason) == (status, sub_reason)
    assert update.carrier == "ems"
    assert calls == []


def test_a_number_missing_from_the_answer_is_a_problem() -> None:
    body = {"code": 0, "data": {"accepted": [], "rejected": []}}
    result = run(answer(body), lambda a: a.track([POST]))
    assert [p.code for p in result.problems] == ["missing"]


def test_invalid_key_envelope_is_permanent() -> None:
    body = {"code": -18010002, "data": {"errors": [{"code": -18010002, "message": "Invalid key"}]}}
    with pytest.raises(PermanentCarrierError, match="PARCELWATCH_17TRACK_KEY"):
        run(answer(body), lambda a: a.track([POST]))
    with pytest.raises(PermanentCarrierError, match="-18010099"):
        run(answer({"code": -18010099, "data": {}}), lambda a: a.track([POST]))


def test_http_429_is_rate_limited_with_retry_after_in_seconds_or_as_a_date() -> None:
    with pytest.raises(RateLimited) as info:
        run(answer({}, 429, **{"Retry-After": "2"}), lambda a: a.track([POST]))
    assert info.value.retry_after == 2

    later = datetime.now(UTC).replace(microsecond=0).timestamp() + 90
    date = format_datetime(datetime.fromtimestamp(later, UTC), usegmt=True)
    with pytest.raises(RateLimited) as info:
        run(answer({}, 429, **{"Retry-After": date}), lambda a: a.track([POST]))
    assert info.value.retry_after is not None
    assert 80 <= info.value.retry_after <= 90

    with pytest.raises(RateLimited) as info:
        run(answer({}, 429), lambda a: a.track([POST]))
    assert info.value.retry_after is None


def test_transport_and_server_failures_are_transient() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("connect timed out", request=request)

    with pytest.raises(TransientCarrierError):
        run(timeout, lambda a: a.track([POST]))
    with pytest.raises(TransientCarrierError):
        run(answer({}, 503), lambda a: a.track([POST]))

    def truncated(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"code":0,"data":{"accepted":[')

    with pytest.raises(TransientCarrierError, match="malformed body"):
        run(truncated, lambda a: a.track([POST]))
    with pytest.raises(TransientCarrierError, match="malformed body"):
        run(answer({"code": 0, "data": {"accepted": "nope"}}), lambda a: a.track([POST]))


def test_http_401_is_permanent() -> None:
    with pytest.raises(PermanentCarrierError) as info:
        run(answer({"message": "unauthorized"}, 401), lambda a: a.track([POST]))
    assert info.value.status_code == 401


def test_more_than_forty_numbers_per_call_is_a_caller_bug() -> None:
    parcels = [ParcelRef(f"N{i}", "ems") for i in range(41)]
    with pytest.raises(ValueError, match="at most 40"):
        run(answer({}), lambda a: a.track(parcels))


# --- register -----------------------------------------------------------------------------


def test_register_tags_numbers_and_accepts_already_registered() -> None:
    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{BASE}/register"
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=fixture("track17_register.json"))

    parcels = [POST, ParcelRef("1151234567891", "youzheng"), ParcelRef("BAD", "ems")]
    result = run(handler, lambda a: a.subscribe(parcels, "https://unused/"))
    assert seen[0] == [
        {"number": "1151234567890", "carrier": 3011, "tag": "youzheng"},
        {"number": "1151234567891", "carrier": 3011, "tag": "youzheng"},
        {"number": "BAD", "carrier": 3013, "tag": "ems"},
    ]
    assert result.accepted == ["1151234567890", "1151234567891"]
    (problem,) = result.problems
    assert (problem.tracking_number, problem.code) == ("BAD", "-18010013")


def test_carrier_codes_override_the_registry() -> None:
    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"code": 0, "data": {"accepted": [{"number": "Z1"}]}})

    result = run(
        handler,
        lambda a: a.subscribe([ParcelRef("Z1", "zto")], ""),
        carrier_codes={"zto": "190999"},
    )
    assert seen[0] == [{"number": "Z1", "carrier": 190999, "tag": "zto"}]
    assert result.accepted == ["Z1"]


# --- webhook --------------------------------------------------------------------------------


def test_webhook_update_with_a_valid_sign(offline: Offline) -> None:
    body = raw("track17_webhook_updated.json")
    push = offline().parse_push({"sign": sign(body)}, body)
    assert push.reply_body == b""
    (update,) = push.updates
    assert (update.tracking_number, update.carrier) == ("EZ123456789CN", "ems")
    assert (update.status, update.sub_reason) == (ParcelStatus.EXCEPTION, "damaged")
    assert update.source == "push"
    assert not update.stopped
    assert [e.raw_code for e in update.events] == ["InTransit_Arrival", "Exception_Damage"]
    # a bare date means "by the end of that day" in China
    assert update.expected_delivery_at == datetime(2026, 11, 15, 16, 0, tzinfo=UTC)


def test_webhook_sign_header_is_case_insensitive_both_ways(offline: Offline) -> None:
    body = raw("track17_webhook_updated.json")
    assert offline().parse_push({"Sign": sign(body).upper()}, body).updates


@pytest.mark.parametrize(
    "headers",
    [{}, {"sign": "0" * 64}, {"sign": sign(b"other body")}, {"sign": sign(b"x", key="other")}],
    ids=["missing", "zeros", "other-body", "other-key"],
)
def test_webhook_with_a_wrong_sign_is_refused(offline: Offline, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        offline().parse_push(headers, raw("track17_webhook_updated.json"))


def test_webhook_with_a_valid_sign_but_no_data_is_malformed(offline: Offline) -> None:
    body = b'{"event":"TRACKING_UPDATED"}'
    with pytest.raises(PushFormatError):
        offline().parse_push({"sign": sign(body)}, body)


def test_webhook_tracking_stopped(offline: Offline) -> None:
    body = raw("track17_webhook_stopped.json")
    (update,) = offline().parse_push({"sign": sign(body)}, body).updates
    assert update.stopped
    assert update.stop_reason == "TRACKING_STOPPED"
    assert update.status is ParcelStatus.DELIVERED
    assert update.expected_delivery_at is None


def test_webhook_carrier_falls_back_on_our_tag_never_on_the_key(offline: Offline) -> None:
    doc = fixture("track17_webhook_updated.json")
    doc["data"]["carrier"] = 190271
    doc["data"]["tag"] = "zto"
    body = json.dumps(doc).encode()
    (update,) = offline().parse_push({"sign": sign(body)}, body).updates
    assert update.carrier == "zto"

    doc["data"]["tag"] = "something-else"
    body = json.dumps(doc).encode()
    calls: list[tuple[str, str]] = []
    adapter = offline(on_unknown_code=lambda api, code: calls.append((api, code)))
    (update,) = adapter.parse_push({"sign": sign(body)}, body).updates
    assert update.carrier == ""  # 17TRACK's key is not one of our carrier codes: not stored
    assert ("17track", "carrier:190271") in calls


def test_from_env_reads_the_key_and_names_it_when_missing() -> None:
    async def check() -> None:
        async with httpx.AsyncClient() as client:
            adapter = Track17Adapter.from_env(client, environ={"PARCELWATCH_17TRACK_KEY": KEY})
            assert adapter.base_url == "https://api.17track.net/track/v2.2"
            with pytest.raises(PermanentCarrierError, match="PARCELWATCH_17TRACK_KEY"):
                Track17Adapter.from_env(client, environ={})

    asyncio.run(check())
