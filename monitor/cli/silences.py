"""`parcelwatch silences list|add|end`: silences from the terminal (alerts/silences.py)."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path

import click

from alerts.silences import SilenceError
from monitor.cli.common import config_option, fail, load, open_store, out, parse_moment
from monitor.clock import SystemClock
from monitor.store.silences import create_silence, end_silence, list_silences


@click.group()
def silences() -> None:
    """Hold back notifications of alerts that are known and being handled."""


@silences.command("list")
@click.option("--ended", is_flag=True, help="Also the silences that have ended.")
@config_option
def silences_list(ended: bool, config_path: Path | None) -> None:
    """Silences in force (and, with --ended, past ones)."""
    engine = open_store(load(config_path))
    rows = list_silences(engine, SystemClock().now(), ended=ended)
    if not rows:
        out.print("no silences")
    for s in rows:
        matchers = " ".join(f"{k}={v}" for k, v in s.matchers.items())
        out.print(f"#{s.id} {matchers}  {s.starts_at:%Y-%m-%d %H:%M} → {s.ends_at:%Y-%m-%d %H:%M} "
                  f"UTC  by {s.created_by}: {s.reason}", highlight=False, markup=False)  # fmt: skip


@silences.command("add")
@click.option("--kind")
@click.option("--carrier")
@click.option("--province")
@click.option("--warehouse")
@click.option("--platform")
@click.option("--shop", help="The shop's name as the orders give it (店铺).")
@click.option("--until", "until", default=None, help="ISO 8601 end (default: --hours).")
@click.option("--hours", type=click.FloatRange(min=0.05, max=720), default=2, show_default=True)
@click.option("--reason", required=True, help="Why (shown on every alert it holds).")
@click.option("--by", default=None, help="Who makes it (default cli:<user>).")
@config_option
def silences_add(
    kind: str | None, carrier: str | None, province: str | None, warehouse: str | None,
    platform: str | None, shop: str | None, until: str | None, hours: float, reason: str,
    by: str | None, config_path: Path | None,
) -> None:  # fmt: skip
    """Make a silence, e.g. --carrier zto --province 广东 --hours 24 --reason "typhoon"."""
    config = load(config_path)
    engine = open_store(config)
    now = SystemClock().now()
    ends = parse_moment(until, config) if until else now + timedelta(hours=hours)
    matchers = {"kind": kind, "carrier": carrier, "province": province,
                "warehouse": warehouse, "platform": platform, "shop": shop}  # fmt: skip
    try:
        made = create_silence(engine, {k: v for k, v in matchers.items() if v}, now, ends,
                              reason, by or f"cli:{getpass.getuser()}", now)  # fmt: skip
    except SilenceError as exc:
        fail(str(exc))
        return
    out.print(f"silence #{made.id} until {made.ends_at.isoformat()}", highlight=False)


@silences.command("end")
@click.argument("silence_id", type=int)
@config_option
def silences_end(silence_id: int, config_path: Path | None) -> None:
    """End a silence now; the alerts it held are announced once on the next tick."""
    engine = open_store(load(config_path))
    if end_silence(engine, silence_id, SystemClock().now()) is None:
        fail(f"no silence with id {silence_id}", 1)
    out.print(f"silence #{silence_id} ended")
