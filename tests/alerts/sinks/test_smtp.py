"""The e-mail sink (alerts/sinks/smtp.py) against a small SMTP receiver on loopback: the message
delivered, and refusals classified (permanent or transient)."""

from __future__ import annotations

import asyncio

import pytest

from alerts.sinks import SinkError
from alerts.sinks.smtp import EmailSink
from tests.support.sinks import (
    NOW,
    PUBLIC,
    RENDERER,
    SmtpReceiver,
    closed_port,
    notification,
)


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
    assert (
        "揽收超时 no_pickup_scan · 新告警" in body
        and f"{PUBLIC}/parcels/O1001?platform=pinduoduo" in body
    )
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
