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
    rate_per_minute = 20                # default 20 for WeCom and DingTalk robots (§A5)
    digest_after = 10                   # more than this many waiting: one digest message

`kinds` and `min_severity` filter alert events only; parcel events (shipped, delivered) have
neither. Secrets (`url_env`, `secret_env`, `username_env`, `password_env`) name environment
variables, never values; they are read when the sinks are built (alerts/sinks/routing.py).

Errors name the sink's key as the rest of the config does: `sinks[0].url_env: ...`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from alerts.model import SEVERITY_RANK, AlertKind

SINK_TYPES = ("webhook", "wecom", "dingtalk", "slack", "alertmanager", "email")
KINDS = tuple(k.value for k in AlertKind)
# Config event names -> outbox events. `exception_opened` is the customer-care name for an
# alert opening; `shipped` and `delivered` are parcel lifecycle events (webhooks only).
EVENTS = {
    "opened": "opened",
    "exception_opened": "opened",
    "escalated": "escalated",
    "resolved": "resolved",
    "shipped": "parcel_shipped",
    "delivered": "parcel_delivered",
    "scorecard": "scorecard_weekly",
}
PARCEL_EVENT_NAMES = frozenset({"shipped", "delivered"})
EventName = Literal[
    "opened", "exception_opened", "escalated", "resolved", "shipped", "delivered", "scorecard"
]
AGGREGATE_KINDS = [AlertKind.CARRIER_INCIDENT.value, AlertKind.CARRIER_API_FAILING.value]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(
            "expected the NAME of an environment variable (letters, digits, _), not its value"
        )
    return value


def _known_kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(f"unknown alert kind {value!r}; use one of {', '.join(KINDS)}")
    return value


def check_timezone(value: str) -> str:
    """An IANA zone name (a sink's digest times are shown in its zone)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Asia/Shanghai'"
        ) from None
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("expected an http:// or https:// URL")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
KindName = Annotated[str, AfterValidator(_known_kind)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]


def key_error(model: BaseModel, key: str, reason: str) -> ValidationError:
    """A validation error located at `key` of this sink (so the message names
    `sinks[0].<key>`), from a check that spans several fields."""
    return ValidationError.from_exception_data(
        type(model).__name__,
        [
            {
                "type": PydanticCustomError("sink_config", "{reason}", {"reason": reason}),
                "loc": (key,),
                # A mapping, so that the message does not echo a value (which may be a key).
                "input": {"type": getattr(model, "type", None)},
            }
        ],
    )


class SinkSettings(BaseModel):
    """What every sink has: its name, its filters, its pace."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str
    name: str = Field(default="", max_length=64)
    kinds: list[KindName] | None = None  # None: every kind
    min_severity: Literal["warning", "critical"] = "warning"
    events: list[EventName] = ["opened", "escalated"]
    rate_per_minute: Annotated[float, Field(gt=0)] | None = None
    digest_after: Annotated[int, Field(ge=1)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10
    timezone: Annotated[str, AfterValidator(check_timezone)] = (
        "Asia/Shanghai"  # for the times shown
    )

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("name") and isinstance(data.get("type"), str):
            return {**data, "name": data["type"]}
        return data

    @model_validator(mode="after")
    def _parcel_events_for_webhooks(self) -> SinkSettings:
        parcel = PARCEL_EVENT_NAMES.intersection(self.events)
        if parcel and self.type != "webhook":
            raise key_error(
                self,
                "events",
                f"{', '.join(sorted(parcel))}: parcel events go to webhooks only "
                "(a CRM or SMS tool messages the buyer); chat and paging sinks take alert events",
            )
        return self

    def outbox_events(self) -> frozenset[str]:
        return frozenset(EVENTS[e] for e in self.events)

    def accepts(self, event: str, kind: str | None, severity: str | None) -> bool:
        """Whether a notification goes to this sink."""
        if event not in self.outbox_events():
            return False
        if event.startswith(("parcel_", "scorecard_")):
            return True  # kinds and severity describe alerts
        if self.kinds is not None and kind not in self.kinds:
            return False
        ranks = {s.value: rank for s, rank in SEVERITY_RANK.items()}
        return ranks.get(severity or "", 0) >= ranks[self.min_severity]


class _UrlInFileOrEnv(SinkSettings):
    """Endpoints that are not secrets by themselves (a webhook signed with a secret, an
    Alertmanager): `url` in the file or `url_env`."""

    url: HttpUrl | None = None
    url_env: EnvName | None = None

    @model_validator(mode="after")
    def _one_url(self) -> _UrlInFileOrEnv:
        if self.url is None and self.url_env is None:
            raise key_error(self, "url_env", "give the endpoint as `url` or `url_env`")
        if self.url is not None and self.url_env is not None:
            raise key_error(self, "url_env", "give `url` or `url_env`, not both")
        return self


class _RobotUrl(SinkSettings):
    """Robot and incoming-webhook URLs carry their key: from the environment only."""

    url_env: EnvName
    url: str | None = None

    @model_validator(mode="after")
    def _not_in_file(self) -> _RobotUrl:
        if self.url is not None:
            raise key_error(
                self,
                "url",
                "this URL holds the robot's key, so it is never written in the file: put it "
                "in an environment variable and name that variable in `url_env`",
            )
        return self


class WebhookSinkConfig(_UrlInFileOrEnv):
    type: Literal["webhook"]
    secret_env: EnvName  # HMAC-SHA256 key for X-Parcelwatch-Signature


class WeComSinkConfig(_RobotUrl):
    type: Literal["wecom"]
    rate_per_minute: Annotated[float, Field(gt=0)] | None = 20  # per robot (§A5)
    digest_after: Annotated[int, Field(ge=1)] | None = 10


class DingTalkSinkConfig(_RobotUrl):
    type: Literal["dingtalk"]
    secret_env: EnvName | None = None  # the robot's 加签 secret (starts with SEC)
    rate_per_minute: Annotated[float, Field(gt=0)] | None = 20  # per robot (§A5)
    digest_after: Annotated[int, Field(ge=1)] | None = 10


class SlackSinkConfig(_RobotUrl):
    type: Literal["slack"]
    rate_per_minute: Annotated[float, Field(gt=0)] | None = 60  # "1 per second" (§A5)
    digest_after: Annotated[int, Field(ge=1)] | None = 10


class AlertmanagerSinkConfig(_UrlInFileOrEnv):
    type: Literal["alertmanager"]
    # Incidents and aggregates; per-parcel exceptions stay in our own queue (§A3).
    kinds: list[KindName] | None = AGGREGATE_KINDS
    events: list[EventName] = ["opened", "escalated", "resolved"]  # resolved sends endsAt
    resend_seconds: Annotated[float, Field(ge=10, le=180)] = 60  # clients re-send every 30s-3m
    labels: dict[str, str] = {}  # static labels added to every alert (team, site ...)

    @field_validator("events")
    @classmethod
    def _alert_events_only(cls, value: list[str]) -> list[str]:
        if "scorecard" in value:
            raise ValueError("Alertmanager takes alert events; send the scorecard to a chat sink")
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _LABEL_NAME.match(name) or name.startswith("__"):
                raise ValueError(f"{name!r} is not a valid Alertmanager label name")
        return value


class EmailSinkConfig(SinkSettings):
    type: Literal["email"]
    host: str = Field(min_length=1)
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    from_: str = Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    starttls: bool = False
    ssl: bool = False  # SMTPS (usually port 465)
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 20
    digest_after: Annotated[int, Field(ge=1)] | None = 10

    @model_validator(mode="after")
    def _login_pair(self) -> EmailSinkConfig:
        if (self.username_env is None) != (self.password_env is None):
            missing = "password_env" if self.password_env is None else "username_env"
            raise key_error(self, missing, "give both username_env and password_env, or neither")
        if self.starttls and self.ssl:
            raise key_error(self, "starttls", "use `starttls` (port 587) or `ssl` (465), not both")
        return self


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


_AnySink = Annotated[
    WebhookSinkConfig
    | WeComSinkConfig
    | DingTalkSinkConfig
    | SlackSinkConfig
    | AlertmanagerSinkConfig
    | EmailSinkConfig,
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
