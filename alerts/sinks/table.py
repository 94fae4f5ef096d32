"""The sink types, declared in one table: `type = "<name>"` in `[[sinks]]` picks a row.
Config validation (alerts/config.py) and building (alerts/sinks/routing.py) are driven from
it, so adding a channel is one module under alerts/sinks/ (its payload, its answers, its
config model and a `SINK` row) plus its line here."""

from __future__ import annotations

from collections.abc import Mapping

from alerts.sinks import alertmanager, dingtalk, slack, smtp, webhook, wecom
from alerts.sinks.settings import SinkType

SINK_TYPES: Mapping[str, SinkType] = {
    sink.name: sink
    for sink in (webhook.SINK, wecom.SINK, dingtalk.SINK, slack.SINK, alertmanager.SINK, smtp.SINK)
}
