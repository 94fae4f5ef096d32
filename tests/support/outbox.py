"""The outbox as the delivery tests use it: rows added as detection writes them, routes built
from sink config with receiver URLs, one delivery run, and one parcel in the store for the
tests of the real producers (the detection tick, the tracking code)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select

from alerts.outbox import DeliveryPolicy, DeliveryStats, deliver_due
from alerts.sinks import Route, build_routes
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.models import Alert, OutboxDelivery, OutboxMessage
from tests.support.config import make_config
from tests.support.sinks import NOW, PUBLIC, Receiver, Reply, Seen

OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
DELIVERIES = OutboxDelivery.__table__  # type: ignore[attr-defined]
ALERTS = Alert.__table__  # type: ignore[attr-defined]
SECRET = "crm-secret"
KEYS = itertools.count()
OK_WECOM: Callable[[Seen], Reply] = lambda seen: (200, {"errcode": 0, "errmsg": "ok"}, {})  # noqa: E731


def add(engine: Engine, count: int = 1, event: str = "opened", at: datetime = NOW,
        **payload: Any) -> list[int]:  # fmt: skip
    """Outbox rows as detection writes them."""
    rows = []
    for i in range(count):
        alert_id = payload.get("alert_id")
        body = {
            "kind": "lost", "severity": "critical", "state": "open", "order_id": f"O{i}",
            "tracking_number": f"YT{i:04d}", "carrier": "yto", "warehouse": "hz1",
            "province": "新疆", "platform": "taobao", "detail": {}, "alert_id": alert_id,
            "event": event, "since": (at - timedelta(days=8)).isoformat(),
        } | payload  # fmt: skip
        rows.append({
            "alert_id": alert_id, "event": event, "payload": body,
            "idempotency_key": f"k-{next(KEYS)}", "created_at": at, "available_at": at,
            "attempts": 0,
        })  # fmt: skip
    with engine.begin() as conn:
        return list(conn.execute(insert(OUTBOX).returning(OUTBOX.c.id), rows).scalars())


def add_alert(engine: Engine, kind: str = "carrier_incident", **values: Any) -> int:
    row = {
        "fingerprint": f"{kind}:zto:新疆", "kind": kind, "severity": "critical",
        "state": "open", "carrier": "zto", "province": "新疆", "since": NOW - timedelta(hours=2),
        "opened_at": NOW, "updated_at": NOW, "detail": {"parcels": 40, "affected": 9},
    } | values  # fmt: skip
    with engine.begin() as conn:
        return int(conn.execute(insert(ALERTS).returning(ALERTS.c.id), row).scalar_one())


def outbox_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(OUTBOX).order_by(OUTBOX.c.id)))


def deliveries(engine: Engine) -> dict[tuple[int, str], Any]:
    with engine.connect() as conn:
        return {(r.outbox_id, r.sink): r for r in conn.execute(select(DELIVERIES))}


def routes(client: httpx.AsyncClient, sinks: list[dict[str, Any]], **kwargs: Any) -> list[Route]:
    env = {"WECOM_URL": "", "CRM_SECRET": SECRET, "SLACK_URL": ""}
    for sink in sinks:  # the tests put receiver URLs straight into the environment
        if "url_value" in sink:
            env[sink["url_env"]] = sink.pop("url_value")
    config = make_config(sinks=sinks)
    return build_routes(config.sinks, client, env=env, public_url=PUBLIC, **kwargs)


async def deliver(engine: Engine, sinks: Sequence[Route], now: datetime,
                  **policy: Any) -> DeliveryStats:  # fmt: skip
    return await deliver_due(engine, sinks, now, outbox=OUTBOX, deliveries=DELIVERIES,
                             policy=DeliveryPolicy(**policy))  # fmt: skip


def wecom(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "wecom", "url_env": "WECOM_URL",
            "url_value": receiver.url + "/cgi-bin/webhook/send?key=K"} | extra  # fmt: skip


def webhook(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    return {"type": "webhook", "name": "crm", "url": receiver.url + "/hook",
            "secret_env": "CRM_SECRET", "events": ["opened", "escalated", "resolved"]} | extra  # fmt: skip


def seed(engine: Engine, now: datetime) -> None:
    row = {"order_id": "O1", "warehouse": "hz1", "province": "江苏", "platform": "pinduoduo",
           "paid_at": "2026-11-20 09:00", "carrier": "zto", "tracking_number": "730001",
           "shipped_at": "2026-11-20 12:00"}  # fmt: skip
    assert not ingest_rows(engine, make_config(), [RawRow(1, row)], now).rejected
