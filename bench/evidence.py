"""Benchmark: one order's evidence pack, and the penalty report, on a store holding a busy
shop's carrier bodies.

    python bench/evidence.py [--bodies 200000] [--lines 200] [--keep DIR]

Builds a SQLite store with `--bodies` kept carrier answers (Kuaidi100-shaped push bodies,
compressed, each linked to its tracking number as the webhook links it) for as many parcels
and orders. Then times, for one order: finding its bodies by the link index (what a pack
does, docs/evidence-and-penalties.md "Raw bodies in the pack") against the naive way measured
in the same run (decompress every body kept in the order's week and look for its number), and
building the pack as HTML, as PDF and as the zip. Then imports `--lines` penalty lines and
times the report's judgement of them, and the zip of packs for the contestable ones.
Cost should follow the order, not the number of bodies kept.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from monitor.config import parse_config
from monitor.evidence.documents import bundle, contestable_packs, order_evidence
from monitor.evidence.penalties import (
    PenaltyKind,
    PenaltyLine,
    judge_lines,
    store_lines,
    stored_lines,
)
from monitor.store.db import make_engine, upgrade
from monitor.store.raw_answers import answers_about
from monitor.store.tables import (
    CARRIER_ANSWER_NUMBERS,
    CARRIER_ANSWERS,
    ORDER_PARCELS,
    ORDERS,
    SHIPMENTS,
    TRACKING_EVENTS,
)

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
SEED = 20261128
CHUNK = 20_000


def body(number: str, picked: datetime) -> bytes:
    scans = [
        {
            "time": f"{picked + timedelta(hours=h):%Y-%m-%d %H:%M:%S}",
            "context": text,
            "status": None,
            "statusCode": code,
        }
        for h, text, code in (
            (0, "【杭州市】中通快递 已揽收", "1"),
            (9, "快件已到达【杭州转运中心】", "0"),
            (20, "快件已从【杭州转运中心】发出，准备发往【成都转运中心】", "0"),
        )
    ]
    param = {
        "status": "polling",
        "lastResult": {"nu": number, "com": "zhongtong", "state": "0", "data": scans[::-1]},
    }
    return f"param={json.dumps(param, ensure_ascii=False)}&sign=0".encode()


def build(url: str, bodies: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(SEED)
    for start in range(0, bodies, CHUNK):
        orders, parcels, links, events, answers, numbers = [], [], [], [], [], []
        for i in range(start, min(start + CHUNK, bodies)):
            paid = NOW - timedelta(hours=rng.uniform(30, 24 * 7))
            shipped = paid + timedelta(hours=rng.uniform(2, 40))
            picked = shipped + timedelta(hours=rng.uniform(0.5, 30))
            number = f"73{i:010d}"
            orders.append(
                {
                    "id": i + 1,
                    "platform": "pinduoduo",
                    "order_id": f"PDD{i:09d}",
                    "warehouse": "hz1",
                    "paid_at": paid,
                    "shipped_at": shipped,
                    "province": "四川",
                    "content_hash": "",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            parcels.append(
                {
                    "id": i + 1,
                    "order_id": f"PDD{i:09d}",
                    "platform": "pinduoduo",
                    "warehouse": "hz1",
                    "carrier": "zto",
                    "tracking_number": number,
                    "province": "四川",
                    "shipped_at": shipped,
                    "picked_up_at": picked,
                    "last_event_at": picked,
                    "status": "in_transit",
                    "content_hash": "",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            links.append({"sales_order_id": i + 1, "shipment_id": i + 1, "linked_at": NOW})
            events.append(
                {
                    "shipment_id": i + 1,
                    "occurred_at": picked,
                    "status": "picked_up",
                    "raw_code": "1",
                    "raw_text": "【杭州市】中通快递 已揽收",
                    "source": "push",
                    "received_at": picked,
                    "dedup_key": f"{number}:1",
                }
            )
            raw = body(number, picked)
            sha = f"{i:064x}"
            answers.append(
                {
                    "api": "kuaidi100",
                    "source": "push",
                    "received_at": picked,
                    "sha256": sha,
                    "headers": {},
                    "body": zlib.compress(raw, 6),
                }
            )
            numbers.append({"sha256": sha, "tracking_number": number})
        with engine.begin() as conn:
            for table, rows in (
                (ORDERS, orders),
                (SHIPMENTS, parcels),
                (ORDER_PARCELS, links),
                (TRACKING_EVENTS, events),
                (CARRIER_ANSWERS, answers),
                (CARRIER_ANSWER_NUMBERS, numbers),
            ):
                conn.execute(insert(table), rows)
    engine.dispose()


def timed(function, repeat: int = 5) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="pw-bench-evidence-"))
    url = f"sqlite:///{folder / 'evidence.db'}"
    started = time.perf_counter()
    build(url, args.bodies)
    print(
        f"store: {args.bodies:,} orders, parcels and kept bodies "
        f"({time.perf_counter() - started:.1f} s to build)"
    )
    engine = make_engine(url)
    config = parse_config({"database": {"url": url}, "warehouses": [{"id": "hz1"}]})
    target = args.bodies // 2
    number, order_id = f"73{target:010d}", f"PDD{target:09d}"

    linked, found = timed(lambda: answers_about(engine, [number]))
    assert len(found[number]) == 1  # type: ignore[index]

    def naive() -> int:
        # The week around the order, every body opened and searched for the number.
        with engine.connect() as conn:
            picked = conn.execute(
                select(SHIPMENTS.c.picked_up_at).where(SHIPMENTS.c.tracking_number == number)
            ).scalar_one()
            hits = 0
            query = select(CARRIER_ANSWERS.c.body).where(
                CARRIER_ANSWERS.c.received_at.between(
                    picked - timedelta(days=3), picked + timedelta(days=4)
                )
            )
            for (stored,) in conn.execute(query):
                hits += number.encode() in zlib.decompress(stored)
        return hits

    scan, hits = timed(naive, repeat=1)
    assert hits == 1
    print(
        f"one order's bodies: {linked * 1000:.2f} ms by the link index; "
        f"{scan * 1000:.0f} ms opening the week's bodies (naive): {scan / linked:,.0f}x"
    )
    for fmt in ("html", "pdf", "zip"):
        seconds, document = timed(
            lambda fmt=fmt: order_evidence(engine, config, order_id, NOW, fmt=fmt), repeat=3
        )  # type: ignore[misc]
        print(f"one pack as {fmt}: {seconds * 1000:.0f} ms ({len(document.data):,} bytes)")  # type: ignore[union-attr]

    rng = random.Random(SEED + 1)
    lines = [
        PenaltyLine(
            "pinduoduo",
            f"PDD{rng.randrange(args.bodies):09d}",
            rng.choice([PenaltyKind.LATE_SHIPMENT, PenaltyKind.FAKE_SHIPMENT]),
            "延迟发货",
            3.0,
            NOW - timedelta(days=1),
            f"bench:{i}",
        )
        for i in range(args.lines)
    ]
    store_lines(engine, lines, NOW)
    judging, judged = timed(
        lambda: judge_lines(engine, config, stored_lines(engine), NOW), repeat=3
    )
    contestable = [j for j in judged if j.outcome.value == "contestable"]  # type: ignore[attr-defined]
    print(
        f"penalty report, {args.lines} lines judged: {judging * 1000:.0f} ms "
        f"({judging / args.lines * 1000:.1f} ms a line); {len(contestable)} contestable"
    )
    started = time.perf_counter()
    packed = bundle(contestable_packs(judged, config, NOW))  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    print(
        f"zip of {len(contestable)} packs: {seconds:.1f} s "
        f"({seconds / max(len(contestable), 1) * 1000:.0f} ms a pack, {len(packed):,} bytes)"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
