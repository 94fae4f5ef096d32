"""Re-sending active alerts to Alertmanager (alerts/outbox/resend.py, docs/observability.md
"Resending and endsAt"): an incident, its periodic re-sends and its resolve, against a real
receiver on loopback."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import Engine

from alerts.outbox import resend_active
from tests.support.outbox import (
    ALERTS,
    add,
    add_alert,
    deliver,
    routes,
)
from tests.support.sinks import NOW, Receiver, run


def test_alertmanager_gets_incidents_their_resolve_and_periodic_resends(engine: Engine) -> None:
    alert_id = add_alert(engine)
    incident = {"kind": "carrier_incident", "order_id": None, "tracking_number": None,
                "warehouse": None, "carrier": "zto", "alert_id": alert_id}  # fmt: skip
    add(engine, **incident)
    add(engine, kind="lost", order_id="P1")  # per-parcel: not for Alertmanager by default
    with Receiver(lambda seen: (200, "", {})) as am:

        async def scenario(client: httpx.AsyncClient) -> None:
            clock = [NOW]
            sinks = routes(client, [{"type": "alertmanager", "url": am.url}],
                           now=lambda: clock[0])  # fmt: skip
            await deliver(engine, sinks, NOW)
            assert await resend_active(engine, sinks, NOW, alerts=ALERTS) == 1
            with engine.begin() as conn:
                conn.execute(ALERTS.update().values(state="resolved"))
            clock[0] = NOW + timedelta(minutes=1)
            add(engine, event="resolved", at=clock[0], **incident)
            await deliver(engine, sinks, clock[0])
            assert await resend_active(engine, sinks, clock[0], alerts=ALERTS) == 0

        run(scenario)
    bodies = [s.json() for s in am.seen]
    assert [s.path for s in am.seen] == ["/api/v2/alerts"] * 3
    (opened,), (refreshed,), (resolved,) = bodies
    assert opened["labels"]["alertname"] == "ParcelwatchCarrierIncident"
    assert opened["labels"] == refreshed["labels"] == resolved["labels"]
    assert opened["endsAt"] == refreshed["endsAt"] == "2026-11-21T02:04:00Z"
    assert resolved["endsAt"] == "2026-11-21T02:01:00Z"  # when it resolved: ends it now
