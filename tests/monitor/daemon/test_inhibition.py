"""Inhibition at chosen moments: when a carrier incident opens, the stalled parcels behind it
open in the queue linked to it and notify nothing; when it resolves, those still open are
announced once; a new stalled parcel while it is open is held too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from monitor.clock import FixedClock
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.tables import ALERTS, OUTBOX, SHIPMENTS
from monitor.web.app import create_app
from monitor.web.context import AppContext
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
CONFIG = make_config()


def book(engine: Engine, count: int, start: int = 0) -> None:
    """`count` zto parcels to 广东, picked up three days ago, last scanned 60 h ago."""
    rows = [
        RawRow(i, {"order_id": f"Z{i}", "warehouse": "hz1", "paid_at": "2026-11-20 09:00",
                   "carrier": "zto", "tracking_number": f"731{i:04d}", "province": "广东",
                   "shipped_at": "2026-11-20 12:00", "picked_up_at": "2026-11-20 18:00",
                   "last_event_at": "2026-11-21 10:00", "status": "in_transit"})
        for i in range(start, start + count)
    ]  # fmt: skip
    assert not ingest_rows(engine, CONFIG, rows, NOW - timedelta(days=1)).rejected


def alerts(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(ALERTS).order_by(ALERTS.c.id))]


def notified(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(OUTBOX.c.payload, OUTBOX.c.idempotency_key))
        return sorted((r.payload["kind"], r.idempotency_key.split("-")[2]) for r in rows)


def test_members_are_held_while_the_incident_is_open_and_released_once(engine: Engine) -> None:
    book(engine, 30)
    run_tick(engine, CONFIG, NOW)
    opened = alerts(engine)
    (incident,) = [a for a in opened if a["kind"] == "carrier_incident"]
    members = [a for a in opened if a["kind"] == "stalled"]
    assert len(members) == 30 and all(a["inhibited_by"] == incident["id"] for a in members)
    assert [k for k, _ in notified(engine)] == ["carrier_incident"]  # one notification, not 31

    book(engine, 1, start=100)  # a new stalled parcel while the incident is open
    run_tick(engine, CONFIG, NOW + timedelta(minutes=5))
    assert [k for k, _ in notified(engine)] == ["carrier_incident"]

    # 29 of the 31 are delivered: too few parcels left for an incident, which resolves.
    with engine.begin() as conn:
        conn.execute(update(SHIPMENTS).where(SHIPMENTS.c.order_id.not_in(["Z0", "Z1"]))
                     .values(status="delivered", delivered_at=NOW))  # fmt: skip
    run_tick(engine, CONFIG, NOW + timedelta(minutes=10))
    assert next(a for a in alerts(engine) if a["kind"] == "carrier_incident")["state"] == "resolved"
    run_tick(engine, CONFIG, NOW + timedelta(minutes=15))  # the release runs at the tick's start
    released = [k for k, what in notified(engine) if what == "uninhibited"]
    assert released == ["stalled", "stalled"]  # Z0 and Z1, still open: announced once
    run_tick(engine, CONFIG, NOW + timedelta(minutes=20))
    assert len([1 for _, what in notified(engine) if what == "uninhibited"]) == 2
    open_members = [a for a in alerts(engine) if a["kind"] == "stalled" and a["state"] == "open"]
    assert {a["order_id"] for a in open_members} == {"Z0", "Z1"}
    assert all(a["inhibited_by"] is None for a in open_members)


def test_a_silence_ending_under_an_open_incident_announces_nothing(engine: Engine) -> None:
    from monitor.store.silences import create_silence, end_silence

    book(engine, 30)
    silence = create_silence(engine, {"carrier": "zto", "kind": "stalled"}, NOW,
                             NOW + timedelta(hours=1), "known", "lead", NOW)  # fmt: skip
    run_tick(engine, CONFIG, NOW)
    end_silence(engine, silence.id, NOW + timedelta(minutes=5))
    run_tick(engine, CONFIG, NOW + timedelta(minutes=10))
    # The incident is still open: its members stay held, whichever hold ended.
    assert [k for k, _ in notified(engine)] == ["carrier_incident"]


def _incident_resolved(engine: Engine) -> None:
    """A carrier incident holding two members opens, then resolves as its parcels arrive:
    its members wait to be released."""
    book(engine, 30)
    run_tick(engine, CONFIG, NOW)
    with engine.begin() as conn:
        conn.execute(update(SHIPMENTS).where(SHIPMENTS.c.order_id.not_in(["Z0", "Z1"]))
                     .values(status="delivered", delivered_at=NOW))  # fmt: skip
    run_tick(engine, CONFIG, NOW + timedelta(minutes=5))  # the incident resolves


def test_a_crash_in_the_middle_of_a_release_releases_everything_once_later(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.daemon import inhibition

    _incident_resolved(engine)
    real, calls = inhibition.announcement, [0]

    def dies_on_the_second(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("killed mid-release")
        return real(*args, **kwargs)

    monkeypatch.setattr(inhibition, "announcement", dies_on_the_second)
    with pytest.raises(RuntimeError):
        inhibition.release_inhibited(engine, NOW + timedelta(minutes=6))
    assert [w for _, w in notified(engine) if w == "uninhibited"] == []
    monkeypatch.setattr(inhibition, "announcement", real)
    assert inhibition.release_inhibited(engine, NOW + timedelta(minutes=7)) == 2
    assert inhibition.release_inhibited(engine, NOW + timedelta(minutes=8)) == 0


def test_a_release_larger_than_one_id_list_clears_and_announces_each_member_once(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.daemon import inhibition

    _incident_resolved(engine)
    monkeypatch.setattr(inhibition, "ID_CHUNK", 1)  # every member in a list of its own
    assert inhibition.release_inhibited(engine, NOW + timedelta(minutes=6)) == 2
    assert [w for _, w in notified(engine) if w == "uninhibited"] == ["uninhibited"] * 2
    assert inhibition.release_inhibited(engine, NOW + timedelta(minutes=7)) == 0


def test_the_queue_shows_an_incidents_members_under_it(engine: Engine) -> None:
    """The incident's row links to the alerts it holds; each member links back to it."""
    book(engine, 30)
    run_tick(engine, CONFIG, NOW)
    (incident,) = [a for a in alerts(engine) if a["kind"] == "carrier_incident"]
    config = make_config(auth={"anonymous_read": True})
    with TestClient(create_app(AppContext(engine, config, FixedClock(NOW)))) as client:
        queue = client.get("/", params={"lang": "en"}).text
        assert f'href="/?incident={incident["id"]}">30 parcels held</a>' in queue
        held = client.get("/", params={"incident": incident["id"], "lang": "en"}).text
        assert held.count('data-alert="') == 30 and "Stalled" in held
        assert held.count(f'href="/?incident={incident["id"]}"') >= 30
        assert client.get("/", params={"incident": "x"}).status_code == 200  # ignored
