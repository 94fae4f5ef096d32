"""Kuaidi100 adapter: signed form requests, answers and pushes on the documented wire format
(docs/tracking-apis.md "Kuaidi100"), over httpx.MockTransport; never the network."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

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
from carriers.kuaidi100 import Kuaidi100Adapter
from carriers.kuaidi100.status import STATUS_TABLE
from carriers.status import ParcelStatus
from tests.support.carrier_http import Handler, answer, fixture, offline_clients, run_adapter

BASE = "http://kuaidi100.test"
CUSTOMER, KEY, SALT = "CUSTOMER0001", "key-abc", "salt-xyz"
T = TypeVar("T")

Offline = Callable[..., Kuaidi100Adapter]


def run(handler: Handler, action: Callable[[Kuaidi100Adapter], Awaitable[T]], **kw: Any) -> T:
    def make(client: httpx.AsyncClient) -> Kuaidi100Adapter:
        return Kuaidi100Adapter(client, customer=CUSTOMER, key=KEY, salt=SALT, base_url=BASE, **kw)

    return run_adapter(handler, make, action)


@pytest.fixture
def offline() -> Iterator[Offline]:
    """Adapters for push parsing only (no request is sent); their clients closed after."""
    with offline_clients() as new_client:
        yield lambda **kw: Kuaidi100Adapter(
            new_client(), customer=CUSTOMER, key=KEY, salt=SALT, **kw
        )


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


JD = ParcelRef("JD0076810060555", "jd", origin="浙江", destination="陕西", destination_city="西安")
ZTO = ParcelRef("73100123456789", "zto", phone="0000")


def signed_push(param: dict[str, Any], salt: str = SALT, lower: bool = False) -> bytes:
    text = json.dumps(param, ensure_ascii=False)
    sign = hashlib.md5((text + salt).encode()).hexdigest()
    return urlencode({"param": text, "sign": sign if lower else sign.upper()}).encode()


# --- query ----------------------------------------------------------------------------------


def test_adapter_satisfies_the_protocol(offline: Offline) -> None:
    adapter: TrackingAdapter = offline()
    assert (adapter.name, adapter.batch_size, adapter.supports_push) == ("kuaidi100", 1, True)
    assert adapter.min_interval.total_seconds() == 30 * 60


def test_query_is_a_signed_form_post_and_parses_the_advanced_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=fixture("kuaidi100_query_advanced.json"))

    result = run(handler, lambda a: a.track([JD]))

    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/poll/query.do"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    fields = form(request)
    assert fields["customer"] == CUSTOMER
    # sign = uppercase MD5(param + key + customer) over the exact param string sent
    # (docs/tracking-apis.md "Kuaidi100 query")
    expected = hashlib.md5((fields["param"] + KEY + CUSTOMER).encode()).hexdigest().upper()
    assert fields["sign"] == expected
    param = json.loads(fields["param"])
    assert param == {
        "com": "jd",
        "num": "JD0076810060555",
        "from": "浙江",
        "to": "陕西西安",
        "resultv2": "4",
    }

    assert result.problems == []
    (update,) = result.updates
    assert update.tracking_number == "JD0076810060555"
    assert update.carrier == "jd"
    assert update.status is ParcelStatus.DELIVERED
    assert update.raw_status == "304"
    assert update.source == "poll"
    # newest first on the wire, oldest first here, the duplicated 派件 scan once
    assert [e.raw_code for e in update.events] == ["103", "1002", "1001", "5", "501", "304"]
    assert [e.status for e in update.events] == [
        ParcelStatus.PICKED_UP,
        ParcelStatus.IN_TRANSIT,
        ParcelStatus.IN_TRANSIT,
        ParcelStatus.OUT_FOR_DELIVERY,
        ParcelStatus.AVAILABLE_FOR_PICKUP,
        ParcelStatus.DELIVERED,
    ]
    first = update.events[0]
    assert first.occurred_at == datetime(2022, 6, 29, 1, 1, tzinfo=UTC)  # 09:01 in Shanghai
    assert first.occurred_at.utcoffset() is not None
    assert first.location == "浙江,杭州市"
    assert update.events[-1].raw_text.startswith("您的快件已由快递驿站代收")


@pytest.mark.parametrize("code", sorted(STATUS_TABLE, key=int))
def test_each_documented_code_through_a_full_parse(code: str) -> None:
    calls: list[tuple[str, str]] = []
    body = {
        "message": "ok",
        "nu": "JD1",
        "com": "jd",
        "status": "200",
        "state": code,
        "data": [{"time": "2026-11-12 08:00:00", "context": "扫描", "statusCode": code}],
    }
    result = run(
        answer(body),
        lambda a: a.track([ParcelRef("JD1", "jd")]),
        on_unknown_code=lambda api, c: calls.append((api, c)),
    )
    (update,) = result.updates
    status, sub_reason = STATUS_TABLE[code]
    assert (update.status, update.sub_reason) == (status, sub_reason)
    assert (update.events[0].status, update.events[0].sub_reason) == (status, sub_reason)
    assert update.status is not ParcelStatus.UNKNOWN
    assert calls == []


def test_staleness_flag_keeps_the_newest_scans_status() -> None:
    body = fixture("kuaidi100_query_advanced.json")
    body["state"] = "202"  # 超时未更新
    body["data"] = body["data"][2:]  # newest scan: 派件 (5)
    result = run(answer(body), lambda a: a.track([JD]))
    (update,) = result.updates
    assert update.status is ParcelStatus.OUT_FOR_DELIVERY
    assert update.raw_status == "202"
    (kept,) = result.bodies  # the answer as received, for the store to keep
    assert json.loads(kept) == body


def test_events_with_only_a_status_name_get_its_code() -> None:
    body = {
        "message": "ok",
        "nu": "JD1",
        "com": "jd",
        "state": "0",
        "data": [
            {"time": "2026-11-12 08:00", "context": "到达", "status": "在途"},
            {"time": "2026-11-11 08:00:00", "context": "揽件", "status": "揽收"},
        ],
    }
    (update,) = run(answer(body), lambda a: a.track([ParcelRef("JD1", "jd")])).updates
    assert [(e.raw_code, e.status) for e in update.events] == [
        ("1", ParcelStatus.PICKED_UP),
        ("0", ParcelStatus.IN_TRANSIT),
    ]


def test_phone_is_sent_when_known_and_required_for_sf_and_zto() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(form(request))
        return httpx.Response(200, json=fixture("kuaidi100_push_polling.json")["lastResult"])

    result = run(handler, lambda a: a.track([ZTO]))
    assert json.loads(seen[0]["param"])["phone"] == "0000"
    assert result.updates[0].status is ParcelStatus.OUT_FOR_DELIVERY

    for ref in (ParcelRef("SF1", "sf"), ParcelRef("73100", "zto")):
        seen.clear()
        result = run(handler, lambda a, ref=ref: a.track([ref]))
        assert seen == [], "no query without the phone: Kuaidi100 would answer 408"
        (problem,) = result.problems
        assert (problem.code, problem.retryable) == ("408", False)
        assert "phone" in problem.message


def test_carrier_without_a_company_code_is_a_problem_not_a_call() -> None:
    result = run(answer({}), lambda a: a.track([ParcelRef("X1", "nosuchcarrier")]))
    (problem,) = result.problems
    assert problem.code == "no_company_code"
    assert "[carriers.nosuchcarrier]" in problem.message


def test_carrier_codes_override_the_registry() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(form(request)["param"]))
        return httpx.Response(
            200, json={"message": "ok", "nu": "B1", "com": "baishiwuliu", "state": "0", "data": []}
        )

    result = run(
        handler, lambda a: a.track([ParcelRef("B1", "best")]), carrier_codes={"best": "baishiwuliu"}
    )
    assert seen[0]["com"] == "baishiwuliu"
    assert result.updates[0].carrier == "best"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("400", PermanentCarrierError),
        ("501", TransientCarrierError),
        ("502", TransientCarrierError),
        ("503", PermanentCarrierError),
        ("600", PermanentCarrierError),
        ("601", PermanentCarrierError),
    ],
)
def test_query_error_envelopes_raise(code: str, error: type[Exception]) -> None:
    body = {"result": False, "returnCode": code, "message": "错误"}
    with pytest.raises(error, match=f"returnCode {code}"):
        run(answer(body), lambda a: a.track([JD]))


def test_signature_error_is_permanent_and_names_the_credentials() -> None:
    body = {"result": False, "returnCode": "503", "message": "验证签名失败"}
    with pytest.raises(PermanentCarrierError, match="PARCELWATCH_KUAIDI100_KEY"):
        run(answer(body), lambda a: a.track([JD]))


@pytest.mark.parametrize(("code", "retryable"), [("408", False), ("500", True)])
def test_per_number_error_envelopes_are_problems(code: str, retryable: bool) -> None:
    body = {"result": False, "returnCode": code, "message": "查询无结果，请隔段时间再查"}
    result = run(answer(body), lambda a: a.track([JD]))
    assert result.updates == []
    (problem,) = result.problems
    assert (problem.tracking_number, problem.code, problem.retryable) == (
        JD.tracking_number,
        code,
        retryable,
    )


def test_http_429_is_rate_limited_with_retry_after() -> None:
    with pytest.raises(RateLimited) as info:
        run(answer({}, 429, **{"Retry-After": "120"}), lambda a: a.track([JD]))
    assert info.value.retry_after == 120
    assert info.value.status_code == 429


def test_http_5xx_timeouts_and_broken_bodies_are_transient() -> None:
    with pytest.raises(TransientCarrierError):
        run(answer({}, 502), lambda a: a.track([JD]))

    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(TransientCarrierError, match="timed out") as info:
        run(timeout, lambda a: a.track([JD]))
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(TransientCarrierError):
        run(refused, lambda a: a.track([JD]))

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"message":"ok","nu":"JD')

    with pytest.raises(TransientCarrierError, match="malformed body"):
        run(broken, lambda a: a.track([JD]))

    bad_time = {"message": "ok", "nu": "JD1", "state": "0", "data": [{"time": "yesterday"}]}
    with pytest.raises(TransientCarrierError, match="malformed body"):
        run(answer(bad_time), lambda a: a.track([JD]))


def test_more_than_one_parcel_per_call_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="at most 1"):
        run(answer({}), lambda a: a.track([JD, ZTO]))


# --- subscribe --------------------------------------------------------------------------------


def subscribe_handler(seen: list[dict[str, Any]], return_code: str = "200") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{BASE}/poll"
        fields = form(request)
        # the key travels inside param (docs/tracking-apis.md "Kuaidi100 subscription")
        assert "sign" not in fields
        seen.append({"schema": fields["schema"], **json.loads(fields["param"])})
        return httpx.Response(
            200,
            json={"result": return_code == "200", "returnCode": return_code, "message": "提交成功"},
        )

    return handler


def test_subscribe_posts_the_documented_param() -> None:
    seen: list[dict[str, Any]] = []
    result = run(
        subscribe_handler(seen),
        lambda a: a.subscribe([ZTO], "https://shop.example/webhooks/kuaidi100"),
    )
    assert result.accepted == [ZTO.tracking_number]
    (sent,) = seen
    assert sent == {
        "schema": "json",
        "company": "zhongtong",
        "number": ZTO.tracking_number,
        "key": KEY,
        "parameters": {
            "callbackurl": "https://shop.example/webhooks/kuaidi100",
            "salt": SALT,
            "resultv2": "4",
            "phone": "0000",
        },
    }


def test_subscribe_duplicate_501_is_accepted_and_errors_are_classified() -> None:
    seen: list[dict[str, Any]] = []
    result = run(subscribe_handler(seen, "501"), lambda a: a.subscribe([JD], "https://x/cb"))
    assert result.accepted == [JD.tracking_number]

    for code, error in (
        ("600", PermanentCarrierError),
        ("601", PermanentCarrierError),
        ("500", TransientCarrierError),
    ):
        with pytest.raises(error):
            run(subscribe_handler(seen, code), lambda a: a.subscribe([JD], "https://x/cb"))

    result = run(subscribe_handler(seen, "702"), lambda a: a.subscribe([JD], "https://x/cb"))
    (problem,) = result.problems
    assert (problem.code, problem.retryable) == ("702", False)


# --- push -------------------------------------------------------------------------------------


def test_push_polling_with_a_valid_sign(offline: Offline) -> None:
    push = offline().parse_push({"content-type": "application/x-www-form-urlencoded"},
                                signed_push(fixture("kuaidi100_push_polling.json")))  # fmt: skip
    assert push.reply_body == '{"result":true,"returnCode":"200","message":"成功"}'.encode()
    assert push.reply_content_type == "application/json"
    (update,) = push.updates
    assert (update.tracking_number, update.carrier) == ("73100123456789", "zto")
    assert update.status is ParcelStatus.OUT_FOR_DELIVERY
    assert update.source == "push"
    assert not update.stopped
    assert [e.occurred_at for e in update.events] == sorted(e.occurred_at for e in update.events)
    assert update.events[0].occurred_at == datetime(2026, 11, 11, 6, 30, tzinfo=UTC)


def test_push_sign_is_compared_ignoring_case(offline: Offline) -> None:
    body = signed_push(fixture("kuaidi100_push_polling.json"), lower=True)
    assert offline().parse_push({}, body).updates


@pytest.mark.parametrize(
    "body",
    [
        signed_push(fixture("kuaidi100_push_polling.json"), salt="wrong-salt"),
        urlencode({"param": json.dumps(fixture("kuaidi100_push_polling.json"))}).encode(),
        urlencode({"param": "{}", "sign": "0" * 32}).encode(),
    ],
    ids=["wrong-salt", "no-sign", "forged"],
)
def test_push_with_a_wrong_or_missing_sign_is_refused(body: bytes, offline: Offline) -> None:
    with pytest.raises(SignatureError):
        offline().parse_push({}, body)


def test_push_that_cannot_be_read_is_refused_as_malformed(offline: Offline) -> None:
    with pytest.raises(PushFormatError):
        offline().parse_push({}, b"sign=abc")
    text = '{"status":"polling","lastResult":'
    sign = hashlib.md5((text + SALT).encode()).hexdigest()
    with pytest.raises(PushFormatError, match="malformed"):
        offline().parse_push({}, urlencode({"param": text, "sign": sign}).encode())


def test_push_shutdown_stops_tracking(offline: Offline) -> None:
    (update,) = (
        offline().parse_push({}, signed_push(fixture("kuaidi100_push_shutdown.json"))).updates
    )
    assert update.stopped
    assert update.carrier == "sf"
    assert update.status is ParcelStatus.DELIVERED
    assert update.raw_status == "301"


def test_push_abort_without_records_stops_with_its_message_then_resubscribes(
    offline: Offline,
) -> None:
    (update,) = offline().parse_push({}, signed_push(fixture("kuaidi100_push_abort.json"))).updates
    assert update.stopped
    assert update.stop_reason == "3天查询无记录"
    assert update.carrier == "yto"
    # state 0 with no scan at all is not "in transit": the no-pickup-scan rule must see it
    assert update.status is ParcelStatus.LABEL_CREATED
    assert update.events == ()

    seen: list[dict[str, Any]] = []
    again = ParcelRef(update.tracking_number, update.carrier)
    result = run(subscribe_handler(seen), lambda a: a.subscribe([again], "https://x/cb"))
    assert result.accepted == [update.tracking_number]
    assert seen[0]["company"] == "yuantong"


def test_push_abort_with_com_new_corrects_the_carrier_and_keeps_tracking(offline: Offline) -> None:
    body = signed_push(fixture("kuaidi100_push_abort_comnew.json"))
    (update,) = offline().parse_push({}, body).updates
    assert update.carrier == "zto"  # comOld yuantong → comNew zhongtong
    assert not update.stopped
    assert update.status is ParcelStatus.IN_TRANSIT

    seen: list[dict[str, Any]] = []
    corrected = ParcelRef(update.tracking_number, update.carrier, phone="1234")
    result = run(subscribe_handler(seen), lambda a: a.subscribe([corrected], "https://x/cb"))
    assert result.accepted == [update.tracking_number]
    assert seen[0]["company"] == "zhongtong"


def test_push_abort_with_an_unknown_com_new_keeps_the_old_carrier_and_reports(
    offline: Offline,
) -> None:
    param = fixture("kuaidi100_push_abort_comnew.json")
    param["comNew"] = "mysteryexpress"
    calls: list[tuple[str, str]] = []
    adapter = offline(on_unknown_code=lambda api, code: calls.append((api, code)))
    (update,) = adapter.parse_push({}, signed_push(param)).updates
    assert update.carrier == "yto"
    assert calls == [("kuaidi100", "com:mysteryexpress")]


def test_push_updateall_removes_duplicates(offline: Offline) -> None:
    param = fixture("kuaidi100_push_polling.json")
    param["status"] = "updateall"
    data = param["lastResult"]["data"]
    param["lastResult"]["data"] = data + data  # the whole history sent twice
    (update,) = offline().parse_push({}, signed_push(param)).updates
    assert len(update.events) == len(data)
    assert not update.stopped


# --- configuration ----------------------------------------------------------------------------


def test_from_env_reads_the_credentials_and_names_a_missing_one() -> None:
    env = {
        "PARCELWATCH_KUAIDI100_CUSTOMER": CUSTOMER,
        "PARCELWATCH_KUAIDI100_KEY": KEY,
        "PARCELWATCH_KUAIDI100_SALT": SALT,
    }

    async def check() -> None:
        async with httpx.AsyncClient() as client:
            adapter = Kuaidi100Adapter.from_env(client, environ=env)
            assert adapter.base_url == "https://poll.kuaidi100.com"
            sim = Kuaidi100Adapter.from_env(client, "http://sim:9000/", environ=env)
            assert sim.base_url == "http://sim:9000"
            for name in env:
                with pytest.raises(PermanentCarrierError, match=name):
                    Kuaidi100Adapter.from_env(
                        client, environ={k: v for k, v in env.items() if k != name}
                    )

    asyncio.run(check())
