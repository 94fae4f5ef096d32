"""17TRACK API v2.x: status table, wire-format parsing and the HTTP adapter."""

from __future__ import annotations

from carriers.track17.adapter import Track17Adapter
from carriers.track17.status import map_code

__all__ = ["Track17Adapter", "map_code"]
