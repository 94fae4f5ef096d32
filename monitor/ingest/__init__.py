"""Orders and shipments in: ERP exports (CSV, JSONL) and the REST API share this path.

Every good row is written, every bad one is reported with its line, column and reason;
the caller decides the exit code (0 all imported, 1 some rejected, 2 unreadable file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from monitor.config import Config
from monitor.ingest.files import FileUnreadable, RawRow, open_rows
from monitor.ingest.records import RecordParser, RowError, ShipmentRecord
from monitor.ingest.writer import WriteCounts, write_batch

__all__ = ["FileUnreadable", "ImportReport", "RejectedRow", "import_file", "ingest_rows"]

BATCH_SIZE = 1000


@dataclass(frozen=True)
class RejectedRow:
    line: int
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.reason}"


@dataclass
class ImportReport:
    rows: int = 0
    counts: WriteCounts = field(default_factory=WriteCounts)
    rejected: list[RejectedRow] = field(default_factory=list)
    encoding: str | None = None
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0


def ingest_rows(
    engine: Engine,
    config: Config,
    rows: Iterable[RawRow],
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    parser = RecordParser(config, now)
    report = ImportReport()
    batch: list[ShipmentRecord] = []

    def flush() -> None:
        if batch:
            report.counts.add(write_batch(engine, batch, now))
            if progress:
                progress(len(batch))
            batch.clear()

    for raw in rows:
        report.rows += 1
        if raw.error:
            report.rejected.append(RejectedRow(raw.line, None, raw.error))
            continue
        try:
            batch.append(parser.parse(raw.values))
        except RowError as exc:
            report.rejected.append(RejectedRow(raw.line, exc.column, exc.reason))
            continue
        if len(batch) >= BATCH_SIZE:
            flush()
    flush()
    return report


def import_file(
    engine: Engine,
    config: Config,
    path: Path,
    now: datetime,
    fmt: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    source = open_rows(path, fmt)
    report = ingest_rows(engine, config, source.rows, now, progress)
    report.encoding = source.encoding
    report.ignored_columns = source.ignored_columns
    return report
