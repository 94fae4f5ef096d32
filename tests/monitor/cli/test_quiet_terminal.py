"""`parcelwatch run` and `demo` keep the terminal quiet: parcelwatch's own INFO lines (the
start-up block, one status line a minute), libraries only from WARNING, and APScheduler's
skipped overlapping runs counted in a metric instead of printed."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from monitor.cli.common import OWN_LOGGERS, setup_logging
from monitor.daemon.service import StatusLine, count_skipped_runs
from monitor.metrics.instruments import EVENTS_INGESTED, SCHEDULER_SKIPPED_RUNS, TRACKING_REQUESTS
from tests.monitor.web.lead_shop import lead_config, seed

LIBRARIES = ("httpx", "httpcore", "apscheduler.scheduler", "uvicorn.error", "alembic.runtime")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    names = ("", *OWN_LOGGERS, *LIBRARIES, "httpx", "apscheduler", "uvicorn", "alembic")
    levels = {n: logging.getLogger(n).level for n in names}
    filters = list(logging.getLogger("apscheduler.scheduler").filters)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger("apscheduler.scheduler").filters = filters


def test_libraries_speak_from_warning_and_parcelwatch_from_info(restored_logging: None) -> None:
    setup_logging()
    for name in LIBRARIES:
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(logging.INFO), name
        assert logger.isEnabledFor(logging.WARNING), name
    for name in ("monitor.daemon.service", "monitor.demo.run", "alerts.outbox", "carriers.sim"):
        assert logging.getLogger(name).isEnabledFor(logging.INFO), name
    record = logging.LogRecord("apscheduler.scheduler", logging.WARNING, __file__, 1,
                               "Execution of job \"poll\" skipped: maximum number of running "
                               "instances reached (1)", None, None)  # fmt: skip
    assert not logging.getLogger("apscheduler.scheduler").filter(record)


def test_skipped_runs_are_counted_per_job() -> None:
    before = SCHEDULER_SKIPPED_RUNS.labels(job_id="slow")._value.get()
    release = threading.Event()
    scheduler = BackgroundScheduler(job_defaults={"max_instances": 1, "coalesce": True})
    count_skipped_runs(scheduler)
    scheduler.add_job(lambda: release.wait(5), "interval", seconds=0.1, id="slow")
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while SCHEDULER_SKIPPED_RUNS.labels(job_id="slow")._value.get() == before:
            assert time.monotonic() < deadline, "no skipped run was counted"
            time.sleep(0.05)
    finally:
        release.set()
        scheduler.shutdown(wait=True)
    assert SCHEDULER_SKIPPED_RUNS.labels(job_id="slow")._value.get() > before


def test_the_status_line_counts_parcels_alerts_calls_and_pushes(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    status = StatusLine(sqlite_engine)
    assert status.line() == (
        "status: 0 orders to ship, 0 parcels on their way, 0 open alerts; last minute: "
        "0 tracking calls, 0 pushed events"
    )
    seed(sqlite_engine, lead_config("sqlite://"), tmp_path / "orders.csv", orders=200)
    TRACKING_REQUESTS.labels(carrier="zto", outcome="ok").inc(3)
    EVENTS_INGESTED.labels(carrier="zto", source="push").inc(5)
    EVENTS_INGESTED.labels(carrier="zto", source="poll").inc(7)
    line = status.line()
    to_ship, moving = (int(n) for n in re.findall(r"(\d+) (?:orders to ship|parcels on)", line))
    with sqlite_engine.connect() as conn:  # what a count over the book says
        assert (
            to_ship
            == conn.exec_driver_sql(
                "SELECT count(*) FROM sales_order WHERE shipped_at IS NULL"
            ).scalar_one()
        )
        assert (
            moving
            == conn.exec_driver_sql(
                "SELECT count(*) FROM shipment WHERE status NOT IN ('delivered', 'returned')"
            ).scalar_one()
        )
    assert to_ship > 0 and moving > 0 and " open alerts; " in line
    assert line.endswith("last minute: 3 tracking calls, 5 pushed events")
    assert status.line().endswith("0 tracking calls, 0 pushed events")  # since the last line
