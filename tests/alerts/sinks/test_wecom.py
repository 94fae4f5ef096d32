"""The WeCom group robot sink (alerts/sinks/wecom.py; docs/observability.md "Chat robots" and
"WeCom group robot"): Chinese markdown within 4096 bytes and the robot's errcodes, over
`httpx.MockTransport`; a robot too slow to answer against a real receiver on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable

from alerts.sinks.wecom import WeComSink
from tests.support.sinks import (
    PUBLIC,
    RENDERER,
    MockReceiver,
    Receiver,
    Reply,
    Seen,
    notification,
    send,
    send_error,
)


def wecom_answer(code: int, message: str = "ok") -> Callable[[Seen], Reply]:
    return lambda seen: (200, {"errcode": code, "errmsg": message}, {})


def test_wecom_sends_chinese_markdown_with_a_link() -> None:
    with MockReceiver(wecom_answer(0)) as receiver:
        url = receiver.url + "/cgi-bin/webhook/send?key=ROBOTKEY"
        send(lambda c: WeComSink("leads", url, c, renderer=RENDERER), [notification()],
             receiver.transport)  # fmt: skip
    (seen,) = receiver.seen
    assert seen.path == "/cgi-bin/webhook/send" and seen.query["key"] == "ROBOTKEY"
    body = seen.json()
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert "揽收超时 no_pickup_scan" in content and "新告警" in content
    assert "订单 O1001" in content and "运单 ZT7300001" in content and "新疆" in content
    assert "开始 2026-11-20 08:00（已 26 小时）" in content  # Shanghai time
    assert "阈值(小时) 24" in content
    assert f"[查看包裹]({PUBLIC}/parcels/O1001?platform=pinduoduo)" in content
    assert '<font color="warning">【严重】</font>' in content


def test_wecom_digest_stays_within_4096_bytes_of_utf8() -> None:
    burst = [
        notification(alert_id=i, order_id=f"订单{i:05d}号码很长很长", kind="stalled",
                     severity="warning" if i % 2 else "critical")
        for i in range(300)
    ]  # fmt: skip
    with MockReceiver(wecom_answer(0)) as receiver:
        send(lambda c: WeComSink("leads", receiver.url, c, renderer=RENDERER), burst,
             receiver.transport)  # fmt: skip
    content = receiver.seen[0].json()["markdown"]["content"]
    size = len(content.encode("utf-8"))
    assert 3500 < size <= 4096
    assert "parcelwatch：300 条告警" in content and "物流停滞 300" in content
    assert "…另有" in content and content.endswith(f"[打开告警队列]({PUBLIC}/)")
    # Critical first.
    first = content.split("\n- ", 1)[1]
    assert first.startswith("【严重】")


def test_wecom_errcodes() -> None:
    cases = [(45009, False, 60.0), (-1, False, None), (93000, True, None)]
    for code, permanent, retry in cases:
        with MockReceiver(wecom_answer(code, "some error")) as receiver:
            url = receiver.url + "/send?key=ROBOTKEY"
            error = send_error(lambda c: WeComSink("leads", url, c), notification(),  # noqa: B023
                               receiver.transport)  # fmt: skip
        assert (error.permanent, error.retry_after) == (permanent, retry)
        assert f"errcode {code}" in error.message and "ROBOTKEY" not in error.message


def test_robot_key_never_appears_in_errors() -> None:
    with MockReceiver(lambda seen: (502, "bad gateway", {})) as receiver:
        url = receiver.url + "/cgi-bin/webhook/send?key=ROBOTKEY"
        error = send_error(lambda c: WeComSink("leads", url, c), notification(), receiver.transport)
    assert not error.permanent and "ROBOTKEY" not in error.message and receiver.url in error.message


def test_wecom_robot_that_does_not_answer_in_time_is_transient() -> None:
    """The one test over a real socket: a robot that takes longer than the timeout."""

    def slow(seen: Seen) -> Reply:
        time.sleep(0.5)
        return 200, {"errcode": 0, "errmsg": "ok"}, {}

    with Receiver(slow) as receiver:
        url = receiver.url + "/cgi-bin/webhook/send?key=ROBOTKEY"
        late = send_error(lambda c: WeComSink("leads", url, c, timeout=0.1), notification())
    assert not late.permanent and "no answer within 0.1 s" in late.message
    assert "ROBOTKEY" not in late.message
