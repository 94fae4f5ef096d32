"""The long-running commands: `run` (the daemon), `demo` (daemon + simulator + a seeded shop),
`sim` (the carrier simulator alone) and `sample` (a sample ERP export)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from alerts.sinks import SinkSetupError
from carriers.base import CarrierAPIError
from monitor.cli.common import (
    config_option,
    exit_quietly_on_sigterm,
    fail,
    load,
    out,
    parse_moment,
    setup_logging,
)
from monitor.clock import SystemClock
from monitor.config import Config


@click.command()
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("sample-orders.csv"),
    show_default=True,
)
@click.option("--orders", type=click.IntRange(1, 5_000_000), default=3000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--at", "at", default=None, help="The shop as of this moment (default now).")
@click.option(
    "--encoding",
    type=click.Choice(["utf-8-sig", "utf-8", "gb18030"]),
    default="utf-8-sig",
    show_default=True,
)
def sample(out_path: Path, orders: int, seed: int, at: str | None, encoding: str) -> None:
    """Write a realistic sample ERP export (for trying parcelwatch out)."""
    from monitor.demo.sample import generate_shop, write_csv

    moment = parse_moment(at, Config())
    rows = generate_shop(seed=seed, orders=orders, now=moment)
    write_csv(rows, out_path, encoding=encoding)
    out.print(f"wrote {len(rows)} orders as of {moment.isoformat()} to {out_path}")


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@config_option
def run_command(host: str, port: int, config_path: Path | None) -> None:
    """The daemon: scheduler (poll, subscribe, detect) + web API + /metrics."""
    from monitor.daemon.service import serve

    config = load(config_path)
    setup_logging()
    exit_quietly_on_sigterm()
    try:
        asyncio.run(serve(config, host, port, SystemClock()))
    except CarrierAPIError as exc:
        fail(f"carriers: {exc}")
    except SinkSetupError as exc:
        fail(f"{config_path or 'parcelwatch.toml'}: {exc}")
    except KeyboardInterrupt:
        pass


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--sim-port", type=click.IntRange(1, 65535), default=9000, show_default=True)
@click.option("--speed", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Simulated seconds per real second.")  # fmt: skip
@click.option("--db", "db_url", default=None,
              help="Database URL (default: a fresh SQLite file under ./demo).")  # fmt: skip
@click.option("--orders", type=click.IntRange(100, 1_000_000), default=3000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
def demo(
    port: int, sim_port: int, speed: float, db_url: str | None, orders: int, seed: int
) -> None:
    """The daemon with its carrier simulator on SQLite, a seeded shop and a fast clock."""
    from monitor.demo.run import run_demo

    setup_logging()
    exit_quietly_on_sigterm()
    run_demo(out, db_url=db_url, port=port, sim_port=sim_port, speed=speed, orders=orders,
             seed=seed)  # fmt: skip


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=9000, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--speed", type=click.FloatRange(min=0.001), default=1.0, show_default=True)
@click.option("--webhook", default=None, help="17TRACK webhook URL the simulator pushes to.")
def sim(host: str, port: int, seed: int, speed: float, webhook: str | None) -> None:
    """The carrier simulator alone (Kuaidi100 and 17TRACK wire formats), with the demo
    credentials that `adapter = "sim"` in the config uses."""
    from carriers.sim.credentials import SIM_17TRACK_KEY, SIM_CUSTOMER, SIM_KEY
    from carriers.sim.runner import serve

    out.print(f"carrier simulator on http://{host}:{port} (seed {seed}, clock ×{speed:g})")
    serve(
        host,
        port,
        seed=seed,
        speed=speed,
        kuaidi100_customer=SIM_CUSTOMER,
        kuaidi100_key=SIM_KEY,
        track17_key=SIM_17TRACK_KEY,
        track17_webhook_url=webhook,
    )
