"""The Monday-morning scorecard: build last week's report, keep it, and announce it.

The report is stored (one row per ISO week) and a `scorecard_weekly` outbox row carries a
short digest (the suggested courier switches) to the sinks that subscribed to the
`scorecard` event. Both are keyed by the week, so a second run (another replica, a
restart) publishes nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from monitor.config import Config
from monitor.scorecard import build_scorecard
from monitor.scorecard.render import as_dict
from monitor.store.tables import OUTBOX, SCORECARD_REPORTS

REPORTS = SCORECARD_REPORTS
EVENT = "scorecard_weekly"
DIGEST_SWITCHES = 10  # recommendations listed in the chat message; the rest are on the page


def digest(report: dict[str, Any]) -> dict[str, Any]:
    """What sinks receive: the week, how many cells were judged, the switches to make."""
    switches = [r for r in report["recommendations"] if r.get("switch")]
    return {
        "week": report["week"],
        "cells": len(report["rows"]),
        "switches": [
            {
                "province": r["province"],
                "from": r["current_carrier"],
                "to": r["carrier"],
                "hours_saved": r.get("hours_saved"),
                "losses_avoided_per_10k": r.get("losses_avoided_per_10k"),
            }
            for r in switches[:DIGEST_SWITCHES]
        ],
        "more_switches": max(len(switches) - DIGEST_SWITCHES, 0),
        "link": f"/scorecards?week={report['week']}",
    }


def publish_weekly(engine: Engine, config: Config, now: datetime) -> str:
    """Build the last complete week's report, store it and queue its announcement."""
    report = as_dict(build_scorecard(engine, config, None, now))
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    with engine.begin() as conn:
        stored = dialect.insert(REPORTS).values(
            week=report["week"], generated_at=now, report=report
        )
        conn.execute(
            stored.on_conflict_do_update(
                index_elements=["week"], set_={"generated_at": now, "report": report}
            )
        )
        conn.execute(
            dialect.insert(OUTBOX)
            .values(
                alert_id=None,
                event=EVENT,
                payload={"event": EVENT, **digest(report)},
                idempotency_key=f"scorecard-{report['week']}",
                created_at=now,
                available_at=now,
                attempts=0,
            )
            .on_conflict_do_nothing()
        )
    return str(report["week"])
