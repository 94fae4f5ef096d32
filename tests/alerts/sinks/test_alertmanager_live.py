"""The Alertmanager sink against a real Alertmanager (Debian's prometheus-alertmanager, on a
free loopback port, clustering off): alerts arrive with the documented labels and are routed
to its receiver, a resolution with endsAt resolves them there, grouping puts one carrier and
province's alerts in one notification, and an Alertmanager-side silence suppresses what it
matches, as Alertmanager's users expect."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.sinks.alertmanager import AlertmanagerSink
from alerts.sinks.base import Notification
from tests.support.servers import free_port, recording_receiver, stop, wait_for

pytestmark = pytest.mark.slow
BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
CONFIG = """route:
  receiver: leads
  group_by: [alertname, carrier, province]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: leads
    webhook_configs:
      - url: {hook}
        send_resolved: true
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, list[Any]]]:
    if BINARY is None:
        pytest.fail("prometheus-alertmanager is not installed (scripts/install-system-deps.sh)")
    with recording_receiver() as (hook, received):
        (tmp_path / "am.yml").write_text(CONFIG.format(hook=hook), encoding="utf-8")
        port = free_port()
        process = subprocess.Popen(
            [BINARY, f"--config.file={tmp_path / 'am.yml'}",
             f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--cluster.listen-address="],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for("alertmanager", lambda: httpx.get(f"{url}/-/ready").status_code == 200)
            yield url, received
        finally:
            stop(process)


def incident(event: str, carrier: str, province: str, at: datetime) -> Notification:
    payload = {"kind": "carrier_incident", "severity": "critical", "carrier": carrier,
               "province": province, "since": (at - timedelta(hours=3)).isoformat(),
               "alert_id": hash((carrier, province)) % 10_000, "event": event,
               "detail": {"affected": 42, "parcels": 300, "share": 0.14}}  # fmt: skip
    return Notification(event, f"alert-{carrier}-{province}-{event}", at, payload)


def send(url: str, *notifications: Notification) -> None:
    async def run() -> None:
        async with httpx.AsyncClient() as client:
            await AlertmanagerSink("am", url, client).send(list(notifications))

    asyncio.run(run())


def alerts(url: str, **params: str) -> list[dict[str, Any]]:
    answer: list[dict[str, Any]] = httpx.get(f"{url}/api/v2/alerts", params=params).json()
    return answer


def test_alerts_arrive_group_and_resolve(alertmanager: tuple[str, list[Any]]) -> None:
    url, received = alertmanager
    now = datetime.now(UTC)
    send(url, incident("opened", "zto", "广东", now), incident("opened", "zto", "广西", now),
         incident("opened", "sto", "广东", now))  # fmt: skip
    wait_for("three alerts", lambda: len(alerts(url)) == 3, timeout=20)
    labels = {a["labels"]["carrier"] + a["labels"]["province"]: a["labels"] for a in alerts(url)}
    assert labels["zto广东"] == {"alertname": "ParcelwatchCarrierIncident",
                                 "kind": "carrier_incident", "carrier": "zto",
                                 "province": "广东", "severity": "critical"}  # fmt: skip
    assert all(a["status"]["state"] == "active" for a in alerts(url))
    wait_for("three group notifications", lambda: len(received) >= 3, timeout=20)
    groups = {(g["groupLabels"]["carrier"], g["groupLabels"]["province"]) for g in received}
    assert groups == {("zto", "广东"), ("zto", "广西"), ("sto", "广东")}
    assert all(g["status"] == "firing" for g in received)

    send(url, incident("resolved", "zto", "广东", datetime.now(UTC)))
    wait_for("the resolution", lambda: len(alerts(url)) == 2, timeout=20)
    wait_for("a resolved notification",
             lambda: any(g["status"] == "resolved" for g in received), timeout=20)  # fmt: skip
    resolved = [g for g in received if g["status"] == "resolved"]
    assert resolved[0]["groupLabels"] == {"alertname": "ParcelwatchCarrierIncident",
                                          "carrier": "zto", "province": "广东"}  # fmt: skip


def test_an_alertmanager_silence_suppresses_what_it_matches(
    alertmanager: tuple[str, list[Any]],
) -> None:
    url, received = alertmanager
    now = datetime.now(UTC)
    silence = httpx.post(f"{url}/api/v2/silences", json={
        "matchers": [{"name": "carrier", "value": "zto", "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "lead", "comment": "typhoon in 广东: known",
    })  # fmt: skip
    assert silence.status_code == 200
    silence_id = silence.json()["silenceID"]
    send(url, incident("opened", "zto", "广东", now), incident("opened", "sf", "广东", now))
    wait_for("two alerts", lambda: len(alerts(url)) == 2, timeout=20)
    state = {a["labels"]["carrier"]: a["status"] for a in alerts(url)}
    assert state["zto"]["state"] == "suppressed" and state["zto"]["silencedBy"] == [silence_id]
    assert state["sf"]["state"] == "active"
    wait_for("the sf notification", lambda: len(received) >= 1, timeout=20)
    notified = {a["labels"]["carrier"] for g in received for a in g["alerts"]}
    assert notified == {"sf"}
