"""The Alertmanager sink (alerts/sinks/alertmanager.py; docs/observability.md
"Alertmanager API v2" and "Resending and endsAt"): firing and resolving with `endsAt`, and
how answers are classified, over `httpx.MockTransport`; an Alertmanager too slow to answer
against a real receiver on loopback."""

from __future__ import annotations

import time

from alerts.sinks.alertmanager import AlertmanagerSink
from tests.support.sinks import (
    NOW,
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


def test_alertmanager_fires_then_resolves_with_ends_at() -> None:
    incident = {"kind": "carrier_incident", "order_id": None, "tracking_number": None,
                "warehouse": None, "province": "新疆", "carrier": "zto",
                "detail": {"parcels": 40, "affected": 9, "share": 0.225}}  # fmt: skip
    opened = notification(**incident)
    resolved = notification("resolved", **incident)
    with MockReceiver(lambda seen: (200, "", {})) as receiver:
        factory = lambda c: AlertmanagerSink("am", receiver.url + "/", c,  # noqa: E731
                                             renderer=RENDERER, now=lambda: NOW)  # fmt: skip
        send(factory, [opened], receiver.transport)
        send(factory, [resolved], receiver.transport)
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


def test_two_parcels_of_one_order_are_two_alertmanager_alerts() -> None:
    """A split order's parcels differ by tracking number; an order id another platform also
    issued differs by platform (docs/orders-and-parcels.md "The model")."""
    first = notification(kind="stalled", tracking_number="73100000000903", alert_id=1)
    second = notification(kind="stalled", tracking_number="73100000000904", alert_id=2)
    with MockReceiver(lambda seen: (200, "", {})) as receiver:
        factory = lambda c: AlertmanagerSink("am", receiver.url + "/", c,  # noqa: E731
                                             renderer=RENDERER, now=lambda: NOW)  # fmt: skip
        send(factory, [first, second], receiver.transport)
    labels = [a["labels"] for seen in receiver.seen for a in seen.json()]
    assert len(labels) == 2 and labels[0] != labels[1]
    assert {x["tracking_number"] for x in labels} == {"73100000000903", "73100000000904"}
    assert all(x["order_id"] == "O1001" and x["platform"] == "pinduoduo" for x in labels)


def test_alertmanager_answers() -> None:
    for status, permanent in [(400, True), (500, False)]:
        with MockReceiver(lambda seen: (status, "bad", {})) as receiver:  # noqa: B023
            error = send_error(lambda c: AlertmanagerSink("am", receiver.url, c), notification(),
                               receiver.transport)  # fmt: skip
        assert error.permanent is permanent


def test_alertmanager_that_does_not_answer_in_time_is_transient() -> None:
    """The one test over a real socket: an Alertmanager that takes longer than the timeout."""

    def slow(seen: Seen) -> Reply:
        time.sleep(0.5)
        return 200, "", {}

    with Receiver(slow) as receiver:
        late = send_error(lambda c: AlertmanagerSink("am", receiver.url, c, timeout=0.1),
                          notification())  # fmt: skip
    assert not late.permanent and "no answer within 0.1 s" in late.message
