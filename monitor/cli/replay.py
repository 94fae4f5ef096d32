"""`parcelwatch replay --since`: run the push bodies kept as received through today's parsers
again, after a parser fix. Idempotent: events are stored once whatever the order they arrive
in, and a parcel's state only moves forward, so replaying twice, or replaying what was
already parsed right, changes nothing. Poll answers are kept too (as evidence of what the
carrier said), but are not replayed: their parsers need the question they answered."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click
import httpx

from carriers.apis import PUSH_NAMES
from carriers.base import CarrierAPIError, SignatureError, TrackingUpdate
from monitor.cli.common import config_option, fail, load, open_store, out, parse_moment
from monitor.clock import SystemClock
from monitor.daemon.carrier_clients import build_clients
from monitor.ingest.poll_schedule import PlanInput
from monitor.ingest.tracking import apply_updates
from monitor.store.raw_answers import raw_answers

BATCH = 200


@click.command("replay")
@click.option("--since", required=True, help="Replay bodies received from this moment (ISO 8601).")
@click.option("--api", type=click.Choice(PUSH_NAMES), default=None, help="Only this push path.")
@config_option
def replay(since: str, api: str | None, config_path: Path | None) -> None:
    """Parse stored carrier pushes again with today's parsers and store what they say."""
    config = load(config_path)
    engine = open_store(config)
    moment = parse_moment(since, config)
    try:
        clients = build_clients(config, httpx.AsyncClient())
    except CarrierAPIError as exc:
        fail(f"carriers: {exc}")
        return
    accounts = {c.push_name: c for c in clients if c.adapter.supports_push}
    now, plan = SystemClock().now(), PlanInput(config)
    bodies = refused = unconfigured = updates_total = events = 0
    pending: list[TrackingUpdate] = []

    def flush() -> None:
        nonlocal events
        if pending:
            events += apply_updates(engine, pending, now, subscribed=True, plan=plan).events
            pending.clear()

    for raw in raw_answers(engine, moment, api, source="push"):
        bodies += 1
        account = accounts.get(raw.api)
        if account is None:
            unconfigured += 1
            continue
        try:
            parsed = account.adapter.parse_push(raw.headers, raw.body)
        except (SignatureError, ValueError):
            refused += 1  # a changed secret, or a body today's parser still cannot read
            continue
        updates_total += len(parsed.updates)
        pending.extend(replace(u, carriers_allowed=account.carriers) for u in parsed.updates)
        if len(pending) >= BATCH:
            flush()
    flush()
    out.print(
        f"replayed {bodies} stored pushes since {moment.isoformat()}: {updates_total} updates, "
        f"{events} events offered (stored once each); {refused} refused by today's parser or "
        f"secret, {unconfigured} for push paths with no account configured",
        highlight=False,
    )
