"""`python -m carriers.sim`: the carrier simulator alone (the daemon's `parcelwatch sim`
calls `carriers.sim.runner.serve` the same way). Credentials come from the daemon's
environment variables (PARCELWATCH_KUAIDI100_CUSTOMER, PARCELWATCH_KUAIDI100_KEY,
PARCELWATCH_17TRACK_KEY) or are made up and printed."""

from __future__ import annotations

import argparse
import logging
from datetime import datetime

from carriers.sim.runner import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m carriers.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=None,
        help="simulated start, ISO 8601 with a zone (default: now)",
    )
    parser.add_argument("--webhook", default=None, help="17TRACK webhook URL for pushes")
    parser.add_argument("--push-interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    serve(
        args.host,
        args.port,
        seed=args.seed,
        speed=args.speed,
        start=args.start,
        track17_webhook_url=args.webhook,
        push_interval=args.push_interval,
    )


if __name__ == "__main__":
    main()
