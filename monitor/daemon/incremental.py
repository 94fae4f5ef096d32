"""Incremental detection ticks and the full reconciliation behind them (docs/architecture.md
"Incremental detection").

A tick reads only the parcels and orders that are due (their stored due moment has come) or
changed (a trigger marked them in the writer's transaction), runs the same pure rules over
them, plans alert changes for those subjects alone, and stores each one's next due moment in
the transaction that applies the plan. Carrier and hub incidents need the whole book: they
are judged by the reconciliation (`reconcile`), on a slower schedule, which also runs the full
tick and counts, logs and repairs whatever the incremental state had missed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, or_, select

from alerts.lifecycle import Plan, plan
from alerts.model import AlertKind, AlertState, Resolution
from monitor.config import Config
from monitor.daemon.escalation import escalate
from monitor.daemon.inhibition import release_inhibited
from monitor.daemon.tick import (
    TickResult,
    apply_plan,
    count_changes,
    run_tick,
    with_fingerprints,
)
from monitor.detection import (
    BaselineCache,
    due_rows,
    judge,
    load_due_orders,
    load_due_parcels,
    with_stored_windows,
)
from monitor.metrics.instruments import RECONCILE_DIFFERENCES
from monitor.store.due import (
    clear_marks,
    forget_state,
    mark_all_due,
    mark_lanes_due,
    read_marks,
    read_state,
    write_due,
    write_state,
)
from monitor.store.frames import read_frame
from monitor.store.lanes import load_lane_expectations
from monitor.store.silences import release_ended
from monitor.store.tables import ALERTS, DETECT_DIRTY, ORDERS, SHIPMENTS

log = logging.getLogger(__name__)
A = ALERTS.c
DD = DETECT_DIRTY.c
# Judged only by the full tick: they group every parcel of a carrier (monitor/rules/incidents.py).
BOOK_WIDE = frozenset({AlertKind.CARRIER_INCIDENT.value, AlertKind.HUB_INCIDENT.value})
# Judged on every tick from the small carrier_health table.
EVERY_TICK = AlertKind.CARRIER_API_FAILING.value


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
    engine: Engine, now: datetime, parcels: set[int], orders: set[int]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The open alerts, and the manually resolved ones, of the subjects this tick judged (and
    of carrier_api_failing, judged every tick). Read through the same due/changed terms and
    then kept only for the rows actually read, so a row marked meanwhile is left alone."""
    subjects = or_(
        A.shipment_id.in_(select(SHIPMENTS.c.id).where(due_rows(SHIPMENTS, DD.shipment_id, now))),
        A.sales_order_id.in_(select(ORDERS.c.id).where(due_rows(ORDERS, DD.sales_order_id, now))),
        A.kind == EVERY_TICK,
    )
    columns = [A.fingerprint, A.since, A.kind, A.shipment_id, A.sales_order_id]
    open_alerts = read_frame(
        engine,
        select(A.id, A.severity, *columns).where(A.state != AlertState.RESOLVED.value, subjects),
        ["since"],
    )
    manual = read_frame(
        engine,
        select(*columns).where(A.resolution == Resolution.MANUAL.value, subjects),
        ["since"],
    )

    def mine(frame: pd.DataFrame) -> pd.Series:
        return (
            frame["shipment_id"].isin(parcels)
            | frame["sales_order_id"].isin(orders)
            | (frame["kind"].astype(object) == EVERY_TICK)
        )

    open_alerts = open_alerts.loc[mine(open_alerts)]
    manual = manual.loc[mine(manual), ["fingerprint", "since"]].drop_duplicates()
    return open_alerts[["id", "fingerprint", "kind", "severity", "since"]], manual


def run_incremental_tick(
    engine: Engine, config: Config, now: datetime, baselines: BaselineCache | None = None
) -> TickResult:
    """Judge what is due or changed at `now` and bring its alerts in line with what is true."""
    windows = with_stored_windows(engine, config, now)
    state = read_state(engine)
    last = state.get("last_tick_at")
    if paused_between(windows, None if last is None else datetime.fromisoformat(last), now):
        full = run_tick(engine, config, now, baselines)
        with engine.begin() as conn:
            write_state(conn, "last_tick_at", now.isoformat())
        return full
    result = TickResult(incremental=True)
    started = time.perf_counter()
    lanes = load_lane_expectations(engine)
    refresh_context(engine, windows, state, lanes)
    release_ended(engine, now)  # what ended silences held is announced once, now
    release_inhibited(engine, now)  # and what resolved incidents held
    marks = read_marks(engine)  # before the rows: these are at least as new as each mark
    parcels = load_due_parcels(engine, now)
    orders = load_due_orders(engine, now)
    result.parcels, result.orders = len(parcels), len(orders)
    result.timings["read"] = time.perf_counter() - started
    mark = time.perf_counter()
    judged = judge(engine, windows, now, parcels, orders, lanes)
    exceptions = with_fingerprints(judged.exceptions)
    result.exceptions = len(exceptions)
    result.timings["rules"] = time.perf_counter() - mark
    mark = time.perf_counter()
    open_alerts, manual = _subject_alerts(
        engine, now, set(parcels["shipment_id"].astype(int)),
        set(orders["sales_order_id"].astype(int)),
    )  # fmt: skip
    changes = plan(exceptions, open_alerts, manual)
    result.timings["plan"] = time.perf_counter() - mark
    mark = time.perf_counter()

    def finish(conn: Connection) -> None:
        for table, rows, key, due in (
            (SHIPMENTS, parcels, "shipment_id", judged.parcel_due),
            (ORDERS, orders, "sales_order_id", judged.order_due),
        ):
            moved = (rows["stored_due"].isna() | (rows["stored_due"] != due)).to_numpy(bool)
            write_due(conn, table, rows.loc[moved, key], due[moved])
        clear_marks(conn, marks.ids)
        write_state(conn, "last_tick_at", now.isoformat())

    apply_plan(engine, changes, now, finish)
    escalate(engine, config, now)  # what nobody acknowledged pages the next group
    result.timings["write"] = time.perf_counter() - mark
    count_changes(result, changes)
    return result


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


def differences(changes: Plan, open_alerts: pd.DataFrame, marked: Any) -> pd.DataFrame:
    """The full tick's planned changes that the incremental ticks should already have made:
    kind, fingerprint and what the change is, leaving out carrier-wide incidents (judged only
    here) and the subjects a writer marked since (their tick has not come yet)."""
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
    kinds = found["kind"].astype(object)
    pending = found["shipment_id"].isin(marked.shipments) | found["sales_order_id"].isin(
        marked.orders
    )
    return found.loc[~kinds.isin(BOOK_WIDE) & ~pending.to_numpy(dtype=bool)]


def reconcile(
    engine: Engine, config: Config, now: datetime, baselines: BaselineCache | None = None
) -> TickResult:
    """The safety net: an incremental tick at `now`, then the full tick at the same moment;
    whatever the full tick still changes (carrier-wide incidents aside) is a difference
    between the incremental state and the truth. It is logged, counted
    (parcelwatch_reconciliation_differences_total) and repaired by the full tick's
    plan itself."""
    run_incremental_tick(engine, config, now, baselines)
    found: list[pd.DataFrame] = []

    def review(changes: Plan, open_alerts: pd.DataFrame) -> None:
        found.append(differences(changes, open_alerts, read_marks(engine)))

    result = run_tick(engine, config, now, baselines, review)
    missed = found[0] if found else pd.DataFrame()
    result.differences = len(missed)
    if len(missed):
        RECONCILE_DIFFERENCES.inc(len(missed))
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
