"""`parcelwatch`: the command line. Exit codes: 0 ok, 1 failure, 2 bad usage or bad input."""

from __future__ import annotations

import asyncio
import csv
import getpass
import io
import json
import logging
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from alerts.model import Action, AlertKind, AlertState, Severity
from alerts.sinks import SinkSetupError
from carriers.base import CarrierAPIError
from monitor import __version__
from monitor.clock import SystemClock
from monitor.config import Config, ConfigError, load_config
from monitor.detection import detect as detect_exceptions
from monitor.ingest import FileUnreadable, import_file
from monitor.queue import (
    ActionError,
    AlertFilter,
    act,
    count_alerts,
    get_alert,
    history,
    list_alerts,
)
from monitor.store.db import make_engine, upgrade

F = TypeVar("F", bound=Callable[..., Any])
EXAMPLE_CONFIG = Path(__file__).with_name("example_config.toml")
DETECT_FIELDS = (
    "kind",
    "severity",
    "order_id",
    "tracking_number",
    "carrier",
    "warehouse",
    "province",
    "platform",
    "since",
    "detail",
)

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="parcelwatch")
def main() -> None:
    """Logistics exception monitoring for e-commerce warehouses."""
    for console in (out, err):
        if not console.is_terminal:  # piped or logged: do not squeeze tables into 80 columns
            console.width = 180


@main.command()
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("parcelwatch.toml"),
    show_default=True,
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@config_option
def init(out_path: Path, force: bool, config_path: Path | None) -> None:
    """Write a commented example config."""
    if out_path.exists() and not force:
        fail(f"{out_path} exists; pass --force to overwrite it")
    out_path.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    out.print(f"wrote {out_path}; check it with `parcelwatch check-config --config {out_path}`")


@main.command("check-config")
@config_option
def check_config(config_path: Path | None) -> None:
    """Validate the config and print the effective thresholds."""
    from monitor.config_report import render_config

    config = load(config_path)
    render_config(config, out)


@main.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    default=None,
    help="Default: by file extension.",
)
@config_option
def import_command(file: Path, fmt: str | None, config_path: Path | None) -> None:
    """Import orders and shipments (idempotent; bad rows are reported, good ones imported)."""
    config = load(config_path)
    engine = open_store(config)
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    try:
        total = _count_lines(file)
    except OSError as exc:
        fail(f"{file}: cannot read ({exc.strerror or exc})")
    with progress:
        task = progress.add_task("import", total=total)
        try:
            report = import_file(
                engine,
                config,
                file,
                SystemClock().now(),
                fmt,
                progress=lambda n: progress.advance(task, n),
            )
        except FileUnreadable as exc:
            fail(str(exc))
    for rejected in report.rejected[:200]:
        err.print(f"{file}: {rejected}", highlight=False, markup=False)
    if len(report.rejected) > 200:
        err.print(f"... and {len(report.rejected) - 200} more rejected rows")
    c = report.counts
    summary = (
        f"{file}: {report.rows} rows ({report.encoding}): {c.inserted} new, {c.updated} updated, "
        f"{c.unchanged} unchanged, {len(report.rejected)} rejected"
    )
    if report.ignored_columns:
        summary += f"; ignored columns: {', '.join(report.ignored_columns)}"
    (err if report.rejected else out).print(summary, highlight=False, markup=False)
    sys.exit(report.exit_code)


def _count_lines(file: Path) -> int:
    with file.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if value is None or (not isinstance(value, dict | list | str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def exceptions_as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {field: _jsonable(row[field]) for field in DETECT_FIELDS}
        for row in frame.to_dict("records")
    ]


def _local(value: Any, config: Config, warehouse: Any) -> str:
    if value is None or pd.isna(value):
        return ""
    wh = config.warehouse(str(warehouse)) if warehouse else None
    zone = ZoneInfo(wh.timezone if wh else "Asia/Shanghai")
    return pd.Timestamp(value).tz_convert(zone).strftime("%m-%d %H:%M")


def _detail_text(detail: Any) -> str:
    if not isinstance(detail, dict):
        return ""
    return ", ".join(
        f"{k}={v}" for k, v in detail.items() if v is not None and k != "carrier_status"
    )


@main.command()
@click.option("--at", "at", default=None, help="Evaluate at this moment (ISO 8601; default now).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@config_option
def detect(at: str | None, fmt: str, config_path: Path | None) -> None:
    """Evaluate every rule at a moment, read-only, and print the exceptions."""
    config = load(config_path)
    moment = parse_moment(at, config)
    engine = open_store(config)
    exceptions = detect_exceptions(engine, config, moment)
    records = exceptions_as_records(exceptions)
    if fmt == "json":
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(DETECT_FIELDS))
        writer.writeheader()
        for record in records:
            writer.writerow(record | {"detail": json.dumps(record["detail"], ensure_ascii=False)})
        click.echo(buffer.getvalue(), nl=False)
    else:
        print_exceptions(exceptions, config, f"exceptions at {moment.isoformat()}")


def print_exceptions(frame: pd.DataFrame, config: Config, title: str, limit: int = 200) -> None:
    table = Table(title=f"{title}: {len(frame)}", title_justify="left")
    for column in (
        "kind",
        "severity",
        "order",
        "tracking",
        "carrier",
        "wh",
        "province",
        "since",
        "detail",
    ):
        table.add_column(column, overflow="fold")
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(
            row.kind,
            row.severity,
            _text(row.order_id),
            _text(row.tracking_number),
            _text(row.carrier),
            _text(row.warehouse),
            _text(row.province),
            _local(row.since, config, row.warehouse),
            _detail_text(row.detail),
        )
    out.print(table)
    if len(frame) > limit:
        out.print(f"... {len(frame) - limit} more (use --format json or csv for all)")


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


@main.group()
def alerts() -> None:
    """The alert queue from the terminal."""


@alerts.command("list")
@click.option(
    "--state",
    type=click.Choice(["active", *[s.value for s in AlertState]]),
    default="active",
    show_default=True,
)
@click.option("--kind", type=click.Choice([k.value for k in AlertKind]))
@click.option("--severity", type=click.Choice([s.value for s in Severity]))
@click.option("--carrier")
@click.option("--warehouse")
@click.option("--province")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@config_option
def alerts_list(
    state: str,
    kind: str | None,
    severity: str | None,
    carrier: str | None,
    warehouse: str | None,
    province: str | None,
    limit: int,
    fmt: str,
    config_path: Path | None,
) -> None:
    """List alerts, most severe and oldest first."""

    config = load(config_path)
    engine = open_store(config)
    where = AlertFilter(
        state=state,
        kind=kind,
        severity=severity,
        carrier=carrier,
        warehouse=warehouse,
        province=province,
    )
    rows = list_alerts(engine, where, limit=limit)
    if fmt == "json":
        click.echo(
            json.dumps(
                [{k: _jsonable(v) for k, v in r.items()} for r in rows],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    counts = count_alerts(engine, where)
    total = sum(counts.values())
    table = Table(
        title=f"{total} alerts ({state}): "
        + ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])),
        title_justify="left",
    )
    for column in (
        "id",
        "kind",
        "severity",
        "state",
        "order",
        "carrier",
        "wh",
        "province",
        "since",
        "assignee",
    ):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["kind"],
            r["severity"],
            r["state"],
            _text(r["order_id"]),
            _text(r["carrier"]),
            _text(r["warehouse"]),
            _text(r["province"]),
            _local(r["since"], config, r["warehouse"]),
            _text(r["assignee"]),
        )
    out.print(table)


def _actor(by: str | None) -> str:
    if by:
        return by
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _run_action(
    config_path: Path | None, ids: tuple[int, ...], action: Action, by: str | None, **kwargs: Any
) -> None:
    config = load(config_path)
    engine = open_store(config)
    now = SystemClock().now()
    failed = False
    for alert_id in ids:
        try:
            alert = act(engine, alert_id, action, _actor(by), now, **kwargs)
        except ActionError as exc:
            err.print(f"alert {alert_id}: {exc}", highlight=False, markup=False)
            failed = True
            continue
        out.print(
            f"alert {alert_id} ({alert['kind']} {alert['order_id'] or ''}): {alert['state']}",
            highlight=False,
            markup=False,
        )
    sys.exit(1 if failed else 0)


ids_argument = click.argument("ids", nargs=-1, type=int, required=True)
by_option = click.option("--by", help="Who acts (default cli:<user>).")
note_option = click.option("--note", help="A note for the history.")


@alerts.command("ack")
@ids_argument
@by_option
@note_option
@config_option
def alerts_ack(
    ids: tuple[int, ...], by: str | None, note: str | None, config_path: Path | None
) -> None:
    """Acknowledge alerts."""
    _run_action(config_path, ids, Action.ACKNOWLEDGE, by, note=note)


@alerts.command("resolve")
@ids_argument
@by_option
@note_option
@config_option
def alerts_resolve(
    ids: tuple[int, ...], by: str | None, note: str | None, config_path: Path | None
) -> None:
    """Resolve alerts by hand (they stay resolved while the same condition lasts)."""
    _run_action(config_path, ids, Action.RESOLVE, by, note=note)


@alerts.command("assign")
@ids_argument
@click.option("--to", "assignee", required=True, help="The person to assign to.")
@by_option
@note_option
@config_option
def alerts_assign(
    ids: tuple[int, ...], assignee: str, by: str | None, note: str | None, config_path: Path | None
) -> None:
    """Assign alerts to a person."""
    _run_action(config_path, ids, Action.ASSIGN, by, assignee=assignee, note=note)


@alerts.command("snooze")
@ids_argument
@click.option("--until", "until", required=True, help="ISO 8601 moment.")
@by_option
@note_option
@config_option
def alerts_snooze(
    ids: tuple[int, ...], until: str, by: str | None, note: str | None, config_path: Path | None
) -> None:
    """Snooze alerts until a moment."""
    moment = parse_moment(until, load(config_path))
    _run_action(config_path, ids, Action.SNOOZE, by, until=moment, note=note)


@alerts.command("comment")
@ids_argument
@click.option("--note", required=True)
@by_option
@config_option
def alerts_comment(
    ids: tuple[int, ...], note: str, by: str | None, config_path: Path | None
) -> None:
    """Add a comment to alerts."""
    _run_action(config_path, ids, Action.COMMENT, by, note=note)


@alerts.command("show")
@click.argument("alert_id", type=int)
@config_option
def alerts_show(alert_id: int, config_path: Path | None) -> None:
    """One alert with its full history, as JSON."""
    engine = open_store(load(config_path))
    alert = get_alert(engine, alert_id)
    if alert is None:
        fail(f"no alert with id {alert_id}", 1)
    assert alert is not None
    alert["history"] = history(engine, alert_id)
    click.echo(json.dumps(alert, default=_jsonable, ensure_ascii=False, indent=2))


@main.command("hash-password")
def hash_password_command() -> None:
    """Print an Argon2 hash for `[[auth.users]] password_hash` (the password is asked for,
    never echoed, and never stored)."""
    from monitor.web.sessions import hash_password

    password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    click.echo(hash_password(password))


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path | None) -> None:
    """Apply migrations."""
    config = load(config_path)
    upgrade(make_engine(config.database.url))
    out.print("database is up to date")


@main.command()
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sample-orders.csv"),
    show_default=True,
)
@click.option("--orders", type=click.IntRange(1, 5_000_000), default=3000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--at", "at", default=None, help="The shop as of this moment (default now).")
@click.option(
    "--encoding",
    type=click.Choice(["utf-8-sig", "utf-8", "gb18030"]),
    default="utf-8-sig",
    show_default=True,
)
def sample(out_path: Path, orders: int, seed: int, at: str | None, encoding: str) -> None:
    """Write a realistic sample ERP export (for trying parcelwatch out)."""
    from monitor.sample import generate_shop, write_csv

    moment = parse_moment(at, Config())
    rows = generate_shop(seed=seed, orders=orders, now=moment)
    write_csv(rows, out_path, encoding=encoding)
    out.print(f"wrote {len(rows)} orders as of {moment.isoformat()} to {out_path}")


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@config_option
def run_command(host: str, port: int, config_path: Path | None) -> None:
    """The daemon: scheduler (poll, subscribe, detect) + web API + /metrics."""
    from monitor.daemon import serve

    config = load(config_path)
    setup_logging()
    exit_quietly_on_sigterm()
    try:
        asyncio.run(serve(config, host, port, SystemClock()))
    except CarrierAPIError as exc:
        fail(f"carriers: {exc}")
    except SinkSetupError as exc:
        fail(f"{config_path or 'parcelwatch.toml'}: {exc}")
    except KeyboardInterrupt:
        pass


def exit_quietly_on_sigterm() -> None:
    """uvicorn shuts down gracefully on SIGTERM, then re-raises the signal with the handler
    that was installed before it: make that end the process with status 0, like Ctrl-C."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for chatty in ("httpx", "apscheduler.executors.default"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


@main.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--sim-port", type=click.IntRange(1, 65535), default=9000, show_default=True)
@click.option("--speed", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Simulated seconds per real second.")  # fmt: skip
@click.option("--db", "db_url", default=None,
              help="Database URL (default: a fresh SQLite file under ./demo).")  # fmt: skip
@click.option("--orders", type=click.IntRange(100, 1_000_000), default=3000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def demo(
    port: int, sim_port: int, speed: float, db_url: str | None, orders: int, seed: int
) -> None:
    """The daemon with its carrier simulator on SQLite, a seeded shop and a fast clock."""
    from monitor.demo import run_demo

    setup_logging()
    exit_quietly_on_sigterm()
    run_demo(out, db_url=db_url, port=port, sim_port=sim_port, speed=speed, orders=orders,
             seed=seed)  # fmt: skip


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=9000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--speed", type=click.FloatRange(min=0.001), default=1.0, show_default=True)
@click.option("--webhook", default=None, help="17TRACK webhook URL the simulator pushes to.")
def sim(host: str, port: int, seed: int, speed: float, webhook: str | None) -> None:
    """The carrier simulator alone (Kuaidi100 and 17TRACK wire formats), with the demo
    credentials that `adapter = "sim"` in the config uses."""
    from carriers.sim.runner import serve
    from monitor.carrier_clients import SIM_17TRACK_KEY, SIM_CUSTOMER, SIM_KEY

    out.print(f"carrier simulator on http://{host}:{port} (seed {seed}, clock ×{speed:g})")
    serve(
        host,
        port,
        seed=seed,
        speed=speed,
        kuaidi100_customer=SIM_CUSTOMER,
        kuaidi100_key=SIM_KEY,
        track17_key=SIM_17TRACK_KEY,
        track17_webhook_url=webhook,
    )


# Defined in its own module; it imports this one's helpers only when it runs, so the two can
# be imported in either order.
from monitor.cli_scorecard import scorecard  # noqa: E402

main.add_command(scorecard)


if __name__ == "__main__":
    main()
