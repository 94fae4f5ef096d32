"""Incremental detection ticks and the full reconciliation behind them (docs/architecture.md
"Incremental detection").

A tick reads only the parcels and orders that are due (their stored due moment has come) or
changed (a trigger marked them in the writer's transaction), runs the same pure rules over
them, plans alert changes for those subjects alone, and stores each one's next due moment in
the transaction that applies the plan. On PostgreSQL the due rows are claimed in leased
batches, so that replicas split them (docs/architecture.md "Detection across replicas").
Carrier and hub incidents are judged on every tick too, once its batches are in, from the
counts the store keeps per incident cell, which each batch's transaction brings up to date
with what its parcels now count for (monitor/daemon/incidents.py). The full tick runs as the
reconciliation (`reconcile`), on a slower schedule, and counts, logs and repairs whatever the
incremental state had missed, incident cells included.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, func, or_, select
from sqlalchemy.exc import IntegrityError

from alerts.lifecycle import Plan, plan
from monitor.config import Config
from monitor.daemon.carrier_alerts import API_FAILING, judge_carrier_health, judge_incidents
from monitor.daemon.escalation import escalate
from monitor.daemon.incidents import (
    CellCheck,
    cell_changes,
    check_cells,
    log_drift,
    repair_cells,
    write_changes,
)
from monitor.daemon.inhibition import release_inhibited
from monitor.daemon.tick import (
    TickResult,
    alerts_to_plan,
    apply_plan,
    count_changes,
    run_tick,
    with_fingerprints,
)
from monitor.detection import (
    BaselineCache,
    judge,
    load_due_orders,
    load_due_parcels,
    with_stored_windows,
)
from monitor.metrics.instruments import DETECTION_ROWS, RECONCILE_DIFFERENCES
from monitor.rules.due import must_store
from monitor.store.due import (
    Claim,
    LeaseLost,
    Marks,
    among,
    claim_due,
    clear_marks,
    due_condition,
    forget_state,
    mark_all_due,
    mark_lanes_due,
    read_marks,
    read_state,
    settle_claim,
    still_pending,
    unclaim,
    write_due,
    write_state,
)
from monitor.store.lanes import load_lane_expectations
from monitor.store.locks import first_turn, shared_turn, sole_turn
from monitor.store.silences import release_ended
from monitor.store.tables import ALERTS, ORDERS, SHIPMENTS

log = logging.getLogger(__name__)
A = ALERTS.c
# The advisory locks of detection on PostgreSQL (monitor/store/locks.py): DETECT shared by
# the replicas' incremental ticks and exclusive for a full tick; KEEPER, tried, for the
# whole-queue work of one tick.
DETECT, KEEPER = "detect", "detect-keeper"
# Who claims: this process, named so that an operator can tell replicas apart in the store.
REPLICA = f"{socket.gethostname()}:{os.getpid()}"


def context_key(config: Config) -> str:
    """A fingerprint of everything in the config a due moment depends on: thresholds,
    platforms' promises, warehouses' calendars and cutoffs, which carriers are tracked,
    maintenance windows (those of the config and those made through the API)."""
    parts = {
        "rules": config.rules.model_dump(mode="json"),
        "platforms": config.platforms.model_dump(mode="json"),
        "warehouses": [w.model_dump(mode="json") for w in config.warehouses],
        "carriers": sorted(config.carriers),
        "maintenance": repr(list(config.maintenance)),
    }
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def lane_figures(lanes: pd.DataFrame, config: Config) -> dict[str, list[list[Any]]]:
    """The learned lane figures the `delayed` rule would use, by carrier and destination."""
    if lanes.empty:
        return {}
    usable = lanes[
        (lanes["deliveries"] >= config.rules.lane_min_deliveries).to_numpy(dtype=bool)
        & lanes["transit_p90_hours"].notna().to_numpy(dtype=bool)
        & lanes["province"].notna().to_numpy(dtype=bool)
    ]
    figures: dict[str, list[list[Any]]] = {}
    for carrier, origin, province, hours in zip(
        usable["carrier"], usable["origin"], usable["province"], usable["transit_p90_hours"],
        strict=True,
    ):  # fmt: skip
        key = f"{carrier}|{province}"
        figures.setdefault(key, []).append(
            ["" if pd.isna(origin) else str(origin), round(float(hours), 6)]
        )
    return {key: sorted(values) for key, values in figures.items()}


def changed_lanes(
    old: dict[str, list[list[Any]]], new: dict[str, list[list[Any]]]
) -> list[tuple[str, str]]:
    keys = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    pairs = [tuple(key.split("|", 1)) for key in sorted(keys)]
    return [(carrier, province) for carrier, province in pairs]


def refresh_context(
    engine: Engine, config: Config, state: dict[str, Any], lanes: pd.DataFrame
) -> None:
    """Rows whose due moment was computed against another config (every row still judged)
    or against other lane figures (the parcels of the lanes that moved) become due now."""
    key = context_key(config)
    figures = lane_figures(lanes, config)
    if state.get("context") == key and state.get("lanes") == figures:
        return
    with engine.begin() as conn:
        if state.get("context") != key:
            mark_all_due(conn)
            write_state(conn, "context", key)
        elif state.get("lanes") != figures:
            mark_lanes_due(conn, changed_lanes(state.get("lanes") or {}, figures))
        write_state(conn, "lanes", figures)


def paused_between(config: Config, low: datetime | None, now: datetime) -> bool:
    """Whether a maintenance window ran at some point since the last tick: its pause moves
    every stall and lost moment of its parcels continuously, so such ticks are full ones."""
    start = now if low is None else min(low, now)
    return any(next(w.occurrences(start, now), None) is not None for w in config.maintenance)


def _subject_alerts(
    engine: Engine, now: datetime, parcels: set[int], orders: set[int], claim: Claim | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The open alerts, and the manually resolved ones, of the subjects this batch judged:
    those of the rows a claim holds, or (one process, every due row at once) read through the
    same due/changed terms and then kept only for the rows actually read, so that a row
    marked meanwhile is left alone."""
    if claim is not None:
        subjects = or_(among(A.shipment_id, claim.shipments), among(A.sales_order_id, claim.orders))
    else:
        subjects = or_(
            A.shipment_id.in_(select(SHIPMENTS.c.id).where(due_condition(SHIPMENTS, now))),
            A.sales_order_id.in_(select(ORDERS.c.id).where(due_condition(ORDERS, now))),
        )

    def mine(alerts: pd.DataFrame) -> pd.Series:
        return alerts["shipment_id"].isin(parcels) | alerts["sales_order_id"].isin(orders)

    open_alerts, manual = alerts_to_plan(engine, subjects, mine)
    return open_alerts[["id", "fingerprint", "kind", "severity", "since"]], manual


@dataclass
class Batch:
    """What one batch read: the marks first, then the rows (at least as new as each mark)."""

    marks: Marks
    parcels: pd.DataFrame
    orders: pd.DataFrame
    claim: Claim | None = None
    seconds: float = 0.0  # reading it


def batches(
    engine: Engine, config: Config, now: datetime, should_stop: Callable[[], bool]
) -> Iterator[Batch]:
    """SQLite (one process): every due or changed row, at once. PostgreSQL: leased claims of
    `daemon.detect_batch_size` rows until none is left that another replica does not hold
    (docs/architecture.md "Detection across replicas")."""
    if engine.dialect.name != "postgresql":
        started = time.perf_counter()
        marks = read_marks(engine)
        parcels, orders = load_due_parcels(engine, now), load_due_orders(engine, now)
        yield Batch(marks, parcels, orders, seconds=time.perf_counter() - started)
        return
    owner = f"{REPLICA}:{uuid.uuid4().hex[:8]}"
    every = config.daemon
    with engine.connect() as conn:
        started_at = conn.execute(select(func.clock_timestamp())).scalar_one()
    while not should_stop():
        claim = claim_due(engine, now, owner, every.detect_lease_seconds,
                          every.detect_batch_size, started_at)  # fmt: skip
        if not len(claim):
            return
        started = time.perf_counter()
        try:
            marks = read_marks(engine, claim)
            parcels = load_due_parcels(engine, now, claim.shipments)
            orders = load_due_orders(engine, now, claim.orders)
        except BaseException:
            unclaim(engine, claim)
            raise
        yield Batch(marks, parcels, orders, claim, time.perf_counter() - started)


def _lost(engine: Engine, claim: Claim) -> bool:
    """Whether another replica holds (or has settled) rows of `claim` now: some of its rows
    that still exist are no longer ours. A row deleted meanwhile is not a lost claim."""
    with engine.connect() as conn:
        for table, ids in ((SHIPMENTS, claim.shipments), (ORDERS, claim.orders)):
            mine = func.count().filter(table.c.detect_owner == claim.owner)
            existing, held = conn.execute(
                select(func.count(), mine).select_from(table).where(among(table.c.id, ids))
            ).one()
            if held < existing:
                return True
    return False


def judge_batch(
    engine: Engine, config: Config, now: datetime, lanes: pd.DataFrame, batch: Batch,
    result: TickResult,
) -> None:  # fmt: skip
    """The rules over one batch, its alert changes, and its rows' next due moments, all in one
    transaction (with the claim's release on PostgreSQL: a batch another replica took over
    meanwhile is rolled back whole and left to it)."""
    parcels, orders = batch.parcels, batch.orders
    mark = time.perf_counter()
    judged = judge(engine, config, now, parcels, orders, lanes)
    exceptions = with_fingerprints(judged.exceptions)
    exceptions = exceptions.loc[~exceptions["kind"].astype(object).isin(API_FAILING).to_numpy(bool)]
    cells = cell_changes(engine, parcels["shipment_id"], judged.members)
    result.exceptions += len(exceptions)
    _add(result, "rules", mark)
    mark = time.perf_counter()
    open_alerts, manual = _subject_alerts(
        engine, now, set(parcels["shipment_id"].astype(int)),
        set(orders["sales_order_id"].astype(int)), batch.claim,
    )  # fmt: skip
    changes = plan(exceptions, open_alerts, manual)
    _add(result, "plan", mark)
    mark = time.perf_counter()

    def finish(conn: Connection) -> None:
        for table, rows, key, due in (
            (SHIPMENTS, parcels, "shipment_id", judged.parcel_due),
            (ORDERS, orders, "sales_order_id", judged.order_due),
        ):
            if batch.claim is not None:  # every claimed row is rewritten anyway: once
                settle_claim(conn, batch.claim, table, due.set_axis(rows[key].astype(int)))
                continue
            moved = must_store(rows["stored_due"], due, pd.Timestamp(now))
            write_due(conn, table, rows.loc[moved, key], due[moved])
        write_changes(conn, cells)
        clear_marks(conn, batch.marks.ids)

    apply_plan(engine, changes, now, finish)
    _add(result, "write", mark)
    result.parcels += len(parcels)
    result.orders += len(orders)
    DETECTION_ROWS.labels(subject="parcel").inc(len(parcels))
    DETECTION_ROWS.labels(subject="order").inc(len(orders))
    _count(result, changes)


def _add(result: TickResult, phase: str, since: float) -> None:
    result.timings[phase] = result.timings.get(phase, 0.0) + time.perf_counter() - since


def _count(result: TickResult, changes: Plan) -> None:
    one = TickResult()
    count_changes(one, changes)
    result.opened += one.opened
    result.escalated += one.escalated
    result.deescalated += one.deescalated
    result.resolved += one.resolved


def run_incremental_tick(
    engine: Engine,
    config: Config,
    now: datetime,
    baselines: BaselineCache | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> TickResult | None:
    """Judge what is due or changed at `now` and bring its alerts in line with what is true.
    On PostgreSQL replicas share the work (docs/architecture.md "Detection across replicas"):
    each claims batches while holding the detection lock in shared mode; one of them (the
    keeper of this tick) also does what is about the whole queue: the config fingerprint,
    silences and incidents that ended, carrier_api_failing, escalation. None: a full tick
    holds detection now."""
    windows = with_stored_windows(engine, config, now)
    state = read_state(engine)
    last = state.get("last_tick_at")
    if paused_between(windows, None if last is None else datetime.fromisoformat(last), now):
        return _full_tick_alone(engine, config, now, baselines)
    with shared_turn(engine, DETECT) as ours, first_turn(engine, KEEPER) as keeper:
        if not ours:
            return None
        result = TickResult(incremental=True)
        started = time.perf_counter()
        lanes = load_lane_expectations(engine)
        if keeper:
            refresh_context(engine, windows, state, lanes)
            release_ended(engine, now)  # what ended silences held is announced once, now
            release_inhibited(engine, now)  # and what resolved incidents held
            _count(result, judge_carrier_health(engine, windows, now))
        _add(result, "read", started)
        for batch in batches(engine, windows, now, should_stop):
            result.timings["read"] += batch.seconds
            try:
                judge_batch(engine, windows, now, lanes, batch, result)
            except LeaseLost as lost:
                log.warning("detection batch rolled back: %s", lost)
            except IntegrityError:
                # An alert another replica opened for a row it took over from this batch.
                if batch.claim is None or not _lost(engine, batch.claim):
                    if batch.claim is not None:
                        unclaim(engine, batch.claim)  # ours still: give it back, then fail
                    raise
                log.warning("detection batch rolled back: claim %s was taken over",
                            batch.claim.owner)  # fmt: skip
            except BaseException:
                if batch.claim is not None:
                    unclaim(engine, batch.claim)
                raise
        if keeper:
            mark = time.perf_counter()
            # After the batches: the cells hold what every judged parcel counts for now.
            _count(result, judge_incidents(engine, windows, now, baselines))
            _add(result, "incidents", mark)
            mark = time.perf_counter()
            escalate(engine, config, now)  # what nobody acknowledged pages the next group
            with engine.begin() as conn:
                write_state(conn, "last_tick_at", now.isoformat())
            _add(result, "write", mark)
        return result


def _full_tick_alone(
    engine: Engine, config: Config, now: datetime, baselines: BaselineCache | None
) -> TickResult | None:
    """A maintenance window ran since the last tick: the full tick, with detection to itself
    (it waits for the replicas' batches in hand to finish)."""
    with sole_turn(engine, DETECT, config.daemon.detect_lease_seconds) as sole:
        if not sole:
            return None
        full = run_tick(engine, config, now, baselines)
        with engine.begin() as conn:
            write_state(conn, "last_tick_at", now.isoformat())
        return full


def run_full_tick(
    engine: Engine, config: Config, now: datetime, baselines: BaselineCache | None = None
) -> TickResult:
    """The full tick when `daemon.incremental_detection` is off: it also drops the marks it
    has judged (nobody else would, and the triggers keep writing them) and forgets the config
    fingerprint, so that incremental ticks, once turned back on, start by making every row
    due (the due moments were not kept meanwhile)."""
    marks = read_marks(engine)
    result = run_tick(engine, config, now, baselines)
    with engine.begin() as conn:
        clear_marks(conn, marks.ids)
        forget_state(conn, "context")
    return result


def differences(
    changes: Plan, open_alerts: pd.DataFrame, pending: Marks, pending_cells: set[str]
) -> pd.DataFrame:
    """The full tick's planned changes that the incremental ticks should already have made:
    kind, fingerprint and what the change is, leaving out the subjects still pending (marked
    by a writer since, or due and not yet judged: a dead replica's claim waiting for its lease
    to run out) and the incidents (`pending_cells`, fingerprints) whose cells hold one."""
    by_id = open_alerts.set_index("id")
    rows = [changes.open[["kind", "fingerprint", "shipment_id", "sales_order_id"]].assign(
        change="open"
    )]  # fmt: skip
    for name, frame in (
        ("escalate", changes.escalate), ("deescalate", changes.deescalate),
        ("move", changes.moved), ("resolve", changes.resolve),
    ):  # fmt: skip
        known = by_id.loc[frame["id"].astype("int64")]
        rows.append(
            known[["kind", "fingerprint", "shipment_id", "sales_order_id"]]
            .reset_index(drop=True)
            .assign(change=name)
        )
    found = pd.concat(rows, ignore_index=True)
    waiting = (
        found["shipment_id"].isin(pending.shipments)
        | found["sales_order_id"].isin(pending.orders)
        | found["fingerprint"].astype(object).isin(pending_cells)
    )
    return found.loc[~waiting.to_numpy(dtype=bool)]


def reconcile(
    engine: Engine, config: Config, now: datetime, baselines: BaselineCache | None = None
) -> TickResult | None:
    """The safety net: an incremental tick at `now`, then the full tick at the same moment;
    whatever the full tick still changes is a difference between the incremental state and
    the truth, and so is an incident cell whose stored counts differ from what the full tick
    finds. They are logged, counted (parcelwatch_reconciliation_differences_total) and
    repaired: the alerts by the full tick's plan itself, the cells from its members. On
    PostgreSQL the full tick has detection to itself: it waits for the
    replicas' batches in hand, and their next ticks wait for it (one reconciliation at a time
    across replicas: the daemon runs it under its own singleton lock)."""
    run_incremental_tick(engine, config, now, baselines)
    found: list[pd.DataFrame] = []
    book: list[pd.DataFrame] = []  # what every parcel counts for in the incidents
    checks: list[CellCheck] = []

    def review(changes: Plan, open_alerts: pd.DataFrame) -> None:
        pending = still_pending(engine, now)
        checks.append(check_cells(engine, book[0], pending))
        found.append(differences(changes, open_alerts, pending, checks[0].pending))

    with sole_turn(engine, DETECT, config.daemon.detect_lease_seconds) as sole:
        if not sole:
            log.warning("reconciliation skipped: the replicas' batches did not finish within "
                        "%.0f s", config.daemon.detect_lease_seconds)  # fmt: skip
            return None
        result = run_tick(engine, config, now, baselines, review, book.append)
        drifted = len(checks[0].drifted) if checks else 0
        if drifted:
            log_drift(checks[0], repair_cells(engine, checks[0]))
    missed = found[0] if found else pd.DataFrame()
    result.differences = len(missed) + drifted
    if result.differences:
        RECONCILE_DIFFERENCES.inc(result.differences)
    if len(missed):
        sample = ", ".join(
            f"{c} {k} {f}"
            for c, k, f in missed[["change", "kind", "fingerprint"]]
            .head(10)
            .itertuples(index=False)
        )
        log.warning(
            "reconciliation repaired %d difference(s) the incremental ticks missed: %s%s",
            len(missed), sample, " ..." if len(missed) > 10 else "",
        )  # fmt: skip
    return result
