"""The tracking APIs parcelwatch speaks, declared in one table.

A row names the API as the config spells it (`[carriers.<code>] adapter = "<name>"`), says
how to build its adapter (credentials from the environment, never from the config file),
which environment variables it reads, and whether it takes push callbacks (then at
`/webhooks/<name>`). Config validation, the daemon's client factory, the webhook route and
the docs are driven from this table, so adding an API is one package under carriers/ plus
one row here (docs/tracking-apis.md describes each).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from carriers import aftership, kuaidi100, track17
from carriers.aftership.adapter import AfterShipAdapter
from carriers.base import TrackingAdapter
from carriers.kuaidi100.adapter import Kuaidi100Adapter
from carriers.sim.credentials import DEFAULT_SIM_URL, SIM_CUSTOMER, SIM_KEY, SIM_SALT
from carriers.track17.adapter import Track17Adapter

# (http client, base_url or None, environment, adapter options) -> adapter
AdapterFactory = Callable[
    [httpx.AsyncClient, str | None, Mapping[str, str], Mapping[str, Any]], TrackingAdapter
]


@dataclass(frozen=True)
class TrackingAPI:
    name: str  # `adapter = "<name>"` in the config
    build: AdapterFactory
    credentials: tuple[str, ...]  # environment variables the adapter reads
    push: bool  # takes push callbacks at /webhooks/<push_name>
    push_name: str  # its webhook is /webhooks/<push_name>
    summary: str


def _simulator(
    http: httpx.AsyncClient, base_url: str | None, _env: Mapping[str, str], opts: Mapping[str, Any]
) -> TrackingAdapter:
    return Kuaidi100Adapter(
        http, customer=SIM_CUSTOMER, key=SIM_KEY, salt=SIM_SALT,
        base_url=base_url or DEFAULT_SIM_URL, **opts,
    )  # fmt: skip


TRACKING_APIS: Mapping[str, TrackingAPI] = {
    api.name: api
    for api in (
        TrackingAPI(
            "kuaidi100",
            lambda http, url, env, opts: Kuaidi100Adapter.from_env(http, url, environ=env, **opts),
            (kuaidi100.adapter.ENV_CUSTOMER, kuaidi100.adapter.ENV_KEY, kuaidi100.adapter.ENV_SALT),
            push=True,
            push_name="kuaidi100",
            summary="快递100: query, subscribe and signed form-encoded push callbacks",
        ),
        TrackingAPI(
            "17track",
            lambda http, url, env, opts: Track17Adapter.from_env(http, url, environ=env, **opts),
            (track17.adapter.ENV_KEY,),
            push=True,
            push_name="17track",
            summary="17TRACK v2.2: register, gettrackinfo and signed JSON webhooks",
        ),
        TrackingAPI(
            "aftership",
            lambda http, url, env, opts: AfterShipAdapter.from_env(http, url, environ=env, **opts),
            (aftership.adapter.ENV_KEY, aftership.adapter.ENV_WEBHOOK_SECRET),
            push=True,
            push_name="aftership",
            summary="AfterShip Tracking API: trackings and HMAC-signed webhooks",
        ),
        TrackingAPI(
            "sim",
            _simulator,
            (),
            push=True,
            # Its own webhook: its salt is public, so it must never verify a push that
            # arrives for a real Kuaidi100 account at /webhooks/kuaidi100.
            push_name="sim",
            summary="the carrier simulator (Kuaidi100's protocol, public demo credentials)",
        ),
    )
}
API_NAMES = tuple(TRACKING_APIS)
PUSH_NAMES = tuple(sorted({api.push_name for api in TRACKING_APIS.values() if api.push}))
