"""A platform penalty export for the demo shop: charges on some of its shipped orders, as the
platforms' seller centres export them (docs/evidence-and-penalties.md "Penalty exports")."""

from __future__ import annotations

import csv
import random
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from monitor.demo.sample import DAY, format_local

PENALTY_HEADERS: Final = ("订单号", "平台", "违规类型", "赔付金额(元)", "处罚时间")
# What each platform calls the charges it makes, and what it charges (docs/rules.md
# "Compensation amounts"; Douyin's amounts are not published: the demo uses 5 ¥).
PENALTY_WORDINGS: Final = {
    "拼多多": (("延迟发货", 3.0), ("虚假发货", 20.0)),
    "抖音": (("发货超时", 5.0), ("揽收超时", 5.0), ("虚假发货超时", 5.0)),
    "淘宝": (("延迟发货", 5.0),),
    "天猫": (("延迟发货", 5.0),),
}


PICKUP_WORDINGS: Final = {"拼多多": ("虚假发货", 20.0), "抖音": ("揽收超时", 5.0)}


def penalty_sample(
    rows: Iterable[Mapping[str, str]],
    *,
    seed: int,
    now: datetime,
    lines: int = 40,
    picked_late: Collection[str] = (),
) -> list[dict[str, str]]:
    """A penalty export as the platforms' seller centres write it, for the demo: charges on
    orders shipped at least two days before `now`, two days after their shipment, and one on
    an order the shop does not hold. Half the charges fall on the orders that took longest to
    ship (where a platform's clock and the warehouse's disagree), half anywhere; and a pickup
    charge on each order whose number is in `picked_late` (the simulator's late pickups).
    Which can be appealed shows once the carriers' scans are in (`parcelwatch penalties
    report`)."""
    rng = random.Random(seed + 2)
    zone = ZoneInfo("Asia/Shanghai")

    def shipped_at(row: Mapping[str, str]) -> datetime:
        return datetime.fromisoformat(row["发货时间"]).replace(tzinfo=zone)

    shipped = [
        r
        for r in rows
        if r["发货时间"] and r["平台"] in PENALTY_WORDINGS and shipped_at(r) < now - 2 * DAY
    ]

    def hours_to_ship(row: Mapping[str, str]) -> float:
        paid = datetime.fromisoformat(row["付款时间"]).replace(tzinfo=zone)
        return (shipped_at(row) - paid).total_seconds() / 3600

    slowest = sorted(shipped, key=hours_to_ship, reverse=True)[: lines // 2]
    others = [r for r in shipped if r not in slowest]
    chosen = slowest + rng.sample(others, min(lines - len(slowest), len(others)))
    export = []
    for row in sorted(chosen, key=lambda r: r["发货时间"]):
        wording, amount = rng.choice(PENALTY_WORDINGS[row["平台"]])
        charged = format_local(shipped_at(row) + 2 * DAY, zone)
        line = (row["订单编号"], row["平台"], wording, f"{amount:.2f}", charged)
        export.append(dict(zip(PENALTY_HEADERS, line, strict=True)))
    for row in shipped:
        if row["快递单号"] in picked_late and row["平台"] in PICKUP_WORDINGS:
            wording, amount = PICKUP_WORDINGS[row["平台"]]
            charged = format_local(shipped_at(row) + 3 * DAY, zone)
            line = (row["订单编号"], row["平台"], wording, f"{amount:.2f}", charged)
            export.append(dict(zip(PENALTY_HEADERS, line, strict=True)))
    missing = ("PDD0000000000000", "拼多多", "延迟发货", "3.00", format_local(now - DAY, zone))
    export.append(dict(zip(PENALTY_HEADERS, missing, strict=True)))
    return export


def write_penalties(rows: Iterable[Mapping[str, str]], path: str | Path) -> None:
    with Path(path).open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(PENALTY_HEADERS))
        writer.writeheader()
        writer.writerows(rows)
