"""Build the tracking API clients from `[carriers.*]`: one adapter per API account (API and
address), serving every carrier configured on it. Adapters are built from the table of
tracking APIs (carriers/apis.py); credentials come from the environment, and a missing one
stops start-up with its variable's name."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from carriers.apis import TRACKING_APIS
from monitor.config import CarrierConfig, Config
from monitor.daemon.poller import CarrierClient
from monitor.metrics.instruments import UNKNOWN_CODES


def count_unknown(api: str, code: str) -> None:
    UNKNOWN_CODES.labels(api=api, code=code).inc()


def build_clients(
    config: Config, http: httpx.AsyncClient, environ: Mapping[str, str] | None = None
) -> list[CarrierClient]:
    env = os.environ if environ is None else environ
    groups: dict[tuple[str, str | None], list[tuple[str, CarrierConfig]]] = {}
    for code, carrier in config.carriers.items():
        groups.setdefault((carrier.adapter, carrier.base_url), []).append((code, carrier))
    clients = []
    for (api, base_url), members in groups.items():
        codes = {code: c.code for code, c in members if c.code}
        rates = [c.rate_per_second for _, c in members if c.rate_per_second]
        options = {"carrier_codes": codes, "on_unknown_code": count_unknown}
        clients.append(
            CarrierClient(
                TRACKING_APIS[api].build(http, base_url, env, options),
                frozenset(code for code, _ in members),
                rate_per_second=min(rates) if rates else None,
                push_name=TRACKING_APIS[api].push_name,
            )
        )
    return clients
