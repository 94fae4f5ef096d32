"""Read CSV and JSONL exports into (line number, raw row) pairs.

ERP exports come as UTF-8, UTF-8 with a BOM (Excel's "CSV UTF-8") or GB18030 (Excel on a
Chinese Windows); we try them in that order, since a GB18030 file is almost never valid
UTF-8. A file we cannot decode, or whose header lacks a required column, is FileUnreadable
(exit 2); a bad row is the row's problem, reported by line number.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

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


SNIFF_BYTES = 1 << 16  # enough of the file to tell UTF-8 from GB18030
# A quoted cell may hold a line break (an address typed in two lines), but no cell of an
# export runs over this many lines: a record that does is an unbalanced quote, reported at
# its first line, and reading goes on from the line after it.
MAX_RECORD_LINES = 8


def sniff_encoding(sample: bytes, path: Path) -> str:
    """UTF-8 with a BOM, else UTF-8, else GB18030, judged on the start of the file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    # Some lines are not UTF-8. If others are (Chinese text that is valid UTF-8 is almost
    # never GB18030 by chance), the file mixes encodings: read it as UTF-8 and report the
    # other lines by number rather than turning the UTF-8 ones into mojibake.
    if any(not line.isascii() and _decodes(line, "utf-8") for line in sample.splitlines()[:-1]):
        return "utf-8"
    if _decodes(sample, "gb18030"):
        return "gb18030"
    raise FileUnreadable(f"{path}: not UTF-8 or GB18030 text")


def _is_utf8(line: bytes) -> bool:
    """A whole line (no character cut off) that is valid UTF-8; GB18030 text fails at once."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        # Not final: a sample may end inside a multi-byte character.
        codecs.getincrementaldecoder(encoding)().decode(data, final=False)
    except UnicodeDecodeError:
        return False
    return True


def detect_format(path: Path, explicit: str | None) -> str:
    if explicit:
        return explicit
    return "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"


def open_rows(path: Path, fmt: str | None = None) -> RowSource:
    """The file's rows, read as a stream: memory stays flat whatever the file's size."""
    try:
        with path.open("rb") as handle:
            sample = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise FileUnreadable(f"{path}: cannot read ({exc.strerror or exc})") from exc
    encoding = sniff_encoding(sample, path)
    lines = _Lines(path, encoding)
    if detect_format(path, fmt) == "jsonl":
        return RowSource(_jsonl_rows(lines), encoding)
    return _csv_rows(lines, encoding, path)


class _RecordTooLong(Exception):
    pass


class _BadLine(Exception):
    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


class _Lines:
    """The file's physical lines, decoded one at a time (a line that is not in the file's
    encoding is reported at its number, not fatal to the file), with the lines the current
    CSV record has taken, so that a broken record can be reported and re-read from the line
    after its first."""

    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        self.strip_bom = encoding == "utf-8-sig"
        self.handle: BinaryIO | None = None
        self.done = False
        self.number = 0
        self.pending: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= MAX_RECORD_LINES:
            raise _RecordTooLong
        if self.pending:
            number, text = self.pending.popleft()
        else:
            number, text = self._read()
        self.taken.append((number, text))
        return text

    def _read(self) -> tuple[int, str]:
        if self.done:
            raise StopIteration
        if self.handle is None:
            self.handle = self.path.open("rb")
        raw = self.handle.readline()
        if not raw:
            self.handle.close()
            self.done = True
            raise StopIteration
        self.number += 1
        if self.number == 1 and self.strip_bom and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError:
            raise _BadLine(self.number) from None
        if self.encoding == "gb18030" and not raw.isascii() and _is_utf8(raw):
            raise _BadLine(self.number)  # a UTF-8 line in a GB18030 file
        return self.number, text

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
        self.done = True

    def record_start(self) -> int:
        return self.taken[0][0] if self.taken else self.number

    def reread_after_first(self) -> None:
        """Give back all but the first line of a broken record, to be read again."""
        self.pending.extendleft(reversed(self.taken[1:]))
        self.taken.clear()

    def bad_line(self) -> str:
        return (
            f"not {self.encoding.upper()} text like the rest of the file (a mix of encodings? "
            "save the file again as UTF-8); the line is skipped"
        )


def _csv_rows(lines: _Lines, encoding: str, path: Path) -> RowSource:
    try:
        return _csv_source(lines, encoding, path)
    except BaseException:
        lines.close()
        raise


def _csv_source(lines: _Lines, encoding: str, path: Path) -> RowSource:
    try:
        header = next(csv.reader(lines, strict=True))
    except StopIteration:
        raise FileUnreadable(f"{path}: empty file (expected a header row)") from None
    except (csv.Error, _RecordTooLong) as exc:
        raise FileUnreadable(f"{path}: line 1: {exc or 'unbalanced quote'}") from exc
    except _BadLine:
        raise FileUnreadable(f"{path}: line 1: {lines.bad_line()}") from None
    lines.taken.clear()
    if not any(h.strip() for h in header):
        raise FileUnreadable(f"{path}: empty file (expected a header row)")
    columns = [canonical_header(h) for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise FileUnreadable(
            f"{path}: the header has no {' or '.join(missing)} column "
            f"(found: {', '.join(h.strip() for h in header)})"
        )
    _check_duplicates(header, columns, path)
    ignored = [h for h, c in zip(header, columns, strict=True) if c is None and h.strip()]

    def rows() -> Iterator[RawRow]:
        try:
            yield from _csv_records(lines, columns)
        finally:
            lines.close()

    return RowSource(rows(), encoding, ignored)


def _csv_records(lines: _Lines, columns: list[str | None]) -> Iterator[RawRow]:
    """Every record after the header; a broken one is a row error and reading goes on."""
    while True:
        reader = csv.reader(lines, strict=True)
        try:
            for cells in reader:
                line = lines.record_start()
                lines.taken.clear()
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) > len(columns):
                    yield RawRow(line, {}, f"{len(cells)} cells but the header has {len(columns)}")
                else:
                    yield RawRow(line, {c: v for c, v in zip(columns, cells) if c})  # noqa: B905
            return
        except _RecordTooLong:
            line = lines.record_start()
            lines.reread_after_first()
            last = line + MAX_RECORD_LINES - 1
            reason = f"unbalanced quote: a quoted cell runs on past line {last}; check it"
            yield RawRow(line, {}, reason)
        except csv.Error as exc:
            line = lines.record_start()
            lines.reread_after_first()
            if "unexpected end of data" in str(exc):
                yield RawRow(line, {}, "unbalanced quote: a quoted cell is never closed")
            else:
                yield RawRow(line, {}, f"malformed CSV: {exc}")
        except _BadLine as bad:
            lines.taken.clear()
            yield RawRow(bad.number, {}, lines.bad_line())


def _check_duplicates(header: list[str], columns: list[str | None], path: Path) -> None:
    """Two headers meaning one field (订单编号 and order_id): which one is right cannot be
    guessed, so the file is refused rather than one silently winning."""
    seen: dict[str, str] = {}
    for name, column in zip(header, columns, strict=True):
        if column is None:
            continue
        if column in seen:
            raise FileUnreadable(
                f"{path}: columns {seen[column].strip()!r} and {name.strip()!r} both mean "
                f"{column}; keep one of them"
            )
        seen[column] = name


def _jsonl_rows(lines: _Lines) -> Iterator[RawRow]:
    try:
        yield from _jsonl_records(lines)
    finally:
        lines.close()


def _jsonl_records(lines: _Lines) -> Iterator[RawRow]:
    while True:
        try:
            line = next(lines)
        except StopIteration:
            return
        except _BadLine as bad:
            yield RawRow(bad.number, {}, lines.bad_line())
            continue
        number = lines.record_start()
        lines.taken.clear()
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
