"""Building routes from the sink config (alerts/sinks/routing.py): secrets read from the
environment, a missing one reported with its key, limiters per route."""

from __future__ import annotations

import httpx
import pytest

from alerts.sinks import SinkSetupError, build_routes
from alerts.sinks.wecom import WeComSink
from tests.support.config import make_config
from tests.support.sinks import (
    run,
)


def test_missing_secrets_are_reported_with_their_key() -> None:
    config = make_config(sinks=[
        {"type": "slack", "url_env": "SLACK_URL"},
        {"type": "dingtalk", "url_env": "DING_URL", "secret_env": "DING_SECRET"},
    ])  # fmt: skip

    async def build(client: httpx.AsyncClient) -> None:
        env = {"SLACK_URL": "https://hooks.example/T/B/X", "DING_URL": "https://ding.example/"}
        with pytest.raises(SinkSetupError) as caught:
            build_routes(config.sinks, client, env=env)
        assert caught.value.key == "sinks[1].secret_env"
        routes = build_routes(config.sinks, client, env=env | {"DING_SECRET": "SECx"})
        assert [r.name for r in routes] == ["slack", "dingtalk"]
        assert routes[1].limiter is not None and routes[1].limiter.limit == 20

    run(build)


def test_build_routes_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PW_TEST_WECOM_URL", "https://robot.example/send?key=K")
    config = make_config(sinks=[{"type": "wecom", "url_env": "PW_TEST_WECOM_URL"}])

    async def build(client: httpx.AsyncClient) -> None:
        (route,) = build_routes(config.sinks, client)
        assert isinstance(route.sink, WeComSink) and route.sink.url.endswith("key=K")

    run(build)
