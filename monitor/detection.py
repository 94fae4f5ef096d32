"""Detection, read-only: load the unshipped orders and the active parcels into frames, run the
rules at a moment.

The store read is one query into a pandas frame (monitor/store/frames.py); the rules are
pure and vectorised (monitor/rules/). `parcelwatch detect` prints what this returns; the
daemon's tick (monitor/daemon/tick.py) turns it into alert changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from sqlalchemy import Engine, and_, case, func, not_, or_, select, union_all

from alerts.model import AlertState
from carriers.status import TERMINAL_STATUSES, ParcelStatus
from monitor.clock import EARLIEST_MOMENT, NEVER, QUIET
from monitor.config import Config
from monitor.maintenance import MaintenanceWindow
from monitor.metrics.instruments import PARCELS_SKIPPED
from monitor.rules import (
    BASELINE_COLUMNS,
    INCIDENT_COLUMNS,
    ORDER_COLUMNS,
    ORDER_TIME_COLUMNS,
    PARCEL_COLUMNS,
    TIME_COLUMNS,
    due,
    evaluate,
    ranked,
    with_incidents,
)
from monitor.rules.base import RuleContext
from monitor.rules.incidents import TROUBLE_KINDS, incident_members
from monitor.store.due import among, due_condition
from monitor.store.frames import read_frame, reads_in_another_process
from monitor.store.health import load_health
from monitor.store.lanes import load_lane_expectations
from monitor.store.maintenance import stored_windows
from monitor.store.tables import ALERTS, ORDER_PARCELS, ORDERS, SHIPMENTS

S = SHIPMENTS.c
A = ALERTS.c
ORD = ORDERS.c
log = logging.getLogger(__name__)
TERMINAL = sorted(s.value for s in TERMINAL_STATUSES)
RECENTLY_RETURNED = timedelta(days=7)


def _active_parcel(now: datetime, few: bool = False) -> Any:
    """Parcels still on their way; finished ones that still have an open alert (so the alert
    can see its condition clear, or stay open for a returned parcel); and parcels returned
    within the last RECENTLY_RETURNED (one that went straight to "returned" between two
    ticks, or arrived that way in an import, still deserves its `returned` alert). `few`:
    for a few rows, the open alert is looked up per row instead of listing every one."""
    with_open_alert: Any = select(A.shipment_id).where(
        A.state != AlertState.RESOLVED.value, A.shipment_id.is_not(None)
    )
    if few:
        with_open_alert = (
            select(A.id).where(A.shipment_id == S.id, A.state != AlertState.RESOLVED.value).exists()
        )
    return or_(
        S.status.not_in(TERMINAL),
        with_open_alert if few else S.id.in_(with_open_alert),
        and_(
            S.status == ParcelStatus.RETURNED.value,
            S.last_event_at >= now - RECENTLY_RETURNED,
            S.last_event_at <= now,
        ),
    )


# The rules' columns (monitor/rules/base.py PARCEL_COLUMNS), the shipment id under its frame
# name.
def _parcel_columns() -> list[Any]:
    return [S.id.label("shipment_id"), *(S[name] for name in PARCEL_COLUMNS[1:])]


def active_parcels_query(now: datetime) -> Any:
    return select(*_parcel_columns()).where(_active_parcel(now))


def due_rows(table: Any, now: datetime, ids: Sequence[int] | None = None) -> Any:
    """Rows due by `now` or marked changed since the last tick (docs/architecture.md
    "Incremental detection"), or, on PostgreSQL, the due rows one batch has claimed."""
    return due_condition(table, now) if ids is None else among(table.c.id, ids)


def due_parcels_query(now: datetime, ids: Sequence[int] | None = None) -> Any:
    """The parcels an incremental tick judges, with `active`: whether the full tick would
    read them (active_parcels_query); the others are only given their next due moment."""
    active = case((_active_parcel(now, few=True), 1), else_=0).label("active")
    stored = S.due_at.label("stored_due")  # a due moment that did not move is not rewritten
    return select(*_parcel_columns(), active, stored).where(due_rows(SHIPMENTS, now, ids))


CATEGORY_COLUMNS = (
    "platform", "shop", "warehouse", "carrier", "province", "status", "sub_reason", "last_hub",
)  # fmt: skip


def load_parcels(engine: Engine, now: datetime) -> pd.DataFrame:
    return read_frame(engine, active_parcels_query(now), TIME_COLUMNS, CATEGORY_COLUMNS)


def load_due_parcels(
    engine: Engine, now: datetime, ids: Sequence[int] | None = None
) -> pd.DataFrame:
    times = (*TIME_COLUMNS, "stored_due")
    frame = read_frame(engine, due_parcels_query(now, ids), times, CATEGORY_COLUMNS)
    return frame.assign(active=frame["active"].astype(bool))


def load_due_orders(
    engine: Engine, now: datetime, ids: Sequence[int] | None = None
) -> pd.DataFrame:
    return load_orders(engine, due_orders_query(now, ids), ("stored_due",))


def _open_order(few: bool = False) -> Any:
    """Orders not yet shipped (a partial index holds them), and shipped ones whose order alert
    is still open, so that it can see its condition clear (`few`: as in _active_parcel)."""
    if few:
        return or_(
            ORD.shipped_at.is_(None),
            select(A.id)
            .where(A.sales_order_id == ORD.id, A.state != AlertState.RESOLVED.value)
            .exists(),
        )
    return or_(ORD.shipped_at.is_(None), ORD.id.in_(_orders_with_open_alert()))


def _orders_with_open_alert() -> Any:
    return select(A.sales_order_id).where(
        A.state != AlertState.RESOLVED.value, A.sales_order_id.is_not(None)
    )


def _order_columns() -> list[Any]:
    return [ORD.id.label("sales_order_id"), *(ORD[name] for name in ORDER_COLUMNS[1:])]


def open_orders_query() -> Any:
    """The unshipped orders through their partial index, then the shipped ones with an open
    alert: as one WHERE with OR, SQLite scanned the whole order history (0.2 s at a million)."""
    unshipped = select(*_order_columns()).where(ORD.shipped_at.is_(None))
    alerted = select(*_order_columns()).where(
        ORD.shipped_at.is_not(None), ORD.id.in_(_orders_with_open_alert())
    )
    both = union_all(unshipped, alerted).subquery("open_order")
    return select(*both.c)


def due_orders_query(now: datetime, ids: Sequence[int] | None = None) -> Any:
    active = case((_open_order(few=True), 1), else_=0).label("active")
    stored = ORD.due_at.label("stored_due")
    return select(*_order_columns(), active, stored).where(due_rows(ORDERS, now, ids))


def load_orders(engine: Engine, query: Any = None, times: tuple[str, ...] = ()) -> pd.DataFrame:
    """The order frame, with the parcel-side subject columns empty (an order rule's alert has
    no parcel) and `carrier` empty for the threshold scopes."""
    frame = read_frame(
        engine,
        open_orders_query() if query is None else query,
        (*ORDER_TIME_COLUMNS, *times),
        ("platform", "shop", "warehouse", "province"),
    )
    return frame.assign(
        shipment_id=pd.Series(pd.NA, index=frame.index, dtype="Int64"),
        carrier=pd.Series(None, index=frame.index, dtype=object),
        tracking_number=pd.Series(None, index=frame.index, dtype=object),
    )


def with_their_orders(engine: Engine, exceptions: pd.DataFrame, parcels: pd.DataFrame) -> None:
    """A parcel carrying several orders names them all (`detail.orders`), so that the lead and
    customer service see every buyer it concerns. Few parcels carry several orders: only
    theirs are looked up."""
    if exceptions.empty or "order_count" not in parcels.columns:
        return
    shared = parcels.loc[parcels["order_count"].fillna(1) > 1, "shipment_id"]
    ids = sorted(set(exceptions["shipment_id"].dropna().astype(int)) & set(shared.astype(int)))
    if not ids:
        return
    names: dict[int, list[str]] = {}
    link = ORDER_PARCELS.c
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            query = (
                select(link.shipment_id, ORD.order_id)
                .select_from(ORDER_PARCELS.join(ORDERS, ORD.id == link.sales_order_id))
                .where(link.shipment_id.in_(ids[start : start + 500]))
                .order_by(link.shipment_id, ORD.id)
            )
            for shipment_id, order_id in conn.execute(query):
                names.setdefault(int(shipment_id), []).append(str(order_id))
    for index, shipment_id, detail in zip(
        exceptions.index, exceptions["shipment_id"], exceptions["detail"], strict=True
    ):
        if pd.notna(shipment_id) and int(shipment_id) in names:
            exceptions.at[index, "detail"] = {**detail, "orders": names[int(shipment_id)]}


class BaselineCache:
    """The daemon keeps one: a 28-day rate does not move in five minutes, so it is computed
    once per hour (or when the maintenance windows change) rather than on every tick."""

    def __init__(self) -> None:
        self.key: tuple[int, datetime, str] | None = None
        self.frame: pd.DataFrame | None = None

    def get(
        self,
        engine: Engine,
        now: datetime,
        days: int,
        windows: Sequence[MaintenanceWindow] = (),
    ) -> pd.DataFrame:
        key = (days, now.replace(minute=0, second=0, microsecond=0), repr(list(windows)))
        if self.key != key or self.frame is None:
            self.frame = incident_baseline(engine, now, days, windows)
            self.key = key
        return self.frame


def baseline_for(
    engine: Engine, config: Config, now: datetime, baselines: BaselineCache | None
) -> pd.DataFrame:
    """The incident baseline at `now`, from the daemon's cache when it has one. `config`
    holds the stored maintenance windows already (with_stored_windows)."""
    days, windows = config.rules.incident.baseline_days, config.maintenance
    if baselines is not None:
        return baselines.get(engine, now, days, windows)
    return incident_baseline(engine, now, days, windows)


def with_stored_windows(engine: Engine, config: Config, now: datetime) -> Config:
    """The config's maintenance windows and those made through the API, together."""
    stored = stored_windows(engine, now)
    if not stored:
        return config
    return config.model_copy(update={"maintenance": [*config.maintenance, *stored]})


def _outside_windows(
    windows: Sequence[MaintenanceWindow], low: datetime, high: datetime
) -> list[Any]:
    """WHERE terms leaving out the parcels a window held: of its carrier (and province), in
    the carrier's hands during one of its stretches (docs/rules.md "Maintenance windows")."""
    terms = []
    finished = func.coalesce(S.delivered_at, S.last_event_at)
    for window in windows:
        for start, end in window.occurrences(low, high):
            held = and_(S.picked_up_at < end, finished > start)
            if window.carrier is not None:
                held = and_(held, S.carrier == window.carrier)
            if window.province is not None:
                held = and_(held, S.province == window.province)
            terms.append(not_(held))
    return terms


def incident_baseline(
    engine: Engine, now: datetime, days: int, windows: Sequence[MaintenanceWindow] = ()
) -> pd.DataFrame:
    """Per carrier and province: parcels picked up in the last `days` that have since
    finished (delivered or returned), and how many of them had a stalled or delayed alert.

    Finished parcels only, so that the episode being judged (parcels still in the carrier's
    hands) does not raise its own baseline and silence itself. Parcels a maintenance window
    held are left out, so that a Spring Festival stop does not teach the baseline that a
    stalled network is usual. One grouped query: GROUP BY in
    the subquery lets SQLite index it, where a DISTINCT subquery is rescanned for every
    shipment (683 s instead of about 1 s at a million parcels)."""
    troubled = (
        select(A.shipment_id)
        .where(A.kind.in_(TROUBLE_KINDS), A.shipment_id.is_not(None))
        .group_by(A.shipment_id)
        .subquery()
    )
    query = (
        select(
            S.carrier,
            S.province,
            func.count().label("picked_up"),
            func.count(troubled.c.shipment_id).label("affected"),
        )
        .select_from(SHIPMENTS.outerjoin(troubled, troubled.c.shipment_id == S.id))
        .where(
            S.picked_up_at >= now - timedelta(days=days),
            S.picked_up_at < now,
            S.status.in_(TERMINAL),
            *_outside_windows(windows, now - timedelta(days=days), now),
        )
        .group_by(S.carrier, S.province)
    )
    frame = read_frame(engine, query)
    return frame[list(BASELINE_COLUMNS)] if not frame.empty else frame


IMPOSSIBLE_AHEAD = timedelta(days=366)


def without_impossible(
    parcels: pd.DataFrame,
    now: datetime,
    columns: tuple[str, ...] = TIME_COLUMNS,
    key: str = "shipment_id",
) -> pd.DataFrame:
    """The parcels whose stored times a rule can compute with. Times are checked where they
    enter (monitor/clock.py `implausible_moment`), but a store written by an older version may
    hold a 9999-12-31 that would make every deadline computation overflow: such a parcel is
    skipped, logged and counted, and the rest are evaluated."""
    if parcels.empty:
        return parcels
    low = pd.Timestamp(EARLIEST_MOMENT)
    high = pd.Timestamp(now).tz_convert("UTC") + IMPOSSIBLE_AHEAD
    bad = np.zeros(len(parcels), dtype=bool)
    for column in columns:
        values = parcels[column]
        bad |= ((values < low) | (values > high)).to_numpy(dtype=bool, na_value=False)
    if not bad.any():
        return parcels
    skipped = parcels.loc[bad, key].tolist()
    PARCELS_SKIPPED.inc(len(skipped))
    what = "order" if key == "sales_order_id" else "parcel"
    log.error(
        "detection skipped %d %s(s) with impossible times (%s %s%s); fix or re-import them",
        len(skipped), what, key, ", ".join(map(str, skipped[:10])),
        " ..." if len(skipped) > 10 else "",
    )  # fmt: skip
    return parcels.loc[~bad]


# Parcel ids per read of the full tick: it holds one piece's rows at a time, and of the rest
# only what the carrier-wide incidents read (INCIDENT_COLUMNS).
PIECE_PARCELS = 250_000


@contextmanager
def parcel_pieces(engine: Engine, now: datetime, size: int) -> Iterator[Iterator[pd.DataFrame]]:
    """The active parcels in id ranges of `size`, at least one (maybe empty) frame. Where a
    helper process reads the store (store/frames.py `reads_in_another_process`), the first
    piece is read from the block's start, each next one while the caller judges this one,
    on the other core: reading and judging overlap (a reconciliation at a million parcels
    5.3 s against 6.7 s). Leaving the block waits for a read in flight."""
    with engine.connect() as conn:
        low, high = conn.execute(select(func.min(S.id), func.max(S.id))).one()
    if low is None:
        yield iter([load_parcels(engine, now)])
        return

    def piece(start: int) -> pd.DataFrame:
        query = active_parcels_query(now).where(S.id > start, S.id <= start + size)
        return read_frame(engine, query, TIME_COLUMNS, CATEGORY_COLUMNS)

    starts = range(int(low) - 1, int(high), size)
    if not reads_in_another_process(engine):
        yield (piece(start) for start in starts)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parcel-piece") as reader:
        first = reader.submit(piece, starts[0])

        def read_ahead() -> Iterator[pd.DataFrame]:
            ahead = first
            for start in starts[1:]:
                current = ahead.result()
                ahead = reader.submit(piece, start)
                yield current
            yield ahead.result()

        yield read_ahead()


def _joined(pieces: list[pd.DataFrame]) -> pd.DataFrame:
    """The pieces' incident columns as one frame, categoricals kept as categoricals."""
    if len(pieces) == 1:
        return pieces[0]
    columns: dict[str, Any] = {}
    for name in INCIDENT_COLUMNS:
        parts = [piece[name] for piece in pieces]
        if all(isinstance(part.dtype, pd.CategoricalDtype) for part in parts):
            columns[name] = pd.Series(union_categoricals(parts, ignore_order=True))
        else:
            columns[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns)


def detect(
    engine: Engine,
    config: Config,
    now: datetime,
    parcels: pd.DataFrame | None = None,
    baselines: BaselineCache | None = None,
    orders: pd.DataFrame | None = None,
    piece: int = PIECE_PARCELS,
    members: Callable[[pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Every exception true at `now`, read-only. Without `parcels`, the active parcels are
    read and judged `piece` ids at a time, and the carrier-wide incidents are judged at the
    end over what every piece found. `members` is handed what every parcel counts for in the
    incidents (the reconciliation checks the store's incident cells against it)."""
    config = with_stored_windows(engine, config, now)
    if orders is None:
        orders = load_orders(engine)
    orders = without_impossible(orders, now, ORDER_TIME_COLUMNS, "sales_order_id")
    baseline = baseline_for(engine, config, now, baselines)
    lanes = load_lane_expectations(engine)  # learned lane p90s for `delayed`: one small query
    health = load_health(engine)
    given = None if parcels is None else nullcontext(iter([parcels]))
    kept: list[pd.DataFrame] = []
    with given or parcel_pieces(engine, now, piece) as pieces:
        # The orders and the carrier health once, while the first piece is read.
        found = [evaluate(None, now, config, None, health, orders=orders, incidents=False)]
        for frame in pieces:
            frame = without_impossible(frame, now)
            exceptions = evaluate(frame, now, config, lane_expectations=lanes, incidents=False)
            with_their_orders(engine, exceptions, frame)
            found.append(exceptions)
            kept.append(frame[list(INCIDENT_COLUMNS)])
    some = [f for f in found if not f.empty]
    exceptions = pd.concat(some, ignore_index=True) if len(some) > 1 else (some or found)[0]
    ctx = RuleContext(_joined(kept), pd.Timestamp(now).tz_convert("UTC"), config)
    book = incident_members(ctx, exceptions)
    if members is not None:
        members(book)
    return ranked(with_incidents(ctx, exceptions, baseline, book))


def impossible_due(frame: pd.DataFrame, now: datetime, columns: tuple[str, ...]) -> pd.Series:
    """When a row `without_impossible` skipped can first be judged: once its farthest time
    is within IMPOSSIBLE_AHEAD of the clock; never (QUIET, until new data) if a time lies
    before EARLIEST_MOMENT."""
    low = pd.Timestamp(EARLIEST_MOMENT)
    times = frame[list(columns)]
    early = (times < low).to_numpy(dtype=bool, na_value=False).any(axis=1)
    farthest = times.max(axis=1).astype("datetime64[us, UTC]") - IMPOSSIBLE_AHEAD
    edge = farthest.where(~early & farthest.notna(), pd.Timestamp(QUIET))
    return edge.clip(lower=pd.Timestamp(now))


@dataclass
class Judged:
    """What an incremental tick learned about the rows it read: the exceptions of the ones it
    judged (no carrier-wide incidents), every read row's next due moment, and what the judged
    parcels count for in the incidents (monitor/rules/incidents.py incident_members)."""

    exceptions: pd.DataFrame
    parcel_due: pd.Series
    order_due: pd.Series
    members: pd.DataFrame


def _due_moments(
    rows: pd.DataFrame, judged: pd.DataFrame, now: datetime, computed: pd.Series,
    columns: tuple[str, ...],
) -> pd.Series:  # fmt: skip
    """NEVER for rows the full tick would not read; the rules' next crossing for the judged
    ones; the plausibility edge for those with impossible times."""
    moments = pd.Series(pd.Timestamp(NEVER), index=rows.index, dtype="datetime64[us, UTC]")
    active = rows["active"].astype(bool).to_numpy(dtype=bool)
    skipped = active & ~rows.index.isin(judged.index)
    if skipped.any():
        moments[skipped] = impossible_due(rows.loc[skipped], now, columns)
    moments.loc[judged.index] = computed.astype("datetime64[us, UTC]")
    return moments


def judge(
    engine: Engine,
    config: Config,
    now: datetime,
    parcels: pd.DataFrame,
    orders: pd.DataFrame,
    lanes: pd.DataFrame | None = None,
) -> Judged:
    """The rules over the rows an incremental tick read (load_due_parcels, due_orders_query),
    the same pure functions as `detect`, and each row's next due moment (monitor/rules/due.py).
    A finished parcel read only because it was due (it left the active set) is given NEVER,
    unless it is a returned parcel whose return the active set will still show. `config`
    holds the stored maintenance windows already (with_stored_windows), `lanes` the lane
    figures if the caller read them."""
    extra = ["active", "stored_due"]
    live = without_impossible(parcels[parcels["active"]].drop(columns=extra), now)
    open_orders = orders[orders["active"].astype(bool)].drop(columns=extra)
    live_orders = without_impossible(open_orders, now, ORDER_TIME_COLUMNS, "sales_order_id")
    if lanes is None:
        lanes = load_lane_expectations(engine)
    exceptions = evaluate(
        live, now, config, None, load_health(engine), lane_expectations=lanes,
        orders=live_orders, incidents=False,
    )  # fmt: skip
    with_their_orders(engine, exceptions, live)
    moment = pd.Timestamp(now).tz_convert("UTC")
    parcel_due = _due_moments(
        parcels, live, now, due.parcel_due(RuleContext(live, moment, config, lanes)), TIME_COLUMNS
    )
    later = (
        ~parcels["active"]
        & (parcels["status"] == ParcelStatus.RETURNED.value).to_numpy(dtype=bool)
        & (parcels["last_event_at"] > moment).to_numpy(dtype=bool, na_value=False)
    )
    parcel_due[later] = parcels.loc[later, "last_event_at"]
    order_due = _due_moments(
        orders, live_orders, now, due.order_due(RuleContext(live_orders, moment, config)),
        ORDER_TIME_COLUMNS,
    )  # fmt: skip
    members = incident_members(RuleContext(live, moment, config), exceptions)
    return Judged(exceptions, parcel_due, order_due, members)
