"""Each sink against a real receiver on loopback: the wire format, the signatures (checked
here independently of the sender's code), the size limits, and how answers are classified
(transient or permanent). `Receiver` and `SmtpReceiver` are shared with tests/test_outbox.py."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import pytest
from conftest import make_config

from alerts.sinks import Notification, SinkError, SinkSetupError, build_routes
from alerts.sinks.alertmanager import AlertmanagerSink
from alerts.sinks.dingtalk import DingTalkSink
from alerts.sinks.ratelimit import SlidingWindowLimiter
from alerts.sinks.render import MARKDOWN, Renderer, truncate_utf8
from alerts.sinks.slack import SlackSink
from alerts.sinks.smtp import EmailSink
from alerts.sinks.webhook import WebhookSink
from alerts.sinks.wecom import WeComSink, WeComSinkConfig
from monitor.config import ConfigError

NOW = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
PUBLIC = "https://pw.example.com"

# -- loopback receivers ----------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    raw_query: str
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.raw_query, keep_blank_values=True).items()}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


Reply = tuple[int, bytes | str | dict[str, Any] | list[Any], dict[str, str]]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the tests


class Receiver:
    """A real HTTP server on 127.0.0.1, in a thread. `reply(seen)` decides the answer
    (default: 200 with an empty JSON object); every request is kept in `seen`."""

    def __init__(self, reply: Callable[[Seen], Reply] | None = None) -> None:
        self.reply = reply or (lambda seen: (200, {}, {}))
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                parts = urlsplit(self.path)
                seen = Seen("POST", parts.path, parts.query, dict(self.headers.items()),
                            self.rfile.read(length))  # fmt: skip
                with receiver.lock:
                    receiver.seen.append(seen)
                status, body, headers = receiver.reply(seen)
                data = (
                    body if isinstance(body, bytes)
                    else body.encode() if isinstance(body, str)
                    else json.dumps(body).encode()
                )  # fmt: skip
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@dataclass
class SmtpReceiver:
    """Enough SMTP for smtplib (EHLO, MAIL, RCPT, DATA, QUIT) on 127.0.0.1, in a thread.
    `rcpt_reply` is what RCPT TO gets (e.g. "550 5.1.1 no such user")."""

    rcpt_reply: str = "250 OK"
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                def say(line: str) -> None:
                    self.wfile.write(line.encode() + b"\r\n")

                say("220 loopback ESMTP")
                sender, recipients = "", []
                while line := self.rfile.readline():
                    command = line.decode("utf-8", "replace").strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250-loopback")
                        say("250 8BITMIME")
                    elif verb == "MAIL":
                        sender = command.split(":", 1)[1].strip().strip("<>")
                        say("250 OK")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                        say(receiver.rcpt_reply)
                    elif verb == "DATA":
                        say("354 end with <CRLF>.<CRLF>")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        mail = message_from_bytes(data, policy=policy.default)
                        receiver.messages.append(mail)  # type: ignore[arg-type]
                        receiver.envelopes.append((sender, recipients))
                        say("250 OK queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    elif verb == "RSET":
                        say("250 OK")
                    else:
                        say("502 not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> SmtpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def notification(event: str = "opened", **payload: Any) -> Notification:
    base: dict[str, Any] = {
        "kind": "no_pickup_scan",
        "severity": "critical",
        "state": "open",
        "order_id": "O1001",
        "tracking_number": "ZT7300001",
        "carrier": "zto",
        "warehouse": "hz1",
        "province": "新疆",
        "platform": "pinduoduo",
        "detail": {"threshold_hours": 24},
        "alert_id": 17,
        "event": event,
        "since": (NOW - timedelta(hours=26)).isoformat(),
    }
    base.update(payload)
    return Notification(
        event=event,
        idempotency_key=f"alert-{base['alert_id']}-{event}-1",
        created_at=NOW,
        payload=base,
        outbox_id=1,
    )


def run(coro_factory: Callable[[httpx.AsyncClient], Any]) -> Any:
    async def main() -> Any:
        async with httpx.AsyncClient() as client:
            return await coro_factory(client)

    return asyncio.run(main())


def send(
    sink_factory: Callable[[httpx.AsyncClient], Any], messages: Sequence[Notification]
) -> None:
    async def go(client: httpx.AsyncClient) -> None:
        await sink_factory(client).send(messages)

    run(go)


def send_error(sink_factory: Callable[[httpx.AsyncClient], Any], n: Notification) -> SinkError:
    with pytest.raises(SinkError) as caught:
        send(sink_factory, [n])
    return caught.value


RENDERER = Renderer(PUBLIC)

# -- generic webhook -------------------------------------------------------------------------


def test_webhook_body_is_signed_with_hmac_and_carries_the_idempotency_key() -> None:
    secret = "s3cr3t-for-the-crm"
    with Receiver() as receiver:
        send(lambda c: WebhookSink("crm", receiver.url + "/hook", c, secret=secret,
                                   renderer=RENDERER, now=lambda: NOW), [notification()])  # fmt: skip
    (seen,) = receiver.seen
    # Recomputed here, from the raw bytes received.
    expected = "sha256=" + hmac.new(secret.encode(), seen.body, hashlib.sha256).hexdigest()
    assert seen.headers["X-Parcelwatch-Signature"] == expected
    assert seen.headers["X-Parcelwatch-Timestamp"] == str(int(NOW.timestamp()))
    assert seen.headers["Idempotency-Key"] == "alert-17-opened-1"
    assert seen.headers["X-Parcelwatch-Event"] == "opened"
    body = seen.json()
    assert body["sent_at"] == NOW.isoformat()  # the timestamp is inside the signed body too
    assert body["event"] == "opened" and body["idempotency_key"] == "alert-17-opened-1"
    assert body["link"] == f"{PUBLIC}/parcels/O1001"
    assert body["data"]["order_id"] == "O1001" and body["data"]["province"] == "新疆"


def test_webhook_digest_has_every_notification_and_a_stable_key() -> None:
    with Receiver() as receiver:
        batch = [notification(alert_id=i) for i in range(3)]
        for _ in range(2):
            send(lambda c: WebhookSink("crm", receiver.url, c, secret="k"), batch)
    first, second = receiver.seen
    assert first.json()["event"] == "digest"
    assert [n["data"]["alert_id"] for n in first.json()["notifications"]] == [0, 1, 2]
    assert first.headers["Idempotency-Key"].startswith("digest-")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_webhook_status_codes_are_classified() -> None:
    answers = iter([(500, "oops", {}), (429, "", {"Retry-After": "7"}), (410, "gone", {}),
                    (400, "bad", {})])  # fmt: skip
    with Receiver(lambda seen: next(answers)) as receiver:
        factory = lambda c: WebhookSink("crm", receiver.url, c, secret="k")  # noqa: E731
        errors = [send_error(factory, notification()) for _ in range(4)]
    assert [(e.permanent, e.retry_after) for e in errors] == [
        (False, None), (False, 7.0), (True, None), (True, None),
    ]  # fmt: skip
    assert "HTTP 500" in errors[0].message


def test_unreachable_and_slow_endpoints_are_transient() -> None:
    port = closed_port()
    refused = send_error(lambda c: WebhookSink("crm", f"http://127.0.0.1:{port}", c,
                                               secret="k"), notification())  # fmt: skip
    assert not refused.permanent and "cannot reach" in refused.message

    def slow(seen: Seen) -> Reply:
        time.sleep(0.5)
        return 200, {}, {}

    with Receiver(slow) as receiver:
        late = send_error(lambda c: WebhookSink("crm", receiver.url, c, secret="k",
                                                timeout=0.1), notification())  # fmt: skip
    assert not late.permanent and "no answer within 0.1 s" in late.message


# -- WeCom -----------------------------------------------------------------------------------


def wecom_answer(code: int, message: str = "ok") -> Callable[[Seen], Reply]:
    return lambda seen: (200, {"errcode": code, "errmsg": message}, {})


def test_wecom_sends_chinese_markdown_with_a_link() -> None:
    with Receiver(wecom_answer(0)) as receiver:
        url = receiver.url + "/cgi-bin/webhook/send?key=ROBOTKEY"
        send(lambda c: WeComSink("leads", url, c, renderer=RENDERER), [notification()])
    (seen,) = receiver.seen
    assert seen.path == "/cgi-bin/webhook/send" and seen.query["key"] == "ROBOTKEY"
    body = seen.json()
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert "揽收超时 no_pickup_scan" in content and "新告警" in content
    assert "订单 O1001" in content and "运单 ZT7300001" in content and "新疆" in content
    assert "开始 2026-11-20 08:00（已 26 小时）" in content  # Shanghai time
    assert "阈值(小时) 24" in content
    assert f"[查看包裹]({PUBLIC}/parcels/O1001)" in content
    assert '<font color="warning">【严重】</font>' in content


def test_wecom_digest_stays_within_4096_bytes_of_utf8() -> None:
    burst = [
        notification(alert_id=i, order_id=f"订单{i:05d}号码很长很长", kind="stalled",
                     severity="warning" if i % 2 else "critical")
        for i in range(300)
    ]  # fmt: skip
    with Receiver(wecom_answer(0)) as receiver:
        send(lambda c: WeComSink("leads", receiver.url, c, renderer=RENDERER), burst)
    content = receiver.seen[0].json()["markdown"]["content"]
    size = len(content.encode("utf-8"))
    assert 3500 < size <= 4096
    assert "parcelwatch：300 条告警" in content and "物流停滞 300" in content
    assert "…另有" in content and content.endswith(f"[打开告警队列]({PUBLIC}/)")
    # Critical first.
    first = content.split("\n- ", 1)[1]
    assert first.startswith("【严重】")


def test_truncation_never_splits_a_character() -> None:
    text = "揽" * 2000  # 3 bytes each
    for limit in (4096, 4095, 4094, 100, 5):
        cut = truncate_utf8(text, limit)
        assert len(cut.encode("utf-8")) <= limit
        cut.encode("utf-8").decode("utf-8")  # valid UTF-8
    assert truncate_utf8("short", 4096) == "short"
    assert truncate_utf8(text, 4096).endswith("已截断）")


def test_wecom_errcodes() -> None:
    cases = [(45009, False, 60.0), (-1, False, None), (93000, True, None)]
    for code, permanent, retry in cases:
        with Receiver(wecom_answer(code, "some error")) as receiver:
            url = receiver.url + "/send?key=ROBOTKEY"
            error = send_error(lambda c: WeComSink("leads", url, c), notification())  # noqa: B023
        assert (error.permanent, error.retry_after) == (permanent, retry)
        assert f"errcode {code}" in error.message and "ROBOTKEY" not in error.message


def test_robot_key_never_appears_in_errors() -> None:
    with Receiver(lambda seen: (502, "bad gateway", {})) as receiver:
        url = receiver.url + "/cgi-bin/webhook/send?key=ROBOTKEY"
        error = send_error(lambda c: WeComSink("leads", url, c), notification())
    assert not error.permanent and "ROBOTKEY" not in error.message and receiver.url in error.message


# -- DingTalk --------------------------------------------------------------------------------


def test_dingtalk_signature_verifies_independently() -> None:
    secret = "SEC0123456789abcdef/+=padding"
    with Receiver(lambda seen: (200, {"errcode": 0, "errmsg": "ok"}, {})) as receiver:
        url = receiver.url + "/robot/send?access_token=TOKEN"
        send(lambda c: DingTalkSink("ding", url, c, secret=secret, renderer=RENDERER,
                                    now=lambda: NOW), [notification()])  # fmt: skip
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
    with Receiver(lambda seen: (200, {"errcode": 0}, {})) as receiver:
        send(lambda c: DingTalkSink("ding", receiver.url + "/robot/send?access_token=T", c),
             [notification()])  # fmt: skip
    assert set(receiver.seen[0].query) == {"access_token"}


def test_dingtalk_errcodes() -> None:
    for code, permanent, retry in [(130101, False, 600.0), (310000, True, None),
                                   (300001, True, None)]:  # fmt: skip
        answer = (200, {"errcode": code, "errmsg": "send too fast"}, {})
        with Receiver(lambda seen: answer) as receiver:  # noqa: B023
            url = receiver.url + "/robot/send?access_token=TOKEN"
            error = send_error(lambda c: DingTalkSink("ding", url, c, secret="SEC1"),  # noqa: B023
                               notification())  # fmt: skip
        assert (error.permanent, error.retry_after) == (permanent, retry)
        assert "TOKEN" not in error.message and "SEC1" not in error.message


# -- Slack -----------------------------------------------------------------------------------


def test_slack_blocks_and_permanent_failures() -> None:
    with Receiver(lambda seen: (200, "ok", {})) as receiver:
        send(lambda c: SlackSink("ops", receiver.url + "/services/T/B/X", c, renderer=RENDERER),
             [notification()])  # fmt: skip
    body = receiver.seen[0].json()
    assert body["text"] == "【严重】揽收超时 新告警 O1001"
    section = body["blocks"][0]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert "*揽收超时 no_pickup_scan · 新告警*" in section["text"]["text"]
    assert f"<{PUBLIC}/parcels/O1001|查看包裹>" in section["text"]["text"]

    answers = {
        (404, "no_service"): True,
        (400, "invalid_token"): True,
        (410, "no_service"): True,
        (403, "action_prohibited"): True,
        (500, "rollup_error"): False,
        (429, "rate_limited"): False,
    }
    for (status, text), permanent in answers.items():
        with Receiver(lambda seen: (status, text, {})) as receiver:  # noqa: B023
            error = send_error(lambda c: SlackSink("ops", receiver.url, c), notification())
        assert error.permanent is permanent, (status, text)
        assert text in error.message


def test_slack_escapes_untrusted_text() -> None:
    n = notification(detail={"sub_reason": "<!channel> & <https://evil|click>"})
    with Receiver(lambda seen: (200, "ok", {})) as receiver:
        send(lambda c: SlackSink("ops", receiver.url, c), [n])
    text = receiver.seen[0].json()["blocks"][0]["text"]["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;" in text


# -- Alertmanager ----------------------------------------------------------------------------


def test_alertmanager_fires_then_resolves_with_ends_at() -> None:
    incident = {"kind": "carrier_incident", "order_id": None, "tracking_number": None,
                "warehouse": None, "province": "新疆", "carrier": "zto",
                "detail": {"parcels": 40, "affected": 9, "share": 0.225}}  # fmt: skip
    opened = notification(**incident)
    resolved = notification("resolved", **incident)
    with Receiver(lambda seen: (200, "", {})) as receiver:
        factory = lambda c: AlertmanagerSink("am", receiver.url + "/", c,  # noqa: E731
                                             renderer=RENDERER, now=lambda: NOW)  # fmt: skip
        send(factory, [opened])
        send(factory, [resolved])
    assert [s.path for s in receiver.seen] == ["/api/v2/alerts", "/api/v2/alerts"]
    (firing,) = receiver.seen[0].json()
    (ended,) = receiver.seen[1].json()
    assert firing["labels"] == {
        "alertname": "ParcelwatchCarrierIncident", "kind": "carrier_incident",
        "carrier": "zto", "province": "新疆", "severity": "critical",
    }  # fmt: skip
    assert ended["labels"] == firing["labels"]  # same identity: it resolves that alert
    assert firing["startsAt"] == "2026-11-20T00:00:00Z"
    assert firing["endsAt"] == "2026-11-21T02:04:00Z"  # now + 4 x 60 s, kept up by re-sends
    assert ended["endsAt"] == "2026-11-21T02:00:00Z"  # <= now: resolved at once
    assert "快递区域异常" in firing["annotations"]["summary"]
    assert "异常占比 22.5%" in firing["annotations"]["description"]
    assert firing["generatorURL"] == f"{PUBLIC}/"


def test_alertmanager_answers() -> None:
    for status, permanent in [(400, True), (500, False)]:
        with Receiver(lambda seen: (status, "bad", {})) as receiver:  # noqa: B023
            error = send_error(lambda c: AlertmanagerSink("am", receiver.url, c), notification())
        assert error.permanent is permanent


# -- e-mail ----------------------------------------------------------------------------------


def email_sink(port: int) -> EmailSink:
    return EmailSink("mail", host="127.0.0.1", port=port, sender="pw@shop.example",
                     recipients=["lead@shop.example", "cs@shop.example"], timeout=5,
                     renderer=RENDERER, now=lambda: NOW)  # fmt: skip


def test_email_is_delivered_over_smtp() -> None:
    with SmtpReceiver() as smtp:
        asyncio.run(email_sink(smtp.port).send([notification()]))
    (mail,) = smtp.messages
    assert smtp.envelopes == [("pw@shop.example", ["lead@shop.example", "cs@shop.example"])]
    assert mail["Subject"] == "【严重】揽收超时 新告警 O1001"
    body = mail.get_content()
    assert "揽收超时 no_pickup_scan · 新告警" in body and f"{PUBLIC}/parcels/O1001" in body
    # The same notification always gets the same Message-ID (re-sends thread together).
    assert mail["Message-ID"] == email_sink(1).message([notification()])["Message-ID"]


def test_email_refusals_are_classified() -> None:
    for reply, permanent in [("550 5.1.1 no such user", True), ("451 4.3.0 try later", False)]:
        with SmtpReceiver(rcpt_reply=reply) as smtp, pytest.raises(SinkError) as caught:
            asyncio.run(email_sink(smtp.port).send([notification()]))
        assert caught.value.permanent is permanent and reply.split()[0] in caught.value.message
    with pytest.raises(SinkError) as refused:
        asyncio.run(email_sink(closed_port()).send([notification()]))
    assert not refused.value.permanent


# -- rendering, config, limiter --------------------------------------------------------------


def test_untrusted_text_cannot_forge_markdown() -> None:
    n = notification(detail={"sub_reason": "[点我](https://evil) <@all> **x**"})
    text = RENDERER.message(n, MARKDOWN)
    assert "(https://evil)" in text and "[点我]" not in text and "<@all>" not in text


def test_parcel_events_render_without_alert_fields() -> None:
    n = Notification("parcel_delivered", "parcel-O1-delivered", NOW,
                     {"order_id": "O1", "tracking_number": "YT1", "carrier": "yto",
                      "at": NOW.isoformat()})  # fmt: skip
    text = RENDERER.message(n, MARKDOWN)
    assert "**包裹已签收** · 订单 O1" in text and "时间 2026-11-21 10:00" in text


def test_sink_config_errors_name_the_key() -> None:
    cases = {
        "sinks[0].url_env": {"type": "wecom"},
        "sinks[0].url": {"type": "dingtalk", "url": "https://x/robot/send?access_token=T",
                         "url_env": "DING_URL"},
        "sinks[0].type": {"type": "pager"},
        "sinks[0].secret_env": {"type": "webhook", "url": "https://crm.example/hook"},
        "sinks[0].kinds[0]": {"type": "wecom", "url_env": "W", "kinds": ["stale"]},
        "sinks[0].events": {"type": "slack", "url_env": "S", "events": ["shipped"]},
        "sinks[1].name": [{"type": "wecom", "url_env": "A"}, {"type": "wecom", "url_env": "B"}],
        "sinks[0].to": {"type": "email", "host": "smtp", "from": "a@b.c", "to": []},
    }  # fmt: skip
    for key, sinks in cases.items():
        with pytest.raises(ConfigError) as caught:
            make_config(sinks=sinks if isinstance(sinks, list) else [sinks])
        assert caught.value.key == key, caught.value
    with pytest.raises(ConfigError) as caught:
        make_config(sinks=[{"type": "wecom", "url": "https://x?key=SECRET", "url_env": "W"}])
    assert "SECRET" not in str(caught.value)

    config = make_config(sinks=[
        {"type": "wecom", "url_env": "W"},
        {"type": "webhook", "name": "crm", "url": "https://crm.example/hook",
         "secret_env": "CRM_SECRET", "events": ["shipped", "exception_opened", "delivered"]},
        {"type": "alertmanager", "url": "http://am:9093"},
    ])  # fmt: skip
    wecom, crm, am = config.sinks
    assert isinstance(wecom, WeComSinkConfig)
    assert (wecom.name, wecom.rate_per_minute, wecom.digest_after) == ("wecom", 20, 10)
    assert crm.outbox_events() == {"parcel_shipped", "opened", "parcel_delivered"}
    assert am.kinds == ["carrier_incident", "carrier_api_failing"]
    assert am.accepts("resolved", "carrier_incident", "critical")
    assert not am.accepts("opened", "lost", "critical")


def test_sink_filters() -> None:
    (sink,) = make_config(sinks=[{"type": "wecom", "url_env": "W", "kinds": ["lost", "stalled"],
                                  "min_severity": "critical"}]).sinks  # fmt: skip
    assert sink.accepts("opened", "lost", "critical")
    assert not sink.accepts("opened", "stalled", "warning")  # below min_severity
    assert not sink.accepts("opened", "no_pickup_scan", "critical")  # kind not wanted
    assert not sink.accepts("resolved", "lost", "critical")  # default events: opened, escalated
    assert not sink.accepts("parcel_shipped", None, None)


def test_missing_secrets_are_reported_with_their_key() -> None:
    config = make_config(sinks=[
        {"type": "slack", "url_env": "SLACK_URL"},
        {"type": "dingtalk", "url_env": "DING_URL", "secret_env": "DING_SECRET"},
    ])  # fmt: skip

    async def build(client: httpx.AsyncClient) -> None:
        env = {"SLACK_URL": "https://hooks.example/T/B/X", "DING_URL": "https://ding.example/"}
        with pytest.raises(SinkSetupError) as caught:
            build_routes(config.sinks, client, env=env)
        assert caught.value.key == "sinks[1].secret_env"
        routes = build_routes(config.sinks, client, env=env | {"DING_SECRET": "SECx"})
        assert [r.name for r in routes] == ["slack", "dingtalk"]
        assert routes[1].limiter is not None and routes[1].limiter.limit == 20

    run(build)


def test_sliding_window_allows_20_a_minute_and_no_more() -> None:
    clock = [0.0]
    limiter = SlidingWindowLimiter.per_minute(20, clock=lambda: clock[0])
    for second in range(20):
        clock[0] = float(second)
        assert limiter.delay() == 0
        limiter.record()
    clock[0] = 30.0
    assert limiter.delay() == 30.0  # the first send leaves the window at 60 s
    clock[0] = 60.0
    assert limiter.delay() == 0  # one slot free, not twenty
    limiter.record()
    assert limiter.delay() == 1.0
    # Half a message a minute: one every two minutes.
    slow = SlidingWindowLimiter.per_minute(0.5, clock=lambda: clock[0])
    slow.record()
    assert slow.delay() == 120.0


def test_build_routes_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PW_TEST_WECOM_URL", "https://robot.example/send?key=K")
    config = make_config(sinks=[{"type": "wecom", "url_env": "PW_TEST_WECOM_URL"}])

    async def build(client: httpx.AsyncClient) -> None:
        (route,) = build_routes(config.sinks, client)
        assert isinstance(route.sink, WeComSink) and route.sink.url.endswith("key=K")

    run(build)
