"""Sink config validated from the table of sink types (alerts/sinks/table.py): errors name the
key at fault and never print a secret; defaults per type."""

from __future__ import annotations

import pytest

from alerts.sinks.wecom import WeComSinkConfig
from monitor.config import ConfigError
from tests.support.config import make_config


def test_sink_config_errors_name_the_key() -> None:
    cases = {
        "sinks[0].url_env": {"type": "wecom"},
        "sinks[0].url": {"type": "dingtalk", "url": "https://x/robot/send?access_token=T",
                         "url_env": "DING_URL"},
        "sinks[0].type": {"type": "pager"},
        "sinks[0].secret_env": {"type": "webhook", "url": "https://crm.example/hook"},
        "sinks[0].kinds[0]": {"type": "wecom", "url_env": "W", "kinds": ["stale"]},
        "sinks[0].events": {"type": "slack", "url_env": "S", "events": ["shipped"]},
        "sinks[1].name": [{"type": "wecom", "url_env": "A"}, {"type": "wecom", "url_env": "B"}],
        "sinks[0].to": {"type": "email", "host": "smtp", "from": "a@b.c", "to": []},
    }  # fmt: skip
    for key, sinks in cases.items():
        with pytest.raises(ConfigError) as caught:
            make_config(sinks=sinks if isinstance(sinks, list) else [sinks])
        assert caught.value.key == key, caught.value
    with pytest.raises(ConfigError) as caught:
        make_config(sinks=[{"type": "wecom", "url": "https://x?key=SECRET", "url_env": "W"}])
    assert "SECRET" not in str(caught.value)

    config = make_config(sinks=[
        {"type": "wecom", "url_env": "W"},
        {"type": "webhook", "name": "crm", "url": "https://crm.example/hook",
         "secret_env": "CRM_SECRET", "events": ["shipped", "exception_opened", "delivered"]},
        {"type": "alertmanager", "url": "http://am:9093"},
    ])  # fmt: skip
    wecom, crm, am = config.sinks
    assert isinstance(wecom, WeComSinkConfig)
    assert (wecom.name, wecom.rate_per_minute, wecom.digest_after) == ("wecom", 20, 10)
    assert crm.outbox_events() == {"parcel_shipped", "opened", "parcel_delivered"}
    assert am.kinds == ["carrier_incident", "hub_incident", "carrier_api_failing"]
    assert am.accepts("resolved", "carrier_incident", "critical")
    assert not am.accepts("opened", "lost", "critical")
