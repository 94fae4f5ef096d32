"""Sinks built from `[[sinks]]`: each with its filters and its rate limiter (a `Route`).

Build the routes once per process and keep them: a route's limiter remembers what was sent
in the last minute. Secrets are read from the environment here, once; a variable that is not
set is an error naming the key (`sinks[0].url_env`), raised before anything is sent.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from alerts.sinks.base import Notification, Now, Sink, utc_now
from alerts.sinks.ratelimit import SlidingWindowLimiter
from alerts.sinks.render import Renderer
from alerts.sinks.settings import SinkParts, SinkSettings
from alerts.sinks.table import SINK_TYPES


class SinkSetupError(ValueError):
    """A sink cannot be built: `key` is the config key at fault (`sinks[0].url_env`)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass
class Route:
    """One sink with what decides what reaches it and how fast."""

    sink: Sink
    settings: SinkSettings
    limiter: SlidingWindowLimiter | None = None

    @property
    def name(self) -> str:
        return self.sink.name

    @property
    def digest_after(self) -> int | None:
        return self.settings.digest_after

    def accepts(self, n: Notification) -> bool:
        return self.settings.accepts(n.event, n.kind, n.severity, n.text("group"))


def _env(env: Mapping[str, str], index: int, key: str, variable: str | None) -> str | None:
    if variable is None:
        return None
    value = env.get(variable, "").strip()
    if not value:
        raise SinkSetupError(
            f"sinks[{index}].{key}", f"environment variable {variable} is not set or empty"
        )
    return value


def build_sink(
    settings: SinkSettings,
    client: httpx.AsyncClient,
    *,
    index: int = 0,
    env: Mapping[str, str] | None = None,
    public_url: str | None = None,
    now: Now = utc_now,
) -> Sink:
    env = os.environ if env is None else env
    renderer = Renderer(public_url, settings.timezone)
    timeout = settings.timeout_seconds

    def url() -> str:
        given = getattr(settings, "url", None)
        value = given or _env(env, index, "url_env", getattr(settings, "url_env", None))
        if not value:  # the config model requires one of them
            raise SinkSetupError(f"sinks[{index}].url_env", "no URL given")
        return str(value)

    def secret(key: str) -> str | None:
        return _env(env, index, key, getattr(settings, key, None))

    sink_type = SINK_TYPES.get(settings.type)
    if sink_type is None:
        raise SinkSetupError(f"sinks[{index}].type", f"unknown sink type {settings.type!r}")
    parts = SinkParts(settings.name, client, renderer, timeout, now, url, secret)
    return sink_type.build(settings, parts)


def build_routes(
    configs: Sequence[SinkSettings],
    client: httpx.AsyncClient,
    *,
    env: Mapping[str, str] | None = None,
    public_url: str | None = None,
    now: Now = utc_now,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[Route]:
    """Every configured sink, ready to deliver. Raises SinkSetupError (with the key) when a
    secret is missing from the environment."""
    routes = []
    for index, settings in enumerate(configs):
        sink = build_sink(settings, client, index=index, env=env, public_url=public_url, now=now)
        limiter = (
            SlidingWindowLimiter.per_minute(settings.rate_per_minute, clock=clock, sleep=sleep)
            if settings.rate_per_minute
            else None
        )
        routes.append(Route(sink, settings, limiter))
    return routes
