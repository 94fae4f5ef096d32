"""`parcelwatch penalties import FILE` and `parcelwatch penalties report`: a platform's
penalty export matched to its orders and judged against the evidence
(docs/evidence-and-penalties.md "Reconciliation")."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from monitor.cli.common import config_option, err, fail, load, open_store, out, parse_moment
from monitor.clock import SystemClock
from monitor.config import PLATFORMS
from monitor.evidence.documents import bundle, contestable_packs, report_csv
from monitor.evidence.pack import PdfUnavailable, zone_of
from monitor.evidence.penalties import judge_lines, store_lines, stored_lines
from monitor.evidence.verdict import Outcome
from monitor.ingest.files import FileUnreadable
from monitor.ingest.penalty_file import read_penalties


@click.group("penalties")
def penalties() -> None:
    """Platform penalties: import an export, report what can be appealed."""


@penalties.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--platform",
    type=click.Choice(PLATFORMS),
    default=None,
    help="The platform the export is from (when it has no 平台 column).",
)
@config_option
def import_penalties(file: Path, platform: str | None, config_path: Path | None) -> None:
    """Store a penalty export's lines (idempotent; bad lines are reported by number)."""
    config = load(config_path)
    engine = open_store(config)
    try:
        read = read_penalties(file, config.penalties, platform)
    except FileUnreadable as exc:
        fail(str(exc))
        return
    for line, problem in read.errors[:200]:
        err.print(f"{file}:{line}: {problem}", highlight=False, markup=False)
    for text in sorted(read.unmapped_kinds):
        err.print(
            f"{file}: charge type {text!r} is not one parcelwatch judges (add it under "
            "[penalties] kinds); its lines are reported as unknown",
            highlight=False,
            markup=False,
        )
    added, known = store_lines(engine, read.lines, SystemClock().now())
    summary = (
        f"{file}: {len(read.lines) + len(read.errors)} lines: {added} new, "
        f"{known} already imported, {len(read.errors)} rejected"
    )
    (err if read.errors else out).print(summary, highlight=False, markup=False)
    sys.exit(2 if read.errors and not read.lines else 0)


@penalties.command("report")
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("penalty-evidence.zip"),
    show_default=True,
    help="The zip of evidence packs for the contestable lines.",
)
@click.option("--since", default=None, help="Only lines charged from this moment (ISO 8601).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@config_option
def report(out_path: Path, since: str | None, lang: str, config_path: Path | None) -> None:
    """Classify every imported line (contestable, fair, unknown) and pack the evidence."""
    config = load(config_path)
    engine = open_store(config)
    now = SystemClock().now()
    lines = stored_lines(engine, parse_moment(since, config) if since else None)
    judged = judge_lines(engine, config, lines, now)
    table = Table("order", "charge", "amount", "outcome", "why", box=None, pad_edge=False)
    totals: dict[Outcome, tuple[int, float]] = {o: (0, 0.0) for o in Outcome}
    for line in judged:
        zone = zone_of(config, line.facts.warehouse if line.facts else "")
        count, amount = totals[line.outcome]
        totals[line.outcome] = (count + 1, amount + line.amount)
        table.add_row(
            f"{line.penalty['platform']} {line.penalty['order_id']}",
            line.penalty["kind_text"],
            f"¥{line.amount:.2f}",
            line.outcome.value,
            line.verdict.sentence(lang, zone),
        )
    out.print(table)
    for outcome, (count, amount) in totals.items():
        out.print(f"{outcome.value}: {count} lines, ¥{amount:.2f}", highlight=False)
    try:
        packs = contestable_packs(judged, config, now, lang)
    except PdfUnavailable as exc:
        fail(str(exc), 1)
        return
    out_path.write_bytes(bundle(packs, report_csv(judged, config, lang)))
    out.print(f"{out_path}: {len(packs)} evidence packs and penalties.csv", highlight=False)
