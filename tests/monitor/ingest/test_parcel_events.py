"""Customer-care parcel events (monitor/ingest/parcel_events.py): the tracking code writes
`parcel_shipped` and `parcel_delivered` outbox rows once, and the delivery job sends them to
the webhooks that want them (and not to robots), against real receivers on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from carriers.status import ParcelStatus
from monitor.ingest.tracking import apply_updates
from tests.support.fake_carrier import FakeAdapter, scan
from tests.support.outbox import (
    OK_WECOM,
    deliver,
    outbox_rows,
    routes,
    seed,
    webhook,
    wecom,
)
from tests.support.sinks import Receiver, run


def test_tracking_writes_shipped_and_delivered_once_for_customer_care(engine: Engine) -> None:
    now = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    seed(engine, now)
    shanghai = timedelta(hours=8)
    picked = scan(datetime(2026, 11, 20, 15, 0, tzinfo=UTC) - shanghai, ParcelStatus.PICKED_UP,
                  "快件已被【中通快递杭州西湖区网点】揽收")  # fmt: skip
    moving = scan(datetime(2026, 11, 20, 22, 0, tzinfo=UTC) - shanghai, ParcelStatus.IN_TRANSIT,
                  "快件已到达【杭州转运中心】")  # fmt: skip
    signed = scan(datetime(2026, 11, 21, 16, 0, tzinfo=UTC) - shanghai, ParcelStatus.DELIVERED,
                  "已签收，签收人：本人")  # fmt: skip
    carrier = FakeAdapter(timelines={"730001": [picked]})
    apply_updates(engine, [carrier.update_for("730001")], now)
    carrier.timelines["730001"] = [picked, moving]
    apply_updates(engine, [carrier.update_for("730001")], now)  # in transit: nothing to tell
    carrier.timelines["730001"] = [picked, moving, signed]
    for _ in range(2):  # the same answer twice (poll, then push) announces it once
        apply_updates(engine, [carrier.update_for("730001")], now + timedelta(hours=8))
    rows = outbox_rows(engine)
    assert [(r.event, r.alert_id, r.idempotency_key) for r in rows] == [
        ("parcel_shipped", None, "parcel-O1-shipped"),
        ("parcel_delivered", None, "parcel-O1-delivered"),
    ]
    assert rows[0].payload["at"] == picked.occurred_at.isoformat()
    assert rows[1].payload | {"at": None} == {
        "order_id": "O1", "tracking_number": "730001", "carrier": "zto", "warehouse": "hz1",
        "province": "江苏", "platform": "pinduoduo", "shop": None, "event": "parcel_delivered",
        "status": "delivered", "at": None, "alert_id": None,
    }  # fmt: skip

    with Receiver() as crm, Receiver(OK_WECOM) as robot:
        care = webhook(crm, events=["shipped", "exception_opened", "delivered"])
        stats = run(lambda c: deliver(engine, routes(c, [care, wecom(robot)]),
                                      now + timedelta(hours=8)))  # fmt: skip
    assert [s.headers["X-Parcelwatch-Event"] for s in crm.seen] == [
        "parcel_shipped", "parcel_delivered",
    ]  # fmt: skip
    assert crm.seen[1].headers["Idempotency-Key"] == "parcel-O1-delivered"
    assert robot.seen == [] and stats.settled == 2  # robots take alerts, not parcel news
