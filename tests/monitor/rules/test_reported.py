"""What the carrier reports (monitor/rules/reported.py, docs/rules.md "Carrier-reported kinds"):
failed delivery, return, refusal, damage."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from monitor.rules import evaluate
from tests.support.config import make_config
from tests.support.parcels import at, of_kind, parcel_frame

HOUR = pd.Timedelta(hours=1)
CONFIG = make_config()
PICKED_UP = "2026-11-24 12:00"
REPORTED_AT = "2026-11-25 09:30"
NOW = at(REPORTED_AT) + HOUR


def reported(status: str, sub_reason: str | None = None, **fields: Any) -> pd.DataFrame:
    row = {
        "status": status,
        "sub_reason": sub_reason,
        "shipped_at": PICKED_UP,
        "picked_up_at": PICKED_UP,
        "last_event_at": REPORTED_AT,
    }
    return parcel_frame({**row, **fields})


@pytest.mark.parametrize(
    ("status", "sub_reason", "kind", "severity"),
    [
        ("delivery_failed", "unreachable", "delivery_failed", "warning"),
        ("delivery_failed", "bad_address", "delivery_failed", "warning"),
        ("delivery_failed", None, "delivery_failed", "warning"),
        ("returning", "refused", "returned", "warning"),
        ("returned", None, "returned", "warning"),
        ("rejected", "refused", "rejected", "critical"),
        ("exception", "damaged", "damaged", "critical"),
        ("exception", "customs", "delivery_failed", "warning"),
        ("exception", "held", "delivery_failed", "warning"),
        ("exception", None, "delivery_failed", "warning"),
    ],
)
def test_carrier_reported_kinds(
    status: str, sub_reason: str | None, kind: str, severity: str
) -> None:
    result = evaluate(reported(status, sub_reason), NOW, CONFIG)
    assert set(result["kind"]) == {kind}  # one alert, no second kind for the same report
    [alert] = result.to_dict("records")
    assert alert["severity"] == severity
    assert alert["since"] == at(REPORTED_AT)
    assert alert["detail"] == {"sub_reason": sub_reason, "carrier_status": status}
    assert (alert["order_id"], alert["carrier"]) == ("O1", "zto")


@pytest.mark.parametrize(
    ("times", "since"),
    [
        ({"last_event_at": None}, PICKED_UP),
        ({"last_event_at": None, "picked_up_at": None}, "2026-11-24 08:00"),
    ],
)
def test_since_falls_back_to_the_last_known_time(times: dict[str, Any], since: str) -> None:
    frame = reported("rejected", "refused", shipped_at="2026-11-24 08:00", **times)
    [alert] = of_kind(evaluate(frame, NOW, CONFIG), "rejected")
    assert alert["since"] == at(since)


def test_a_sub_reason_column_that_is_null_everywhere() -> None:
    # On SQLite the loader hands a string column that is NULL in every row over as float64.
    frame = reported("delivery_failed").astype({"sub_reason": "float64"})
    [alert] = of_kind(evaluate(frame, NOW, CONFIG), "delivery_failed")
    assert alert["detail"] == {"sub_reason": None, "carrier_status": "delivery_failed"}
