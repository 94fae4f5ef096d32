"""The DingTalk custom robot sink (alerts/sinks/dingtalk.py; docs/observability.md
"DingTalk custom robot"): the signature (recomputed here, independently of the sender's
code), the message, and the robot's errcodes, over `httpx.MockTransport`; a robot too slow to
answer against a real receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote, unquote

from alerts.sinks.dingtalk import DingTalkSink
from tests.support.sinks import (
    NOW,
    RENDERER,
    MockReceiver,
    Receiver,
    Reply,
    Seen,
    notification,
    send,
    send_error,
)


def test_dingtalk_signature_verifies_independently() -> None:
    secret = "SEC0123456789abcdef/+=padding"
    with MockReceiver(lambda seen: (200, {"errcode": 0, "errmsg": "ok"}, {})) as receiver:
        url = receiver.url + "/robot/send?access_token=TOKEN"
        send(lambda c: DingTalkSink("ding", url, c, secret=secret, renderer=RENDERER,
                                    now=lambda: NOW), [notification()],
             receiver.transport)  # fmt: skip
    (seen,) = receiver.seen
    query = seen.query
    assert query["access_token"] == "TOKEN"
    timestamp = query["timestamp"]
    assert timestamp == str(int(NOW.timestamp() * 1000))  # milliseconds
    # DingTalk's rule, recomputed here: base64(HMAC-SHA256(secret, f"{ts}\n{secret}")).
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    expected = base64.b64encode(digest.digest()).decode()
    assert query["sign"] == expected
    # URL-encoded exactly once in the query string.
    raw_sign = seen.raw_query.split("sign=", 1)[1].split("&", 1)[0]
    assert unquote(raw_sign) == expected and raw_sign == quote(expected, safe="")
    body = seen.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "【严重】揽收超时 新告警 O1001"
    assert "**揽收超时 no_pickup_scan · 新告警**" in body["markdown"]["text"]


def test_dingtalk_without_secret_sends_no_signature() -> None:
    with MockReceiver(lambda seen: (200, {"errcode": 0}, {})) as receiver:
        send(lambda c: DingTalkSink("ding", receiver.url + "/robot/send?access_token=T", c),
             [notification()], receiver.transport)  # fmt: skip
    assert set(receiver.seen[0].query) == {"access_token"}


def test_dingtalk_errcodes() -> None:
    for code, permanent, retry in [(130101, False, 600.0), (310000, True, None),
                                   (300001, True, None)]:  # fmt: skip
        answer = (200, {"errcode": code, "errmsg": "send too fast"}, {})
        with MockReceiver(lambda seen: answer) as receiver:  # noqa: B023
            url = receiver.url + "/robot/send?access_token=TOKEN"
            error = send_error(lambda c: DingTalkSink("ding", url, c, secret="SEC1"),  # noqa: B023
                               notification(), receiver.transport)  # fmt: skip
        assert (error.permanent, error.retry_after) == (permanent, retry)
        assert "TOKEN" not in error.message and "SEC1" not in error.message


def test_dingtalk_robot_that_does_not_answer_in_time_is_transient() -> None:
    """The one test over a real socket: a robot that takes longer than the timeout."""

    def slow(seen: Seen) -> Reply:
        time.sleep(0.5)
        return 200, {"errcode": 0, "errmsg": "ok"}, {}

    with Receiver(slow) as receiver:
        url = receiver.url + "/robot/send?access_token=TOKEN"
        late = send_error(lambda c: DingTalkSink("ding", url, c, secret="SEC1", timeout=0.1),
                          notification())  # fmt: skip
    assert not late.permanent and "no answer within 0.1 s" in late.message
    assert "TOKEN" not in late.message and "SEC1" not in late.message
