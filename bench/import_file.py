"""Benchmark: importing a large ERP export, memory and speed.

Target (issue "hardening"): peak memory flat with file size, at most 150 MB for 1,000,000
rows, with progress. The file is the sample shop's export (`parcelwatch sample`, 10,000
orders) repeated with fresh order and tracking numbers up to --rows. Each measurement runs in
its own process, so its peak RSS is its own:

- reader: the streaming reader alone (monitor/ingest/files.py `open_rows`), every row;
- naive reader: the whole file read, decoded and split at once (how the importer read files
  before), the baseline;
- import: `parcelwatch import` end to end into a fresh SQLite file (as a user runs it).

Run: .venv/bin/python bench/import_file.py [--rows 1000000] [--skip-import]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CONFIG = """[database]
url = "sqlite:///{db}"
{warehouses}
"""


def make_file(path: Path, rows: int) -> None:
    from monitor.demo.sample import DEMO_WAREHOUSES, generate_shop, write_csv

    seed_file = path.with_suffix(".seed.csv")
    write_csv(generate_shop(seed=11, orders=10_000, now=datetime(2026, 11, 24, 6, tzinfo=UTC)),
              seed_file)  # fmt: skip
    with seed_file.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        base = list(reader)
    order, tracking = header.index("订单编号"), header.index("快递单号")
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for n in range(rows):
            row = list(base[n % len(base)])
            copy = n // len(base)
            row[order] = f"{row[order]}-{copy}"
            if row[tracking]:
                row[tracking] = f"{row[tracking]}{copy:03d}"
            writer.writerow(row)
    seed_file.unlink()
    warehouses = "".join(
        f'\n[[warehouses]]\nid = "{w["id"]}"\nprovince = "{w["province"]}"\n'
        f'timezone = "{w["timezone"]}"\n'
        for w in DEMO_WAREHOUSES
    )
    db = path.with_suffix(".db")
    path.with_suffix(".toml").write_text(CONFIG.format(db=db, warehouses=warehouses))


def child_reader(path: str, naive: bool) -> None:
    from monitor.ingest.files import open_rows

    started = time.perf_counter()
    if naive:
        text = Path(path).read_bytes().decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        count = len(rows) - 1
    else:
        count = sum(1 for _ in open_rows(Path(path)).rows)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": count, "seconds": seconds, "peak_mib": peak}))


def measure(args: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode not in (0, 1):
        raise SystemExit(f"{args}: exit {done.returncode}\n{done.stderr[-2000:]}")
    line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
    result = json.loads(line) if line.startswith("{") else {}
    return {"seconds": seconds, "peak_mib": peak, **result,
            "summary": (done.stdout + done.stderr).strip().splitlines()[-1:]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-import", action="store_true")
    options = parser.parse_args()
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return
    folder = Path(tempfile.mkdtemp(prefix="parcelwatch-import-bench-"))
    path = folder / "orders.csv"
    started = time.perf_counter()
    make_file(path, options.rows)
    size = path.stat().st_size / 2**20
    print(f"parcelwatch import benchmark: {options.rows:,} rows, {size:.0f} MiB "
          f"(written in {time.perf_counter() - started:.0f} s)")  # fmt: skip
    me = [sys.executable, __file__]
    # Children report their own peak; RUSAGE_CHILDREN is the largest child so far, so the
    # smaller measurements run first.
    streaming = measure([*me, "--child-reader", str(path)])
    print(f"  streaming reader: {streaming['rows']:,} rows in {streaming['seconds']:.1f} s, "
          f"peak {streaming['peak_mib']:.0f} MiB")  # fmt: skip
    if not options.skip_import:
        imported = measure([str(Path(sys.executable).with_name("parcelwatch")), "import",
                            str(path), "--config", str(path.with_suffix(".toml"))])  # fmt: skip
        rate = options.rows / imported["seconds"]
        print(f"  parcelwatch import: {imported['seconds']:.0f} s ({rate:,.0f} rows/s), "
              f"peak {imported['peak_mib']:.0f} MiB (target 150)")  # fmt: skip
        print(f"    {''.join(imported['summary'])}")
    naive = measure([*me, "--child-naive", str(path)])
    print(f"  naive whole-file reader (baseline): {naive['seconds']:.1f} s, "
          f"peak {naive['peak_mib']:.0f} MiB")  # fmt: skip
    print(f"  peak memory, naive / streaming reader: "
          f"{naive['peak_mib'] / streaming['peak_mib']:.1f}x")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--child-reader", "--child-naive"):
        child_reader(sys.argv[2], naive=sys.argv[1] == "--child-naive")
    else:
        main()
