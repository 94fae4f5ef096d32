"""The generic webhook sink (alerts/sinks/webhook.py): the signed body (the HMAC checked here
independently of the sender's code), digests, and how answers are classified, over
`httpx.MockTransport`; refused connections and timeouts against a real receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import time

from alerts.sinks.webhook import WebhookSink
from tests.support.sinks import (
    NOW,
    PUBLIC,
    RENDERER,
    MockReceiver,
    Receiver,
    Reply,
    Seen,
    closed_port,
    notification,
    send,
    send_error,
)


def test_webhook_body_is_signed_with_hmac_and_carries_the_idempotency_key() -> None:
    secret = "s3cr3t-for-the-crm"
    with MockReceiver() as receiver:
        send(lambda c: WebhookSink("crm", receiver.url + "/hook", c, secret=secret,
                                   renderer=RENDERER, now=lambda: NOW), [notification()],
             receiver.transport)  # fmt: skip
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
    assert body["link"] == f"{PUBLIC}/parcels/O1001?platform=pinduoduo"
    assert body["data"]["order_id"] == "O1001" and body["data"]["province"] == "新疆"


def test_webhook_digest_has_every_notification_and_a_stable_key() -> None:
    with MockReceiver() as receiver:
        batch = [notification(alert_id=i) for i in range(3)]
        for _ in range(2):
            send(
                lambda c: WebhookSink("crm", receiver.url, c, secret="k"), batch, receiver.transport
            )
    first, second = receiver.seen
    assert first.json()["event"] == "digest"
    assert [n["data"]["alert_id"] for n in first.json()["notifications"]] == [0, 1, 2]
    assert first.headers["Idempotency-Key"].startswith("digest-")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_webhook_status_codes_are_classified() -> None:
    answers = iter([(500, "oops", {}), (429, "", {"Retry-After": "7"}), (410, "gone", {}),
                    (400, "bad", {})])  # fmt: skip
    with MockReceiver(lambda seen: next(answers)) as receiver:
        factory = lambda c: WebhookSink("crm", receiver.url, c, secret="k")  # noqa: E731
        errors = [send_error(factory, notification(), receiver.transport) for _ in range(4)]
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
