"""`carrier_api_failing`: every call to a carrier's tracking API has failed for a while.

Without working tracking calls every other carrier-side rule goes blind (no scan looks like a
stall), so this is critical and is raised per carrier, not per parcel."""

from __future__ import annotations

import pandas as pd

from alerts.model import AlertKind
from monitor.rules.base import EXCEPTION_COLUMNS, carrier_wide, empty_exceptions


def carrier_api_failing(
    health: pd.DataFrame | None, now: pd.Timestamp, minutes: float
) -> pd.DataFrame:
    """`health`: carrier, last_success_at, failing_since, consecutive_failures, last_error."""
    if health is None or health.empty:
        return empty_exceptions()
    window = pd.Timedelta(minutes=minutes)
    failing = health[health["failing_since"].notna() & (health["failing_since"] + window <= now)]
    if failing.empty:
        return empty_exceptions()
    rows = [
        carrier_wide(
            AlertKind.CARRIER_API_FAILING.value,
            h.carrier,
            h.failing_since + window,
            detail={
                "failing_since": h.failing_since.isoformat(),
                "last_success_at": None
                if pd.isna(h.last_success_at)
                else h.last_success_at.isoformat(),
                "consecutive_failures": int(h.consecutive_failures),
                "last_error": h.last_error,
            },
        )
        for h in failing.itertuples(index=False)
    ]
    return pd.DataFrame(rows, columns=list(EXCEPTION_COLUMNS))
