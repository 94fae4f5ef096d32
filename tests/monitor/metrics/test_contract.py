"""Every metric the public contract names (docs/contract.md "Metrics") is served on /metrics."""

from tests.support.metrics import exported_metric_names


def test_every_design_metric_is_exported() -> None:
    """docs/contract.md "Metrics" lists the contract's names; all of them are served."""
    design = {
        "parcelwatch_parcels_active", "parcelwatch_alerts_open", "parcelwatch_alerts_opened_total",
        "parcelwatch_tracking_requests_total", "parcelwatch_tracking_request_duration_seconds_bucket",
        "parcelwatch_tracking_events_ingested_total", "parcelwatch_carrier_up",
        "parcelwatch_carrier_last_success_timestamp_seconds",
        "parcelwatch_detection_duration_seconds_bucket",
        "parcelwatch_last_detection_timestamp_seconds", "parcelwatch_notifications_total",
        "parcelwatch_outbox_pending", "parcelwatch_carrier_transit_p50_seconds",
        "parcelwatch_carrier_transit_p90_seconds", "parcelwatch_carrier_on_time_ratio",
        "parcelwatch_carrier_loss_ratio", "parcelwatch_build_info",
    }  # fmt: skip
    assert design <= exported_metric_names()
