"""The parcelwatch daemon: config, store, ingest, detection rules, CLI.

It imports `carriers` and `alerts`; they never import it."""

from __future__ import annotations

__version__ = "0.1.0"
