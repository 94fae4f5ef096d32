"""AfterShip Tracking API: status table, wire-format parsing and the HTTP adapter."""

from __future__ import annotations

from carriers.aftership.adapter import AfterShipAdapter
from carriers.aftership.status import map_code

__all__ = ["AfterShipAdapter", "map_code"]
