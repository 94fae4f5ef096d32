"""Read CSV and JSONL exports into (line number, raw row) pairs.

ERP exports come as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8") or GB18030 (Excel on a
Chinese Windows); we try them in that order, since a GB18030 file is almost never valid
UTF-8. A file we cannot decode, or whose header lacks a required column, is FileUnreadable
(exit 2); a bad row is the row's problem, reported by line number.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.ingest.records import REQUIRED_COLUMNS, canonical_header


class FileUnreadable(Exception):
    pass


@dataclass
class RawRow:
    line: int
    values: dict[str, Any]
    error: str | None = None  # set when the line itself could not be parsed


@dataclass
class RowSource:
    rows: Iterator[RawRow]
    encoding: str
    ignored_columns: list[str] = field(default_factory=list)


def decode(data: bytes, path: Path) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise FileUnreadable(f"{path}: not UTF-8 or GB18030 text")


def detect_format(path: Path, explicit: str | None) -> str:
    if explicit:
        return explicit
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"


def open_rows(path: Path, fmt: str | None = None) -> RowSource:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileUnreadable(f"{path}: cannot read ({exc.strerror or exc})") from exc
    text, encoding = decode(data, path)
    if detect_format(path, fmt) == "jsonl":
        return RowSource(_jsonl_rows(text), encoding)
    return _csv_rows(text, encoding, path)


def _csv_rows(text: str, encoding: str, path: Path) -> RowSource:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise FileUnreadable(f"{path}: empty file (expected a header row)") from None
    except csv.Error as exc:
        raise FileUnreadable(f"{path}: line 1: {exc}") from exc
    if not any(h.strip() for h in header):
        raise FileUnreadable(f"{path}: empty file (expected a header row)")
    columns = [canonical_header(h) for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FileUnreadable(
            f"{path}: the header has no {' or '.join(missing)} column "
            f"(found: {', '.join(h.strip() for h in header)})"
        )
    ignored = [h for h, c in zip(header, columns, strict=True) if c is None and h.strip()]

    def rows() -> Iterator[RawRow]:
        line = reader.line_num + 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RawRow(line, {}, f"malformed CSV: {exc}")
                line = reader.line_num + 1
                continue
            if any(cell.strip() for cell in cells):
                if len(cells) > len(columns):
                    yield RawRow(line, {}, f"{len(cells)} cells but the header has {len(columns)}")
                else:
                    yield RawRow(line, {c: v for c, v in zip(columns, cells) if c})  # noqa: B905
            line = reader.line_num + 1

    return RowSource(rows(), encoding, ignored)


def _jsonl_rows(text: str) -> Iterator[RawRow]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RawRow(number, {}, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(item, dict):
            yield RawRow(number, {}, "expected a JSON object")
            continue
        values: dict[str, Any] = {}
        for key, value in item.items():
            canonical = canonical_header(str(key))
            if canonical:
                values[canonical] = value
        yield RawRow(number, values)
