"""parcelwatch's own counters and histograms (DESIGN.md "Metrics"). Figures that come from the
store are computed by collectors at scrape time (monitor/web and the metrics issue), never
kept here, so they cannot go stale."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from monitor import __version__

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
LAST_DETECTION = Gauge(
    "parcelwatch_last_detection_timestamp_seconds",
    "When the last detection tick finished (Unix time); alert when it stops moving.",
)
BUILD_INFO = Gauge("parcelwatch_build_info", "The running version (always 1).", ["version"])
BUILD_INFO.labels(version=__version__).set(1)
