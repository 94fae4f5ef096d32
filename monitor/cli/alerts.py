"""`parcelwatch alerts ...`: the alert queue from the terminal (list, show, the lead's actions)."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from alerts.model import Action, AlertKind, AlertState, Severity
from monitor.alert_queue import (
    ActionError,
    AlertFilter,
    act,
    count_alerts,
    get_alert,
    history,
    list_alerts,
)
from monitor.cli.common import (
    config_option,
    err,
    fail,
    load,
    open_store,
    out,
    parse_moment,
)
from monitor.cli.output import jsonable, local_time, text
from monitor.clock import SystemClock


@click.group()
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
                [{k: jsonable(v) for k, v in r.items()} for r in rows],
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
            text(r["order_id"]),
            text(r["carrier"]),
            text(r["warehouse"]),
            text(r["province"]),
            local_time(r["since"], config, r["warehouse"]),
            text(r["assignee"]),
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
    click.echo(json.dumps(alert, default=jsonable, ensure_ascii=False, indent=2))
