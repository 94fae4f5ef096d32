"""Read a platform's penalty or compensation export (CSV, the headers in Chinese as the
platforms export them) into penalty lines (docs/evidence-and-penalties.md "Penalty exports").

The file is decoded like the ERP exports (UTF-8, with or without a BOM, or GB18030). A file
without an order, charge or amount column is refused as a whole; a bad line is reported by its
number and the others are read.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.config import PenaltiesConfig
from monitor.evidence.penalties import PenaltyLine, kind_of
from monitor.ingest.files import FileUnreadable, sniff_encoding
from monitor.ingest.records import PLATFORM_NAMES, parse_time

# Built-in header names per column, after the config's own (`[penalties] columns`).
HEADERS: dict[str, tuple[str, ...]] = {
    "order_id": ("订单号", "订单编号", "主订单号", "子订单号", "订单id", "order_id"),
    "kind": ("违规类型", "赔付类型", "处罚类型", "扣款类型", "违规原因", "赔付原因", "kind"),
    "amount": ("金额", "赔付金额", "处罚金额", "扣款金额", "违规金额", "赔付金额(元)", "amount"),
    "charged_at": (
        "时间",
        "处罚时间",
        "赔付时间",
        "扣款时间",
        "违规时间",
        "创建时间",
        "charged_at",
    ),
    "platform": ("平台", "platform"),
}
REQUIRED = ("order_id", "kind", "amount")
# Platform exports are in Beijing time whatever the warehouse's zone.
PLATFORM_ZONE = ZoneInfo("Asia/Shanghai")
_MONEY = re.compile(r"[¥￥元,，\s]")


@dataclass
class PenaltyFile:
    lines: list[PenaltyLine] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, what)
    unmapped_kinds: set[str] = field(default_factory=set)


def _columns(header: list[str], config: PenaltiesConfig) -> dict[str, int]:
    found: dict[str, int] = {}
    cleaned = [h.strip().lstrip("\ufeff").casefold() for h in header]
    for column, builtin in HEADERS.items():
        for name in (*config.columns.get(column, []), *builtin):
            if name.casefold() in cleaned:
                found[column] = cleaned.index(name.casefold())
                break
    return found


def _amount(text: str) -> float:
    value = float(_MONEY.sub("", text))
    # Some exports show a deduction as a negative number; the charge is its size.
    return abs(value)


def _platform(text: str, default: str | None) -> str:
    if not text:
        return default or "other"
    return PLATFORM_NAMES.get(text.casefold()) or PLATFORM_NAMES.get(text) or default or "other"


def read_penalties(path: Path, config: PenaltiesConfig, platform: str | None = None) -> PenaltyFile:
    return parse_penalties(path.read_bytes(), Path(path.name), config, platform)


def parse_penalties(
    data: bytes, path: Path, config: PenaltiesConfig, platform: str | None = None
) -> PenaltyFile:
    """`path` names the file in errors and in each line's `source`."""
    encoding = sniff_encoding(data[: 1 << 16], path)
    reader = csv.reader(io.StringIO(data.decode(encoding, "replace")))
    header = next(reader, None)
    if not header:
        raise FileUnreadable(f"{path}: empty file")
    columns = _columns(header, config)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        names = "; ".join(f"{c} ({' / '.join(HEADERS[c][:3])})" for c in missing)
        raise FileUnreadable(f"{path}: no column for {names}; the header is {header}")
    result = PenaltyFile()
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(column: str, row: list[str] = row) -> str:
            index = columns.get(column)
            return row[index].strip() if index is not None and index < len(row) else ""

        order_id, kind_text = cell("order_id"), cell("kind")
        try:
            if not order_id:
                raise ValueError("order_id: empty")
            if not kind_text:
                raise ValueError("kind: empty")
            try:
                amount = _amount(cell("amount"))
            except ValueError:
                raise ValueError(f"amount: not a number: {cell('amount')!r}") from None
            moment = cell("charged_at")
            charged_at = parse_time(moment, PLATFORM_ZONE) if moment else None
        except ValueError as exc:
            result.errors.append((number, str(exc)))
            continue
        kind = kind_of(kind_text, config.kinds)
        if kind.value == "other":
            result.unmapped_kinds.add(kind_text)
        result.lines.append(PenaltyLine(
            platform=_platform(cell("platform"), platform), order_id=order_id, kind=kind,
            kind_text=kind_text, amount=amount, charged_at=charged_at,
            source=f"{path.name}:{number}",
        ))  # fmt: skip
    return result
