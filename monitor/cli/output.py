"""Text for the terminal's tables and JSON: local times in the warehouse's zone, pandas
values (NaT, NaN, numpy scalars) made printable."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from monitor.config import Config


def jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if value is None or (not isinstance(value, dict | list | str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def local_time(value: Any, config: Config, warehouse: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    wh = config.warehouse(str(warehouse)) if warehouse else None
    zone = ZoneInfo(wh.timezone if wh else "Asia/Shanghai")
    return pd.Timestamp(value).tz_convert(zone).strftime("%m-%d %H:%M")


def text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
