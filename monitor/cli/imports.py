"""`parcelwatch import FILE`: orders and shipments from an ERP export, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from monitor.cli.common import config_option, err, fail, load, open_store, out
from monitor.clock import SystemClock
from monitor.ingest import FileUnreadable, import_file


@click.command("import")
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
    total = None  # counting the lines reads the whole file once more: only for a visible bar
    if err.is_terminal:
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
    for note in c.notes[:200]:
        err.print(f"{file}: {note}", highlight=False, markup=False)
    summary = (
        f"{file}: {report.rows} rows ({report.encoding}): orders {c.inserted} new, "
        f"{c.updated} updated, {c.unchanged} unchanged; parcels {c.parcels_inserted} new, "
        f"{c.parcels_updated} updated, {c.parcels_unchanged} unchanged; "
        f"{len(report.rejected)} rejected"
    )
    if report.ignored_columns:
        summary += f"; ignored columns: {', '.join(report.ignored_columns)}"
    (err if report.rejected else out).print(summary, highlight=False, markup=False)
    sys.exit(report.exit_code)


def _count_lines(file: Path) -> int:
    with file.open("rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)
