"""The Slack incoming-webhook sink (alerts/sinks/slack.py; docs/observability.md
"Slack incoming webhook"): blocks, escaping, and how answers (`ok`, `invalid_token`,
`no_service`, status codes) are classified, over `httpx.MockTransport`; a webhook too slow to
answer against a real receiver on loopback."""

from __future__ import annotations

import time

from alerts.sinks.slack import SlackSink
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


def test_slack_blocks_and_permanent_failures() -> None:
    with MockReceiver(lambda seen: (200, "ok", {})) as receiver:
        send(lambda c: SlackSink("ops", receiver.url + "/services/T/B/X", c, renderer=RENDERER),
             [notification()], receiver.transport)  # fmt: skip
    body = receiver.seen[0].json()
    assert body["text"] == "【严重】揽收超时 新告警 O1001"
    section = body["blocks"][0]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "*揽收超时 no_pickup_scan · 新告警*" in section["text"]["text"]
    assert f"<{PUBLIC}/parcels/O1001?platform=pinduoduo|查看包裹>" in section["text"]["text"]

    answers = {
        (404, "no_service"): True,
        (400, "invalid_token"): True,
        (410, "no_service"): True,
        (403, "action_prohibited"): True,
        (500, "rollup_error"): False,
        (429, "rate_limited"): False,
    }
    for (status, text), permanent in answers.items():
        with MockReceiver(lambda seen: (status, text, {})) as receiver:  # noqa: B023
            error = send_error(lambda c: SlackSink("ops", receiver.url, c), notification(),
                               receiver.transport)  # fmt: skip
        assert error.permanent is permanent, (status, text)
        assert text in error.message


def test_slack_escapes_untrusted_text() -> None:
    n = notification(detail={"sub_reason": "<!channel> & <https://evil|click>"})
    with MockReceiver(lambda seen: (200, "ok", {})) as receiver:
        send(lambda c: SlackSink("ops", receiver.url, c), [n], receiver.transport)
    text = receiver.seen[0].json()["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;" in text


def test_slack_webhook_that_does_not_answer_in_time_is_transient() -> None:
    """The one test over a real socket: a webhook that takes longer than the timeout."""

    def slow(seen: Seen) -> Reply:
        time.sleep(0.5)
        return 200, "ok", {}

    with Receiver(slow) as receiver:
        url = receiver.url + "/services/T/B/X"
        late = send_error(lambda c: SlackSink("ops", url, c, timeout=0.1), notification())
    assert not late.permanent and "no answer within 0.1 s" in late.message
    assert "/services/T/B/X" not in late.message
