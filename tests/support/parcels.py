"""Parcel frames for rule tests, shaped exactly like the store loader's.

`parcel_frame({"status": "in_transit", "picked_up_at": "2026-11-24 10:00"}, ...)` fills in
every column a row leaves out; `order_frame(...)` does the same for the order rules' frame.
Times may be aware datetimes or "YYYY-MM-DD HH:MM[:SS]" strings, which are read in
Asia/Shanghai (the default warehouse's zone). Only an order's paid_at (which the store
requires) gets a default; unlike the importer, nothing else is derived, so a row with
picked_up_at and no shipped_at keeps shipped_at NaT.

The frame goes through the same conversion as `monitor.detection.load_parcels`: an Arrow
table handed to pandas, then `as_utc_times`. So string columns have pandas' default string
dtype with NaN for missing values (not object columns holding None), `amount` is float64,
`shipment_id` and `order_count` int64 and every time column datetime64[us, UTC] with NaT. One loader quirk is
not reproduced: on SQLite a string column that is NULL in every row comes back as float64.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa

from monitor.detection import CATEGORY_COLUMNS
from monitor.rules.base import ORDER_COLUMNS, ORDER_TIME_COLUMNS, PARCEL_COLUMNS, TIME_COLUMNS
from monitor.store.frames import as_utc_times

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Used for paid_at when a row gives no time at all: a Tuesday morning, a shipping day.
DEFAULT_PAID_AT = "2026-11-24 09:00"

_SCHEMA = pa.schema(
    [
        ("shipment_id", pa.int64()),
        ("order_count", pa.int64()),
        *((name, pa.timestamp("us", tz="UTC")) for name in TIME_COLUMNS),
        *(
            (name, pa.string())
            for name in PARCEL_COLUMNS
            if name not in TIME_COLUMNS and name not in ("shipment_id", "order_count")
        ),
    ]
)
_ORDER_SCHEMA = pa.schema(
    [
        ("sales_order_id", pa.int64()),
        ("amount", pa.float64()),
        *((name, pa.timestamp("us", tz="UTC")) for name in ORDER_TIME_COLUMNS),
        *(
            (name, pa.string())
            for name in ORDER_COLUMNS
            if name not in ORDER_TIME_COLUMNS and name not in ("sales_order_id", "amount")
        ),
    ]
)


def at(value: str | datetime, zone: str | ZoneInfo = SHANGHAI) -> pd.Timestamp:
    """An aware moment: a "2026-11-24 18:00" string read as wall time in `zone`, or an aware
    datetime as it is. Naive datetimes are refused, as the store refuses them."""
    if isinstance(value, str):
        tz = ZoneInfo(zone) if isinstance(zone, str) else zone
        return pd.Timestamp(datetime.fromisoformat(value).replace(tzinfo=tz))
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()}: give a zone or a string")
    return pd.Timestamp(value)


def _row(position: int, given: dict[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(PARCEL_COLUMNS)
    if unknown:
        raise ValueError(f"not a parcel column: {', '.join(sorted(unknown))}")
    times = {name: at(given[name]) for name in TIME_COLUMNS if given.get(name) is not None}
    status = given.get("status", "awaiting_shipment")
    handed_over = "shipped_at" in times or status != "awaiting_shipment"
    row: dict[str, Any] = {
        "shipment_id": position,
        "order_id": f"O{position}",
        "order_count": 1,
        "platform": "taobao",
        "shop": None,
        "warehouse": "hz1",
        "carrier": "zto",
        "tracking_number": f"7{position:011d}" if handed_over else None,
        "province": "江苏",
        "status": status,
        "sub_reason": None,
    }
    row.update({k: v for k, v in given.items() if k not in TIME_COLUMNS})
    for name in TIME_COLUMNS:
        row[name] = times.get(name)
    return row


def parcel_frame(*rows: dict[str, Any]) -> pd.DataFrame:
    """One parcel per row, in PARCEL_COLUMNS order; the n-th row (from 1) defaults to
    shipment_id n and order_id "On"."""
    records = [_row(position, given) for position, given in enumerate(rows, start=1)]
    table = pa.Table.from_pylist(
        [
            {k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in r.items()}
            for r in records
        ],
        schema=_SCHEMA,
    )
    for name in CATEGORY_COLUMNS:  # as the store loader hands them to the rules
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(index).dictionary_encode())
    frame = table.to_pandas()
    for name in TIME_COLUMNS:
        frame[name] = as_utc_times(frame[name])
    return frame[list(PARCEL_COLUMNS)]


def _order_row(position: int, given: dict[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(ORDER_COLUMNS)
    if unknown:
        raise ValueError(f"not an order column: {', '.join(sorted(unknown))}")
    times = {name: at(given[name]) for name in ORDER_TIME_COLUMNS if given.get(name) is not None}
    row: dict[str, Any] = {
        "sales_order_id": position,
        "order_id": f"O{position}",
        "platform": "taobao",
        "shop": None,
        "warehouse": "hz1",
        "province": "江苏",
        "amount": None,
    }
    row.update({k: v for k, v in given.items() if k not in ORDER_TIME_COLUMNS})
    # The store requires paid_at; by default a shipping day's morning.
    row["paid_at"] = times.get("paid_at") or at(DEFAULT_PAID_AT)
    row["ship_deadline_at"] = times.get("ship_deadline_at")
    row["shipped_at"] = times.get("shipped_at")
    return row


def order_frame(*rows: dict[str, Any]) -> pd.DataFrame:
    """One order per row, shaped like `monitor.detection.load_orders`: ORDER_COLUMNS plus the
    empty parcel-side subject columns; the n-th row defaults to sales_order_id n, "On"."""
    records = [_order_row(position, given) for position, given in enumerate(rows, start=1)]
    table = pa.Table.from_pylist(
        [
            {k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in r.items()}
            for r in records
        ],
        schema=_ORDER_SCHEMA,
    )
    for name in ("platform", "shop", "warehouse", "province"):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(index).dictionary_encode())
    frame = table.to_pandas()
    for name in ORDER_TIME_COLUMNS:
        frame[name] = as_utc_times(frame[name])
    frame = frame[list(ORDER_COLUMNS)]
    return frame.assign(
        shipment_id=pd.Series(pd.NA, index=frame.index, dtype="Int64"),
        carrier=pd.Series(None, index=frame.index, dtype=object),
        tracking_number=pd.Series(None, index=frame.index, dtype=object),
    )


def of_kind(exceptions: pd.DataFrame, kind: str) -> list[dict[str, Any]]:
    """The exceptions of one kind as plain dicts, in the order `evaluate` returned them."""
    return exceptions[exceptions["kind"] == kind].to_dict("records")
