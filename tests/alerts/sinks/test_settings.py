"""Which notifications a sink takes (alerts/sinks/settings.py): kinds, minimum severity and
events."""

from __future__ import annotations

from tests.support.config import make_config


def test_sink_filters() -> None:
    (sink,) = make_config(sinks=[{"type": "wecom", "url_env": "W", "kinds": ["lost", "stalled"],
                                  "min_severity": "critical"}]).sinks  # fmt: skip
    assert sink.accepts("opened", "lost", "critical")
    assert not sink.accepts("opened", "stalled", "warning")  # below min_severity
    assert not sink.accepts("opened", "no_pickup_scan", "critical")  # kind not wanted
    assert not sink.accepts("resolved", "lost", "critical")  # default events: opened, escalated
    assert not sink.accepts("parcel_shipped", None, None)
