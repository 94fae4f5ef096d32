"""Incremental ticks on a real store (docs/architecture.md "Incremental detection"): only what
is due or changed is read; a change of config or of a lane's figure makes the rows it may move
due; a running maintenance window makes the tick a full one; the reconciliation finds nothing
after honest ticks, and finds, counts and repairs a due moment set too late."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import Engine, func, select, update

from monitor.alert_queue import Action, act
from monitor.clock import QUIET
from monitor.daemon.incremental import reconcile, run_full_tick, run_incremental_tick
from monitor.daemon.tick import run_tick
from monitor.store.incident_cells import read_cells
from monitor.store.tables import DETECT_DIRTY, LANE_STATS, SHIPMENTS
from tests.support.config import make_config
from tests.support.lifecycle import CONFIG, alerts, at, in_transit, put


def _due(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(conn.execute(select(SHIPMENTS.c.due_at).order_by(SHIPMENTS.c.id)).scalars())


def test_a_tick_reads_only_what_is_due_or_changed(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-19 06:00")  # picked up 11-16 15:00, scanned this morning
    first = run_incremental_tick(engine, CONFIG, now)
    assert first.incremental and first.parcels == 1 and first.orders == 1
    assert _due(engine) == [at("2026-11-19 15:00")]  # pickup + 72 h (浙江 -> 江苏): late
    quiet = run_incremental_tick(engine, CONFIG, now + timedelta(minutes=5))
    assert quiet.parcels == 0 and quiet.orders == 0

    late = run_incremental_tick(engine, CONFIG, at("2026-11-19 15:00"))  # due
    assert late.parcels == 1 and late.opened == 1
    [alert] = alerts(engine, state="active")
    assert alert["kind"] == "delayed" and alert["since"] == at("2026-11-19 15:00")
    assert _due(engine) == [at("2026-11-19 15:00")]  # judged at its crossing: once more
    run_incremental_tick(engine, CONFIG, at("2026-11-19 15:05"))
    assert _due(engine) == [at("2026-11-21 06:00")]  # last scan + 48 h: the stall

    later = at("2026-11-19 17:00")
    in_transit(engine, later, "2026-11-19 16:30")  # a scan: the trigger marks the parcel
    moved = run_incremental_tick(engine, CONFIG, later)
    assert moved.parcels == 1 and moved.resolved == 0  # still late
    assert reconcile(engine, CONFIG, later).differences == 0
    if engine.dialect.name == "postgresql":  # the settle rewrites the claimed row anyway
        assert _due(engine) == [at("2026-11-21 16:30")]
        return
    # The scan pushed the stall back to 11-21 16:30; the stored, earlier moment stays (safe:
    # the parcel is judged once more for nothing), so the scan cost no write.
    assert _due(engine) == [at("2026-11-21 06:00")]
    stale = run_incremental_tick(engine, CONFIG, at("2026-11-21 06:00"))
    assert stale.parcels == 1 and stale.opened == 0  # not stalled: scanned at 11-19 16:30
    assert _due(engine) == [at("2026-11-21 16:30")]


def test_a_lead_s_resolution_sticks_when_the_parcel_is_judged_again(engine: Engine) -> None:
    """The tick reads a judged subject's open and manually resolved alerts in one query: the
    resolved one keeps its condition from opening again, and another kind still opens."""
    in_transit(engine, at("2026-11-19 12:00"), "2026-11-19 06:00")
    run_incremental_tick(engine, CONFIG, at("2026-11-19 12:00"))
    run_incremental_tick(engine, CONFIG, at("2026-11-19 15:00"))  # late: opens `delayed`
    [alert] = alerts(engine, state="active")
    act(engine, alert["id"], Action.RESOLVE, "lead", at("2026-11-19 15:10"), note="called")
    later = at("2026-11-19 17:00")
    in_transit(engine, later, "2026-11-19 16:30")  # a scan: judged again, still late
    again = run_incremental_tick(engine, CONFIG, later)
    assert again.parcels == 1 and again.opened == 0
    assert alerts(engine, state="active") == []
    stalled = run_incremental_tick(engine, CONFIG, at("2026-11-21 16:30"))  # a new kind opens
    assert stalled.opened == 1
    [opened] = alerts(engine, state="active")
    assert opened["kind"] == "stalled"
    assert reconcile(engine, CONFIG, at("2026-11-21 16:35")).differences == 0


def test_a_config_change_makes_every_judged_row_due(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-19 06:00")
    run_incremental_tick(engine, CONFIG, now)
    shorter = make_config(rules={"stalled_hours": {"in_transit": 4}})
    result = run_incremental_tick(engine, shorter, now + timedelta(minutes=5))
    assert result.parcels == 1 and result.opened == 1  # 6 h quiet > 4 h


def test_a_lane_figure_change_makes_its_parcels_due(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-19 11:00")
    run_incremental_tick(engine, CONFIG, now)
    lane = {"carrier": "zto", "origin": "浙江", "province": "江苏", "deliveries": 500,
            "transit_p90_hours": 20.0, "computed_at": now}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(LANE_STATS.insert().values(**lane))
    result = run_incremental_tick(engine, CONFIG, now + timedelta(minutes=5))
    assert result.parcels == 1  # picked up 2026-11-16 15:00: late by the learned 20 h
    assert [a["kind"] for a in alerts(engine, state="active")] == ["delayed"]


def test_a_running_maintenance_window_makes_the_tick_full(engine: Engine) -> None:
    window = {"carrier": "zto", "start": "2026-11-19T00:00:00", "end": "2026-11-20T00:00:00"}
    config = make_config(maintenance=[window])
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-17 06:00")
    result = run_incremental_tick(engine, config, now)
    assert not result.incremental
    after = run_incremental_tick(engine, config, at("2026-11-20 12:00"))
    assert not after.incremental  # the window ran since the previous tick
    assert run_incremental_tick(engine, config, at("2026-11-20 12:05")).incremental


def test_reconciliation_counts_and_repairs_a_late_due_moment(engine: Engine) -> None:
    now = at("2026-11-19 12:00")
    put(
        engine, now, order_id="O2", paid_at="2026-11-19 09:00"
    )  # unshipped: due at the 18:00 cutoff
    in_transit(engine, now, "2026-11-19 06:00")
    run_incremental_tick(engine, CONFIG, now)
    with engine.begin() as conn:  # as if a due moment had been computed too late
        conn.execute(update(SHIPMENTS).values(due_at=QUIET))
    later = at("2026-11-21 08:00")
    run_incremental_tick(engine, CONFIG, later)
    orders = {"ship_deadline_at_risk", "unshipped_past_cutoff"}  # the order's own: on time
    assert {a["kind"] for a in alerts(engine, state="active")} == orders
    name = "parcelwatch_reconciliation_differences_total"
    before = REGISTRY.get_sample_value(name) or 0.0
    result = reconcile(engine, CONFIG, later)
    # The parcel's: late, and stalled since 11-21 06:00; and its incident cell, which the
    # incremental ticks never saw it trouble.
    assert result.differences == 3
    assert REGISTRY.get_sample_value(name) == before + 3
    kinds = {a["kind"] for a in alerts(engine, state="active")}
    assert kinds == orders | {"delayed", "stalled"}
    assert run_tick(engine, CONFIG, later).opened == 0
    [cell] = read_cells(engine).to_dict("records")
    assert cell == {"scope": "province", "carrier": "zto", "place": "江苏", "parcels": 1,
                    "stalled": 1, "delayed": 1, "affected": 1}  # fmt: skip
    assert reconcile(engine, CONFIG, later + timedelta(minutes=5)).differences == 0


def test_full_ticks_alone_keep_no_marks_and_hand_over_a_store_all_due(engine: Engine) -> None:
    """daemon.incremental_detection = false, then back on."""
    now = at("2026-11-19 12:00")
    in_transit(engine, now, "2026-11-19 06:00")
    run_incremental_tick(engine, CONFIG, now)
    in_transit(engine, now, "2026-11-19 11:00")  # marked
    run_full_tick(engine, CONFIG, now)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DETECT_DIRTY)).scalar() == 0
    back = run_incremental_tick(engine, CONFIG, now + timedelta(minutes=5))
    assert back.parcels == 1  # every row due again: its due moment was not kept meanwhile
