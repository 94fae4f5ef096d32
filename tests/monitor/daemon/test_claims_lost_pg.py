"""A detection batch whose apply fails on the open alerts' uniqueness (PostgreSQL,
docs/architecture.md "Detection across replicas"). Replica A claims and reads a batch and
plans its alerts; before it applies them its lease runs out, and replica B takes the rows
over and opens the same alerts first. A's apply then meets B's alerts: the batch is rolled
back whole and logged, nothing is doubled, and A's tick goes on with its next batch. The
same violation while every row is still A's is not a takeover: it is raised, and nothing of
the batch is kept.

The pause between A's plan and its apply is made by running, just before A's apply, what
the other writer does meanwhile; the violation, the check of the claim and the rollback are
PostgreSQL's and the tick's own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import Connection, Engine, Select, func, insert, select
from sqlalchemy.exc import IntegrityError

from alerts.lifecycle import Plan
from monitor.daemon import incremental
from monitor.daemon.incremental import reconcile, run_incremental_tick
from monitor.daemon.tick import TickResult, apply_plan
from monitor.store.tables import ALERTS, DETECT_DIRTY, SHIPMENTS
from tests.support.claims import (
    NOW,
    alert_ids,
    announced_per_alert,
    book,
    expire_leases,
    open_per_fingerprint,
    opened_per_fingerprint,
    still_claimed,
)
from tests.support.config import make_config

pytestmark = pytest.mark.postgres
# Leases long enough that none runs out unless a test makes it.
CONFIG = make_config(daemon={"detect_batch_size": 7, "detect_lease_seconds": 600})
A = ALERTS.c
Finish = Callable[[Connection], None] | None


class BeforeFirstApply:
    """Stands in for the tick's `apply_plan`: just before the first batch's apply (not the
    keeper's carrier_api_failing plan, which has no `finish`) it runs what another writer
    does meanwhile, then applies for real and keeps the IntegrityError it met."""

    def __init__(self, meanwhile: Callable[[Plan], None]) -> None:
        self.meanwhile = meanwhile
        self.planned: Plan | None = None
        self.errors: list[IntegrityError] = []

    def __call__(self, engine: Engine, changes: Plan, now: datetime, finish: Finish = None) -> None:
        if finish is not None and self.planned is None:
            self.planned = changes
            self.meanwhile(changes)
        try:
            apply_plan(engine, changes, now, finish)
        except IntegrityError as error:
            self.errors.append(error)
            raise


def count(engine: Engine, query: Select[int]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_batch_taken_over_and_opened_first_is_rolled_back_and_the_tick_goes_on(
    replicas: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    first, second = replicas
    book(first, CONFIG, 0, 10)  # five stalled
    taker: list[TickResult | None] = []

    def take_over(planned: Plan) -> None:
        assert len(planned.open) >= 2  # A's batch holds stalled parcels it means to open
        expire_leases(second)  # A is slow: its lease runs out
        taker.append(run_incremental_tick(second, CONFIG, NOW))  # B judges all ten
        book(second, CONFIG, 10, 4)  # and new parcels arrive (two stalled)

    apply = BeforeFirstApply(take_over)
    monkeypatch.setattr(incremental, "apply_plan", apply)
    with caplog.at_level(logging.WARNING, logger=incremental.__name__):
        late = run_incremental_tick(first, CONFIG, NOW)

    assert len(apply.errors) == 1 and "uq_alert_open_fingerprint" in str(apply.errors[0])
    taken = [r.message for r in caplog.records if "was taken over" in r.message]
    assert len(taken) == 1 and "detection batch rolled back" in taken[0]
    b = taker[0]
    assert b is not None and (b.parcels, b.opened) == (10, 5)
    assert late is not None and (late.parcels, late.opened) == (4, 2)  # its next batch: the new
    opened = opened_per_fingerprint(first)
    assert len(opened) == 7 and set(opened.values()) == {1}  # one `opened` row each
    assert open_per_fingerprint(first) == dict.fromkeys(opened, 1)
    assert announced_per_alert(first) == dict.fromkeys(alert_ids(first), 1)  # outbox once
    assert still_claimed(first) == 0
    assert count(first, select(func.count()).where(SHIPMENTS.c.due_at.is_(None))) == 0
    assert reconcile(first, CONFIG, NOW).differences == 0  # type: ignore[union-attr]


def test_a_violation_while_the_claim_is_still_ours_is_raised_and_nothing_is_kept(
    replicas: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = replicas
    book(first, CONFIG, 0, 10)
    marks = count(first, select(func.count()).select_from(DETECT_DIRTY))

    def foreign_alert(planned: Plan) -> None:
        """A writer that takes no part in the claims (a script, a restore by hand) writes an
        open alert A is about to open, as A would write it."""
        row = planned.open.iloc[0]
        with second.begin() as conn:
            conn.execute(insert(ALERTS).values(
                fingerprint=row["fingerprint"], kind=row["kind"], severity=row["severity"],
                shipment_id=int(row["shipment_id"]), carrier=row["carrier"],
                warehouse=row["warehouse"], province=row["province"], state="open",
                since=row["since"].to_pydatetime(), opened_at=NOW, updated_at=NOW, detail={},
            ))  # fmt: skip

    apply = BeforeFirstApply(foreign_alert)
    monkeypatch.setattr(incremental, "apply_plan", apply)
    with pytest.raises(IntegrityError, match="uq_alert_open_fingerprint"):
        run_incremental_tick(first, CONFIG, NOW)
    assert apply.planned is not None and len(apply.errors) == 1
    assert count(first, select(func.count()).select_from(ALERTS)) == 1  # the foreign row alone
    assert count(first, select(func.count()).where(SHIPMENTS.c.due_at.is_not(None))) == 0
    assert count(first, select(func.count()).select_from(DETECT_DIRTY)) == marks
    assert still_claimed(first) == 0  # given back at once, not held to its lease

    monkeypatch.undo()
    again = run_incremental_tick(first, CONFIG, NOW)
    assert again is not None and again.parcels == 10 and again.opened == 4
    opened, foreign = opened_per_fingerprint(first), apply.planned.open.iloc[0]["fingerprint"]
    assert len(opened) == 4 and set(opened.values()) == {1} and foreign not in opened
    assert open_per_fingerprint(first) == dict.fromkeys([*opened, foreign], 1)  # none doubled
    assert still_claimed(first) == 0
    assert reconcile(first, CONFIG, NOW).differences == 0  # type: ignore[union-attr]
