"""The pure alert planner (alerts/lifecycle.py; docs/rules.md "Alert lifecycle"): what detection
sees now, set against the alerts still open and the conditions a person resolved by hand,
becomes alerts to open, escalate, de-escalate, move and resolve (cleared or superseded).

Small frames built here, no store. The same planner through real ticks on a real store:
tests/monitor/daemon/test_tick.py."""

from __future__ import annotations

from typing import Any

import pandas as pd

from alerts.lifecycle import Plan, plan
from alerts.model import AlertKind, Resolution, Severity, fingerprint

SINCE = pd.Timestamp("2026-11-19 06:00", tz="UTC")
HOUR = pd.Timedelta(hours=1)
WARNING, CRITICAL = Severity.WARNING.value, Severity.CRITICAL.value
STALLED, LOST = AlertKind.STALLED.value, AlertKind.LOST.value
AT_RISK = AlertKind.SHIP_DEADLINE_AT_RISK.value
BREACHED = AlertKind.SHIP_DEADLINE_BREACHED.value
NO_PICKUP = AlertKind.NO_PICKUP_SCAN.value
DETECTED_COLUMNS = ["fingerprint", "kind", "severity", "since", "order_id", "carrier", "detail"]


def detected(*rows: tuple[str, str, str, pd.Timestamp]) -> pd.DataFrame:
    """What detection sees now: (kind, order, severity, since) per row, fingerprinted as the
    tick does (`kind:order`), with the subject columns and a detail."""
    return pd.DataFrame(
        [
            {
                "fingerprint": fingerprint(kind, order),
                "kind": kind,
                "severity": severity,
                "since": since,
                "order_id": order,
                "carrier": "zto",
                "detail": {"seen": kind},
            }
            for kind, order, severity, since in rows
        ],
        columns=DETECTED_COLUMNS,
    )


def open_alerts(*rows: tuple[int, str, str, str, pd.Timestamp]) -> pd.DataFrame:
    """The alerts not resolved yet: (id, kind, order, severity, since) per row."""
    return pd.DataFrame(
        [
            {
                "id": id_,
                "fingerprint": fingerprint(kind, order),
                "kind": kind,
                "severity": severity,
                "since": since,
            }
            for id_, kind, order, severity, since in rows
        ],
        columns=["id", "fingerprint", "kind", "severity", "since"],
    )


def manually_resolved(*rows: tuple[str, str, pd.Timestamp]) -> pd.DataFrame:
    """The latest manual resolution per condition: (kind, order, since) per row."""
    return pd.DataFrame(
        [{"fingerprint": fingerprint(kind, order), "since": since} for kind, order, since in rows],
        columns=["fingerprint", "since"],
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict("records")


def only(result: Plan, field: str) -> None:
    """Every part of the plan but `field` is empty."""
    for name in ("open", "escalate", "deescalate", "moved", "resolve"):
        if name != field:
            assert getattr(result, name).empty, name


# --- open -----------------------------------------------------------------------------------


def test_a_new_condition_opens_an_alert_with_everything_detection_gave() -> None:
    now = detected((STALLED, "O1", WARNING, SINCE))
    result = plan(now, open_alerts(), manually_resolved())
    only(result, "open")
    assert result.changes == 1
    assert records(result.open) == [
        {"fingerprint": "stalled:O1", "kind": STALLED, "severity": WARNING, "since": SINCE,
         "order_id": "O1", "carrier": "zto", "detail": {"seen": STALLED}},
    ]  # fmt: skip
    assert list(result.open.columns) == DETECTED_COLUMNS


def test_a_condition_already_open_changes_nothing() -> None:
    result = plan(
        detected((STALLED, "O1", WARNING, SINCE)),
        open_alerts((7, STALLED, "O1", WARNING, SINCE)),
        manually_resolved(),
    )
    assert result.changes == 0
    only(result, "")


def test_the_same_kind_for_another_order_is_another_alert() -> None:
    result = plan(
        detected((STALLED, "O1", WARNING, SINCE), (STALLED, "O2", WARNING, SINCE)),
        open_alerts((7, STALLED, "O1", WARNING, SINCE)),
        manually_resolved(),
    )
    only(result, "open")
    assert result.open["fingerprint"].tolist() == ["stalled:O2"]


# --- severity and since ---------------------------------------------------------------------


def test_a_graver_severity_escalates_the_open_alert() -> None:
    result = plan(
        detected((AT_RISK, "O1", CRITICAL, SINCE)),
        open_alerts((7, AT_RISK, "O1", WARNING, SINCE)),
        manually_resolved(),
    )
    only(result, "escalate")
    assert records(result.escalate) == [
        {"id": 7, "severity": CRITICAL, "old_severity": WARNING, "since": SINCE}
    ]


def test_a_milder_severity_de_escalates_the_open_alert() -> None:
    later = SINCE + 2 * HOUR
    result = plan(
        detected((NO_PICKUP, "O1", WARNING, later)),
        open_alerts((7, NO_PICKUP, "O1", CRITICAL, SINCE)),
        manually_resolved(),
    )
    only(result, "deescalate")
    assert records(result.deescalate) == [
        {"id": 7, "severity": WARNING, "old_severity": CRITICAL, "since": later}
    ]


def test_the_same_severity_with_another_start_only_moves_since() -> None:
    later = SINCE + 5 * HOUR
    result = plan(
        detected((STALLED, "O1", WARNING, later)),
        open_alerts((7, STALLED, "O1", WARNING, SINCE)),
        manually_resolved(),
    )
    only(result, "moved")
    assert records(result.moved) == [{"id": 7, "since": later}]
    assert result.changes == 1


# --- resolve --------------------------------------------------------------------------------


def test_a_condition_that_went_away_resolves_as_cleared() -> None:
    result = plan(
        detected(),
        open_alerts((7, STALLED, "O1", WARNING, SINCE), (8, NO_PICKUP, "O2", CRITICAL, SINCE)),
        manually_resolved(),
    )
    only(result, "resolve")
    assert records(result.resolve) == [
        {"id": 7, "resolution": Resolution.CLEARED.value},
        {"id": 8, "resolution": Resolution.CLEARED.value},
    ]
    assert result.resolve["id"].dtype == "int64"


def test_breached_supersedes_at_risk_for_the_same_order() -> None:
    breach = SINCE + 12 * HOUR
    result = plan(
        detected((BREACHED, "O1", CRITICAL, breach)),
        open_alerts((7, AT_RISK, "O1", CRITICAL, SINCE)),
        manually_resolved(),
    )
    assert records(result.resolve) == [{"id": 7, "resolution": Resolution.SUPERSEDED.value}]
    assert result.open["fingerprint"].tolist() == ["ship_deadline_breached:O1"]
    assert result.open["since"].tolist() == [breach]
    assert result.escalate.empty and result.deescalate.empty and result.moved.empty


def test_lost_supersedes_stalled_for_the_same_order() -> None:
    result = plan(
        detected((LOST, "O1", CRITICAL, SINCE + 120 * HOUR)),
        open_alerts((7, STALLED, "O1", WARNING, SINCE)),
        manually_resolved(),
    )
    assert records(result.resolve) == [{"id": 7, "resolution": Resolution.SUPERSEDED.value}]
    assert result.open["kind"].tolist() == [LOST]


def test_superseding_needs_the_same_subject_and_the_graver_kind() -> None:
    result = plan(
        # lost for another order; stalled again where lost was open
        detected((LOST, "O2", CRITICAL, SINCE), (STALLED, "O3", WARNING, SINCE)),
        open_alerts((7, STALLED, "O1", WARNING, SINCE), (8, LOST, "O3", CRITICAL, SINCE)),
        manually_resolved(),
    )
    assert records(result.resolve) == [
        {"id": 7, "resolution": Resolution.CLEARED.value},
        {"id": 8, "resolution": Resolution.CLEARED.value},  # lost is never superseded by stalled
    ]
    assert sorted(result.open["fingerprint"]) == ["lost:O2", "stalled:O3"]


# --- manual resolutions ---------------------------------------------------------------------


def test_a_manual_resolution_sticks_for_the_same_episode() -> None:
    result = plan(
        detected((STALLED, "O1", WARNING, SINCE)),
        open_alerts(),
        manually_resolved((STALLED, "O1", SINCE)),
    )
    assert result.changes == 0
    only(result, "")


def test_the_same_condition_coming_back_later_is_a_new_episode() -> None:
    again = SINCE + 30 * HOUR  # it cleared, the parcel moved, then stalled again
    result = plan(
        detected((STALLED, "O1", WARNING, again), (STALLED, "O2", WARNING, SINCE)),
        open_alerts(),
        manually_resolved((STALLED, "O1", SINCE), (LOST, "O2", SINCE)),
    )
    only(result, "open")
    assert records(result.open[["fingerprint", "since"]]) == [
        {"fingerprint": "stalled:O1", "since": again},
        {"fingerprint": "stalled:O2", "since": SINCE},  # resolved by hand was another kind
    ]


# --- all at once ----------------------------------------------------------------------------


def test_one_plan_for_a_whole_queue() -> None:
    later = SINCE + 3 * HOUR
    result = plan(
        detected(
            (STALLED, "A", WARNING, SINCE),  # new
            (AT_RISK, "B", CRITICAL, SINCE),  # escalates
            (NO_PICKUP, "C", WARNING, SINCE),  # de-escalates
            (STALLED, "D", WARNING, later),  # moves
            (STALLED, "E", WARNING, SINCE),  # unchanged
            (LOST, "G", CRITICAL, later),  # supersedes stalled:G
            (STALLED, "H", WARNING, SINCE),  # resolved by hand, same episode
        ),
        open_alerts(
            (2, AT_RISK, "B", WARNING, SINCE),
            (3, NO_PICKUP, "C", CRITICAL, SINCE),
            (4, STALLED, "D", WARNING, SINCE),
            (5, STALLED, "E", WARNING, SINCE),
            (6, STALLED, "F", WARNING, SINCE),  # cleared
            (7, STALLED, "G", WARNING, SINCE),
        ),
        manually_resolved((STALLED, "H", SINCE)),
    )
    assert result.open["fingerprint"].tolist() == ["stalled:A", "lost:G"]
    assert result.open.index.tolist() == [0, 1]
    assert result.escalate["id"].tolist() == [2]
    assert result.deescalate["id"].tolist() == [3]
    assert records(result.moved) == [{"id": 4, "since": later}]
    assert records(result.resolve) == [
        {"id": 6, "resolution": Resolution.CLEARED.value},
        {"id": 7, "resolution": Resolution.SUPERSEDED.value},
    ]
    assert result.changes == 2 + 1 + 1 + 1 + 2


def test_empty_frames_of_any_dtype_plan_nothing_or_everything() -> None:
    """A store with no rows hands back columns of whatever dtype the driver guessed."""
    guessed = {
        "id": pd.Series(dtype="int64"),
        "fingerprint": pd.Series(dtype="float64"),
        "kind": pd.Series(dtype="float64"),
        "severity": pd.Series(dtype="float64"),
        "since": pd.Series(dtype="datetime64[us, UTC]"),
    }
    no_alerts = pd.DataFrame(guessed)
    no_manual = pd.DataFrame({k: guessed[k] for k in ("fingerprint", "since")})
    nothing = detected().astype({"fingerprint": "float64"})
    assert plan(nothing, no_alerts, no_manual).changes == 0
    first = plan(detected((STALLED, "O1", WARNING, SINCE)), no_alerts, no_manual)
    only(first, "open")
    assert first.open["fingerprint"].tolist() == ["stalled:O1"]
    gone = plan(nothing, open_alerts((7, STALLED, "O1", WARNING, SINCE)), no_manual)
    assert records(gone.resolve) == [{"id": 7, "resolution": Resolution.CLEARED.value}]
