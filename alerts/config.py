"""`[[sinks]]` in parcelwatch.toml: where notifications go and which ones, validated once.

    [[sinks]]
    type = "wecom"                      # webhook | wecom | dingtalk | slack | alertmanager | email
    name = "hz1-leads"                  # default: the type; must be unique (delivery is tracked
                                        # per sink name)
    url_env = "PARCELWATCH_WECOM_URL"   # robot URLs hold their key: from the environment only
    kinds = ["no_pickup_scan", "lost", "carrier_incident"]   # default: every kind
    min_severity = "warning"            # or "critical"
    events = ["opened", "escalated"]    # + "resolved"; webhooks also "shipped", "delivered",
                                        # "exception_opened" (= opened) for customer care
    rate_per_minute = 20                # default 20 for WeCom and DingTalk robots
                                        # (docs/observability.md "Chat robots")
    digest_after = 10                   # more than this many waiting: one digest message

`kinds` and `min_severity` filter alert events only; parcel events (shipped, delivered) have
neither. Secrets (`url_env`, `secret_env`, `username_env`, `password_env`) name environment
variables, never values; they are read when the sinks are built (alerts/sinks/routing.py).

Errors name the sink's key as the rest of the config does: `sinks[0].url_env: ...`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import or_
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError

from alerts.sinks.settings import SinkSettings
from alerts.sinks.table import SINK_TYPES


def _untag(value: Any, handler: Any) -> Any:
    """Pydantic puts the union tag in an error's location (`sinks.0.wecom.url_env`); the
    person editing the file knows the key as `sinks[0].url_env`. Also say what the known
    types are when `type` is missing or unknown."""
    try:
        return handler(value)
    except ValidationError as exc:
        details: list[Any] = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            error_type, message = error["type"], error["msg"]
            if loc and loc[0] in SINK_TYPES:
                loc = loc[1:]
            if error_type in ("union_tag_invalid", "union_tag_not_found"):
                given = value.get("type") if isinstance(value, dict) else None
                loc = ("type",)
                error_type = "sink_type"
                message = (
                    f"unknown sink type {given!r}; " if given is not None else "missing; "
                ) + f"use one of {', '.join(SINK_TYPES)}"
            details.append(
                {
                    "type": PydanticCustomError(error_type, "{reason}", {"reason": message}),
                    "loc": loc,
                    "input": error.get("input"),
                }
            )
        raise ValidationError.from_exception_data(exc.title, details) from None


# One config model per row of the sink table, told apart by `type`. Built at run time from
# the table, so type checkers see the common base.
if TYPE_CHECKING:
    SinkConfig = SinkSettings
else:
    _AnySink = Annotated[
        reduce(or_, (sink.config for sink in SINK_TYPES.values())),
        Field(discriminator="type"),
    ]
    SinkConfig = Annotated[_AnySink, WrapValidator(_untag)]


def _unique_names(sinks: list[SinkSettings]) -> list[SinkSettings]:
    seen: dict[str, int] = {}
    for index, sink in enumerate(sinks):
        if sink.name in seen:
            raise ValidationError.from_exception_data(
                "sinks",
                [
                    {
                        "type": PydanticCustomError(
                            "sink_config",
                            "{reason}",
                            {
                                "reason": f"{sink.name!r} is already the name of "
                                f"sinks[{seen[sink.name]}]; give each sink its own `name` "
                                "(delivery is tracked per name)"
                            },
                        ),
                        "loc": (index, "name"),
                        "input": sink.name,
                    }
                ],
            )
        seen[sink.name] = index
    return sinks


# The type of Config.sinks: a list of sinks with distinct names.
SinkList = Annotated[list[SinkConfig], AfterValidator(_unique_names)]


def secret_env_names(sink: SinkSettings) -> Iterable[tuple[str, str]]:
    """(key, variable) for every environment variable this sink reads."""
    for key in ("url_env", "secret_env", "username_env", "password_env"):
        variable = getattr(sink, key, None)
        if isinstance(variable, str):
            yield key, variable
