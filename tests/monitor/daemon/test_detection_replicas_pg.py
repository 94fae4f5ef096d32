"""Incremental detection shared by replicas on one PostgreSQL (docs/architecture.md "Detection
across replicas"): concurrent ticks split the due rows on disjoint leased claims and judge
each once, adding to the same incident cells; a replica that dies holding a claim leaves it
to the others once its lease has run out, and its late apply is rolled back whole; the full
tick never runs beside a batch; a lead's manual resolution sticks whoever judges the parcel
next."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from monitor.alert_queue import Action, act
from monitor.daemon.incremental import reconcile, run_incremental_tick
from monitor.daemon.tick import run_tick
from monitor.store.due import LeaseLost, claim_due, release_claim
from monitor.store.incident_cells import read_cells
from monitor.store.locks import shared_turn, sole_turn
from monitor.store.tables import ALERTS, ORDERS, SHIPMENTS
from tests.support.claims import NOW, book, opened_per_fingerprint
from tests.support.config import make_config

pytestmark = pytest.mark.postgres
A, S = ALERTS.c, SHIPMENTS.c
CONFIG = make_config(daemon={"detect_batch_size": 7, "detect_lease_seconds": 1})


def test_concurrent_ticks_split_the_due_rows_and_judge_each_once(
    replicas: tuple[Engine, Engine],
) -> None:
    first = replicas[0]
    book(first, CONFIG, 0, 120)
    results: list[object] = []
    barrier = threading.Barrier(2)

    def tick(engine: Engine) -> None:
        barrier.wait()
        results.append(run_incremental_tick(engine, CONFIG, NOW))

    threads = [threading.Thread(target=tick, args=(e,)) for e in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    parcels = [r.parcels for r in results if r is not None]  # type: ignore[attr-defined]
    assert sum(parcels) == 120  # every row once, none twice
    with first.connect() as conn:
        assert conn.execute(select(func.count()).where(S.detect_owner.is_not(None))).scalar() == 0
        assert conn.execute(select(func.count()).where(S.due_at.is_(None))).scalar() == 0
    opened = opened_per_fingerprint(first)
    assert len(opened) >= 50 and set(opened.values()) == {1}
    # The batches of both added to the one incident cell; the next tick's keeper (the first
    # may have judged before the other's batches were in) opens the incident once.
    run_incremental_tick(replicas[1], CONFIG, NOW)
    [cell] = read_cells(first).query("scope == 'province'").to_dict("records")
    assert (cell["carrier"], cell["place"], cell["parcels"], cell["stalled"]) == (
        "zto", "江苏", 120, 60,
    )  # fmt: skip
    assert opened_per_fingerprint(first)["carrier_incident:zto:江苏"] == 1
    assert reconcile(first, CONFIG, NOW).differences == 0  # type: ignore[union-attr]


def test_a_dead_replicas_claim_is_taken_over_after_its_lease(
    replicas: tuple[Engine, Engine],
) -> None:
    first, second = replicas
    book(first, CONFIG, 0, 10)
    dead = claim_due(first, NOW, "dead:1:x", lease_seconds=600, limit=4)
    assert len(dead.shipments) == 4
    early = run_incremental_tick(second, CONFIG, NOW)
    assert early is not None and early.parcels == 6  # the other four are leased
    with first.begin() as conn:  # its lease runs out (on the database's clock)
        for table in (SHIPMENTS, ORDERS):
            conn.execute(
                update(table)
                .where(table.c.detect_owner == dead.owner)
                .values(detect_lease_until=func.clock_timestamp() - timedelta(seconds=1))
            )
    late = run_incremental_tick(second, CONFIG, NOW)
    assert late is not None and late.parcels == 4
    with first.connect() as conn:
        assert conn.execute(select(func.count()).where(S.detect_owner.is_not(None))).scalar() == 0
    with pytest.raises(LeaseLost), first.begin() as conn:  # the dead one wakes up: rolled back
        release_claim(conn, dead)
    assert set(opened_per_fingerprint(first).values()) == {1}
    assert reconcile(first, CONFIG, NOW).differences == 0  # type: ignore[union-attr]


def test_the_full_tick_and_the_batches_take_turns(replicas: tuple[Engine, Engine]) -> None:
    first, second = replicas
    with shared_turn(first, "detect") as batches:
        assert batches
        with sole_turn(second, "detect", wait_seconds=0.2) as full:
            assert not full  # a batch is in hand: the full tick waits, then gives up
    with sole_turn(second, "detect", wait_seconds=0.2) as full:
        assert full
        with shared_turn(first, "detect") as batches:
            assert not batches  # and an incremental tick skips while it runs
        assert run_incremental_tick(first, CONFIG, NOW) is None


def test_a_manual_resolution_sticks_whoever_judges_next(replicas: tuple[Engine, Engine]) -> None:
    first, second = replicas
    book(first, CONFIG, 0, 6)
    run_incremental_tick(first, CONFIG, NOW)
    with first.connect() as conn:
        alert_id, shipment_id = conn.execute(
            select(A.id, A.shipment_id).where(A.kind == "stalled").order_by(A.id).limit(1)
        ).one()
    act(first, alert_id, Action.RESOLVE, "lead", NOW, note="called the carrier")
    with first.begin() as conn:  # a new scan that does not clear the stall: due again
        conn.execute(update(SHIPMENTS).where(S.id == shipment_id).values(due_at=None))
    later = NOW + timedelta(minutes=5)
    run_incremental_tick(second, CONFIG, later)
    with first.connect() as conn:
        reopened = conn.execute(
            select(func.count()).where(A.shipment_id == shipment_id, A.state != "resolved")
        ).scalar()
    assert reopened == 0
    full = run_tick(second, CONFIG, later)
    assert full.opened == 0
