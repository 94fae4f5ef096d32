"""Store gauges for /metrics, computed at scrape time (docs/contract.md "Metrics").

Everything the store knows (parcels on their way, open alerts, the outbox, carrier health,
lane figures) is read by one aggregate query per family on every scrape, never kept in global
gauges. The parcel and alert counts are sums over the few rows the store's triggers keep per
label set (monitor/store/counts.py), so a scrape costs the number of series, not the size of
the book: concurrent scrapes cannot race, and a label set that disappears from the store
disappears from /metrics. A family whose query returned the same rows as at the previous scrape
is handed out again, already rendered to text (monitor/metrics/exposition.py), so an unchanged
family costs a scrape its query alone (docs/observability.md "Store collectors").
`describe()` returns the families without samples, so registering the collector runs no query.

Families: `parcelwatch_parcels_active{carrier,status}`, `parcelwatch_alerts_open{kind,severity,
carrier,warehouse}`, `parcelwatch_alerts_open_by_province{kind,province}`,
`parcelwatch_parcels_stalled{carrier,province}`, `parcelwatch_outbox_pending`,
`parcelwatch_carrier_up{carrier}`, `parcelwatch_carrier_last_success_timestamp_seconds{carrier}`,
`parcelwatch_carrier_transit_p50_seconds`, `..._p90_seconds`, `parcelwatch_carrier_on_time_ratio`
and `parcelwatch_carrier_loss_ratio` (all `{carrier,province}`), and the collector's own
`parcelwatch_scrape_duration_seconds` and `parcelwatch_scrape_errors_total{query}`.

Example exposition (one carrier configured, one parcel in transit, one open alert):

    # HELP parcelwatch_parcels_active Parcels not yet delivered or returned, by carrier and status.
    # TYPE parcelwatch_parcels_active gauge
    parcelwatch_parcels_active{carrier="",status="awaiting_shipment"} 0.0
    parcelwatch_parcels_active{carrier="zto",status="in_transit"} 1.0
    # TYPE parcelwatch_alerts_open gauge
    parcelwatch_alerts_open{carrier="zto",kind="stalled",severity="warning",warehouse="hz1"} 1.0
    # TYPE parcelwatch_parcels_stalled gauge
    parcelwatch_parcels_stalled{carrier="zto",province="江苏"} 1.0
    # TYPE parcelwatch_outbox_pending gauge
    parcelwatch_outbox_pending 3.0
    # TYPE parcelwatch_carrier_up gauge
    parcelwatch_carrier_up{carrier="zto"} 1.0
    # TYPE parcelwatch_carrier_transit_p90_seconds gauge
    parcelwatch_carrier_transit_p90_seconds{carrier="zto",province=""} 259200.0
    parcelwatch_carrier_transit_p90_seconds{carrier="zto",province="江苏"} 194400.0
    # TYPE parcelwatch_scrape_duration_seconds gauge
    parcelwatch_scrape_duration_seconds 0.004
    # TYPE parcelwatch_scrape_errors_total counter
    parcelwatch_scrape_errors_total{query="parcels_active"} 0.0

Label conventions:
- An empty label value means "none" or "all": `carrier=""` on parcels that have no carrier
  yet (not shipped) and on alerts about no carrier, and `province=""` on the lane figures of a
  carrier nationally (the lane_stats rows whose province is NULL). An empty value is the same
  as an absent label to Prometheus, so `{province=""}` selects the national figures and
  `{province!=""}` the provinces, and no fake value such as "all" can be mistaken for a
  province (docs/observability.md "Prometheus labels": never emit a `label="total"` series).
- Pre-created zero series, so that sums and rates start from 0 rather than from no data:
  `parcels_active` for every configured carrier in every active status that has a carrier
  (and `carrier=""` awaiting shipment); `alerts_open` for every alert kind at both severities
  with `carrier=""` and `warehouse=""`; `carrier_up` is 1 for every configured carrier until
  the store says it is failing. Timestamps, transit times and ratios are never invented: no
  figure, no series.

A query that fails (store unreachable, locked, a timeout) leaves its families out of that
scrape and counts one `parcelwatch_scrape_errors_total{query}`; the other families, and the
daemon's own counters on the same /metrics, are still served.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import Connection, Engine, TextClause, func, select, text

from alerts.model import AlertKind, Severity
from carriers.status import TERMINAL_STATUSES, ParcelStatus
from monitor.metrics.exposition import RenderedGauge, Row
from monitor.metrics.instruments import preinit_carrier_series
from monitor.store.counts import fold_in_background, rows_bound
from monitor.store.health import HEALTH
from monitor.store.tables import LANE_STATS

log = logging.getLogger(__name__)

LANES = LANE_STATS
HOUR = 3600.0

ACTIVE_STATUSES = tuple(s.value for s in ParcelStatus if s not in TERMINAL_STATUSES)
# A parcel gets its carrier when it ships; before that its carrier label is "".
CARRIER_HELD_STATUSES = tuple(s for s in ACTIVE_STATUSES if s != ParcelStatus.AWAITING_SHIPMENT)


def _count_sql(table: str, labels: Sequence[str]) -> TextClause:
    """The sum per label set of a count table, its labels as /metrics writes them: NULL and
    "" are one label value, "" (the same key as the table's unique index on SQLite,
    migration 0021), and label sets at zero are left out."""
    keys = ", ".join(f"coalesce({label}, '')" for label in labels)
    return text(
        f"SELECT {keys}, CAST(sum(n) AS BIGINT) FROM {table} GROUP BY {keys} HAVING sum(n) != 0"
    )


# The counts come from the tables the store's triggers keep (monitor/store/counts.py): one row
# per label set (and on PostgreSQL the rows appended since the last fold), whatever the size
# of the book.
PARCELS_ACTIVE_SQL = _count_sql("parcel_count", ("carrier", "status"))
ALERTS_OPEN_SQL = _count_sql("alert_count", ("kind", "severity", "carrier", "warehouse"))
ALERTS_BY_PROVINCE_SQL = _count_sql("alert_province_count", ("kind", "province"))
PARCELS_STALLED_SQL = _count_sql("stalled_count", ("carrier", "province"))
OUTBOX_PENDING_SQL = text("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")

QUERIES = (
    "parcels_active",
    "alerts_open",
    "alerts_by_province",
    "parcels_stalled",
    "outbox_pending",
    "carrier_health",
    "lane_stats",
)
# On PostgreSQL a scrape sums the count rows appended since the last fold (about 0.25 us a
# row): past this many it starts a fold rather than wait for the daemon's minute.
FOLD_BACKLOG_ROWS = 20_000
# Well inside Prometheus's default 10 s scrape timeout (docs/observability.md "Scrape timeout").
STATEMENT_TIMEOUT_MS = 5000

Families = list[Metric]
Rows = tuple[tuple[Any, ...], ...]


def _counts(
    family: RenderedGauge, rows: Rows, zeros: Iterable[tuple[str, ...]] = ()
) -> RenderedGauge:
    """Rows of (label values..., count), one per label set (see _count_sql), as samples,
    plus a 0 for each pre-created label set that has none."""
    counts = dict.fromkeys(zeros, 0)
    counts.update((row[:-1], row[-1]) for row in rows)
    return family.with_rows(sorted(counts.items()))


def _gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> RenderedGauge:
    """A store family, without samples: `with_rows` gives it its rows."""
    return RenderedGauge(name, documentation, labels)


def parcels_active_family() -> RenderedGauge:
    return _gauge(
        "parcelwatch_parcels_active",
        "Parcels not yet delivered or returned, by carrier (empty: not shipped) and status.",
        ["carrier", "status"],
    )


def alerts_open_family() -> RenderedGauge:
    return _gauge(
        "parcelwatch_alerts_open",
        "Open or acknowledged alerts in the queue, by kind, severity, carrier and warehouse "
        "(empty: none).",
        ["kind", "severity", "carrier", "warehouse"],
    )


# Open alerts by destination province, apart from `alerts_open` so that no metric carries
# kind x carrier x warehouse x province (docs/observability.md "Prometheus labels": carrier x
# province only on a few).
def alerts_by_province_family() -> RenderedGauge:
    return _gauge(
        "parcelwatch_alerts_open_by_province",
        "Open or acknowledged alerts in the queue, by kind and destination province (empty: none).",
        ["kind", "province"],
    )


def parcels_stalled_family() -> RenderedGauge:
    return _gauge(
        "parcelwatch_parcels_stalled",
        "Parcels with an open stalled alert, by carrier and destination province.",
        ["carrier", "province"],
    )


def outbox_pending_family() -> RenderedGauge:
    return _gauge("parcelwatch_outbox_pending", "Notifications in the outbox not yet delivered.")


def carrier_families() -> tuple[RenderedGauge, RenderedGauge]:
    return (
        _gauge(
            "parcelwatch_carrier_up",
            "1 unless every call to the carrier's tracking API has failed since its last "
            "success (carrier_health.failing_since is set).",
            ["carrier"],
        ),
        _gauge(
            "parcelwatch_carrier_last_success_timestamp_seconds",
            "When a call to the carrier's tracking API last succeeded (Unix time).",
            ["carrier"],
        ),
    )


LANE_FIGURES = (
    ("transit_p50_hours", "parcelwatch_carrier_transit_p50_seconds", "Median transit time"),
    ("transit_p90_hours", "parcelwatch_carrier_transit_p90_seconds", "90th percentile transit"),
    ("on_time_ratio", "parcelwatch_carrier_on_time_ratio", "On-time ratio"),
    ("loss_ratio", "parcelwatch_carrier_loss_ratio", "Loss ratio"),
)


def lane_families() -> dict[str, RenderedGauge]:
    return {
        column: _gauge(
            name,
            f"{what} of the carrier's deliveries to the province (empty: nationally) over its "
            "learned window, as last refreshed into lane_stats (not recomputed per scrape).",
            ["carrier", "province"],
        )
        for column, name, what in LANE_FIGURES
    }


def self_families(
    duration: float | None, errors: dict[str, int]
) -> tuple[GaugeMetricFamily, CounterMetricFamily]:
    gauge = GaugeMetricFamily(
        "parcelwatch_scrape_duration_seconds",
        "Time the store collector spent on its queries during this scrape.",
    )
    if duration is not None:
        gauge.add_metric([], duration)
    counter = CounterMetricFamily(
        "parcelwatch_scrape_errors",
        "Store queries that failed during a scrape (their families were left out), by query.",
        labels=["query"],
    )
    for query, count in errors.items():
        counter.add_metric([query], count)
    return gauge, counter


class StoreCollector:
    """The store's figures, one aggregate query per family and scrape.

    `carriers` are the configured carrier codes whose series are pre-created. Thread-safe:
    scrapes may overlap (each uses its own pooled connection), and `bind` may swap the store.
    """

    def __init__(self, engine: Engine, carriers: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._engine = engine
        self._carriers = tuple(sorted(set(carriers)))
        self._errors = dict.fromkeys(QUERIES, 0)
        # query -> (what its families were built from, the families): see _cached
        self._built: dict[str, tuple[Any, Families]] = {}
        self.fold: threading.Thread | None = None  # the last fold a scrape started

    def bind(self, engine: Engine, carriers: Iterable[str] = ()) -> None:
        with self._lock:
            self._engine = engine
            self._carriers = tuple(sorted(set(carriers)))
            self._built = {}

    def describe(self) -> list[Metric]:
        """The families without samples: lets the registry check names, runs no query."""
        gauge, counter = self_families(None, {})
        return [
            parcels_active_family(),
            alerts_open_family(),
            alerts_by_province_family(),
            parcels_stalled_family(),
            outbox_pending_family(),
            *carrier_families(),
            *lane_families().values(),
            gauge,
            counter,
        ]

    def readers(self) -> list[tuple[str, Callable[[Connection], Families]]]:
        """Each query's name and the reader of its families, in the order a scrape runs them."""
        with self._lock:
            carriers = self._carriers
        return [
            ("parcels_active", lambda conn: self._parcels_active(conn, carriers)),
            ("alerts_open", self._alerts_open),
            ("alerts_by_province", self._alerts_by_province),
            ("parcels_stalled", self._parcels_stalled),
            ("outbox_pending", self._outbox_pending),
            ("carrier_health", lambda conn: self._carrier_health(conn, carriers)),
            ("lane_stats", self._lane_stats),
        ]

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        with self._lock:
            engine = self._engine
        families: Families = []
        pending = self.readers()
        try:
            with engine.connect() as conn:
                while pending:
                    name, read = pending.pop(0)
                    try:
                        with conn.begin():
                            if conn.dialect.name == "postgresql":
                                conn.execute(
                                    text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
                                )
                            families.extend(read(conn))
                    except Exception as exc:  # any store failure: leave this family out
                        self._failed([name], exc)
                if conn.dialect.name == "postgresql":
                    self._fold_if_behind(conn, engine)
        except Exception as exc:  # no connection: the queries not yet run all failed
            self._failed([name for name, _ in pending], exc)
        with self._lock:
            errors = dict(self._errors)
        yield from families
        yield from self_families(time.perf_counter() - started, errors)

    def _fold_if_behind(self, conn: Connection, engine: Engine) -> None:
        """PostgreSQL's count triggers append rows that a job folds every minute; a write
        peak can append more than a scrape should sum (monitor/store/counts.py)."""
        try:
            with conn.begin():
                behind = rows_bound(conn) > FOLD_BACKLOG_ROWS
        except Exception as exc:  # the scrape is served all the same
            log.warning("/metrics: could not tell how many count rows await the fold: %s", exc)
            return
        if behind:
            self.fold = fold_in_background(engine) or self.fold

    # -- failures -------------------------------------------------------------------------

    def _failed(self, queries: list[str], exc: BaseException) -> None:
        reason = getattr(exc, "orig", None) or exc  # the driver's message, without the SQL
        log.warning("/metrics: store query %s failed: %s", ", ".join(queries) or "-", reason)
        with self._lock:
            for query in queries:
                self._errors[query] += 1

    # -- families built again only when what they are built from changes ----------------

    def _cached(self, query: str, source: Any, build: Callable[[], Families]) -> Families:
        """The families of `query` built from `source` (the rows its SQL returned, or a
        version of them): a scrape whose rows equal the previous scrape's hands out the
        same families, text included (monitor/metrics/exposition.py)."""
        with self._lock:
            built = self._built.get(query)
        if built is not None and built[0] == source:
            return built[1]
        families = build()
        with self._lock:
            self._built[query] = (source, families)
        return families

    # -- one aggregate query per family ---------------------------------------------------

    def _parcels_active(self, conn: Connection, carriers: Sequence[str]) -> Families:
        rows = _rows(conn, PARCELS_ACTIVE_SQL)
        zeros = [("", ParcelStatus.AWAITING_SHIPMENT.value)]
        zeros += [(c, s) for c in carriers for s in CARRIER_HELD_STATUSES]
        return self._cached(
            "parcels_active",
            (tuple(carriers), rows),
            lambda: [_counts(parcels_active_family(), rows, zeros)],
        )

    def _alerts_open(self, conn: Connection) -> Families:
        rows = _rows(conn, ALERTS_OPEN_SQL)
        zeros = [(k.value, s.value, "", "") for k in AlertKind for s in Severity]
        return self._cached(
            "alerts_open", rows, lambda: [_counts(alerts_open_family(), rows, zeros)]
        )

    def _alerts_by_province(self, conn: Connection) -> Families:
        rows = _rows(conn, ALERTS_BY_PROVINCE_SQL)
        return self._cached(
            "alerts_by_province", rows, lambda: [_counts(alerts_by_province_family(), rows)]
        )

    def _parcels_stalled(self, conn: Connection) -> Families:
        rows = _rows(conn, PARCELS_STALLED_SQL)
        return self._cached(
            "parcels_stalled", rows, lambda: [_counts(parcels_stalled_family(), rows)]
        )

    def _outbox_pending(self, conn: Connection) -> Families:
        rows = _rows(conn, OUTBOX_PENDING_SQL)

        return self._cached(
            "outbox_pending", rows, lambda: [outbox_pending_family().with_rows([((), rows[0][0])])]
        )

    def _carrier_health(self, conn: Connection, carriers: Sequence[str]) -> Families:
        h = HEALTH.c
        query = select(h.carrier, h.last_success_at, h.failing_since)
        rows = tuple(tuple(row) for row in conn.execute(query))
        return self._cached(
            "carrier_health", (tuple(carriers), rows), lambda: _health_families(rows, carriers)
        )

    def _lane_stats(self, conn: Connection) -> Families:
        """Lane figures change when the hourly job refreshes lane_stats: they are read again
        only when its row count or newest computed_at moves (one indexed aggregate), not on
        every scrape (about a thousand rows, most of a scrape's Python time otherwise)."""
        c = LANES.c
        version = tuple(
            conn.execute(
                select(func.count(), func.max(c.computed_at)).where(c.origin.is_(None))
            ).one()
        )
        return self._cached("lane_stats", version, lambda: _lane_families(_read_lanes(conn)))


def _rows(conn: Connection, statement: TextClause) -> Rows:
    """The rows of a fixed aggregate as plain tuples, straight from the driver's cursor: a
    scrape reads a few thousand, and comparing them with the previous scrape's decides
    whether their families are built again."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(statement.text)
        return tuple(tuple(row) for row in cursor.fetchall())
    finally:
        cursor.close()


def _health_families(rows: Rows, carriers: Sequence[str]) -> Families:
    up: dict[str, float] = dict.fromkeys(carriers, 1.0)
    last_success: dict[str, float] = {}
    for carrier, success_at, failing_since in rows:
        up[carrier] = 0.0 if failing_since is not None else 1.0
        if success_at is not None:
            last_success[carrier] = success_at.timestamp()
    up_family, success_family = carrier_families()
    return [
        up_family.with_rows([((carrier,), value) for carrier, value in sorted(up.items())]),
        success_family.with_rows(
            [((carrier,), value) for carrier, value in sorted(last_success.items())]
        ),
    ]


def _lane_families(samples: list[tuple[str, tuple[str, str], float]]) -> Families:
    rows: dict[str, list[Row]] = {column: [] for column, _, _ in LANE_FIGURES}
    for column, labels, value in samples:
        rows[column].append((labels, value))
    return [family.with_rows(rows[column]) for column, family in lane_families().items()]


# origin NULL: the carrier x destination rows that aggregate every origin.
LANES_SQL = text(
    "SELECT coalesce(carrier, ''), coalesce(province, ''), computed_at, "
    + ", ".join(column for column, _, _ in LANE_FIGURES)
    + " FROM lane_stats WHERE origin IS NULL"
)


def _read_lanes(conn: Connection) -> list[tuple[str, tuple[str, str], float]]:
    """(figure, (carrier, province), value) of every lane. Should a refresh ever leave older
    rows behind, the newest row of each lane wins (computed_at as the driver returns it:
    comparable with itself on either backend)."""
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row in _rows(conn, LANES_SQL):
        key = (row[0], row[1])
        if key not in latest or row[2] > latest[key][2]:
            latest[key] = row
    samples = []
    for key, row in sorted(latest.items()):
        for (column, _, _), value in zip(LANE_FIGURES, row[3:], strict=True):
            if value is not None:
                scale = HOUR if column.endswith("_hours") else 1.0
                samples.append((column, key, float(value) * scale))
    return samples


_registered: StoreCollector | None = None
_registered_lock = threading.Lock()


def register_store_collector(engine: Engine, carriers: Iterable[str] = ()) -> StoreCollector:
    """Serve this store's figures on the default registry (the daemon's /metrics), and
    pre-create the daemon's own per-carrier series (monitor/metrics/instruments.py).

    Idempotent: one process has one /metrics, so a second daemon built in the same process
    (tests, the demo) re-points the one registered collector at its own store instead of
    registering a duplicate (which the registry would refuse as "Duplicated timeseries").
    """
    global _registered
    carriers = tuple(carriers)
    preinit_carrier_series(carriers)
    with _registered_lock:
        if _registered is None:
            _registered = StoreCollector(engine, carriers)
            REGISTRY.register(_registered)
        else:
            _registered.bind(engine, carriers)
        return _registered
