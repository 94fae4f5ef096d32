"""parcelwatch's own counters and histograms (docs/contract.md "Metrics"). Figures that come from
the store are computed at scrape time by monitor/metrics/collectors.py, never kept here, so they
cannot go
stale."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from monitor import __version__

# The outcomes of a tracking call, as the poller counts them.
OUTCOMES = ("ok", "rate_limited", "transient", "permanent")
EVENT_SOURCES = ("poll", "push")

TRACKING_REQUESTS = Counter(
    "parcelwatch_tracking_requests",
    "Calls to a tracking API, by carrier and outcome (ok, rate_limited, transient, permanent).",
    ["carrier", "outcome"],
)
TRACKING_DURATION = Histogram(
    "parcelwatch_tracking_request_duration_seconds",
    "Latency of calls to a tracking API.",
    ["carrier"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS_INGESTED = Counter(
    "parcelwatch_tracking_events_ingested",
    "Tracking events received (before de-duplication), by carrier and source (poll, push).",
    ["carrier", "source"],
)
EVENTS_REJECTED = Counter(
    "parcelwatch_tracking_events_rejected",
    "Carrier scans not stored because they cannot be true (e.g. dated before 2000 or days ahead).",
    ["source", "reason"],
)
CARRIER_IDS_UNMAPPED = Counter(
    "parcelwatch_carrier_ids_unmapped",
    "Carrier identifiers in answers that map to no parcelwatch carrier (not stored), by source.",
    ["source"],
)
UNKNOWN_CODES = Counter(
    "parcelwatch_carrier_unknown_codes",
    "Carrier status codes parcelwatch does not know (mapped to unknown), by API and code.",
    ["api", "code"],
)
PUSHES_REJECTED = Counter(
    "parcelwatch_push_rejected",
    "Push callbacks rejected, by API and reason (signature, malformed).",
    ["api", "reason"],
)
DETECTION_DURATION = Histogram(
    "parcelwatch_detection_duration_seconds",
    "Time of one detection tick (read, rules, alert writes).",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30),
)
ALERTS_OPENED = Counter(
    "parcelwatch_alerts_opened",
    "Alerts opened by detection, by kind and carrier.",
    ["kind", "carrier"],
)
PARCELS_SKIPPED = Counter(
    "parcelwatch_detection_skipped_parcels",
    "Parcels a detection tick could not evaluate because a stored time is impossible.",
)
RECONCILE_DIFFERENCES = Counter(
    "parcelwatch_reconciliation_differences",
    "Alert changes the full reconciliation found that the incremental ticks had not made "
    '(docs/observability.md "Detection reconciliation"); zero when the due moments are right.',
)
DETECTION_ROWS = Counter(
    "parcelwatch_detection_rows",
    "Parcels and orders this process's incremental ticks judged, by subject (parcel, order); "
    "across replicas on PostgreSQL their rates show how the replicas split the due work.",
    ["subject"],
)
LAST_DETECTION = Gauge(
    "parcelwatch_last_detection_timestamp_seconds",
    "When the last detection tick finished (Unix time); alert when it stops moving.",
)
BUILD_INFO = Gauge("parcelwatch_build_info", "The running version (always 1).", ["version"])
BUILD_INFO.labels(version=__version__).set(1)
SCHEDULER_SKIPPED_RUNS = Counter(
    "parcelwatch_scheduler_skipped_runs",
    "Scheduled job runs skipped because the previous run of the same job was still going "
    "(max_instances=1), by APScheduler job id (poll, detect ...): the design, not a fault, "
    "but a job that skips all the time is slower than its interval.",
    ["job_id"],
)
NOTIFICATIONS = Counter(
    "parcelwatch_notifications",
    "Outbox messages handed to a sink, by sink and outcome (ok, transient, permanent).",
    ["sink", "outcome"],
)


def preinit_carrier_series(carriers: Iterable[str]) -> None:
    """Create the per-carrier series at 0 for the configured carriers, so that `rate()` and
    "no requests for 30 min" alerts see a zero rather than no data before the first call
    (docs/observability.md "Prometheus labels": export 0 for label sets known in advance)."""
    for carrier in carriers:
        for outcome in OUTCOMES:
            TRACKING_REQUESTS.labels(carrier=carrier, outcome=outcome)
        TRACKING_DURATION.labels(carrier=carrier)
        for source in EVENT_SOURCES:
            EVENTS_INGESTED.labels(carrier=carrier, source=source)
