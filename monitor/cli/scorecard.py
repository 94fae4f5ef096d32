"""`parcelwatch scorecard`: the weekly carrier scorecard from the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.common import config_option, fail, load, open_store, parse_moment
from monitor.scorecard import WeekError, build_scorecard
from monitor.scorecard.render import FORMATS, render

SUFFIX_FORMATS = {".md": "md", ".markdown": "md", ".csv": "csv", ".html": "html",
                  ".htm": "html", ".json": "json"}  # fmt: skip


@click.command("scorecard")
@click.option("--week", default=None, help="ISO week, e.g. 2026-W47 (default: the last full week).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="md, csv, html or json (default: from --out's suffix, else md).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to this file instead of standard output.",
)
@click.option("--at", "at", default=None, help="Judge as of this moment (ISO 8601; default now).")
@config_option
def scorecard(
    week: str | None, fmt: str | None, out_path: Path | None, at: str | None,
    config_path: Path | None,
) -> None:  # fmt: skip
    """The weekly carrier scorecard: KPIs per carrier and province, ranks, recommendations."""
    config = load(config_path)
    moment = parse_moment(at, config)
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(out_path.suffix.lower(), "md") if out_path else "md"
    engine = open_store(config)
    try:
        card = build_scorecard(engine, config, week, moment)
    except WeekError as exc:
        fail(f"--week: {exc}")
        return
    text = render(card, fmt)
    if out_path is None:
        click.echo(text, nl=False)
        return
    try:
        out_path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out_path}: {exc}", code=1)
    click.echo(f"wrote the {card.week} scorecard ({fmt}) to {out_path}", file=sys.stderr)
