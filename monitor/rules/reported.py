"""Exceptions the carrier itself reports: failed delivery, return, refusal, damage.

The carrier's sub-reason (refused, unreachable, bad address, out of area, missorted,
customs ...) is kept in the detail, because it decides what the lead does next.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alerts.model import AlertKind, Severity
from carriers.status import ParcelStatus
from monitor.rules.base import RuleContext, emit


def carrier_reported(ctx: RuleContext) -> list[pd.DataFrame]:
    p = ctx.parcels
    reason = p["sub_reason"]
    since = p["last_event_at"].fillna(p["picked_up_at"]).fillna(p["shipped_at"])
    exception = ctx.status_in(ParcelStatus.EXCEPTION)
    damaged = exception & (reason == "damaged").to_numpy(dtype=bool, na_value=False)
    # `lost` declared by the carrier is handled by the lost rule; other carrier exceptions
    # (customs hold, held at hub, unspecified) need the same follow-up as a failed delivery.
    other_exception = exception & ~reason.isin(["damaged", "lost"]).to_numpy(dtype=bool)
    failed = ctx.status_in(ParcelStatus.DELIVERY_FAILED) | other_exception
    detail = {"sub_reason": reason, "carrier_status": p["status"]}
    return [
        emit(ctx, failed, AlertKind.DELIVERY_FAILED, Severity.WARNING, since, detail),
        emit(
            ctx,
            ctx.status_in(ParcelStatus.RETURNING, ParcelStatus.RETURNED),
            AlertKind.RETURNED,
            Severity.WARNING,
            since,
            detail,
        ),
        emit(
            ctx,
            ctx.status_in(ParcelStatus.REJECTED),
            AlertKind.REJECTED,
            Severity.CRITICAL,
            since,
            detail,
        ),
        emit(ctx, np.asarray(damaged), AlertKind.DAMAGED, Severity.CRITICAL, since, detail),
    ]
