"""Store gauges for /metrics, computed at scrape time (docs/contract.md "Metrics").

Everything the store knows (parcels on their way, open alerts, the outbox, carrier health,
lane figures) is read by one aggregate query per family on every scrape and returned as fresh
metric families, never kept in global gauges. The parcel and alert counts are sums over the
few rows the store's triggers keep per label set (monitor/store/counts.py), so a scrape costs
the number of series, not the size of the book: concurrent scrapes cannot race, and a label set
that disappears from the store disappears from /metrics
(docs/observability.md "Store collectors"). `describe()` returns the families without samples, so
registering the collector
runs no query.

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
from sqlalchemy import Connection, Engine, func, select, text

from alerts.model import AlertKind, Severity
from carriers.status import TERMINAL_STATUSES, ParcelStatus
from monitor.metrics.instruments import preinit_carrier_series
from monitor.store.health import HEALTH
from monitor.store.tables import LANE_STATS

log = logging.getLogger(__name__)

LANES = LANE_STATS
HOUR = 3600.0

ACTIVE_STATUSES = tuple(s.value for s in ParcelStatus if s not in TERMINAL_STATUSES)
# A parcel gets its carrier when it ships; before that its carrier label is "".
CARRIER_HELD_STATUSES = tuple(s for s in ACTIVE_STATUSES if s != ParcelStatus.AWAITING_SHIPMENT)

# The counts come from the tables the store's triggers keep (monitor/store/counts.py): a few
# rows per label set, whatever the size of the book.
PARCELS_ACTIVE_SQL = text(
    "SELECT carrier, status, CAST(sum(n) AS BIGINT) FROM parcel_count GROUP BY carrier, status"
)
ALERTS_OPEN_SQL = text(
    "SELECT kind, severity, carrier, warehouse, CAST(sum(n) AS BIGINT) FROM alert_count"
    " GROUP BY kind, severity, carrier, warehouse"
)
ALERTS_BY_PROVINCE_SQL = text(
    "SELECT kind, province, CAST(sum(n) AS BIGINT) FROM alert_province_count"
    " GROUP BY kind, province"
)
PARCELS_STALLED_SQL = text(
    "SELECT carrier, province, CAST(sum(n) AS BIGINT) FROM stalled_count GROUP BY carrier, province"
)
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
# Well inside Prometheus's default 10 s scrape timeout (docs/observability.md "Scrape timeout").
STATEMENT_TIMEOUT_MS = 5000

Families = list[Metric]


def _label(value: Any) -> str:
    return "" if value is None else str(value)


def _counts(
    family: GaugeMetricFamily, rows: Iterable[Any], zeros: Iterable[tuple[str, ...]] = ()
) -> GaugeMetricFamily:
    """Rows of (label values..., count) as samples, plus a 0 for each pre-created label set.
    NULL and "" both become "", so their counts add up."""
    counts = dict.fromkeys(zeros, 0.0)
    for *values, count in rows:
        if count:
            key = tuple(_label(v) for v in values)
            counts[key] = counts.get(key, 0.0) + count
    for labels, value in sorted(counts.items()):
        family.add_metric(list(labels), value)
    return family


def _gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def parcels_active_family() -> GaugeMetricFamily:
    return _gauge(
        "parcelwatch_parcels_active",
        "Parcels not yet delivered or returned, by carrier (empty: not shipped) and status.",
        ["carrier", "status"],
    )


def alerts_open_family() -> GaugeMetricFamily:
    return _gauge(
        "parcelwatch_alerts_open",
        "Open or acknowledged alerts in the queue, by kind, severity, carrier and warehouse "
        "(empty: none).",
        ["kind", "severity", "carrier", "warehouse"],
    )


# Open alerts by destination province, apart from `alerts_open` so that no metric carries
# kind x carrier x warehouse x province (docs/observability.md "Prometheus labels": carrier x
# province only on a few).
def alerts_by_province_family() -> GaugeMetricFamily:
    return _gauge(
        "parcelwatch_alerts_open_by_province",
        "Open or acknowledged alerts in the queue, by kind and destination province (empty: none).",
        ["kind", "province"],
    )


def parcels_stalled_family() -> GaugeMetricFamily:
    return _gauge(
        "parcelwatch_parcels_stalled",
        "Parcels with an open stalled alert, by carrier and destination province.",
        ["carrier", "province"],
    )


def outbox_pending_family() -> GaugeMetricFamily:
    return _gauge("parcelwatch_outbox_pending", "Notifications in the outbox not yet delivered.")


def carrier_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
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


def lane_families() -> dict[str, GaugeMetricFamily]:
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
    gauge = _gauge(
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
        # (lane_stats version, samples): see _lane_stats
        self._lanes: tuple[tuple[Any, ...], list[tuple[str, tuple[str, str], float]]] | None = None

    def bind(self, engine: Engine, carriers: Iterable[str] = ()) -> None:
        with self._lock:
            self._engine = engine
            self._carriers = tuple(sorted(set(carriers)))
            self._lanes = None

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

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        with self._lock:
            engine, carriers = self._engine, self._carriers
        readers: list[tuple[str, Callable[[Connection], Families]]] = [
            ("parcels_active", lambda conn: self._parcels_active(conn, carriers)),
            ("alerts_open", self._alerts_open),
            ("alerts_by_province", self._alerts_by_province),
            ("parcels_stalled", self._parcels_stalled),
            ("outbox_pending", self._outbox_pending),
            ("carrier_health", lambda conn: self._carrier_health(conn, carriers)),
            ("lane_stats", self._lane_stats),
        ]
        families: Families = []
        pending = list(readers)
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
        except Exception as exc:  # no connection: the queries not yet run all failed
            self._failed([name for name, _ in pending], exc)
        with self._lock:
            errors = dict(self._errors)
        yield from families
        yield from self_families(time.perf_counter() - started, errors)

    # -- failures -------------------------------------------------------------------------

    def _failed(self, queries: list[str], exc: BaseException) -> None:
        reason = getattr(exc, "orig", None) or exc  # the driver's message, without the SQL
        log.warning("/metrics: store query %s failed: %s", ", ".join(queries) or "-", reason)
        with self._lock:
            for query in queries:
                self._errors[query] += 1

    # -- one aggregate query per family ---------------------------------------------------

    @staticmethod
    def _parcels_active(conn: Connection, carriers: Sequence[str]) -> Families:
        zeros = [("", ParcelStatus.AWAITING_SHIPMENT.value)]
        zeros += [(c, s) for c in carriers for s in CARRIER_HELD_STATUSES]
        return [_counts(parcels_active_family(), conn.execute(PARCELS_ACTIVE_SQL), zeros)]

    @staticmethod
    def _alerts_open(conn: Connection) -> Families:
        zeros = [(k.value, s.value, "", "") for k in AlertKind for s in Severity]
        return [_counts(alerts_open_family(), conn.execute(ALERTS_OPEN_SQL), zeros)]

    @staticmethod
    def _alerts_by_province(conn: Connection) -> Families:
        return [_counts(alerts_by_province_family(), conn.execute(ALERTS_BY_PROVINCE_SQL))]

    @staticmethod
    def _parcels_stalled(conn: Connection) -> Families:
        return [_counts(parcels_stalled_family(), conn.execute(PARCELS_STALLED_SQL))]

    @staticmethod
    def _outbox_pending(conn: Connection) -> Families:
        family = outbox_pending_family()
        family.add_metric([], conn.execute(OUTBOX_PENDING_SQL).scalar_one())
        return [family]

    @staticmethod
    def _carrier_health(conn: Connection, carriers: Sequence[str]) -> Families:
        h = HEALTH.c
        up: dict[str, float] = dict.fromkeys(carriers, 1.0)
        last_success: dict[str, float] = {}
        for carrier, success_at, failing_since in conn.execute(
            select(h.carrier, h.last_success_at, h.failing_since)
        ):
            up[carrier] = 0.0 if failing_since is not None else 1.0
            if success_at is not None:
                last_success[carrier] = success_at.timestamp()
        up_family, success_family = carrier_families()
        for carrier, value in sorted(up.items()):
            up_family.add_metric([carrier], value)
        for carrier, value in sorted(last_success.items()):
            success_family.add_metric([carrier], value)
        return [up_family, success_family]

    def _lane_stats(self, conn: Connection) -> Families:
        """Lane figures change when the hourly job refreshes lane_stats: they are read again
        only when its row count or newest computed_at moves (one indexed aggregate), not on
        every scrape (about a thousand rows, most of a scrape's Python time otherwise)."""
        c = LANES.c
        lanes = c.origin.is_(None)
        version = tuple(
            conn.execute(select(func.count(), func.max(c.computed_at)).where(lanes)).one()
        )
        with self._lock:
            cached = self._lanes if self._lanes is not None and self._lanes[0] == version else None
        if cached is None:
            cached = (version, self._read_lanes(conn))
            with self._lock:
                self._lanes = cached
        families = lane_families()
        for column, labels, value in cached[1]:
            families[column].add_metric(list(labels), value)
        return list(families.values())

    @staticmethod
    def _read_lanes(conn: Connection) -> list[tuple[str, tuple[str, str], float]]:
        c = LANES.c
        columns = [getattr(c, column) for column, _, _ in LANE_FIGURES]
        latest: dict[tuple[str, str], Any] = {}
        # origin NULL: the carrier x destination rows that aggregate every origin. Should a
        # refresh ever leave older rows behind, the newest row of each lane wins.
        for row in conn.execute(
            select(c.carrier, c.province, c.computed_at, *columns).where(c.origin.is_(None))
        ):
            key = (_label(row.carrier), _label(row.province))
            if key not in latest or row.computed_at > latest[key].computed_at:
                latest[key] = row
        samples = []
        for key, row in sorted(latest.items()):
            for column, _, _ in LANE_FIGURES:
                value = getattr(row, column)
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
