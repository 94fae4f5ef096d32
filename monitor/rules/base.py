"""What every rule receives and returns.

A rule is a pure function of a frame of parcels and a moment: `rule(ctx) -> DataFrame` with
one row per exception in the EXCEPTION_COLUMNS shape. Rules never open a session, so
`parcelwatch detect --at` and the tests can ask any of them "what is true at 18:00?".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from monitor.config import Config
from monitor.geo import distance_band
from monitor.rules import thresholds

# Columns of the parcel frame the parcel rules read; detection's store query selects exactly
# these (monitor/detection.py), `shipment_id` first.
PARCEL_COLUMNS = (
    "shipment_id",
    "order_id",
    "order_count",
    "platform",
    "shop",
    "warehouse",
    "carrier",
    "tracking_number",
    "province",
    "shipped_at",
    "picked_up_at",
    "delivered_at",
    "last_event_at",
    "expected_delivery_at",
    "status",
    "sub_reason",
    "last_polled_at",
    "subscribed_at",
    "answered_at",
    "last_hub",
)
TIME_COLUMNS = (
    "shipped_at",
    "picked_up_at",
    "delivered_at",
    "last_event_at",
    "expected_delivery_at",
    "last_polled_at",
    "subscribed_at",
    "answered_at",
)
# The order frame the order rules read (monitor/rules/shipping.py): the orders not yet
# shipped, with the subject columns a parcel would have left empty.
ORDER_COLUMNS = (
    "sales_order_id",
    "order_id",
    "platform",
    "shop",
    "warehouse",
    "province",
    "amount",
    "paid_at",
    "ship_deadline_at",
    "shipped_at",
)
ORDER_TIME_COLUMNS = ("paid_at", "ship_deadline_at", "shipped_at")
SUBJECT_COLUMNS = (
    "shipment_id",
    "sales_order_id",
    "order_id",
    "tracking_number",
    "carrier",
    "warehouse",
    "province",
    "platform",
    "shop",
)
EXCEPTION_COLUMNS = ("kind", "severity", *SUBJECT_COLUMNS, "since", "detail")

HOUR = pd.Timedelta(hours=1)


@dataclass
class RuleContext:
    # The frame being judged: parcels for the parcel rules, orders for the order rules (the
    # same thresholds, scoped by the same fields, apply to both).
    parcels: pd.DataFrame
    now: pd.Timestamp
    config: Config
    # Learned transit figures per lane (lane_stats rows: carrier, origin, province,
    # deliveries, transit_p90_hours); None: every parcel falls back to the distance band.
    lane_expectations: pd.DataFrame | None = None

    @cached_property
    def thresholds(self) -> pd.DataFrame:
        return thresholds.resolve(self.parcels, self.config)

    @cached_property
    def distance_bands(self) -> pd.Series:
        """same_province | adjacent | cross_region | remote, from the warehouse's province.
        A shop has a few hundred (warehouse, destination) pairs: classify each pair once and
        spread the answers by integer codes."""
        origin = {w.id: w.province for w in self.config.warehouses}
        w_codes, warehouses = pd.factorize(self.parcels["warehouse"], use_na_sentinel=False)
        p_codes, provinces = pd.factorize(self.parcels["province"], use_na_sentinel=False)
        pair_codes = w_codes.astype(np.int64) * (len(provinces) + 1) + p_codes
        unique, inverse = np.unique(pair_codes, return_inverse=True)
        labels = []
        for code in unique:
            warehouse = warehouses[code // (len(provinces) + 1)]
            province = provinces[code % (len(provinces) + 1)]
            labels.append(
                distance_band(
                    origin.get(warehouse) if isinstance(warehouse, str) else None,
                    province if isinstance(province, str) else None,
                )
            )
        return pd.Series(np.array(labels, dtype=object)[inverse], index=self.parcels.index)

    @cached_property
    def last_scan(self) -> pd.Series:
        """The last carrier scan we know of: the last event, else the pickup scan."""
        return self.parcels["last_event_at"].fillna(self.parcels["picked_up_at"])

    def hours_since(self, column: str | pd.Series) -> pd.Series:
        values = self.parcels[column] if isinstance(column, str) else column
        return (self.now - values) / HOUR

    @cached_property
    def paused_hours(self) -> pd.Series:
        """Hours of maintenance windows (monitor/maintenance.py) between each parcel's last scan
        and now: the stall and lost clocks do not run while its carrier stands still. Zero for
        almost every parcel; the work is per window and matching (carrier, province) group,
        not per parcel."""
        p = self.parcels
        paused = pd.Series(0.0, index=p.index)
        windows = self.config.maintenance
        last = self.last_scan
        if not windows or p.empty or last.isna().all():
            return paused
        now = self.now.to_pydatetime()
        low = last.min().to_pydatetime()
        for window in windows:
            rows = np.ones(len(p), dtype=bool)
            if window.carrier is not None:
                rows &= (p["carrier"] == window.carrier).to_numpy(dtype=bool, na_value=False)
            if window.province is not None:
                rows &= (p["province"] == window.province).to_numpy(dtype=bool, na_value=False)
            if not rows.any():
                continue
            for start, end in window.occurrences(low, now):
                began = last[rows].clip(lower=pd.Timestamp(start))
                stop = min(pd.Timestamp(end), self.now)
                paused[rows] += ((stop - began) / HOUR).clip(lower=0).fillna(0).to_numpy()
        return paused

    @cached_property
    def awaiting_first_check(self) -> np.ndarray:
        """Parcels of a carrier we track that the carrier has not yet answered about (by a
        poll answer or a push; a subscription alone says nothing). Their imported state may
        be hours old; judging them on it would flood the queue with no-pickup and stall
        alerts that the first answer clears. Carriers without a tracking API configured are
        judged on what the imports say."""
        p = self.parcels
        tracked = p["carrier"].isin(list(self.config.carriers)).to_numpy(dtype=bool)
        answered = p["answered_at"].notna() | p["last_polled_at"].notna()
        return tracked & ~answered.to_numpy(dtype=bool)

    def status_in(self, *statuses: str) -> np.ndarray:
        return self.parcels["status"].isin(statuses).to_numpy(dtype=bool)


def emit(
    ctx: RuleContext,
    mask: np.ndarray | pd.Series,
    kind: str,
    severity: str | pd.Series,
    since: pd.Series,
    detail: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The exceptions for the parcels in `mask`. `detail` values may be scalars or Series
    aligned with the parcels; they end up as one JSON-able dict per exception."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():  # most kinds find nothing among the few rows an incremental tick reads
        return empty_exceptions()
    frame = ctx.parcels
    missing = [c for c in SUBJECT_COLUMNS if c not in frame.columns]
    rows = frame.loc[mask, [c for c in SUBJECT_COLUMNS if c in frame.columns]].copy()
    for column in missing:  # an order has no parcel, a parcel names no order row of its own
        rows[column] = None
    rows.insert(0, "kind", str(kind))
    rows.insert(
        1,
        "severity",
        severity[mask].astype(str) if isinstance(severity, pd.Series) else str(severity),
    )
    rows["since"] = since[mask]
    parts = {}
    for key, value in (detail or {}).items():
        parts[key] = _jsonable(value[mask]) if isinstance(value, pd.Series) else value
    detail_frame = pd.DataFrame(parts, index=rows.index)
    rows["detail"] = detail_frame.to_dict("records") if parts else [{} for _ in range(len(rows))]
    return rows[list(EXCEPTION_COLUMNS)]


def _jsonable(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        # Through Python datetimes: Timestamp.isoformat costs several times as much, and the
        # full tick writes tens of thousands of these. Same text (microsecond precision).
        moments = values.array.to_pydatetime()
        text = [None if v is pd.NaT else v.isoformat() for v in moments]
        return pd.Series(text, index=values.index, dtype=object)
    if pd.api.types.is_float_dtype(values.dtype):
        return values.round(2).astype(object).where(values.notna(), None)
    return values.astype(object).where(values.notna(), None)


def carrier_wide(
    kind: str, carrier: Any, since: Any, detail: dict[str, Any], province: Any = None
) -> dict[str, Any]:
    """One exception about a carrier (and province), not an order or a parcel: every other
    subject column empty, whatever columns SUBJECT_COLUMNS gains."""
    row: dict[str, Any] = dict.fromkeys(EXCEPTION_COLUMNS)
    return row | {"kind": kind, "severity": "critical", "carrier": carrier,
                  "province": province, "since": since, "detail": detail}  # fmt: skip


def empty_exceptions() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in EXCEPTION_COLUMNS})
