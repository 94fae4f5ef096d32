"""`parcelwatch detect`: every rule at a moment, read-only, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.table import Table

from monitor.cli.common import (
    config_option,
    load,
    open_store,
    out,
    parse_moment,
)
from monitor.cli.output import jsonable, local_time, text
from monitor.config import Config
from monitor.detection import detect as detect_exceptions

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


def exceptions_as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {field: jsonable(row[field]) for field in DETECT_FIELDS} for row in frame.to_dict("records")
    ]


def _detailtext(detail: Any) -> str:
    if not isinstance(detail, dict):
        return ""
    return ", ".join(
        f"{k}={v}" for k, v in detail.items() if v is not None and k != "carrier_status"
    )


@click.command()
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
            text(row.order_id),
            text(row.tracking_number),
            text(row.carrier),
            text(row.warehouse),
            text(row.province),
            local_time(row.since, config, row.warehouse),
            _detailtext(row.detail),
        )
    out.print(table)
    if len(frame) > limit:
        out.print(f"... {len(frame) - limit} more (use --format json or csv for all)")
