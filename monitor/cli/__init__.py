"""The `parcelwatch` command line (entry point `main`)."""

from __future__ import annotations

from monitor.cli.main import main

__all__ = ["main"]
