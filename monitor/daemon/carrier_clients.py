"""Build the tracking API clients from `[carriers.*]`: one adapter per API account (API and
address), serving every carrier configured on it. Credentials come from the environment
(carriers/*/adapter.py `from_env`); a missing one stops start-up with its variable's name."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import httpx

from carriers.aftership.adapter import AfterShipAdapter
from carriers.base import TrackingAdapter
from carriers.kuaidi100.adapter import Kuaidi100Adapter
from carriers.track17.adapter import Track17Adapter
from monitor.config import CarrierConfig, Config
from monitor.daemon.poller import CarrierClient
from monitor.metrics.instruments import UNKNOWN_CODES

# The simulator speaks Kuaidi100's protocol and accepts these demo credentials; they grant
# nothing anywhere else.
SIM_CUSTOMER = "PARCELWATCHSIM"
SIM_KEY = "parcelwatch-sim-key"
SIM_SALT = "parcelwatch-sim-salt"
SIM_17TRACK_KEY = "parcelwatch-sim-17token"
DEFAULT_SIM_URL = "http://127.0.0.1:9000"


def count_unknown(api: str, code: str) -> None:
    UNKNOWN_CODES.labels(api=api, code=code).inc()


def _adapter(
    kind: str,
    base_url: str | None,
    codes: Mapping[str, str],
    http: httpx.AsyncClient,
    environ: Mapping[str, str],
) -> TrackingAdapter:
    common: dict[str, Any] = {"carrier_codes": codes, "on_unknown_code": count_unknown}
    if kind == "kuaidi100":
        return Kuaidi100Adapter.from_env(http, base_url, environ=environ, **common)
    if kind == "17track":
        return Track17Adapter.from_env(http, base_url, environ=environ, **common)
    if kind == "aftership":
        return AfterShipAdapter.from_env(http, base_url, environ=environ, **common)
    return Kuaidi100Adapter(
        http, customer=SIM_CUSTOMER, key=SIM_KEY, salt=SIM_SALT,
        base_url=base_url or DEFAULT_SIM_URL, **common,
    )  # fmt: skip


def build_clients(
    config: Config, http: httpx.AsyncClient, environ: Mapping[str, str] | None = None
) -> list[CarrierClient]:
    env = os.environ if environ is None else environ
    groups: dict[tuple[str, str | None], list[tuple[str, CarrierConfig]]] = {}
    for code, carrier in config.carriers.items():
        groups.setdefault((carrier.adapter, carrier.base_url), []).append((code, carrier))
    clients = []
    for (kind, base_url), members in groups.items():
        codes = {code: c.code for code, c in members if c.code}
        rates = [c.rate_per_second for _, c in members if c.rate_per_second]
        clients.append(
            CarrierClient(
                _adapter(kind, base_url, codes, http, env),
                frozenset(code for code, _ in members),
                rate_per_second=min(rates) if rates else None,
            )
        )
    return clients
