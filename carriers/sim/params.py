"""Reading the loosely typed fields of the simulator's requests (form fields and JSON)."""

from __future__ import annotations

from datetime import datetime

from carriers.sim.profiles import CHINA_TZ


def text_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_time(value: object, default: datetime) -> datetime:
    if value is None:
        return default
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)
