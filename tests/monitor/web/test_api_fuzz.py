"""A bounded schemathesis run against the app's own OpenAPI schema: a few hundred generated
requests (fixed seed) over every operation, with a lead's token; no answer may be a 5xx, and
every status code must be one the schema documents (monitor/web/errors.py)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from monitor.clock import FixedClock
from monitor.daemon.tick import run_tick
from monitor.ingest import ingest_rows
from monitor.ingest.files import RawRow
from monitor.store.db import make_engine, upgrade
from monitor.web.app import create_app
from monitor.web.auth import hash_token
from monitor.web.context import AppContext
from tests.support.config import make_config

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
TOKEN = "fuzz-lead-token"


def _app() -> object:
    folder = Path(tempfile.mkdtemp(prefix="parcelwatch-fuzz-"))
    cfg = make_config(
        f"sqlite:///{folder / 'fuzz.db'}",
        auth={"tokens": [{"name": "fuzz", "role": "lead", "token_sha256": hash_token(TOKEN)}]},
    )
    engine = make_engine(cfg.database.url)
    upgrade(engine)
    rows = [
        RawRow(i, {"order_id": f"TB{i}", "warehouse": "hz1", "paid_at": "2026-11-20 10:00",
                   "carrier": "zto", "tracking_number": f"731{i}",
                   "shipped_at": "2026-11-20 12:00", "province": "四川"})
        for i in range(1, 6)
    ]  # fmt: skip
    ingest_rows(engine, cfg, rows, NOW)
    run_tick(engine, cfg, NOW)
    ctx = AppContext(engine, cfg, FixedClock(NOW))
    ctx.scheduler_running = True  # /readyz: a 503 here would be the truth, not a bug
    return create_app(ctx)


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=40, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_no_server_error_and_no_undocumented_status(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        checks=[not_a_server_error, status_code_conformance],
    )
