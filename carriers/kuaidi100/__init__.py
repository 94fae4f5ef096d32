"""Kuaidi100 (快递100): status table, wire-format parsing and the HTTP adapter."""

from __future__ import annotations

from carriers.kuaidi100.adapter import Kuaidi100Adapter
from carriers.kuaidi100.status import map_code

__all__ = ["Kuaidi100Adapter", "map_code"]
