"""Property tests: whatever arrives at a webhook, correctly signed or not, each API's push
parser answers with updates, a SignatureError (401) or a PushFormatError (400): never any
other exception, which the web layer would turn into a 500 and the carrier into a retry loop.
Bodies are generated as arbitrary bytes and as arbitrary JSON shaped like each API's push,
signed with the account's secret so the parser gets past the signature."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carriers.aftership.adapter import AfterShipAdapter
from carriers.aftership.parse import webhook_hmac
from carriers.base import PushFormatError, PushResult, SignatureError
from carriers.kuaidi100.adapter import Kuaidi100Adapter
from carriers.kuaidi100.parse import push_sign
from carriers.track17.adapter import Track17Adapter
from carriers.track17.parse import webhook_sign

CLIENT = httpx.AsyncClient()
KUAIDI100 = Kuaidi100Adapter(CLIENT, customer="C", key="K", salt="salt")
TRACK17 = Track17Adapter(CLIENT, key="key17")
AFTERSHIP = AfterShipAdapter(CLIENT, api_key="A", webhook_secret="whsec")
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)
times = st.sampled_from(["2026-11-24 10:00:00", "9999-12-31 23:59:59", "0001-01-01 00:00:00",
                         "2026-13-45 99:99:99", "", "yesterday", "2026-11-24T10:00:00+08:00"])  # fmt: skip
event = st.fixed_dictionaries(
    {},
    optional={
        "time": times,
        "ftime": times,
        "context": st.text(max_size=40),
        "status": st.text(max_size=6),
        "statusCode": st.text(max_size=4) | st.integers(),
        "areaName": st.text(max_size=10),
        "location": json_values,
        "time_iso": times,
        "time_utc": times,
        "description": st.text(max_size=20),
        "stage": st.text(max_size=12),
        "sub_status": st.text(max_size=20),
        "checkpoint_time": times,
        "tag": st.text(max_size=12),
        "subtag": st.text(max_size=12),
    },
)


def check(result: Any) -> None:
    assert isinstance(result, PushResult)
    for update in result.updates:
        assert isinstance(update.tracking_number, str)


def parse_or_refuse(adapter: Any, headers: dict[str, str], body: bytes) -> None:
    with contextlib.suppress(SignatureError, PushFormatError):
        check(adapter.parse_push(headers, body))


@SETTINGS
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_crash_any_parser(body: bytes) -> None:
    for adapter in (KUAIDI100, TRACK17, AFTERSHIP):
        parse_or_refuse(adapter, {}, body)
    parse_or_refuse(TRACK17, {"sign": webhook_sign(body, "key17")}, body)
    parse_or_refuse(AFTERSHIP, {"aftership-hmac-sha256": webhook_hmac(body, "whsec")}, body)


@SETTINGS
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "status": st.sampled_from(["polling", "abort", "shutdown", "updateall"]) | json_values,
            "message": json_values,
            "comOld": json_values,
            "comNew": json_values,
            "lastResult": json_values
            | st.fixed_dictionaries(
                {},
                optional={
                    "nu": st.text(max_size=15) | json_values,
                    "com": st.text(max_size=12),
                    "state": st.text(max_size=3) | json_values,
                    "ischeck": json_values,
                    "data": st.lists(event, max_size=5) | json_values,
                },
            ),
        },
    )
)
def test_signed_kuaidi100_pushes_parse_or_are_refused(param: dict[str, Any]) -> None:
    text = json.dumps(param, ensure_ascii=False)
    body = urlencode({"param": text, "sign": push_sign(text, "salt")}).encode()
    parse_or_refuse(KUAIDI100, {}, body)


@SETTINGS
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "event": st.sampled_from(["TRACKING_UPDATED", "TRACKING_STOPPED"]) | json_values,
            "data": json_values
            | st.fixed_dictionaries(
                {},
                optional={
                    "number": st.text(max_size=15) | json_values,
                    "carrier": json_values,
                    "tag": json_values,
                    "track_info": json_values
                    | st.fixed_dictionaries(
                        {},
                        optional={
                            "latest_status": json_values,
                            "tracking": st.fixed_dictionaries(
                                {},
                                optional={
                                    "providers": st.lists(
                                        st.fixed_dictionaries(
                                            {},
                                            optional={
                                                "events": st.lists(event, max_size=4) | json_values,
                                            },
                                        ),
                                        max_size=2,
                                    )
                                    | json_values,
                                },
                            )
                            | json_values,
                            "time_metrics": json_values,
                        },
                    ),
                },
            ),
        },
    )
)
def test_signed_17track_webhooks_parse_or_are_refused(payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    parse_or_refuse(TRACK17, {"sign": webhook_sign(body, "key17")}, body)


@SETTINGS
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "event": json_values,
            "msg": json_values
            | st.fixed_dictionaries(
                {},
                optional={
                    "tracking_number": st.text(max_size=15) | json_values,
                    "slug": json_values,
                    "tag": json_values,
                    "subtag": json_values,
                    "expected_delivery": times,
                    "checkpoints": st.lists(event, max_size=4) | json_values,
                    "custom_fields": json_values,
                },
            ),
        },
    )
)
def test_signed_aftership_webhooks_parse_or_are_refused(payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    parse_or_refuse(AFTERSHIP, {"aftership-hmac-sha256": webhook_hmac(body, "whsec")}, body)


def test_deeply_nested_json_is_a_format_error_on_every_api() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body17 = deep.encode()
    for adapter, headers, body in (
        (TRACK17, {"sign": webhook_sign(body17, "key17")}, body17),
        (AFTERSHIP, {"aftership-hmac-sha256": webhook_hmac(body17, "whsec")}, body17),
        (KUAIDI100, {}, urlencode({"param": deep, "sign": push_sign(deep, "salt")}).encode()),
    ):
        try:
            adapter.parse_push(headers, body)
        except PushFormatError:
            continue
        raise AssertionError(f"{adapter.name} accepted a 100,000-deep body")
