"""Rendering notifications (alerts/sinks/render.py): UTF-8 truncation on a character boundary,
untrusted text that cannot forge markdown, and parcel events without alert fields."""

from __future__ import annotations

from alerts.sinks import Notification
from alerts.sinks.render import MARKDOWN, truncate_utf8
from tests.support.sinks import (
    NOW,
    RENDERER,
    notification,
)


def test_truncation_never_splits_a_character() -> None:
    text = "揽" * 2000  # 3 bytes each
    for limit in (4096, 4095, 4094, 100, 5):
        cut = truncate_utf8(text, limit)
        assert len(cut.encode("utf-8")) <= limit
        cut.encode("utf-8").decode("utf-8")  # valid UTF-8
    assert truncate_utf8("short", 4096) == "short"
    assert truncate_utf8(text, 4096).endswith("已截断）")


def test_untrusted_text_cannot_forge_markdown() -> None:
    n = notification(detail={"sub_reason": "[点我](https://evil) <@all> **x**"})
    text = RENDERER.message(n, MARKDOWN)
    assert "(https://evil)" in text and "[点我]" not in text and "<@all>" not in text


def test_parcel_events_render_without_alert_fields() -> None:
    n = Notification("parcel_delivered", "parcel-O1-delivered", NOW,
                     {"order_id": "O1", "tracking_number": "YT1", "carrier": "yto",
                      "at": NOW.isoformat()})  # fmt: skip
    text = RENDERER.message(n, MARKDOWN)
    assert "**包裹已签收** · 订单 O1" in text and "时间 2026-11-21 10:00" in text
