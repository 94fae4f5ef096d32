"""What every `parcelwatch` command shares: the `--config` option, loading the config and the
store, reading a moment, error output with exit codes. Light on purpose: `parcelwatch import`
should not pay for pandas (monitor/cli/output.py has the table and JSON helpers).

Exit codes: 0 ok, 1 failure, 2 bad usage or bad input."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from rich.console import Console

from monitor.clock import SystemClock
from monitor.config import Config, ConfigError, load_config
from monitor.store.db import make_engine, upgrade

F = TypeVar("F", bound=Callable[..., Any])

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def config_option(command: F) -> F:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Config file (default ./parcelwatch.toml, then PARCELWATCH_* variables).",
    )(command)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


def load(config_path: Path | None) -> Config:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        fail(str(exc))
        raise AssertionError from exc  # unreachable: fail() exits


def open_store(config: Config) -> Any:
    engine = make_engine(config.database.url)
    upgrade(engine)
    return engine


def parse_moment(value: str | None, config: Config) -> datetime:
    """ISO 8601; a time without a zone is in the (first) warehouse's zone, as leads think."""
    if value is None:
        return SystemClock().now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not ISO 8601 (e.g. 2026-11-24T18:00)") from None
    if moment.tzinfo is None:
        zone = config.warehouses[0].timezone if config.warehouses else "Asia/Shanghai"
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment


def exit_quietly_on_sigterm() -> None:
    """uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the handler
    that was installed before it: make that end the process with status 0, like Ctrl-C."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


OWN_LOGGERS = ("monitor", "alerts", "carriers")  # parcelwatch's own packages


def setup_logging() -> None:
    """A quiet terminal for `run` and `demo`: parcelwatch's own messages from INFO (the
    start-up block, one status line a minute, problems), every library's only from WARNING
    (no per-request, per-job or per-migration chatter). Skipped overlapping runs are counted
    in `parcelwatch_scheduler_skipped_runs_total{job_id}` instead of printed."""
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger().setLevel(logging.WARNING)  # also when a handler was already there
    for own in OWN_LOGGERS:
        logging.getLogger(own).setLevel(logging.INFO)
    for chatty in ("httpx", "httpcore", "apscheduler", "alembic", "uvicorn", "asyncio"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_not_a_skipped_overlap)


def _not_a_skipped_overlap(record: logging.LogRecord) -> bool:
    """A run skipped because the previous one is still going is the design (max_instances=1,
    coalesce): the job is not late, and at two-second demo intervals the warning would fill
    the terminal. Misfires and errors still show."""
    return "maximum number of running instances reached" not in record.getMessage()
